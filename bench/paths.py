"""Zig-zag learning paths separate mislabelled from clean training samples (AUC).

Trains the default CNN (``build_model("cnn")``, 19,154 parameters) on a Fashion-MNIST train
subset with 20% seeded label noise, and every k optimizer steps records the predicted
distribution (eval mode) of a fixed set of tracked TRAIN samples, flipped and clean. From
those paths: zig-zag score (reference = the given, noisy label; and reference = the final
prediction), path-length ratio; AUC of each score for "flipped" vs "clean" (Mann-Whitney).
Last line: ``zigzag_auc: X`` (zig-zag score with the given label as reference).
Usage: python bench/paths.py [--epochs 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
from _fmnist import noisy_subset, predict, seed_all, train_epoch  # noqa: E402,I001

from workbench.diagnostics.auc import auc  # noqa: E402
from workbench.diagnostics.paths import path_ratio, zigzag  # noqa: E402
from workbench.models import build_model, count_parameters  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", type=int, default=3000)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--tracked", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--every", type=int, default=10, help="record every k steps")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    _log.start()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    x, y_noisy, y_clean, flipped = noisy_subset(args.train_size, args.noise, args.seed)
    gen = seed_all(args.seed)
    rng = np.random.default_rng(args.seed)
    n_flip = int(round(args.tracked * args.noise))
    tracked = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(flipped.numpy()), n_flip, replace=False),
        rng.choice(np.flatnonzero(~flipped.numpy()), args.tracked - n_flip, replace=False)]))
    xt = x[tracked]
    model = build_model("cnn")
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    record, steps = [predict(model, xt).numpy()], [0]
    step = [0]

    def on_batch(idx, z):
        step[0] += 1
        if step[0] % args.every == 0:
            record.append(predict(model, xt).numpy())
            steps.append(step[0])

    for _ in range(args.epochs):
        train_epoch(model, opt, x, y_noisy, batch=64, gen=gen, loss_fn=F.cross_entropy,
                    on_batch=on_batch)
    probs = xr.DataArray(np.stack(record), dims=("step", "sample", "label"),
                         coords={"step": steps, "sample": tracked})
    given = xr.DataArray(y_noisy[tracked].numpy(), dims="sample")
    is_flip = flipped[tracked].numpy()
    final_pred = probs.isel(step=-1).argmax("label").values
    memorised = float((final_pred[is_flip] == y_noisy[tracked].numpy()[is_flip]).mean())
    scores = {
        "zigzag (ref = given label)": zigzag(probs, labels=given, dim="step").values,
        "zigzag (ref = final prediction)": zigzag(probs, dim="step").values,
        "path ratio": path_ratio(probs, dim="step").values,
        "1 - p(given label) at end": 1 - probs.isel(step=-1).values[
            np.arange(len(tracked)), y_noisy[tracked].numpy()],
    }
    print(f"Fashion-MNIST train subset {args.train_size}, {args.noise:.0%} seeded label noise; "
          f"default CNN (P = {count_parameters(model)}), SGD lr {args.lr} momentum 0.9, "
          f"batch 64, {args.epochs} epochs; {len(tracked)} tracked train samples "
          f"({is_flip.sum()} flipped), "
          f"probabilities every {args.every} steps ({len(steps)} points); torch threads = "
          f"{args.threads}")
    print(f"flipped samples whose final prediction is the noisy label (memorised): "
          f"{100 * memorised:.1f}%")
    print(f"\n{'score':<34}{'AUC flipped vs clean':>22}{'mean flipped':>14}{'mean clean':>12}")
    for k, s in scores.items():
        s = np.nan_to_num(s, nan=1.0)
        print(f"{k:<34}{auc(s, is_flip):>22.3f}{s[is_flip].mean():>14.3f}"
              f"{s[~is_flip].mean():>12.3f}")
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    print(f"zigzag_auc: {auc(scores['zigzag (ref = given label)'], is_flip):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
