"""Shared lean training loop for the beta benches (uses the package's schedules)."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from workbench.data import load_dataset, train_subset
from workbench.models import build_model
from workbench.optim import build_optimizer, make_lr_schedule, make_momentum, set_hyperparameters


def fashion(train_size, test_size, seed=0):
    tr = train_subset(load_dataset("fashion-mnist", train=True), train_size, seed=seed)
    te = train_subset(load_dataset("fashion-mnist", train=False), test_size, seed=seed)
    return tr, te


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    was = model.training
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
                  for i in range(0, len(y), batch))
    model.train(was)
    return correct / len(y)


def train_run(train, test, *, momentum="constant:0.9", optimizer="sgd", lr=0.05,
              lr_schedule="cosine", steps=300, batch_size=128, seed=0, eval_every=20):
    """Train the default CNN; return (model, curve dict, training wall time)."""
    torch.manual_seed(seed)
    model = build_model("cnn")
    lr_fn = make_lr_schedule(lr_schedule, lr, steps)
    mom_fn = make_momentum(momentum, lr_fn, steps) if optimizer == "sgd" else None
    opt = build_optimizer(optimizer, model.parameters(), lr=lr, momentum=mom_fn)
    gen = torch.Generator().manual_seed(seed)
    x, y = train.images, train.targets
    order = torch.randperm(len(y), generator=gen)
    pos, wall = 0, 0.0
    curve = {"step": [], "acc": [], "time": []}
    model.train()
    for step in range(steps):
        t0 = time.perf_counter()
        if pos + batch_size > len(y):
            order, pos = torch.randperm(len(y), generator=gen), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        set_hyperparameters(opt, lr_fn(step), mom_fn(step) if mom_fn is not None else None)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        wall += time.perf_counter() - t0
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            curve["step"].append(step + 1)
            curve["acc"].append(accuracy(model, test.images, test.targets))
            curve["time"].append(wall)
    return model, {k: np.asarray(v) for k, v in curve.items()}, wall


def first_reach(curve, threshold):
    """(steps, seconds) at the first evaluation with accuracy >= threshold, else NaN."""
    hit = np.flatnonzero(curve["acc"] >= threshold)
    if not len(hit):
        return float("nan"), float("nan")
    return float(curve["step"][hit[0]]), float(curve["time"][hit[0]])
