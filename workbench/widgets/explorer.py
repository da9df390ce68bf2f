"""``explore(run_dir)``: the views of one run in tabs, over one shared selection."""

from __future__ import annotations

import html

import xarray as xr

from .damping import DampingView
from .dynamics import DynamicsView
from .layers import LayersView
from .probe import ProbeView
from .separation import SeparationView
from .spectra import SpectraView
from .state import SELECTABLE, Selection
from .training import TrainingView
from .view import deferred


def damping_tab(tree, ds, state, **_):
    """The ``damping`` analysis' view."""
    return DampingView(ds, state)


def dynamics_tab(tree, ds, state, **_):
    """The ``dynamics`` analysis' view (with the recorded signal and epochs)."""
    signal = tree["layers"]["signal"] if "signal" in tree["layers"] else None
    return DynamicsView(ds, signal, tree["epochs"].to_dataset(), state)


def separation_tab(tree, ds, state, **_):
    """The ``separation`` analysis' view."""
    return SeparationView(ds, state)


def spectra_tab(tree, ds, state, **_):
    """The ``spectra`` analysis' view."""
    return SpectraView(ds, state)


def analysis_views() -> dict:
    """name → view factory ``(tree, dataset, state, **kw) -> View`` of every registered
    analysis that has its own view, in registration order (the registry is the one place an
    analysis is described)."""
    from ..analysis import load_all

    return {name: a.view_factory() for name, a in load_all().items() if a.view is not None}


def tabs_for(analyses: dict) -> dict:
    """name → view factory for each of ``analyses`` (name → Dataset) that holds an epoch:
    the registered view where there is one (in registration order), else the generic view
    (:class:`~workbench.widgets.generic.GenericView`) when it has something to draw (an
    analysis registered without a view, or not registered here at all: a run analysed by a
    plugin this user lacks)."""
    from .generic import displayable, generic_tab

    own = analysis_views()
    order = [n for n in own if n in analyses] + [n for n in analyses if n not in own]
    out = {}
    for name in order:
        ds = analyses[name]
        if ds.sizes.get("epoch", 0) < 1:
            continue
        if name in own:
            out[name] = own[name]
        elif displayable(ds):
            out[name] = generic_tab
    return out


def _view_or_generic(make, tree, ds, state, **kw):
    """The analysis' own view; where its data is not of the shape that view draws (a token
    run's attribution has token attributions, not images), the generic view of it."""
    from .generic import displayable, generic_tab

    try:
        return make(tree, ds, state, **kw)
    except ValueError:
        if make is generic_tab or not displayable(ds):
            raise
        return generic_tab(tree, ds, state, **kw)


def analyses_of(tree: xr.DataTree) -> dict:
    """name → Dataset of each /analysis group holding at least one epoch."""
    if "analysis" not in tree:
        return {}
    out = {}
    for name, node in tree["analysis"].children.items():
        ds = node.to_dataset()
        if ds.sizes.get("epoch", 0) > 0:
            out[name] = ds
    return out


def run_phases(tree: xr.DataTree):
    """The grokking phases of a run from its recorded accuracies, and a note.

    ``grokking_phases(train_acc, test_acc)`` on /epochs (``probe_acc`` when there is no
    ``test_acc``): the one definition of the phases. Returns ``(phases, note)``: the labels
    over ``epoch`` when the run grokked (note empty); ``(None, "no grokking phases: <why>")``
    when it did not; ``(None, "")`` when the run lacks the accuracies.
    """
    from ..diagnostics.grokking import grokking_phases

    if "epochs" not in tree:
        return None, ""
    ep = tree["epochs"]
    test = next((n for n in ("test_acc", "probe_acc") if n in ep), None)
    if "train_acc" not in ep or test is None or ep.sizes.get("epoch", 0) < 1:
        return None, ""
    try:
        phases = grokking_phases(ep["train_acc"].load(), ep[test].load())
    except ValueError as e:  # accuracies that are not fractions: say so, shade nothing
        return None, f"no grokking phases: {e}"
    if not phases.attrs["grokked"]:
        return None, f"no grokking phases: {phases.attrs['reason']}"
    return phases, ""


def phases_on_steps(phases, tree: xr.DataTree):
    """``phases`` mapped onto /steps through its ``epoch(step)`` coord (None without it)."""
    if phases is None or "steps" not in tree or "epoch" not in tree["steps"].coords:
        return None
    ep = tree["steps"]["epoch"]
    known = ep.isin(phases["epoch"].values)
    ep = ep.where(known, drop=True).astype(phases["epoch"].dtype)
    out = phases.sel(epoch=ep.values).assign_coords(step=("epoch", ep["step"].values))
    return out.swap_dims(epoch="step").drop_vars("epoch")


class Explorer:
    """Tabs of views over one :class:`Selection`; display it in a notebook cell.

    The tabs are the training curves, the layer statistics, the probe set, and one view per
    analysis found under /analysis: its registered view (damping, dynamics, separation,
    spectra…), or the generic view for an analysis without one (:func:`tabs_for`). Only the
    shown tab repaints on a selection change; a hidden view draws when it is first shown.

    Parameters
    ----------
    tree : DataTree
        The run's record (``Run(path).tree``).
    images : DataArray (sample, row, col, channel), optional
        The probe images.
    title : str
    classes : sequence of str, optional
    analyses : dict of name → Dataset, optional
        The /analysis groups to show (default: those in ``tree``).
    tab : str, optional
        The tab shown first (e.g. ``"damping"``).

    Attributes
    ----------
    state : Selection
    views : dict of name → View
    status : ipywidgets.HTML
        The current selection as text.
    note : ipywidgets.HTML
        Why a requested tab is missing (empty otherwise).
    phases : DataArray (epoch) or None
        The grokking phases every epoch (and step) axis shades (:func:`run_phases`).
    phases_note : ipywidgets.HTML
        Why nothing is shaded, for a run with accuracies that did not grok.
    widget : ipywidgets.VBox
    """

    def __init__(self, tree: xr.DataTree, *, images: xr.DataArray | None = None,
                 title: str = "", classes=None, analyses: dict | None = None,
                 tab: str | None = None, run=None):
        import ipywidgets as w

        from ..diagnostics.probabilities import softmax

        self.tree = tree
        self.state = Selection()
        analyses = analyses_of(tree) if analyses is None else dict(analyses)
        with deferred():
            self.views = {
                "training": TrainingView(tree["steps"]["loss"], tree["epochs"].to_dataset(),
                                         self.state),
                "layers": LayersView(tree["layers"].to_dataset(), self.state, stat="grad_norm"
                                     if "grad_norm" in tree["layers"] else None),
            }
            if "probe" in tree:
                probs = softmax(tree["probe"]["logits"]).load()
                self.views["probe"] = ProbeView(probs, images, self.state, classes=classes)
            for name, make in tabs_for(analyses).items():
                self.views[name] = _view_or_generic(make, tree, analyses[name], self.state,
                                                    images=images, classes=classes, run=run,
                                                    name=name)
        self.phases, why = run_phases(tree)
        by_step = phases_on_steps(self.phases, tree)
        for view in self.views.values():
            view.phases, view.phases_by_step = self.phases, by_step
        if tab is not None and tab not in self.views:
            raise ValueError(f"explore: no tab {tab!r}; this run has tabs {list(self.views)}"
                             + ("" if tab not in _registered() else
                                f" (run `workbench analyze RUN --only {tab}` first)"))
        opening = getattr(self.views.get(tab), "opening_epoch", None)
        if opening is not None:  # the tab asked for opens where it has something to show
            self.state.epoch = opening()
        self.status = w.HTML()
        self.state.observe(self._show_status, names=list(SELECTABLE))
        self._show_status()
        tabs = w.Tab(children=[v.widget for v in self.views.values()])
        tabs.titles = tuple(self.views)
        tabs.selected_index = list(self.views).index(tab) if tab else 0
        tabs.observe(self._tab_changed, "selected_index")
        self.tabs = tabs
        self._tab_changed()
        header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.note = w.HTML()
        self.phases_note = w.HTML(
            f"<span class='wb-note'>{html.escape(why)}</span>" if why else "")
        self.widget = w.VBox([*header, self.status, self.note, self.phases_note, tabs])

    def _tab_changed(self, change=None) -> None:
        """Only the selected tab's view redraws on a selection change."""
        shown = self.tabs.selected_index or 0
        for i, view in enumerate(self.views.values()):
            if i != shown:
                view.show(False)
        list(self.views.values())[shown].show(True)

    def _show_status(self, change=None) -> None:
        parts = [f"{d} <b>{html.escape(str(getattr(self.state, d)))}</b>"
                 for d in SELECTABLE]
        self.status.value = ("<span class='wb-selection'>selection: " + " · ".join(parts)
                             + "</span>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explore(run, *, images: bool = True, tab: str | None = None,
            analyse: bool = True, model=None, data=None) -> Explorer:
    """An interactive explorer of a recorded run: training curves, layers, probe set, and a
    tab per analysis stored under /analysis (``workbench analyze RUN`` fills them).

    Parameters
    ----------
    run : path or Run
        A run directory (``runs/demo``) or an opened :class:`~workbench.run.Run`.
    images : bool
        Show the probe samples' images (read from the run's test split).
    tab : str, optional
        The tab shown first, e.g. ``"damping"``.
    analyse : bool
        When ``tab`` names a registered analysis that this run lacks (or lacks epochs of),
        compute it first (:func:`workbench.ensure.ensure_analysis`: incremental, with a
        progress bar; stored in the run, so only once). When it cannot be computed, the
        explorer opens on its first tab and its status line says why.
    model, data : optional
        For a run path recorded with :func:`workbench.watch`: the model factory and the
        ``(train, test)`` datasets, as for :class:`~workbench.run.Run`.

    Examples
    --------
    >>> explore("runs/demo", tab="damping")          # doctest: +SKIP
    """
    from ..ensure import ensure_analysis
    from ..run import Run

    run = run if isinstance(run, Run) else Run(run, model=model, data=data)
    note = ""
    if tab is not None and tab in _registered():
        note = ensure_analysis(run, tab) if analyse else ""
        if run.analysis(tab) is None:
            note = note or (f"no /analysis/{tab} in this run yet: run "
                            f"`workbench analyze {run.path} --only {tab}`")
            tab = None
    tree = run.tree
    pics = None
    if images and "probe" in tree:
        try:
            pics = run.probe_images()
        except (FileNotFoundError, OSError, RuntimeError, ValueError):
            pics = None  # CIFAR not in this user's data root, or inputs that are not images
    cfg = run.config
    title = (f"{run.path.name}: {cfg.model} on {cfg.data}, {cfg.optimizer}, "
             f"momentum {cfg.momentum}")
    app = Explorer(tree, images=pics, title=title, classes=run.classes or None, tab=tab,
                   run=run)
    if note:
        app.note.value = f"<span class='wb-note'>{html.escape(note)}</span>"
    return app


def _registered() -> dict:
    from ..analysis import load_all

    return load_all()


__all__ = ["Explorer", "analyses_of", "analysis_views", "damping_tab", "dynamics_tab",
           "explore", "phases_on_steps", "run_phases", "separation_tab", "spectra_tab",
           "tabs_for"]
