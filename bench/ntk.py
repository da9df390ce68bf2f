"""eNTK K(x, x) of 64 Fashion-MNIST test images x 10 classes: the package against its floor
and against the torch.func tutorial's two methods, on the default CNN and the old wider one.

Models (random init, eval mode: BatchNorm uses its running statistics):
  cnn      : ``workbench.models.build_model("cnn")``, the default (19,154 parameters);
  cnn_old  : the CNN that was the default before commit 965a25c (conv 1->16, conv 16->32,
             dense 1568->128->10; 206,922 parameters), defined below as ``OldCNN``.

Ways, all computing the full kernel K (640 x 640) of the same 64 inputs, timed side by side
in ONE run: in every round each way runs once, in an order that alternates between rounds
(forwards, then backwards); ``--rounds`` >= 5; medians over the rounds.

(a) floor -- the least work any Jacobian-based method must do, by the fastest means torch
    offers. Its definition (do not loosen it without saying so in RESULTS.md):
        floor = J_best + product
      J_best : the median time of the FASTER of two single batched torch.func calls that
               build the per-sample Jacobian of all 64 samples and 10 classes at once:
               - ``vmap(jacrev(f), in_dims=(None, 0))(params, x)`` with ``f(params, x1) =
                 functional_call(model, params, x1[None])[0]`` and ``params`` the dict of
                 parameters (the tutorial's way; J comes out as one tensor per parameter);
               - the same over ONE flat parameter vector (J comes out as one contiguous
                 (64, 10, P) tensor, nothing to concatenate).
      product: ``torch.matmul(J, J.T)`` of the already built, contiguous (640, P) Jacobian:
               one GEMM. Building, flattening or concatenating J is NOT counted in it.
    Both parts are timed in every round, beside the other ways. The product is a general
    GEMM: it does not use the symmetry of J Jᵀ, which the package does, so the package may
    come below 1.0. For reference the run also prints ``floor_sym`` = J_best + the package's
    own symmetric product (workbench.probes.ntk._gram) of the built J.
(b) torch.func tutorial (pytorch.org/tutorials/intermediate/neural_tangent_kernels.html),
    its two functions as published, on ``fnet_single`` as there:
      tutorial_jac : ``empirical_ntk_jacobian_contraction`` -- vmap(jacrev) Jacobians, then
                     ``einsum('Naf,Mbf->NMab')`` per parameter, stacked and summed. With
                     x1 = x2 the Jacobian is built once (the tutorial builds it twice; this
                     only makes (b) faster, the comparison stricter);
      tutorial_vps : ``empirical_ntk_ntk_vps`` -- NTK-vector products (vjp then jvp) under
                     vmap over every pair of samples; applied to row chunks of x1 (its
                     vmapped gradients, 64 x 10 x P floats per row, do not fit in memory
                     at once for all 64 rows). It is ~100x slower than (c) on these models,
                     so it is timed on the first ``--vps-rows`` (8) rows of x1 against all
                     64 x2 and its time multiplied by 64/8 (the rows are independent and
                     cost the same); the table says so.
(c) package: ``workbench.probes.empirical_ntk(model, x)`` (full mode; includes its checks,
    eval mode and the float64 xarray result).

Headlines (the worse of the two models each):
  ntk_over_floor          = package / floor               (goal <= 1.15)
  ntk_over_torchfunc_best = package / min(tutorial_jac, tutorial_vps)   (goal <= 1.0)
Correctness: every way's K against the package's, and the package's against an autograd
loop (one backward per sample and class, then J Jᵀ in float64).
Usage: python bench/ntk.py [--rounds 5] [--threads 1] [--samples 64]
Last line: ``ntk_over_floor: X``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, vjp, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
from workbench.models import build_model, count_parameters  # noqa: E402
from workbench.probes.ntk import _gram, empirical_ntk  # noqa: E402


class OldCNN(nn.Module):
    """The default ``cnn`` before commit 965a25c (206,922 parameters, 97% in ``fc1``)."""

    def __init__(self, width: int = 16, hidden: int = 128, side: int = 7):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                                   nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
                                   nn.MaxPool2d(2))
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * side * side, hidden),
                                 nn.ReLU())
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(self.fc1(self.conv2(self.conv1(x))))


# ----------------------------------------------------------------------------- (a) floor
def single(model):
    """The tutorial's ``fnet_single``: one sample in, its logits out."""
    def fnet_single(params, x):
        return functional_call(model, params, (x.unsqueeze(0),)).squeeze(0)
    return fnet_single


def params_of(model):
    return {k: v.detach() for k, v in model.named_parameters()}


def floor_jacobian_dict(model, x):
    """J by one vmap(jacrev) over the parameter dict, as (640, P) blocks per parameter."""
    return vmap(jacrev(single(model)), in_dims=(None, 0))(params_of(model), x)


def flat_single(model):
    params = params_of(model)
    names, shapes = list(params), [p.shape for p in params.values()]
    sizes = [p.numel() for p in params.values()]
    theta = torch.cat([p.reshape(-1) for p in params.values()])

    def f(flat, x):
        parts = dict(zip(names, (t.view(s) for t, s in
                                 zip(torch.split(flat, sizes), shapes, strict=True)),
                         strict=True))
        return functional_call(model, parts, (x.unsqueeze(0),)).squeeze(0)
    return f, theta


def floor_jacobian_flat(model, x, f_theta=None):
    """J by one vmap(jacrev) over ONE flat parameter vector: a contiguous (n, O, P)."""
    f, theta = f_theta or flat_single(model)
    return vmap(jacrev(f), in_dims=(None, 0))(theta, x)


def floor_product(j):
    return torch.matmul(j, j.T)


# ----------------------------------------------------------------------------- (b) tutorial
def empirical_ntk_jacobian_contraction(fnet_single, params, x1, x2):
    """The tutorial's function (J(x1) built once when x2 is x1)."""
    jac1 = vmap(jacrev(fnet_single), (None, 0))(params, x1)
    jac1 = [j.flatten(2) for j in jac1.values()]
    if x2 is x1:
        jac2 = jac1
    else:
        jac2 = vmap(jacrev(fnet_single), (None, 0))(params, x2)
        jac2 = [j.flatten(2) for j in jac2.values()]
    result = torch.stack([torch.einsum("Naf,Mbf->NMab", j1, j2)
                          for j1, j2 in zip(jac1, jac2, strict=True)])
    return result.sum(0)


def empirical_ntk_ntk_vps(func, params, x1, x2):
    """The tutorial's function (compute='full'): (N1, N2, O, O)."""
    def get_ntk(x1, x2):
        def func_x1(params):
            return func(params, x1)

        def func_x2(params):
            return func(params, x2)

        output, vjp_fn = vjp(func_x1, params)

        def get_ntk_slice(vec):
            vjps = vjp_fn(vec)
            _, jvps = jvp(func_x2, (params,), vjps)
            return jvps

        basis = torch.eye(output.numel(), dtype=output.dtype,
                          device=output.device).view(output.numel(), -1)
        return vmap(get_ntk_slice)(basis)

    return vmap(vmap(get_ntk, (None, 0)), (0, None))(x1, x2)


def tutorial_vps(model, x, rows, first=None):
    """The tutorial's NTK-vector products over row chunks of x1 (the ``first`` rows of x1
    only when given); (N1, N, O, O)."""
    f, params = single(model), params_of(model)
    x1 = x if first is None else x[:first]
    return torch.cat([empirical_ntk_ntk_vps(f, params, x1[s:s + rows], x)
                      for s in range(0, x1.shape[0], rows)])


def vps_rows(model, n, o, budget=2 * 2**30):
    """Rows of x1 per chunk so that the vmapped gradients (rows x n x O x P) fit ``budget``."""
    return max(1, min(n, int(budget // (n * o * count_parameters(model) * 4))))


# ----------------------------------------------------------------------------- reference
def loop_jacobian(model, x):
    rows = []
    params = [p for p in model.parameters() if p.requires_grad]
    for n in range(x.shape[0]):
        z = model(x[n:n + 1])[0]
        for c in range(z.shape[0]):
            g = torch.autograd.grad(z[c], params, retain_graph=c < z.shape[0] - 1)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
    return torch.stack(rows)


def as_rows(k4):
    """(N1, N2, O, O) tutorial layout -> (N1·O, N2·O) rows (sample, class)."""
    n1, n2, o, _ = k4.shape
    return k4.permute(0, 2, 1, 3).reshape(n1 * o, n2 * o)


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def ways_for(model, x, vps_first):
    """name -> callable; the floor's parts are timed as their own ways."""
    n = x.shape[0]
    f_theta = flat_single(model)
    j_flat = floor_jacobian_flat(model, x, f_theta).reshape(n * 10, -1).contiguous()
    rows = min(vps_rows(model, n, 10), vps_first)
    fs, ps = single(model), params_of(model)
    return {
        "package": lambda: empirical_ntk(model, x),
        "J dict": lambda: floor_jacobian_dict(model, x),
        "J flat": lambda: floor_jacobian_flat(model, x, f_theta),
        "J Jᵀ GEMM": lambda: floor_product(j_flat),
        "J Jᵀ sym": lambda: _gram([j_flat]),
        "tutorial_jac": lambda: empirical_ntk_jacobian_contraction(fs, ps, x, x),
        # timed on the first vps_first rows of x1; report() scales it by n / vps_first
        "tutorial_vps": lambda: tutorial_vps(model, x, rows, vps_first),
    }, j_flat, rows


def check(model, x, ways, j_flat, first) -> None:
    n = x.shape[0]
    ref_j = loop_jacobian(model, x).detach().double()
    k_loop = (ref_j @ ref_j.T).numpy()
    k_pkg = ways["package"]().values.reshape(n * 10, n * 10)
    print(f"  max |K - K_package| / max |K_package|: loop (autograd, float64 product) "
          f"{rel(k_loop, k_pkg):.1e}; floor J Jᵀ {rel(floor_product(j_flat), k_pkg):.1e}; "
          f"symmetric product {rel(_gram([j_flat]), k_pkg):.1e}; tutorial_jac "
          f"{rel(as_rows(ways['tutorial_jac']()), k_pkg):.1e}; tutorial_vps (first {first} "
          f"rows) {rel(as_rows(ways['tutorial_vps']()), k_pkg[:first * 10]):.1e}")


def run_rounds(ways, rounds):
    times = {k: [] for k in ways}
    names = list(ways)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            ways[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def report(label, times, vps_scale) -> dict:
    times = dict(times)
    times["tutorial_vps"] = [t * vps_scale for t in times["tutorial_vps"]]
    med = {k: statistics.median(v) for k, v in times.items()}
    j_best = min(med["J dict"], med["J flat"])
    floor = j_best + med["J Jᵀ GEMM"]
    floor_sym = j_best + med["J Jᵀ sym"]
    best_b = min(med["tutorial_jac"], med["tutorial_vps"])
    which = "tutorial_jac" if med["tutorial_jac"] <= med["tutorial_vps"] else "tutorial_vps"
    print(f"\n{label}: median s over {len(times['package'])} rounds (x floor = / floor)")
    print(f"{'way':<14}{'median s':>10}{'x floor':>9}   rounds (s)")
    for k, v in times.items():
        reps = ", ".join(f"{t:.3f}" for t in v)
        name = f"{k} (x{vps_scale:g})" if k == "tutorial_vps" else k
        print(f"{name:<14}{med[k]:>10.3f}{med[k] / floor:>9.2f}   {reps}")
    kind = "dict" if j_best == med["J dict"] else "flat"
    print(f"{'floor':<14}{floor:>10.3f}{1.0:>9.2f}   = J {kind} {j_best:.3f} + GEMM "
          f"{med['J Jᵀ GEMM']:.3f}")
    print(f"{'floor_sym':<14}{floor_sym:>10.3f}{floor_sym / floor:>9.2f}   = J {j_best:.3f} + "
          f"symmetric product {med['J Jᵀ sym']:.3f}")
    out = {"floor": med["package"] / floor, "floor_sym": med["package"] / floor_sym,
           "best_b": med["package"] / best_b, "which": which}
    print(f"{label}: package / floor {out['floor']:.2f}; package / floor_sym "
          f"{out['floor_sym']:.2f}; package / best of torch.func tutorial ({which}) "
          f"{out['best_b']:.2f}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--models", default="cnn,cnn_old")
    ap.add_argument("--vps-rows", type=int, default=8,
                    help="rows of x1 tutorial_vps is timed on (scaled to all samples)")
    args = ap.parse_args(argv)
    if args.rounds < 5:
        ap.error(f"--rounds must be at least 5; got {args.rounds}")
    _log.start()
    torch.set_num_threads(args.threads)
    try:
        from _fmnist import load
        x_all, _ = load(train=False)
        x = x_all[: args.samples].clone()
        src = "Fashion-MNIST test images"
    except Exception as e:  # pragma: no cover - data missing
        x = torch.randn(args.samples, 1, 28, 28)
        src = f"random inputs ({e})"
    print(f"{args.samples} samples of {src}; 10 classes; torch {torch.__version__}, "
          f"threads = {args.threads}; rounds = {args.rounds} (order alternates)")
    results = {}
    for label in args.models.split(","):
        torch.manual_seed(0)
        model = (build_model("cnn") if label == "cnn" else OldCNN()).eval()
        print(f"\nmodel {label}: P = {count_parameters(model)} parameters; Jacobian "
              f"{args.samples * 10} x {count_parameters(model)} float32 = "
              f"{args.samples * 10 * count_parameters(model) * 4 / 2**20:.0f} MiB")
        first = min(args.vps_rows, args.samples)
        ways, j_flat, rows = ways_for(model, x, first)
        print(f"  tutorial_vps timed on the first {first} of {args.samples} rows of x1 (in "
              f"chunks of {rows}) and scaled by {args.samples / first:g}: its work is the "
              f"same for every row")
        check(model, x, ways, j_flat, first)
        results[label] = report(label, run_rounds(ways, args.rounds), args.samples / first)
        del ways, j_flat
    worst_floor = max(r["floor"] for r in results.values())
    worst_b = max(r["best_b"] for r in results.values())
    print("\n" + "; ".join(f"{k}: package/floor {r['floor']:.2f}, package/floor_sym "
                           f"{r['floor_sym']:.2f}, package/torch.func best {r['best_b']:.2f}"
                           for k, r in results.items()))
    print("headlines: the worse of the models; goals ntk_over_floor <= 1.15, "
          "ntk_over_torchfunc_best <= 1.0")
    print(f"ntk_over_torchfunc_best: {worst_b:.2f}")
    print(f"ntk_over_floor: {worst_floor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
