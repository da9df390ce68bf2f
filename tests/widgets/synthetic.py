"""Small synthetic run data with known values, shared by the widget tests."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

LAYERS = ["conv1", "conv2", "fc"]
SAMPLES = [7, 11, 20, 42]


def layers_ds(n_steps: int = 20) -> xr.Dataset:
    step = np.arange(n_steps)
    grad = np.stack([(i + 1) * np.sin(step / 3.0) + 10 * i for i in range(len(LAYERS))], 1)
    cos = np.stack([np.cos(step / (i + 2.0)) for i in range(len(LAYERS))], 1)
    return xr.Dataset(
        {"grad_norm": (("step", "layer"), grad, {"long_name": "gradient norm", "units": ""}),
         "update_cos": (("step", "layer"), cos, {"long_name": "update cosine"})},
        coords={"step": step, "layer": LAYERS})


def probs_da(n_epochs: int = 3) -> xr.DataArray:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n_epochs, len(SAMPLES), 4))
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return xr.DataArray(p, dims=("epoch", "sample", "label"),
                        coords={"epoch": np.arange(n_epochs), "sample": SAMPLES,
                                "label": np.arange(4), "target": ("sample", [0, 1, 2, 3])},
                        name="probability", attrs={"long_name": "predicted probability"})


def images_da() -> xr.DataArray:
    pix = np.arange(len(SAMPLES) * 5 * 5, dtype=float).reshape(len(SAMPLES), 5, 5, 1)
    return xr.DataArray(pix, dims=("sample", "row", "col", "channel"),
                        coords={"sample": SAMPLES})


def tree(n_epochs: int = 3, steps_per_epoch: int = 10) -> xr.DataTree:
    """A DataTree shaped like a run store (groups /steps /layers /epochs /probe)."""
    n = n_epochs * steps_per_epoch
    step = np.arange(n)
    steps = xr.Dataset({"loss": ("step", 2.0 * np.exp(-step / 10.0),
                                 {"long_name": "training loss"})},
                       coords={"step": step, "epoch": ("step", step // steps_per_epoch)})
    epochs = xr.Dataset({"train_acc": ("epoch", np.linspace(0.5, 0.8, n_epochs)),
                         "test_acc": ("epoch", np.linspace(0.45, 0.75, n_epochs)),
                         "train_loss": ("epoch", np.linspace(1.0, 0.5, n_epochs)),
                         "test_loss": ("epoch", np.linspace(1.1, 0.6, n_epochs))},
                        coords={"epoch": np.arange(n_epochs)})
    p = probs_da(n_epochs)
    logits = xr.DataArray(np.log(p.values), dims=p.dims, coords=p.coords, name="logits")
    root = xr.Dataset(attrs={
        "config": json.dumps({"model": "cnn", "data": "fashion-mnist", "optimizer": "sgd",
                              "momentum": "constant:0.9"}),
        "classes": json.dumps(["a", "b", "c", "d"]),
        "committed_epochs": n_epochs, "committed_steps": n})
    return xr.DataTree.from_dict({"/": root, "/steps": steps, "/layers": layers_ds(n),
                                  "/epochs": epochs, "/probe": logits.to_dataset()})


def line_by_gid(ax, gid):
    found = [ln for ln in ax.lines if ln.get_gid() == gid]
    assert len(found) == 1, f"expected one line with gid {gid!r}; got {len(found)}"
    return found[0]
