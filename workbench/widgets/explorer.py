"""``explore(run_dir)``: the views of one run in tabs, over one shared selection."""

from __future__ import annotations

import html

import xarray as xr

from .layers import LayersView
from .probe import ProbeView
from .state import SELECTABLE, Selection
from .training import TrainingView


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
                 title: str = "", classes=None):
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
            self.views["probe"] = ProbeView(probs, images, self.state, classes=classes)
        self.status = w.HTML()
        self.state.observe(self._show_status, names=list(SELECTABLE))
        self._show_status()
        tabs = w.Tab(children=[v.widget for v in self.views.values()])
        tabs.titles = tuple(self.views)
        tabs.observe(self._tab_changed, "selected_index")
        self.tabs = tabs
        self._tab_changed()
        header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = w.VBox([*header, self.status, tabs])

    def _tab_changed(self, change=None) -> None:
        """Only the selected tab's view redraws on a selection change."""
        shown = self.tabs.selected_index or 0
        for i, view in enumerate(self.views.values()):
            view.show(i == shown)

    def _show_status(self, change=None) -> None:
        parts = [f"{d} <b>{html.escape(str(getattr(self.state, d)))}</b>"
                 for d in SELECTABLE]
        self.status.value = ("<span class='wb-selection'>selection: " + " · ".join(parts)
                             + "</span>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explore(run, *, images: bool = True) -> Explorer:
    """An interactive explorer of a recorded run (training curves, layers, probe set).

    Parameters
    ----------
    run : path or Run
        A run directory (``runs/demo``) or an opened :class:`~workbench.run.Run`.
    images : bool
        Show the probe samples' images (read from the run's test split).

    Examples
    --------
    >>> explore("runs/demo")          # doctest: +SKIP
    """
    from ..run import Run

    run = run if isinstance(run, Run) else Run(run)
    tree = run.tree
    pics = None
    if images and "probe" in tree:
        try:
            pics = run.probe_images()
        except (FileNotFoundError, OSError, RuntimeError):
            pics = None  # e.g. CIFAR not in this user's data root: no images, views still work
    cfg = run.config
    title = (f"{run.path.name}: {cfg.model} on {cfg.data}, {cfg.optimizer}, "
             f"momentum {cfg.momentum}")
    return Explorer(tree, images=pics, title=title, classes=run.classes or None)


__all__ = ["Explorer", "explore"]
