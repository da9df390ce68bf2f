"""AKG first-order prediction vs the real change after one SGD step, over learning rates.

Default CNN (build_model("cnn"), briefly trained: 1 epoch on 2000 Fashion-MNIST train
images, so predictions are not uniform), and for contrast a deep linear MLP (smooth in θ),
both in float64. Observed: 8 test images; update
batch: 16 train images with their labels; one plain SGD step on the mean cross-entropy.
Relative error ‖pred − real‖ / ‖real‖ of Δ log π(x_o) must shrink ~linearly with η.
Last line: ``akg_rel_error_lr_0.01: X`` (the CNN).
Usage: python bench/akg.py [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
from _fmnist import noisy_subset, seed_all, test_subset, train_epoch  # noqa: E402,I001

from workbench.models import build_model  # noqa: E402
from workbench.probes.akg import akg, real_delta_log_prob  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    _log.start()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    x, y, _, _ = noisy_subset(2000, 0.0, 0)
    gen = seed_all(0)
    cnn = build_model("cnn")
    opt = torch.optim.SGD(cnn.parameters(), lr=0.05, momentum=0.9)
    train_epoch(cnn, opt, x, y, batch=64, gen=gen, loss_fn=F.cross_entropy)
    torch.manual_seed(0)
    smooth = build_model("mlp", depth=3, width=128, slope=1.0)
    x_o, _ = test_subset(8)
    x_u, y_u = x[:16], y[:16]
    print("8 observed test images, update batch of 16 train images, float64; "
          f"torch threads = {args.threads}")
    lrs = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 1e-4)
    errs = {}
    for name, model in (("cnn (ReLU, max-pool; 1 epoch on 2000 images)", cnn),
                        ("mlp depth 3, slope 1 (deep linear: smooth in θ; random init)",
                         smooth)):
        model = model.double()
        base = akg(model, x_o, x_u, y_u, lr=1.0)
        print(f"\n{name}: P = {sum(p.numel() for p in model.parameters())}; "
              f"A·1 max |.| = {float(abs(base.A.sum('label_j')).max()):.1e}; "
              f"G row sums max |.| = {float(abs(base.G.sum('label')).max()):.1e}")
        print(f"{'lr':>8}{'rel. error':>13}{'error / lr':>13}{'‖real Δlogπ‖':>15}")
        errs[name] = {}
        for lr in lrs:
            pred = base.delta_log_prob.values * lr          # the prediction is linear in η
            real = real_delta_log_prob(model, x_o, x_u, y_u, lr=lr).values
            err = float(np.linalg.norm(pred - real) / np.linalg.norm(real))
            errs[name][lr] = err
            print(f"{lr:>8}{err:>13.2e}{err / lr:>13.3f}{np.linalg.norm(real):>15.3e}")
        small = [lr for lr in lrs if lr <= 0.1]
        slope = np.polyfit(np.log(small), np.log([errs[name][lr] for lr in small]), 1)[0]
        print(f"log-log slope of error vs lr over lr <= 0.1: {slope:.2f} (first order: 1)")
    print("\nReLU and max-pool make the CNN's logits only piecewise smooth in θ: units and "
          "pool winners that switch inside the step add an error that is lumpy in η.")
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    cnn_err = next(iter(errs.values()))[0.01]
    print(f"akg_rel_error_lr_0.01: {cnn_err:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
