"""Names and paths of a run directory, and the one checkpoint name ↔ epoch mapping.

::

    runs/<name>/
      record.zarr/            RECORD    (its /analysis/<name> groups: ANALYSIS)
      checkpoints/            CHECKPOINTS
        epoch_0007.pt         checkpoint_name(7);  checkpoint_epoch("epoch_0007.pt") == 7
        epoch_0007.tmp        checkpoint_name(7, tmp=True) (a write in progress)
      report/                 REPORT    (figures of ``workbench report``)
      lock                    LOCK      (while a process writes)

Every module that names a file of a run takes the name from here, and every module that
reads a checkpoint's epoch from its file name calls :func:`checkpoint_epoch`, which matches
the whole name exactly: ``epoch_0005_mybackup.pt`` is no checkpoint, so nothing ever deletes
or loads it.

Examples
--------
>>> checkpoint_name(7)
'epoch_0007.pt'
>>> checkpoint_epoch("epoch_0007.pt"), checkpoint_epoch("epoch_0007_mybackup.pt")
(7, None)
>>> checkpoint_epoch(checkpoint_name(12, tmp=True), tmp=True)
12
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

RECORD = "record.zarr"
CHECKPOINTS = "checkpoints"
ANALYSIS = "analysis"
REPORT = "report"
LOCK = "lock"
#: The run store's format; a store of a newer format is refused (see ``open_run``).
FORMAT = 1

_CHECKPOINT = re.compile(r"epoch_(\d{4})\.pt")
_CHECKPOINT_TMP = re.compile(r"epoch_(\d{4})\.tmp")


def checkpoint_name(epoch: int, *, tmp: bool = False) -> str:
    """The file name of ``epoch``'s checkpoint (``tmp``: while it is being written)."""
    epoch = int(epoch)
    if not 0 <= epoch <= 9999:
        raise ValueError(f"a checkpoint epoch is between 0 and 9999; got {epoch}")
    return f"epoch_{epoch:04d}.{'tmp' if tmp else 'pt'}"


def checkpoint_epoch(name: str, *, tmp: bool = False) -> int | None:
    """The epoch whose checkpoint (``tmp``: temporary file) is named ``name``, else None.

    The inverse of :func:`checkpoint_name`: the whole name must match ``epoch_\\d{4}.pt``.
    """
    m = (_CHECKPOINT_TMP if tmp else _CHECKPOINT).fullmatch(Path(name).name)
    return int(m.group(1)) if m else None


def checkpoint_files(run_dir, *, tmp: bool = False) -> dict[int, Path]:
    """epoch → checkpoint path (``tmp``: temporary files) in ``run_dir/checkpoints``, sorted."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return {}
    found = {}
    for p in folder.iterdir():
        e = checkpoint_epoch(p.name, tmp=tmp)
        if e is not None:
            found[e] = p
    return dict(sorted(found.items()))


def arrays(group, prefix=""):
    """``(path, array)`` for every zarr array below ``group``, depth first."""
    for name, arr in group.arrays():
        yield prefix + name, arr
    for name, sub in group.groups():
        yield from arrays(sub, prefix + name + "/")


def quiet():
    """Enter (and return) a context that hides zarr's format warnings; exit it when done."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="zarr.*")
    warnings.filterwarnings("ignore", message=".*unstable.*")
    return ctx


__all__ = ["RECORD", "CHECKPOINTS", "ANALYSIS", "REPORT", "LOCK", "FORMAT", "checkpoint_name",
           "checkpoint_epoch", "checkpoint_files", "arrays", "quiet"]
