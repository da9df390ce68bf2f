"""Fashion-MNIST for the forces benches: ``workbench.data`` when it exists, else the
embedded idx files read directly (same normalisation)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1] / "data" / "fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def load(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images (N, 1, 28, 28) float32 normalised, targets (N,) int64)``."""
    try:
        from workbench.data import load_dataset
    except ImportError:
        load_dataset = None
    if load_dataset is not None:
        ds = load_dataset("fashion-mnist", train=train)
        return ds.images, ds.targets
    prefix = "train" if train else "t10k"
    with gzip.open(ROOT / f"{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(ROOT / f"{prefix}-labels-idx1-ubyte.gz") as f:
        targets = np.frombuffer(f.read(), np.uint8, offset=8)
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - MEAN) / STD
    return x, torch.from_numpy(targets.astype(np.int64))


def noisy_labels(targets: torch.Tensor, rate: float, seed: int, num_classes: int = 10):
    """Flip a seeded ``rate`` fraction of labels to a different class; returns
    ``(noisy_targets, flipped_bool_mask)``."""
    g = torch.Generator().manual_seed(seed)
    n = targets.shape[0]
    flipped = torch.zeros(n, dtype=torch.bool)
    idx = torch.randperm(n, generator=g)[: int(round(rate * n))]
    flipped[idx] = True
    shift = torch.randint(1, num_classes, (n,), generator=g)
    noisy = torch.where(flipped, (targets + shift) % num_classes, targets)
    return noisy, flipped
