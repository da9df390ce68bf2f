"""Power-law tail fits: workbench's powerlaw_alpha against a loop of powerlaw.Fit.

Three parts, all in one run (BLAS pinned to 1 thread):

1. Accuracy on Pareto samples with known alpha (2.5, 3.5, 4.5): powerlaw_alpha and an
   independent loop (numpy per candidate x_min) on n = 3000, and powerlaw.Fit (default
   settings, as WeightWatcher calls it) on n = 1000 (its numerical fits above alpha = 3
   take minutes at n = 3000).
2. Real layer spectra: the eigenvalues of W^T W / N of every layer group of the runs given
   with --runs (every checkpointed epoch) and of a freshly initialised ResNet-18; alpha from
   all three methods.
3. Headline: 64 spectra of 256 values (Pareto, alpha cycling 2.5 / 3.5 / 4.5): the time of a
   powerlaw.Fit loop over them against one powerlaw_alpha call, interleaved over --rounds
   rounds (5 by default) with the order of the two sides alternating. ``powerlaw_speedup``
   is the median per-round ratio.

Run:  PYTHONPATH=$PWD python bench/spectra.py [--runs DIR ...] [--rounds 5]
Appends its run to bench/logs/spectra.log (bench/_log.py); the headline ``powerlaw_speedup``
is printed last.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from workbench.diagnostics import powerlaw_alpha  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import powerlaw  # noqa: E402

def log(text=""):
    print(text, flush=True)


def pareto(alpha, n, seed, xmin=1.0):
    u = np.random.default_rng(seed).uniform(size=n)
    return xmin * (1 - u) ** (-1 / (alpha - 1))


def loop_alpha(x):
    """Independent reference: one candidate x_min at a time (numpy inside)."""
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    best = (np.inf, np.nan, np.nan)
    for k in range(len(x) - 1):
        if k and x[k] == x[k - 1]:
            continue
        tail = x[k:]
        log_sum = np.sum(np.log(tail / x[k]))
        if log_sum <= 0:
            continue
        a = 1 + len(tail) / log_sum
        d = np.max(np.abs(1 - (tail / x[k]) ** (1 - a) - np.arange(len(tail)) / len(tail)))
        if d < best[0]:
            best = (d, a, x[k])
    return best[1], best[2]


def fit_powerlaw(x):
    x = x[np.isfinite(x) & (x > 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = powerlaw.Fit(x, verbose=False)
    return f.alpha, f.xmin


def ours(x):
    fit = powerlaw_alpha(xr.DataArray(x, dims="eigenvalue"))
    return float(fit.alpha), float(fit.xmin)


def real_spectra(runs):
    """(label, eigenvalues) for every layer group of every epoch of the runs, and ResNet-18."""
    import torch

    from workbench import Run
    from workbench.models import build_model
    from workbench.probes import weight_spectrum

    out = []
    for path in runs:
        run = Run(path)
        name = os.path.basename(os.path.normpath(path))
        for epoch in run.epochs:
            ds = weight_spectrum(run.model(epoch))
            for layer in ds.layer.values:
                out.append((f"{name} e{epoch} {layer}", ds.eigenvalues.sel(layer=layer).values))
    torch.manual_seed(0)
    ds = weight_spectrum(build_model("resnet18", in_channels=3, image_size=32))
    for layer in ds.layer.values:
        ev = ds.eigenvalues.sel(layer=layer).values
        if np.isfinite(ev).sum() >= 2:
            out.append((f"resnet18 init {layer}", ev))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=[])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    _log.start()
    log(f"machine: {os.cpu_count()} cores shared with other jobs; load average at start "
        f"{os.getloadavg()[0]:.1f}; BLAS threads pinned to 1; powerlaw "
        f"{getattr(powerlaw, '__version__', '?')}")

    log("\n1. Pareto samples, known alpha")
    log(f"{'alpha':>6} {'n':>5} {'workbench':>10} {'loop':>10} {'|diff|':>9} "
        f"{'powerlaw.Fit (n=1000)':>22} {'workbench (n=1000)':>19}")
    for seed, a in enumerate([2.5, 3.5, 4.5]):
        x = pareto(a, 3000, seed)
        wa, _ = ours(x)
        la, _ = loop_alpha(x)
        small = x[:1000]
        pa, _ = fit_powerlaw(small)
        wa_small, _ = ours(small)
        log(f"{a:6.1f} {3000:5d} {wa:10.4f} {la:10.4f} {abs(wa - la):9.1e} {pa:22.4f} "
            f"{wa_small:19.4f}")

    log("\n2. Real layer spectra (eigenvalues of W^T W / N)")
    log(f"{'spectrum':<28} {'n':>5} {'workbench':>10} {'loop':>10} {'powerlaw.Fit':>13} "
        f"{'xmin wb':>10} {'xmin pl':>10}")
    worst = 0.0
    for label, ev in real_spectra(args.runs):
        ev = ev[np.isfinite(ev)]
        wa, wx = ours(ev)
        la, _ = loop_alpha(ev)
        pa, px = fit_powerlaw(ev)
        worst = max(worst, abs(wa - la))
        log(f"{label:<28} {len(ev):5d} {wa:10.3f} {la:10.3f} {pa:13.3f} {wx:10.3g} "
            f"{px:10.3g}")
    log(f"max |workbench - loop| over these spectra: {worst:.1e}")

    log("\n3. 64 spectra of 256 values (alpha 2.5 / 3.5 / 4.5 cycling)")
    batch = np.stack([pareto([2.5, 3.5, 4.5][i % 3], 256, 100 + i) for i in range(64)])
    da = xr.DataArray(batch, dims=("layer", "eigenvalue"))
    powerlaw_alpha(da)  # warm-up
    t_ours, t_pl = [], []
    for r in range(args.rounds):
        order = ["workbench", "powerlaw"] if r % 2 == 0 else ["powerlaw", "workbench"]
        for side in order:
            t0 = time.perf_counter()
            if side == "workbench":
                fit = powerlaw_alpha(da)
                t_ours.append(time.perf_counter() - t0)
            else:
                pl = np.array([fit_powerlaw(row)[0] for row in batch])
                t_pl.append(time.perf_counter() - t0)
        log(f"round {r} ({' > '.join(order)}): workbench {t_ours[-1] * 1e3:8.1f} ms   "
            f"powerlaw.Fit loop {t_pl[-1]:7.1f} s   ratio {t_pl[-1] / t_ours[-1]:7.0f}")
    wb = fit.alpha.values
    for a in (2.5, 3.5, 4.5):
        sel = np.isclose([[2.5, 3.5, 4.5][i % 3] for i in range(64)], a)
        log(f"alpha {a}: workbench mean {wb[sel].mean():.3f} (sd {wb[sel].std():.3f}), "
            f"powerlaw.Fit mean {pl[sel].mean():.3f} (sd {pl[sel].std():.3f})")
    ratios = np.array(t_pl) / np.array(t_ours)
    log(f"per-round ratios {np.round(ratios).astype(int).tolist()}; load average at end "
        f"{os.getloadavg()[0]:.1f}")
    log(f"powerlaw_speedup: {np.median(ratios):.0f}")


if __name__ == "__main__":
    main()
