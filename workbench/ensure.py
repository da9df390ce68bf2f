"""What the notebooks and the Explorer need to exist, made once, in the library rather than
in a widget: ``ensure_run`` (a small run, trained when the directory holds none) and
``ensure_analysis`` (one analysis computed for the epochs a run lacks, as
``explore(run, tab=name)`` promises)."""

from __future__ import annotations

from pathlib import Path

#: A quick run (a minute or two on a laptop CPU) that every view and notebook can use.
#: ``signal_every=1`` and batches of 64 give 94 signal points, enough for DFA (64 at least).
SMALL = {"epochs": 2, "train_size": 3000, "test_size": 1000, "batch_size": 64,
         "signal_every": 1, "probe_size": 256, "feature_layers": ("conv1", "conv2", "fc1", "fc2")}


def ensure_run(path="runs/demo", *, progress: bool = True, **small) -> Path:
    """Return ``path`` if it holds a recorded run, else train a small one there first.

    Parameters
    ----------
    path : path
        The run directory.
    progress : bool
        Show tqdm progress bars while training.
    **small
        :class:`~workbench.train.TrainConfig` fields overriding :data:`SMALL`.

    Returns
    -------
    Path
        The run directory.

    Examples
    --------
    >>> run = ensure_run("../runs/demo")     # doctest: +SKIP
    """
    from .record.store import RunStore

    path = Path(path)
    store = RunStore(path)
    if store.exists() and int(store.attrs().get("committed_epochs", 0)) > 0:
        return path
    from .config import TrainConfig
    from .train import train

    cfg = TrainConfig(**{**SMALL, **small})
    print(f"no recorded run in {path}; training a small one there (once)")
    return train(cfg, path, resume=store.exists(), progress=progress)



def ensure_analysis(run, name: str, *, progress: bool = True) -> str:
    """Compute the analysis ``name`` for the run's epochs that lack it (incrementally,
    stored in the run, so only once); return why it could not be, or ``""``.

    Parameters
    ----------
    run : workbench.Run
    name : str
        A registered analysis (:func:`workbench.analysis.load_all`).
    progress : bool
        Show :func:`workbench.analyze`'s progress bar.

    Returns
    -------
    str
        ``""`` when the run now holds every epoch of ``name`` (or held it already), else
        the reason: not registered in this version and not stored, or what the run lacks
        (``"needs …"``, from :func:`workbench.analyze`).

    Examples
    --------
    >>> ensure_analysis(Run("runs/demo"), "damping")       # doctest: +SKIP
    ''
    """
    from .analysis import analyze, load_all

    if name not in load_all():
        if run.analysis(name) is not None:
            return ""
        return (f"the analysis {name!r} is not available in this version of the workbench, "
                f"so its tab is not shown")
    done = set(run.analysed_epochs(name))
    if not set(run.epochs) - done:
        return ""
    result = analyze(run, only=[name], progress=progress).get(name)
    run.refresh()
    return result if isinstance(result, str) else ""


__all__ = ["ensure_analysis", "ensure_run", "SMALL"]
