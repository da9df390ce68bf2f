"""Squeezing effect on a trained small CNN (Fashion-MNIST subset).

Trains the default CNN (``build_model("cnn")``, 19,154 parameters) for a few epochs on a
clean train subset, then for each of 500 test images takes ONE negative-gradient step
(lowering log π of class y⁻, from the same trained weights for every image) and measures Δπ
of the dominant (arg-max) class, of y⁻ and of the rest. y⁻ = the least likely class (the
squeezing case) or the second most likely class (for contrast).
Last line: ``squeezing_dominant_gain: X`` (mean Δπ of the dominant class, y⁻ = least
likely, η = 0.05).
Usage: python bench/squeezing.py [--threads 1]
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
from _fmnist import (  # noqa: E402,I001
    accuracy, noisy_subset, predict, seed_all, test_subset, train_epoch)

from workbench.models import build_model, count_parameters  # noqa: E402
from workbench.probes.squeezing import squeezing  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    _log.start()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    x, y, _, _ = noisy_subset(args.train_size, 0.0, 0)
    gen = seed_all(0)
    model = build_model("cnn")
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(args.epochs):
        train_epoch(model, opt, x, y, batch=64, gen=gen, loss_fn=F.cross_entropy)
    xt, yt = test_subset(args.samples)
    p = predict(model, xt)
    print(f"default CNN (P = {count_parameters(model)}) trained {args.epochs} epochs on "
          f"{args.train_size} clean Fashion-MNIST train images (test acc "
          f"{100 * accuracy(model, xt, yt):.1f}% on {args.samples} test images; mean max π "
          f"{float(p.max(-1).values.mean()):.3f}); one negative-gradient "
          f"step per test image; torch threads = {args.threads}")
    second = p.argsort(-1, descending=True)[:, 1]
    print(f"\n{'y⁻':<16}{'η':>6}{'Δπ dominant':>13}{'Δπ y⁻':>10}{'Δπ others':>11}"
          f"{'dom. gains':>12}{'dom. max Δπ':>13}")
    headline = None
    for which, label in (("least likely", None), ("second likely", second.numpy())):
        for lr in (0.01, 0.05, 0.2):
            ds = squeezing(model, xt, lr=lr, label=label)
            gain = ds.dominant_gain.values
            top = (ds.delta_prob.argmax("label") == ds.dominant).values
            print(f"{which:<16}{lr:>6}{gain.mean():>13.4f}{ds.pushed_change.values.mean():>10.4f}"
                  f"{ds.others_change.values.mean():>11.4f}{100 * (gain > 0).mean():>11.1f}%"
                  f"{100 * top.mean():>12.1f}%")
            if label is None and lr == 0.05:
                headline = float(np.mean(gain))
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    print(f"squeezing_dominant_gain: {headline:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
