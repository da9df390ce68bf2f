"""What an analysed epoch was computed from, so a stale analysis is found and recomputed.

Each epoch stored in ``/analysis/<name>`` carries a fingerprint (group attr
``fingerprints``, one per committed epoch, in order)::

    sha256:<first 16 hex digits of the checkpoint's SHA-256> steps:<first>-<end>

the hash of that epoch's checkpoint file and the epoch's committed steps (``first`` ≤ step <
``end`` in ``/steps``). A trim followed by ``train --resume`` retrains the trimmed epochs: their
checkpoints (and, with another schedule, their steps) change, so their fingerprints no longer
match, ``workbench verify`` reports them stale and ``analyze`` recomputes them. An epoch stored
without a fingerprint (by an older workbench) is taken as it is.

Examples
--------
>>> epoch_fingerprint("runs/demo", 1)        # doctest: +SKIP
'sha256:3f9a0c1d2e4b5a69 steps:469-938'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import zarr

from ..dims import EPOCH
from .layout import CHECKPOINTS, RECORD, checkpoint_files, checkpoint_name

_HASHES: dict[tuple, str] = {}


def _sha256(path: Path) -> str:
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if len(_HASHES) > 4096:
            _HASHES.clear()
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def _root_attrs(run_dir) -> dict:
    return dict(zarr.open_group(str(Path(run_dir) / RECORD), mode="r",
                                use_consolidated=False).attrs)


def step_ranges(run_dir) -> dict[int, tuple[int, int]]:
    """epoch → (first step, end step) of its committed steps, from ``/steps``'s epoch coord."""
    path = Path(run_dir) / RECORD / "steps" / EPOCH
    if not (path / "zarr.json").is_file():
        return {}
    n = int(_root_attrs(run_dir).get("committed_steps", 0))
    ep = np.asarray(zarr.open_array(str(path), mode="r")[:max(n, 0)])
    out = {}
    for e in np.unique(ep):
        idx = np.flatnonzero(ep == e)
        out[int(e)] = (int(idx[0]), int(idx[-1]) + 1)
    return out


def epoch_fingerprint(run_dir, epoch: int, *, ranges=None) -> str | None:
    """The fingerprint of ``epoch`` as the run holds it now (None without a checkpoint)."""
    path = Path(run_dir) / CHECKPOINTS / checkpoint_name(epoch)
    if not path.is_file():
        return None
    ranges = step_ranges(run_dir) if ranges is None else ranges
    a, b = ranges.get(int(epoch), (0, 0))
    return f"sha256:{_sha256(path)[:16]} steps:{a}-{b}"


def stored_fingerprints(node, n: int) -> list[str]:
    """The ``n`` fingerprints an analysis group stores ("" where none was stored)."""
    try:
        raw = json.loads(node.attrs.get("fingerprints", "[]"))
    except (TypeError, ValueError):
        raw = []
    raw = [str(x) for x in raw] if isinstance(raw, list) else []
    return (raw + [""] * n)[:n]


def cut_fingerprints(node, keep: int) -> dict:
    """The attrs update that keeps the first ``keep`` fingerprints of ``node``."""
    return {"fingerprints": json.dumps(stored_fingerprints(node, keep))}


def check_epochs(run_dir, epochs, prints) -> list[str | None]:
    """Per stored analysis epoch, why it no longer describes the run (None: it does)."""
    committed = int(_root_attrs(run_dir).get("committed_epochs", 0))
    have = {e for e in checkpoint_files(run_dir) if e < committed}
    ranges = step_ranges(run_dir)
    out, last = [], -1
    for e, fp in zip(epochs, prints, strict=True):
        if e <= last:
            out.append(f"epoch {e} stored after epoch {last} (out of order or repeated)")
        elif e not in have:
            out.append(f"epoch {e} is no longer committed with a checkpoint")
        elif fp and fp != epoch_fingerprint(run_dir, e, ranges=ranges):
            out.append(f"stale: epoch {e} was computed from another checkpoint or other steps "
                       f"than the run holds now ({fp}); 'workbench analyze' recomputes it")
        else:
            out.append(None)
        last = max(last, e)
    return out


def valid_prefix(run_dir, epochs, prints) -> int:
    """How many of the stored ``epochs`` (in stored order) still describe the run."""
    for i, why in enumerate(check_epochs(run_dir, epochs, prints)):
        if why is not None:
            return i
    return len(epochs)


__all__ = ["epoch_fingerprint", "step_ranges", "stored_fingerprints", "cut_fingerprints",
           "check_epochs", "valid_prefix"]
