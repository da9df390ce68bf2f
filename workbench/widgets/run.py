"""``ensure_run``: a run for the notebooks, trained on the spot when it does not exist yet."""

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
    from ..record.store import RunStore

    path = Path(path)
    store = RunStore(path)
    if store.exists() and int(store.attrs().get("committed_epochs", 0)) > 0:
        return path
    from ..config import TrainConfig
    from ..train import train

    cfg = TrainConfig(**{**SMALL, **small})
    print(f"no recorded run in {path}; training a small one there (once)")
    return train(cfg, path, resume=store.exists(), progress=progress)


__all__ = ["ensure_run", "SMALL"]
