"""Vectorised DFA against a loop of nolds.dfa and a loop of MFDFA, interleaved in one run.

Data: 64 series ("layers") x 4096 steps, a seeded mix of white, 1/f and Brown noise. Every
method uses the same 28 scales (workbench's default_scales(4096)) and order 1; nolds runs with
overlap=False and a least-squares fit (fit_exp="poly"); MFDFA (PyPI ``MFDFA``, the fastest
peer) runs with q=2, order=1 and its exponent is the least-squares slope of log F against
log n, as ours. BLAS is pinned to 1 thread so every side runs single-threaded. The order of
the sides alternates from round to round. Agreement is checked against an independent
plain-loop implementation of the same definition (windows from both ends, np.polyfit per
window) on 8 of the 64 series, and against MFDFA (same windows: it should agree to ~1e-12).

nolds is timed on all 64 series (about 200x slower than ours: most of the bench's time). With
``--nolds-every K`` it runs on every K-th series only and its time is multiplied by K, and
the headline says so in its name: ``dfa_speedup_vs_nolds_extrapolated_from_1_in_K``.

Run:  PYTHONPATH=$PWD python bench/dfa.py [--rounds 7] [--nolds-every 1]
Appends its run to bench/logs/dfa.log (bench/_log.py); the headline ``dfa_speedup_vs_mfdfa``
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

from workbench.diagnostics.dfa import default_scales, dfa  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import nolds  # noqa: E402
from MFDFA import MFDFA  # noqa: E402


def log(text=""):
    print(text, flush=True)


def make_data(layers=64, steps=4096, seed=0):
    rng = np.random.default_rng(seed)
    out = np.empty((layers, steps))
    for i in range(layers):
        kind = i % 3
        if kind == 0:
            out[i] = rng.normal(size=steps)
        elif kind == 1:
            f = np.fft.rfftfreq(steps)
            amp = np.zeros_like(f)
            amp[1:] = f[1:] ** -0.5
            out[i] = np.fft.irfft((rng.normal(size=f.size) + 1j * rng.normal(size=f.size))
                                  * amp, steps)
        else:
            out[i] = np.cumsum(rng.normal(size=steps))
    return out


def plain_dfa(x, scales, order=1):
    """Independent reference: loops over windows (both ends), np.polyfit, np.polyfit slope."""
    y = np.cumsum(x - x.mean())
    n_total = len(y)
    f = []
    for n in scales:
        m = n_total // n
        sq = 0.0
        for start in [i * n for i in range(m)] + [n_total - (i + 1) * n for i in range(m)]:
            seg = y[start:start + n]
            t = np.arange(n)
            sq += np.sum((seg - np.polyval(np.polyfit(t, seg, order), t)) ** 2)
        f.append(np.sqrt(sq / (2 * m * n)))
    return np.polyfit(np.log(scales), np.log(f), 1)[0]


def run_ours(x, scales):
    return dfa(x, scales=scales).values


def run_nolds(data, scales, every=1):
    return np.array([nolds.dfa(row, nvals=scales, overlap=False, order=1, fit_exp="poly")
                     for row in data[::every]])


def run_mfdfa(data, scales):
    out = []
    for row in data:
        lag, f = MFDFA(row, lag=scales, q=2, order=1)
        out.append(np.polyfit(np.log(lag), np.log(f[:, 0]), 1)[0])
    return np.array(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--nolds-every", type=int, default=1,
                        help="time nolds on every K-th series only, its time x K (default: all)")
    args = parser.parse_args()
    every = args.nolds_every
    _log.start()
    data = make_data()
    x = xr.DataArray(data, dims=("layer", "step"))
    scales = default_scales(data.shape[1])
    log(f"data: {data.shape[0]} layers x {data.shape[1]} steps; {len(scales)} scales "
        f"{scales[0]}..{scales[-1]}; order 1; BLAS threads pinned to 1")
    log(f"machine: {os.cpu_count()} cores shared with other jobs; load average at start "
        f"{os.getloadavg()[0]:.1f}")

    sides = {"workbench": lambda: run_ours(x, scales),
             "nolds": lambda: run_nolds(data, scales, every),
             "mfdfa": lambda: run_mfdfa(data, scales)}
    for f in sides.values():
        f()  # warm-up (imports, caches), not timed
    times = {k: [] for k in sides}
    results = {}
    names = list(sides)
    for r in range(args.rounds):  # interleaved, order alternating: forward, then reversed
        order = names if r % 2 == 0 else names[::-1]
        for k in order:
            t0 = time.perf_counter()
            results[k] = sides[k]()
            times[k].append((time.perf_counter() - t0) * (every if k == "nolds" else 1))
        nolds_what = "loop" if every == 1 else f"loop (x{every})"
        log(f"round {r} ({' > '.join(order)}): workbench {times['workbench'][-1] * 1e3:7.1f} ms"
            f"   nolds {nolds_what} {times['nolds'][-1] * 1e3:8.1f} ms   MFDFA loop "
            f"{times['mfdfa'][-1] * 1e3:7.1f} ms   ratios nolds "
            f"{times['nolds'][-1] / times['workbench'][-1]:6.1f}  MFDFA "
            f"{times['mfdfa'][-1] / times['workbench'][-1]:5.1f}")
    ours, theirs, mf = results["workbench"], results["nolds"], results["mfdfa"]

    subset = slice(None, None, 8)  # the plain loop is slow: check 8 of the 64 series
    t0 = time.perf_counter()
    ref = np.array([plain_dfa(row, scales) for row in data[subset]])
    ref_t = time.perf_counter() - t0
    diff_ref = np.abs(ours[subset] - ref).max()
    diff_nolds = np.abs(ours[::every] - theirs).max()
    diff_mfdfa = np.abs(ours - mf).max()
    by_kind = {k: ours[i::3].mean() for i, k in enumerate(["white", "pink", "brown"])}
    log(f"plain-loop reference on {len(ref)} series: {ref_t * 1e3:.0f} ms; "
        f"max |workbench - reference| = {diff_ref:.2e} (same definition; required < 1e-10)")
    log(f"max |workbench - MFDFA| = {diff_mfdfa:.2e} (same windows from both ends; "
        f"required < 1e-10)")
    log(f"max |workbench - nolds| = {diff_nolds:.4f} (nolds: windows from one end only, "
        f"mean of per-window RMS instead of RMS over all windows)")
    log("mean exponent by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in by_kind.items()))
    assert diff_ref < 1e-10, "workbench DFA disagrees with the plain reference"
    assert diff_mfdfa < 1e-10, "workbench DFA disagrees with MFDFA"
    med = {k: np.median(v) for k, v in times.items()}
    r_nolds = np.array(times["nolds"]) / np.array(times["workbench"])
    r_mfdfa = np.array(times["mfdfa"]) / np.array(times["workbench"])
    log(f"nolds timed on {len(theirs)} of the {len(ours)} series"
        + ("" if every == 1 else f", its time multiplied by {every}"))
    log(f"median over {args.rounds} rounds: workbench {med['workbench'] * 1e3:.1f} ms, "
        f"nolds {med['nolds'] * 1e3:.0f} ms, MFDFA {med['mfdfa'] * 1e3:.0f} ms; per-round "
        f"ratios nolds {np.round(r_nolds).astype(int).tolist()}, MFDFA "
        f"{np.round(r_mfdfa, 1).tolist()}; headlines = median per-round ratio")
    log(f"load average at end {os.getloadavg()[0]:.1f}")
    nolds_name = ("dfa_speedup_vs_nolds" if every == 1
                  else f"dfa_speedup_vs_nolds_extrapolated_from_1_in_{every}")
    log(f"{nolds_name}: {np.median(r_nolds):.0f}")
    log(f"dfa_speedup_vs_mfdfa: {np.median(r_mfdfa):.1f}")


if __name__ == "__main__":
    main()
