"""A very small recorded run for the fault trials, copied fresh for each test."""

from __future__ import annotations

import shutil

import pytest

#: 2 epochs of 2 steps each; no curvature probe (the trials are about the store, not physics).
MINI = {"epochs": 2, "train_size": 60, "test_size": 40, "probe_size": 10, "batch_size": 30,
        "signal_batch": 8, "curvature_iters": 0, "device": "cpu"}


@pytest.fixture(scope="session")
def mini_run_master(tmp_path_factory):
    from workbench.config import TrainConfig
    from workbench.train import train

    out = tmp_path_factory.mktemp("trust") / "mini"
    train(TrainConfig(**MINI), out, progress=False)
    return out


@pytest.fixture
def mini_run(mini_run_master, tmp_path):
    """A fresh copy of the mini run, free to damage."""
    run = tmp_path / "run"
    shutil.copytree(mini_run_master, run)
    return run
