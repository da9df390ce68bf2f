"""The one place analyses are registered, and :func:`analyze`, which fills ``/analysis``.

An analysis is one function ``(run, epoch) -> xr.Dataset`` computing one epoch's result (no
``epoch`` dim: the registry adds it) from the run's record and that epoch's checkpoint. It
lives in its own module of :mod:`workbench.analysis`, decorated with :func:`register`.

Examples
--------
>>> import xarray as xr
>>> @register("example", description="a constant", requires=lambda run: None)
... def example(run, epoch):
...     return xr.Dataset({"value": float(epoch)})
>>> "example" in ANALYSES
True
>>> del ANALYSES["example"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import xarray as xr

from ..dims import EPOCH, choice
from ..record.lock import RunLock


@dataclass(frozen=True)
class Analysis:
    """A registered analysis.

    Attributes
    ----------
    name : str
        Its group under ``/analysis``.
    func : callable ``(run, epoch) -> xr.Dataset``
    description : str
    requires : callable ``run -> str | None``
        The reason the run cannot be analysed this way (no features recorded, say), or None.
    """

    name: str
    func: Callable
    description: str
    requires: Callable | None = None

    def reason_not(self, run) -> str | None:
        return self.requires(run) if self.requires is not None else None


#: name → Analysis, in registration order.
ANALYSES: dict[str, Analysis] = {}


def register(name: str, *, description: str, requires: Callable | None = None):
    """Register ``func(run, epoch) -> xr.Dataset`` as the analysis ``name``."""
    def deco(func):
        if name in ANALYSES and ANALYSES[name].func is not func:
            raise ValueError(f"an analysis named {name!r} is registered already")
        ANALYSES[name] = Analysis(name, func, description, requires)
        return func
    return deco


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
    """Compute every (or each ``only``) analysis for each checkpointed epoch not done yet.

    Each analysed epoch is appended to ``/analysis/<name>`` and committed before the next
    starts, so an interrupt (even ``kill -9``) loses no finished epoch and running again
    computes only what is missing. The run's lock is held throughout: a run being trained
    or analysed by another process is refused
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
        ``"tcp://host:8786"``) instead of local threads. The run's record is opened lazily, so
        an analysis of a record larger than memory streams through the cluster.

    Returns
    -------
    dict
        name → list of epochs added, or the reason (str) the analysis was skipped.
    """

    from ..run import Run
    from . import load_all

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
        for epoch in tqdm(todo, desc=f"analyse {name}", disable=not progress or not todo,
                          leave=False):
            ds = _storable(a.func(run, epoch), name, epoch)
            run.store.append_analysis(name, ds)
            out[name].append(epoch)
        run.refresh()
    return out


__all__ = ["ANALYSES", "Analysis", "register", "analyze"]
