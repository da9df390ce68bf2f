"""Shared fixtures: a tiny recorded run, made once per session."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 2-epoch CNN run on 1500 Fashion-MNIST images, with features of two layers."""
    from workbench.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = TrainConfig(epochs=2, train_size=1500, test_size=500, probe_size=200,
                      feature_layers=("conv2", "fc1"), batch_size=64, signal_every=2)
    train(cfg, out, progress=False)
    return out
