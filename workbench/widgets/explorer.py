"""``explore(run_dir)``: the views of one run in tabs, over one shared selection."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ..dims import SAMPLE
from .layers import LayersView
from .probe import ProbeView
from .state import SELECTABLE, Selection
from .training import TrainingView


def probe_images(tree: xr.DataTree) -> xr.DataArray | None:
    """The probe samples' images (sample, row, col, channel), read from the run's test split.

    The /probe ``sample`` coord holds test-set indices, so each image is traced back to its
    dataset row. Returns None when the dataset cannot be loaded (CIFAR not downloaded, say).
    """
    from ..data import load_dataset
    from ..record.store import config

    cfg = config(tree)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not writable.*")
            ds = load_dataset(cfg.get("data", "fashion-mnist"), train=False,
                              root=cfg.get("data_root"), download=False)
    except (FileNotFoundError, OSError, RuntimeError):
        return None
    samples = np.asarray(tree["probe"][SAMPLE].values)
    pixels = ds.images[samples].permute(0, 2, 3, 1).numpy()
    return xr.DataArray(pixels, dims=(SAMPLE, "row", "col", "channel"),
                        coords={SAMPLE: samples}, name="image",
                        attrs={"long_name": "normalised pixel value", "units": ""})


def _classes(tree: xr.DataTree):
    raw = tree.attrs.get("classes")
    if raw is None:
        raw = tree["probe"].attrs.get("classes")
    return json.loads(raw) if isinstance(raw, str) else raw


class Explorer:
    """Tabs of views over one :class:`Selection`; display it in a notebook cell.

    Attributes
    ----------
    state : Selection
    views : dict of name → View
    status : ipywidgets.HTML
        The current selection as text.
    widget : ipywidgets.VBox
    """

    def __init__(self, tree: xr.DataTree, *, images: xr.DataArray | None = None,
                 title: str = ""):
        import ipywidgets as w

        from ..diagnostics.probabilities import softmax

        self.tree = tree
        self.state = Selection()
        self.views = {
            "training": TrainingView(tree["steps"]["loss"], tree["epochs"].to_dataset(),
                                     self.state),
            "layers": LayersView(tree["layers"].to_dataset(), self.state, stat="grad_norm"
                                 if "grad_norm" in tree["layers"] else None),
        }
        if "probe" in tree:
            probs = softmax(tree["probe"]["logits"]).load()
            self.views["probe"] = ProbeView(probs, images, self.state, classes=_classes(tree))
        self.status = w.HTML()
        self.state.observe(self._show_status, names=list(SELECTABLE))
        self._show_status()
        tabs = w.Tab(children=[v.widget for v in self.views.values()])
        tabs.titles = tuple(self.views)
        self.tabs = tabs
        header = [w.HTML(f"<b>{title}</b>")] if title else []
        self.widget = w.VBox([*header, self.status, tabs])

    def _show_status(self, change=None) -> None:
        parts = [f"{d} <b>{getattr(self.state, d)}</b>" for d in SELECTABLE]
        self.status.value = ("<span class='wb-selection'>selection: " + " · ".join(parts)
                             + "</span>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explore(run, *, images: bool = True) -> Explorer:
    """An interactive explorer of a recorded run (training curves, layers, probe set).

    Parameters
    ----------
    run : path or xarray.DataTree
        A run directory (``runs/demo``) or an opened run.
    images : bool
        Show the probe samples' images (read from the run's test split).

    Examples
    --------
    >>> explore("runs/demo")          # doctest: +SKIP
    """
    from ..record.store import config, open_run

    tree = run if isinstance(run, xr.DataTree) else open_run(run)
    pics = probe_images(tree) if images and "probe" in tree else None
    cfg = config(tree)
    name = Path(str(run)).name if not isinstance(run, xr.DataTree) else "run"
    title = (f"{name}: {cfg.get('model', '?')} on {cfg.get('data', '?')}, "
             f"{cfg.get('optimizer', '?')}, momentum {cfg.get('momentum', '?')}")
    return Explorer(tree, images=pics, title=title)


__all__ = ["Explorer", "explore", "probe_images"]
