"""Vectorised DFA against a loop of nolds.dfa, interleaved in one run.

Data: 64 series ("layers") x 4096 steps, a seeded mix of white, 1/f and Brown noise. Both
methods use the same scales (workbench's default_scales(4096)) and order 1; nolds runs with
overlap=False and a least-squares fit (fit_exp="poly"). BLAS is pinned to 1 thread so both
run single-threaded. Agreement is checked against an independent plain-loop implementation of
the same definition (windows from both ends, np.polyfit per window) on 8 of the 64 series.

Run:  PYTHONPATH=$PWD python bench/dfa.py [--rounds 3]
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _log.start()
    data = make_data()
    x = xr.DataArray(data, dims=("layer", "step"))
    scales = default_scales(data.shape[1])
    print(f"data: {data.shape[0]} layers x {data.shape[1]} steps; {len(scales)} scales "
          f"{scales[0]}..{scales[-1]}; order 1; BLAS threads pinned to 1")

    dfa(x, scales=scales)  # warm-up (imports, caches), not timed
    ours_t, nolds_t = [], []
    for r in range(args.rounds):  # interleaved: ours, nolds, ours, nolds, ...
        t0 = time.perf_counter()
        ours = dfa(x, scales=scales).values
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        theirs = np.array([nolds.dfa(row, nvals=scales, overlap=False, order=1,
                                     fit_exp="poly") for row in data])
        nolds_t.append(time.perf_counter() - t0)
        print(f"round {r}: workbench {ours_t[-1] * 1e3:8.1f} ms   nolds loop "
              f"{nolds_t[-1] * 1e3:9.1f} ms   ratio {nolds_t[-1] / ours_t[-1]:7.1f}")

    subset = slice(None, None, 8)  # the plain loop is slow: check 8 of the 64 series
    t0 = time.perf_counter()
    ref = np.array([plain_dfa(row, scales) for row in data[subset]])
    ref_t = time.perf_counter() - t0
    diff_ref = np.abs(ours[subset] - ref).max()
    diff_nolds = np.abs(ours - theirs).max()
    by_kind = {k: ours[i::3].mean() for i, k in enumerate(["white", "pink", "brown"])}
    print(f"plain-loop reference on {len(ref)} series: {ref_t * 1e3:.0f} ms; "
          f"max |workbench - reference| = "
          f"{diff_ref:.2e} (same definition; required < 0.03)")
    print(f"max |workbench - nolds| = {diff_nolds:.4f} (nolds: windows from one end only, "
          f"mean of per-window RMS instead of RMS over all windows)")
    print("mean exponent by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in by_kind.items()))
    assert diff_ref < 0.03, "workbench DFA disagrees with the plain reference"
    ratios = np.array(nolds_t) / np.array(ours_t)
    speedup = np.median(ratios)
    print(f"median over {args.rounds} rounds: workbench {np.median(ours_t) * 1e3:.1f} ms, "
          f"nolds {np.median(nolds_t) * 1e3:.0f} ms (ratio of medians "
          f"{np.median(nolds_t) / np.median(ours_t):.0f}); per-round ratios "
          f"{np.round(ratios).astype(int).tolist()}; headline = median per-round ratio")
    print(f"dfa_speedup_vs_nolds: {speedup:.0f}")


if __name__ == "__main__":
    main()
