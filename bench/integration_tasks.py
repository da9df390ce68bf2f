"""Does integration (DFA of the layer signals) separate an easy task from a harder one?

La Quang et al. (2026) found that integration separates CIFAR-10 from CIFAR-100. Here the
easy task is Fashion-MNIST with clean labels and the harder one the same images with 40% of
the training labels flipped (seeded). Each run records the probe-batch signal of every layer
group at every step; integration is the DFA exponent of the collective signal (mean over
layers of the z-scored signals) and of each layer. Several seeds per task; the separation is
reported as the difference of the means over the pooled standard deviation, and as the
fraction of (clean, noisy) pairs where the noisy run has the higher exponent (an AUC).

Usage: python bench/integration_tasks.py [--seeds 3] [--epochs 4] [--train-size 5000]
Last line: ``integration_noisy_minus_clean: X`` (difference of mean collective exponents).
"""

from __future__ import annotations

import argparse
import tempfile

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np

from workbench.diagnostics import auc, dfa, integration
from workbench.record import open_run, signals
from workbench.train import TrainConfig, train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--train-size", type=int, default=5000)
    ap.add_argument("--noise", type=float, default=0.4)
    args = ap.parse_args()
    _log.start()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for noise in (0.0, args.noise):
                cfg = TrainConfig(epochs=args.epochs, train_size=args.train_size,
                                  test_size=2000, batch_size=50, signal_every=1,
                                  label_noise=noise, seed=seed, curvature_iters=0,
                                  probe_size=256)
                run = train(cfg, f"{tmp}/s{seed}_n{noise}", progress=False)
                tree = open_run(run)
                x = signals(tree)
                coll = float(integration(x))
                per_layer = dfa(x).values
                acc = float(tree["epochs"]["test_acc"][-1])
                rows.append((seed, noise, coll, per_layer, acc))
                print(f"seed {seed} noise {noise:.1f}: {x.sizes['step']} points, integration "
                      f"{coll:.3f}, per layer {np.round(per_layer, 3).tolist()}, test acc "
                      f"{acc:.3f}", flush=True)
    clean = np.array([r[2] for r in rows if r[1] == 0.0])
    noisy = np.array([r[2] for r in rows if r[1] > 0.0])
    pooled = np.sqrt((clean.var(ddof=1) + noisy.var(ddof=1)) / 2) if len(clean) > 1 else np.nan
    print("\n| task | collective integration (mean ± std) | per-layer mean | test acc |")
    print("|---|---|---|---|")
    for name, sel in (("clean", 0.0), (f"{args.noise:.0%} label noise", args.noise)):
        rs = [r for r in rows if r[1] == sel]
        c = np.array([r[2] for r in rs])
        pl = np.mean([r[3] for r in rs], axis=0)
        a = np.array([r[4] for r in rs])
        print(f"| {name} | {c.mean():.3f} ± {c.std(ddof=1):.3f} | {np.round(pl, 3).tolist()} "
              f"| {a.mean():.3f} ± {a.std(ddof=1):.3f} |")
    score = np.concatenate([clean, noisy])
    is_noisy = np.r_[np.zeros(len(clean), bool), np.ones(len(noisy), bool)]
    effect = (noisy.mean() - clean.mean()) / pooled
    print(f"\nseparation: (noisy − clean) / pooled std = {effect:.2f}; "
          f"AUC(noisy has higher exponent) = {auc(score, is_noisy):.2f}")
    print(f"integration_noisy_minus_clean: {noisy.mean() - clean.mean():.3f}")


if __name__ == "__main__":
    main()
