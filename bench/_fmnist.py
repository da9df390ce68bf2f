"""Shared pieces for the forces benches: Fashion-MNIST subsets and a tiny training loop."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.data import inject_label_noise, load_dataset, train_subset  # noqa: E402


def load(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images (N, 1, 28, 28) float32 normalised, targets (N,) int64)``."""
    ds = load_dataset("fashion-mnist", train=train)
    return ds.images, ds.targets


def noisy_subset(size: int, noise: float, seed: int):
    """A stratified seeded train subset with seeded label noise:
    ``(x, noisy_y, clean_y, flipped_mask)``."""
    ds = train_subset(load_dataset("fashion-mnist", train=True), size, seed=seed)
    ds = inject_label_noise(ds, noise, seed=seed) if noise else ds
    clean = ds.clean_targets if ds.clean_targets is not None else ds.targets
    return ds.images, ds.targets, clean, (ds.targets != clean)


def test_subset(size: int, seed: int = 0):
    ds = train_subset(load_dataset("fashion-mnist", train=False), size, seed=seed)
    return ds.images, ds.targets


@torch.no_grad()
def predict(model, x, batch=1000) -> torch.Tensor:
    was = model.training
    model.eval()
    out = torch.cat([torch.softmax(model(x[s:s + batch]), -1) for s in range(0, len(x), batch)])
    model.train(was)
    return out


def accuracy(model, x, y) -> float:
    return float((predict(model, x).argmax(-1) == y).float().mean())


def train_epoch(model, opt, x, target, *, batch: int, gen: torch.Generator, loss_fn,
                on_batch=None) -> None:
    """One epoch of minibatch SGD; ``target`` rows are indexed like ``x``."""
    model.train()
    order = torch.randperm(len(x), generator=gen)
    for s in range(0, len(x), batch):
        idx = order[s:s + batch]
        logits = model(x[idx])
        loss = loss_fn(logits, target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_batch is not None:
            on_batch(idx, logits.detach())


def seed_all(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)
    return torch.Generator().manual_seed(seed)
