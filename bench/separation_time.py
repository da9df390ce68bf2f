"""Separation fuzziness on many units: its time against the least work any method must do.

What it measures: :func:`workbench.diagnostics.separation_fuzziness` on n = 128 probe samples
x p = 12 000 units, K = 10 classes (a wide layer's flattened probe-set features; the case
that ``tests/diagnostics/test_separation.py`` once timed in CI with ``< 10 s``). The data are
20-dimensional clusters embedded isometrically in the 12 000 units, so D must equal the D of
the 20-dimensional data, computed here the plain way with p x p matrices (checked, rtol 1e-8).

The floor, stated so it cannot be loosened unnoticed: the class means, one product
``onehot.T @ X`` (K x n times n x p), which reads every feature once. Any way of computing
Tr(Sigma_W Sigma_B^+) needs the class means; the workbench's method costs O(n p K) too, with
no p x p matrix (a dense Sigma_W alone would be 12 000^2 x 8 B = 1.15 GB).

Both sides run interleaved over ``--rounds`` rounds (at least 5), the order alternating each
round, after one untimed warm-up. Headline ``separation_over_class_means``: the median
per-round ratio of the two times. Also printed: the median seconds of separation_fuzziness
beside the former CI limit of 10 s.

Run:  PYTHONPATH=$PWD python bench/separation_time.py [--rounds 7]
Appends its run to bench/logs/separation_time.log (bench/_log.py); the headline is last.
"""

import argparse
import time

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np
import xarray as xr

from workbench.diagnostics import separation_fuzziness

N, P, K, DIM = 128, 12_000, 10, 20


def make_data(seed: int = 3):
    """20-dim clusters (K classes, balanced) embedded isometrically in P units: (x, z, y)."""
    rng = np.random.default_rng(seed)
    y = np.arange(N) % K
    z = rng.normal(size=(K, DIM))[y] * 3 + rng.normal(size=(N, DIM))
    basis, _ = np.linalg.qr(rng.normal(size=(P, DIM)))  # orthonormal columns
    return z @ basis.T, z, y


def plain_fuzziness(x, y, ridge=1e-8):
    """He & Su with full p x p matrices (only for the 20-dim data)."""
    classes = np.unique(y)
    mu = x.mean(0)
    means = np.stack([x[y == c].mean(0) for c in classes])
    xc = x - means[np.searchsorted(classes, y)]
    sw = xc.T @ xc / len(x)
    sb = (means - mu).T @ (means - mu) / len(classes)
    lam, u = np.linalg.eigh(sb)
    keep = lam > lam.max() * max(len(classes), x.shape[1]) * np.finfo(float).eps
    lam, u = lam[keep], u[:, keep]
    return float(np.trace(sw @ (u / (lam + ridge * np.trace(sb))) @ u.T))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (at least 5)")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error(f"--rounds must be at least 5; got {args.rounds}")
    _log.start()
    x, z, y = make_data()
    features = xr.DataArray(x, dims=("sample", "unit"))
    onehot = np.eye(K)[y]
    print(f"data: n = {N} samples x p = {P} units, K = {K} classes (20-dim clusters embedded "
          f"isometrically); floor = class means, onehot.T @ X")
    sides = {"separation": lambda: float(separation_fuzziness(features, y)),
             "class_means": lambda: onehot.T @ x}
    for f in sides.values():
        f()  # warm-up, not timed
    times = {k: [] for k in sides}
    names = list(sides)
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for k in order:
            t0 = time.perf_counter()
            sides[k]()
            times[k].append(time.perf_counter() - t0)
        print(f"round {r} ({' > '.join(order)}): separation {times['separation'][-1]:.3f} s, "
              f"class means {times['class_means'][-1] * 1e3:.1f} ms, ratio "
              f"{times['separation'][-1] / times['class_means'][-1]:.1f}")
    d, want = sides["separation"](), plain_fuzziness(z, y)
    print(f"D = {d:.10g}; plain p x p D of the 20-dim data = {want:.10g}; relative "
          f"difference {abs(d - want) / want:.1e} (required < 1e-8)")
    assert abs(d - want) <= 1e-8 * want, "separation_fuzziness disagrees with the plain D"
    ratios = np.array(times["separation"]) / np.array(times["class_means"])
    print(f"median over {args.rounds} rounds: separation_fuzziness "
          f"{np.median(times['separation']):.3f} s (the former CI limit: 10 s), class means "
          f"{np.median(times['class_means']) * 1e3:.1f} ms; per-round ratios "
          f"{np.round(ratios, 1).tolist()}")
    print(f"separation_over_class_means: {np.median(ratios):.1f}")


if __name__ == "__main__":
    main()
