"""Synthetic /analysis/attribution and /analysis/forces epochs that follow the schema exactly.

Each function returns ONE epoch's Dataset (no ``epoch`` dim), as an analysis function does;
:func:`store_analyses` writes them through the registry's own checks and the store's append,
so the views read back exactly what ``workbench analyze`` would leave in a run.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from workbench.analysis.registry import _storable
from workbench.record.store import RunStore

from .synthetic import SAMPLES

CLASSES = ["a", "b", "c", "d"]
LAYERS = ["conv1", "conv2", "fc"]
K = 3                                   # ranks of the IG gallery
OBSERVED = SAMPLES[:3]                  # sample_o: probe samples (test indices)
UPDATE = [3, 5, 9, 12, 30]              # sample_u: train indices
FLIPPED = [False, True, False, False, True]
#: verdicts per epoch: the problematic group moves from fc to conv2 and back
VERDICTS = [["healthy", "inconclusive", "problematic"],
            ["healthy", "problematic", "inconclusive"],
            ["inconclusive", "healthy", "problematic"]]


def _a(long_name, units=""):
    return {"long_name": long_name, "units": units}


def attribution_epoch(epoch: int) -> xr.Dataset:
    """One epoch of /analysis/attribution with values that differ per epoch."""
    rng = np.random.default_rng(100 + epoch)
    n = len(LAYERS)
    wrong = rng.uniform(1, 2, n) * (epoch + 1)
    right = rng.uniform(0.2, 0.5, n)
    freq = rng.uniform(0, 1, n)
    sample = np.array([100 + epoch, 200 + epoch, -1 if epoch == 0 else 300 + epoch])
    valid = sample >= 0
    image = rng.normal(size=(K, 5, 5)) * valid[:, None, None]
    ig = rng.normal(size=(K, 5, 5)) * (epoch + 1) * valid[:, None, None]
    return xr.Dataset(
        {"grad_rms_misclassified": ("layer", wrong, _a("RMS gradient, misclassified")),
         "grad_rms_correct": ("layer", right, _a("RMS gradient, correct")),
         "log_ratio": ("layer", np.log(wrong / right), _a("log gradient ratio")),
         "flag_frequency": ("layer", freq, _a("flag frequency")),
         "verdict": ("layer", np.array(VERDICTS[epoch % 3]), _a("verdict")),
         "attribution": ("layer", rng.normal(size=n), _a("layer attribution", "logit")),
         "n_params": ("layer", np.full(n, 100), _a("parameters")),
         "param_share": ("layer", np.full(n, 1.0 / n), _a("share of the parameters")),
         "n_misclassified": ((), 40 - epoch, _a("misclassified probe samples")),
         "n_correct": ((), 160 + epoch, _a("correct probe samples")),
         "sample": ("rank", sample, _a("test-set index")),
         "target": ("rank", np.where(valid, [0, 1, 2], -1), _a("true label")),
         "predicted": ("rank", np.where(valid, [1, 3, (epoch + 1) % 4], -1),
                       _a("predicted label")),
         "image": (("rank", "row", "col"), image, _a("input")),
         "ig": (("rank", "row", "col"), ig, _a("Integrated Gradients", "logit"))},
        coords={"layer": LAYERS, "rank": np.arange(K)})


def forces_epoch(epoch: int) -> xr.Dataset:
    """One epoch of /analysis/forces with values that differ per epoch."""
    rng = np.random.default_rng(200 + epoch)
    n_o, n_u, n_l = len(OBSERVED), len(UPDATE), len(CLASSES)
    pull = rng.normal(size=(n_o, n_u, n_l)) * (epoch + 1)
    predicted = pull.sum(1)
    z = rng.normal(size=(n_o, n_l)) + epoch * np.eye(n_o, n_l)
    prob = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return xr.Dataset(
        {"pull": (("sample_o", "sample_u", "label"), pull, _a("pull $-\\eta A K G$")),
         "predicted": (("sample_o", "label"), predicted, _a("predicted $\\Delta\\log\\pi$")),
         "actual": (("sample_o", "label"), predicted + rng.normal(size=(n_o, n_l)) * 0.1,
                    _a("actual $\\Delta\\log\\pi$")),
         "prob": (("sample_o", "label"), prob, _a("probability $\\pi$"))},
        coords={"sample_o": OBSERVED, "sample_u": UPDATE, "label": np.arange(n_l),
                "label_u": ("sample_u", [0, 1, 2, 3, 0]),
                "flipped": ("sample_u", FLIPPED),
                "target": ("sample_o", [1, 2, 0])})


def store_analyses(run_dir, n_epochs: int = 3, names=("attribution", "forces")) -> None:
    """Append ``n_epochs`` synthetic epochs of each analysis to the run at ``run_dir``."""
    make = {"attribution": attribution_epoch, "forces": forces_epoch}
    store = RunStore(run_dir)
    for name in names:
        for e in range(n_epochs):
            store.append_analysis(name, _storable(make[name](e), name, e))
