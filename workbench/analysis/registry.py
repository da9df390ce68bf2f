"""The one place analyses are described, and :func:`analyze`, which fills ``/analysis``.

An analysis is one function ``compute(run, epoch) -> xr.Dataset`` computing one epoch's
result (no ``epoch`` dim: the registry adds it) from the run's record and that epoch's
checkpoint, registered with :func:`register` together with what it needs and, optionally,
its view. Nothing else names an analysis: the Explorer, the ``wb`` accessor, ``workbench
analyze --list`` and the command line read :data:`ANALYSES`.

The package's own analyses are the modules of :mod:`workbench.analysis` (found by
:func:`load_all`, no hand-kept list); other packages add theirs through the entry-point
group ``workbench.analyses`` (an entry point names a module, or an object in it, whose
import calls :func:`register`), as xarray finds its backends.

Examples
--------
>>> import xarray as xr
>>> def example(run, epoch):
...     return xr.Dataset({"value": float(epoch)})
>>> _ = register("example", compute=example, description="a constant", requires=())
>>> ANALYSES["example"].needs
()
>>> del ANALYSES["example"]
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import xarray as xr

from ..dims import EPOCH, choice
from ..record.lock import RunLock

#: What an analysis may need, and what it means. :meth:`workbench.run.Run.missing` says,
#: for one run, why a need is not met (or None).
NEEDS = {
    "model": "the model (a factory given as Run(path, model=...))",
    "train_data": "the training set (Run(path, data=(train, test)))",
    "test_data": "the test set (Run(path, data=(train, test)))",
    "probe": "a recorded probe set (/probe: watch(probe=...) or workbench train)",
    "features": "recorded probe-set features (/features: train --features or "
                "watch(features=...))",
    "steps": "the recorded steps' lr and momentum (/steps)",
    "signal": "the recorded layer signal (/layers/signal)",
}

#: Entry-point group through which other packages register analyses.
ENTRY_POINTS = "workbench.analyses"


@dataclass(frozen=True)
class Analysis:
    """A registered analysis.

    Attributes
    ----------
    name : str
        Its group under ``/analysis``.
    compute : callable ``(run, epoch) -> xr.Dataset``
        One epoch's result, without an ``epoch`` dim.
    description : str
        One line, shown by ``workbench analyze --list``.
    needs : tuple of str
        Keys of :data:`NEEDS` the analysis cannot run without.
    check : callable ``run -> str | None``, optional
        A further condition: the reason the run cannot be analysed this way, or None.
    view : callable or str, optional
        ``(tree, dataset, state, **kw) -> View`` drawing ``/analysis/<name>``, or its
        ``"module:attribute"`` (imported only when the Explorer shows the tab). None: the
        generic view (a line per layer over epochs, or a heat map).
    source : str
        Where it was registered (``"workbench"``, or the entry point's distribution).
    """

    name: str
    compute: Callable
    description: str
    needs: tuple = ()
    check: Callable | None = None
    view: Callable | str | None = None
    source: str = "workbench"

    @property
    def func(self) -> Callable:  # the name used before the registry took ``compute=``
        return self.compute

    def reason_not(self, run) -> str | None:
        """Why ``run`` cannot be analysed this way ("needs …"), or None when it can."""
        missing = [why for need in self.needs if (why := run.missing(need))]
        if missing:
            return "; ".join(missing)
        return self.check(run) if self.check is not None else None

    def view_factory(self) -> Callable | None:
        """The view factory, imported from its ``"module:attribute"`` if given so."""
        if isinstance(self.view, str):
            module, _, attr = self.view.partition(":")
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            return obj
        return self.view


#: name → Analysis, in registration order.
ANALYSES: dict[str, Analysis] = {}


def register(name: str, *, compute: Callable, description: str, requires=None,
             view: Callable | str | None = None, source: str = "workbench") -> Analysis:
    """Register ``compute(run, epoch) -> xr.Dataset`` as the analysis ``name``.

    Parameters
    ----------
    name : str
        The ``/analysis/<name>`` group (letters, digits and ``_``).
    compute : callable ``(run, epoch) -> xr.Dataset``
    description : str
    requires : sequence of str, callable, or both as ``(needs, check)``; optional
        Names from :data:`NEEDS` (``("model", "test_data")``), and/or a callable
        ``run -> str | None`` giving the reason a run cannot be analysed.
    view : callable or ``"module:attribute"``, optional
        Its Explorer view; None for the generic one.

    Returns
    -------
    Analysis

    Raises
    ------
    ValueError
        For a name taken by another function, a bad name, or an unknown need.
    """
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"an analysis name must be letters, digits and '_'; got {name!r}")
    if not callable(compute):
        raise TypeError(f"register({name!r}): compute must be a callable (run, epoch) -> "
                        f"xr.Dataset; got {type(compute).__name__}")
    needs, check = _requirements(name, requires)
    if name in ANALYSES and ANALYSES[name].compute is not compute:
        raise ValueError(f"an analysis named {name!r} is registered already (from "
                         f"{ANALYSES[name].source}); choose another name")
    ANALYSES[name] = Analysis(name, compute, str(description), needs, check, view, source)
    return ANALYSES[name]


def _requirements(name, requires) -> tuple[tuple, Callable | None]:
    if requires is None:
        return (), None
    if callable(requires):
        return (), requires
    needs, check = [], None
    for r in requires:
        if callable(r):
            check = r
        elif r in NEEDS:
            needs.append(r)
        else:
            raise ValueError(f"register({name!r}): unknown requirement {r!r}; expected "
                             f"names from {sorted(NEEDS)} or a callable")
    return tuple(needs), check


_loaded = False


def load_all() -> dict[str, Analysis]:
    """Import the package's analysis modules and the entry points; return the registry.

    Every module of :mod:`workbench.analysis` except ``registry`` (and private ones) is
    imported in name order; each registers itself. Then each entry point of the group
    ``workbench.analyses`` is loaded; one that fails to import is skipped with a warning
    naming it, and the rest still load.
    """
    global _loaded
    if _loaded:
        return ANALYSES
    package = importlib.import_module(__package__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name != "registry" and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")
    _load_entry_points()
    # one order whatever was imported first: the package's own by module name, then the rest
    # (plugins, analyses registered at run time) in registration order
    own = sorted((n for n, a in ANALYSES.items() if a.compute.__module__.startswith(
        f"{__package__}.")), key=lambda n: (ANALYSES[n].compute.__module__, n))
    ordered = {n: ANALYSES[n] for n in own}
    ordered.update((n, a) for n, a in ANALYSES.items() if n not in ordered)
    ANALYSES.clear()
    ANALYSES.update(ordered)
    _loaded = True
    return ANALYSES


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINTS):
        before = set(ANALYSES)
        try:
            ep.load()
        except Exception as e:  # a broken plugin must not break the workbench
            warnings.warn(f"the analysis plugin {ep.name!r} ({ep.value}) failed to load and "
                          f"is skipped: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
            continue
        dist = getattr(ep, "dist", None)
        for new in set(ANALYSES) - before:
            a = ANALYSES[new]
            ANALYSES[new] = Analysis(a.name, a.compute, a.description, a.needs, a.check,
                                     a.view, dist.name if dist is not None else ep.value)


def _storable(ds: xr.Dataset, name: str, epoch: int) -> xr.Dataset:
    """One epoch's result, checked and given its ``epoch`` dim (text as fixed width)."""
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"analysis {name!r} must return an xarray.Dataset; got "
                        f"{type(ds).__name__}")
    if EPOCH in ds.dims:
        raise ValueError(f"analysis {name!r} returned an 'epoch' dim; return one epoch's "
                         f"result without it (dims {dict(ds.sizes)})")
    ds = ds.drop_vars([v for v in ds.coords if v == EPOCH])
    for v in list(ds.variables):
        if ds[v].dtype.kind in "OU":
            ds[v] = ds[v].astype("<U32")
    return ds.expand_dims({EPOCH: [int(epoch)]})


def analyze(run, *, only=None, epochs=None, progress: bool = True,
            client=None) -> dict[str, object]:
    """Compute every (or each ``only``) analysis the run allows, for each checkpointed epoch
    not done yet.

    Each analysed epoch is appended to ``/analysis/<name>`` and committed before the next
    starts, so an interrupt (even ``kill -9``) loses no finished epoch and running again
    computes only what is missing. An analysis whose needs the run does not meet (no model
    factory, no data, no probe set…) is skipped, and the result says why. The run's lock is
    held throughout: a run being trained or analysed by another process is refused
    (:class:`~workbench.record.lock.RunLockedError`).

    Parameters
    ----------
    run : Run or path
    only : str or sequence of str, optional
        Names of analyses (default: all registered ones).
    epochs : sequence of int, optional
        Restrict to these epochs (default: every committed, checkpointed epoch).
    progress : bool
        Show a tqdm progress bar per analysis.
    client : dask.distributed.Client or str, optional
        Compute on this dask cluster (a Client, or a scheduler address such as
        ``"tcp://host:8786"``) instead of local threads.

    Returns
    -------
    dict
        name → list of epochs added, or the reason (str, "needs …") it was skipped.
    """
    from ..run import Run

    load_all()
    with _scheduler(client):
        return _analyze_locked(run if isinstance(run, Run) else Run(run), only, epochs,
                               progress)


def _scheduler(client):
    """Context in which dask computes on ``client`` (a Client or an address), or as before."""
    import contextlib

    if client is None:
        return contextlib.nullcontext()
    import dask

    if isinstance(client, str):
        from dask.distributed import Client

        client = Client(client)
    return dask.config.set(scheduler=client)


def _analyze_locked(run, only, epochs, progress) -> dict[str, object]:
    """Resolve the names and epochs, then analyse holding the run's lock."""
    if isinstance(only, str):
        only = [n.strip() for n in only.split(",") if n.strip()]
    names = list(ANALYSES) if not only else [choice(n, tuple(ANALYSES), "analysis")
                                             for n in only]
    available = run.epochs if epochs is None else [e for e in run.epochs if e in set(epochs)]
    with RunLock(run.path, "analyze"):
        return _analyze(run, names, available, progress)


#: A progress bar over epochs: the epoch in hand is named in the description (epochs count
#: from 0, as everywhere), and the counter says how many are done, not which one runs.
EPOCHS_DONE = "{l_bar}{bar}| {n_fmt} of {total_fmt} epochs done [{elapsed}<{remaining}]"


def _analyze(run, names, available, progress) -> dict[str, object]:
    from tqdm.auto import tqdm

    out: dict[str, object] = {}
    for name in names:
        a = ANALYSES[name]
        reason = a.reason_not(run)
        if reason:
            out[name] = reason
            continue
        done = run.store.analysis_epochs(name)  # past a stale consolidation
        if done != run.analysed_epochs_view(name):  # killed before it consolidated
            run.store.consolidate()
            run.refresh()
        todo = run.store.prepare_analysis(name, available)  # stale or missing, in order
        out[name] = []
        bar = tqdm(todo, desc=f"analyse {name}", disable=not progress or not todo,
                   leave=False, bar_format=EPOCHS_DONE)
        for epoch in bar:
            bar.set_description(f"analyse {name}: epoch {epoch}")  # epochs count from 0
            ds = _storable(a.compute(run, epoch), name, epoch)
            run.store.append_analysis(name, ds)
            out[name].append(epoch)
        run.refresh()
    return out


__all__ = ["ANALYSES", "Analysis", "NEEDS", "ENTRY_POINTS", "register", "analyze",
           "load_all"]
