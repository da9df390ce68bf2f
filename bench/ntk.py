"""eNTK of 64 probe samples x 10 classes of the default CNN: package vs autograd loop vs floor.

Three ways, interleaved over repeats (median wall time):
  package : workbench.probes.empirical_ntk(model, x)          (vmap(jacrev) + blockwise matmul)
  loop    : 640 autograd backward passes building J row by row, then J @ J.T
  floor   : the single matmul J @ J.T of the already-built (640 x P) Jacobian
Plus the package's trace and diagonal modes, the Jacobian build alone (package vs loop),
and peak memory of each way (peak RSS of a forked child above its starting RSS).
Last line: ``ntk_over_floor: X`` (goal <= 2.0).
Usage: python bench/ntk.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
from workbench.models import build_model, count_parameters  # noqa: E402
from workbench.probes._functional import eval_mode, split_state  # noqa: E402
from workbench.probes.ntk import _jacobian, empirical_ntk  # noqa: E402


def loop_jacobian(model, x):
    rows = []
    params = [p for p in model.parameters() if p.requires_grad]
    for n in range(x.shape[0]):
        z = model(x[n:n + 1])[0]
        for c in range(z.shape[0]):
            g = torch.autograd.grad(z[c], params, retain_graph=c < z.shape[0] - 1)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
    return torch.stack(rows)


def package_jacobian(model, x):
    """The package's Jacobian blocks alone (no contraction), in eval mode."""
    params, rest = split_state(model)
    with eval_mode(model):
        return _jacobian(model, params, rest, x, "rows")


def way_package(model, x, mode="full"):
    return empirical_ntk(model, x, mode=mode)


def way_loop(model, x):
    j = loop_jacobian(model, x)
    return j @ j.T


def peak_rss_mb(fn) -> float:
    """Peak RSS (MB) of a forked child running ``fn`` above the child's starting RSS."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as f:
            start = int(f.read().split()[1]) * page
        fn()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        os.write(w, f"{(peak - start) / 2**20:.1f}".encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 64).decode()
    os.waitpid(pid, 0)
    return float(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=64)
    args = ap.parse_args(argv)
    _log.start()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model("cnn").eval()  # the eNTK is taken in eval mode (BatchNorm: running stats)
    try:
        from _fmnist import load
        x_all, _ = load(train=False)
        x = x_all[: args.samples].clone()
        src = "Fashion-MNIST test images"
    except Exception as e:  # pragma: no cover - data missing
        x = torch.randn(args.samples, 1, 28, 28)
        src = f"random inputs ({e})"
    n_params = count_parameters(model)
    print(f"model: cnn (random init), P = {n_params} parameters; {args.samples} samples of "
          f"{src}; 10 classes; torch threads = {args.threads}")
    j_built = loop_jacobian(model, x).detach()
    print(f"Jacobian: {tuple(j_built.shape)} float32 = {j_built.numel() * 4 / 2**20:.0f} MiB")

    # correctness first
    k_pkg = way_package(model, x).values.reshape(j_built.shape[0], -1)
    k_ref = (j_built.double() @ j_built.double().T).numpy()
    rel = np.abs(k_pkg - k_ref).max() / np.abs(k_ref).max()
    print(f"max |K_package - K_loop| / max |K| = {rel:.2e}")

    ways = {
        "package": lambda: way_package(model, x),
        "loop": lambda: way_loop(model, x),
        "floor": lambda: j_built @ j_built.T,
        "trace": lambda: way_package(model, x, "trace"),
        "diagonal": lambda: way_package(model, x, "diagonal"),
        "J package": lambda: package_jacobian(model, x),
        "J loop": lambda: loop_jacobian(model, x),
    }
    times = {k: [] for k in ways}
    for _ in range(args.repeats):
        for name, fn in ways.items():  # interleaved
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: peak_rss_mb(fn) for k, fn in ways.items()}
    print(f"\n{'way':<10}{'median s':>10}{'x floor':>9}{'peak MiB':>10}   repeats (s)")
    for k in ways:
        reps = ", ".join(f"{t:.2f}" for t in times[k])
        print(f"{k:<10}{med[k]:>10.3f}{med[k] / med['floor']:>9.2f}{mem[k]:>10.0f}   {reps}")
    print(f"\nspeedup of package over autograd loop: {med['loop'] / med['package']:.1f}x "
          f"(whole eNTK; both are dominated by the J·Jᵀ matmul); Jacobian build alone: "
          f"{med['J loop'] / med['J package']:.1f}x")
    print(f"trace mode / full: {med['trace'] / med['package']:.2f}; "
          f"diagonal mode / full: {med['diagonal'] / med['package']:.2f}")
    print(f"ntk_over_floor: {med['package'] / med['floor']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
