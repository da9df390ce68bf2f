"""Seconds per epoch of the dynamics, forces and separation analyses on a demo-shaped run.

The demo run (``workbench demo``) is the CNN on Fashion-MNIST, 3 epochs, probe set 512,
features conv1,conv2,fc1,fc2, a signal every 8 steps. What an analysis costs per epoch
depends on the probe set, the feature layers, the model and the number of signal points, not
on the training-set size, so this trains the same configuration on a smaller training subset
(fewer steps, hence fewer signal points: the dynamics figure is a lower bound) and times each
analysis on each epoch, repeating with the order of the analyses alternated (forward, then
reversed) so that a warm cache favours no side. Other agents share these 2 cores: see the
load average printed with the figures.

Run:  PYTHONPATH=$PWD python bench/analyses_cost.py [--train-size 6000 --repeats 6]
Appends its run to bench/logs/analyses_cost.log (bench/_log.py).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import _log  # noqa: I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np
import torch

from workbench import Run
from workbench.analysis import ANALYSES, load_all
from workbench.config import TrainConfig
from workbench.train import train

NAMES = ("dynamics", "forces", "separation")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=6)
    args = p.parse_args()
    _log.start()
    torch.set_num_threads(2)

    def say(msg):
        print(msg, flush=True)

    say(f"python {sys.version.split()[0]}, torch {torch.__version__}, threads 2, "
        f"load average {os.getloadavg()}")
    load_all()
    with tempfile.TemporaryDirectory() as root:
        cfg = TrainConfig(epochs=args.epochs, train_size=args.train_size, probe_size=512,
                          feature_layers=("conv1", "conv2", "fc1", "fc2"), device="cpu")
        t0 = time.perf_counter()
        run = Run(train(cfg, Path(root) / "run", progress=False))
        say(f"trained {cfg.train_size} images x {cfg.epochs} epochs (demo shape otherwise) in "
            f"{time.perf_counter() - t0:.0f} s; signal points "
            f"{int(run.tree['layers']['signal'].notnull().any('layer').sum())}")
        run.train_data()  # the data load once, as analyze does
        times = {n: [] for n in NAMES}
        for r in range(args.repeats):
            order = NAMES if r % 2 == 0 else NAMES[::-1]
            for epoch in run.epochs:
                for name in order:
                    t = time.perf_counter()
                    ANALYSES[name].func(run, epoch)
                    times[name].append(time.perf_counter() - t)
            say(f"repeat {r} order {order}: " + ", ".join(
                f"{n} {np.mean(times[n][-len(run.epochs):]):.2f} s" for n in NAMES))
    per_epoch = {n: float(np.median(v)) for n, v in times.items()}
    total = sum(per_epoch.values())
    for n in NAMES:
        say(f"{n}: median {per_epoch[n]:.2f} s per epoch (min {min(times[n]):.2f}, "
            f"max {max(times[n]):.2f}, n={len(times[n])})")
    say(f"demo (3 epochs) estimate: {3 * total:.1f} s for the three analyses; load average "
        f"{os.getloadavg()}")
    say(f"analyses_per_epoch_s: {total:.2f}")


if __name__ == "__main__":
    main()
