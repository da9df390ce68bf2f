"""Training-step cost of the default CNN (issue 10) against the old one, side by side.

The old default (one big dense layer, 206,922 parameters, 97% of them in ``fc1``) is rebuilt
here; the new one is ``build_model("cnn")``. Each round times ``--steps`` SGD steps of batch
128 on Fashion-MNIST images for both, the order alternating between rounds; the headline is
the median over rounds of new / old. The demo's training time scales with it (the old demo
trained in 58 s, bench/RESULTS.md). 6 rounds. Log: ``bench/logs/cnn_cost.log`` (every run
appended, bench/_log.py).

Run: ``PYTHONPATH=. python bench/cnn_cost.py``
"""

from __future__ import annotations

import os
import sys
import time

import _log  # noqa: I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.data import load_dataset
from workbench.models import build_model, group_shares


class OldCNN(nn.Module):
    groups = ("conv1", "conv2", "fc1", "fc2")

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU())
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(self.fc1(self.conv2(self.conv1(x))))


def step_time(model, x, y, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    t0 = time.perf_counter()
    for i in range(steps):
        xb, yb = x[i * 128:(i + 1) * 128], y[i * 128:(i + 1) * 128]
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def main():
    _log.start()

    def say(s):
        print(s, flush=True)

    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    steps, rounds = 8, 6
    ds = load_dataset("fashion-mnist", train=True)
    x, y = ds.images[:steps * 128], ds.targets[:steps * 128]
    torch.manual_seed(0)
    new, old = build_model("cnn"), OldCNN()
    for name, m in (("old", old), ("new", new)):
        sh = group_shares(m)
        say(f"# {name}: {sum(p.numel() for p in m.parameters())} parameters; shares "
            + ", ".join(f"{g} {v:.1%}" for g, v in sh.items()))
    say(f"# load average at start {os.getloadavg()} on {os.cpu_count()} cores, shared with "
        f"other agents' jobs; torch threads {torch.get_num_threads()}")
    ratios = []
    for r in range(rounds):
        order = [("new", new), ("old", old)] if r % 2 else [("old", old), ("new", new)]
        t = {n: step_time(m, x, y, steps) for n, m in order}
        ratios.append(t["new"] / t["old"])
        say(f"round {r}: old {1000 * t['old']:.1f} ms/step, new {1000 * t['new']:.1f} ms/step, "
            f"ratio {ratios[-1]:.2f}")
    say(f"# load average at end {os.getloadavg()}")
    say(f"cnn_step_time_ratio_new_over_old: {np.median(ratios):.2f}")


if __name__ == "__main__":
    sys.exit(main())
