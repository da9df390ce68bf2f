"""Shared fixtures: one tiny recorded run, made once per session."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

#: Why ``@pytest.mark.cuda`` tests are skipped here (shown by ``pytest -rs``).
NO_CUDA = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``cuda`` where there is no GPU, saying so."""
    if torch.cuda.is_available():
        return
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=NO_CUDA))

#: A tiny run: batches of 32 and a signal at every step give 94 signal points (DFA needs 64).
TINY = {"epochs": 2, "train_size": 1500, "test_size": 500, "probe_size": 200,
        "batch_size": 32, "signal_every": 1, "curvature_iters": 5,
        "feature_layers": ("conv1", "conv2", "fc1", "fc2")}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 2-epoch CNN run on 1500 Fashion-MNIST images, shared by the tests and notebooks."""
    from workbench.widgets import ensure_run

    return ensure_run(tmp_path_factory.getbasetemp() / "tiny_run", progress=False, **TINY)
