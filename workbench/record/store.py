"""The run store: one directory per run, ``record.zarr`` (an xarray DataTree) and checkpoints.

::

    runs/<name>/
      record.zarr        /steps (step) · /layers (step, layer) · /epochs (epoch)
                         /epochs_layers (epoch, layer) · /probe (epoch, sample, label)
                         /features/<layer> (epoch, sample, unit)
      checkpoints/epoch_0007.pt

Each epoch is *committed* at its end: its data are appended to every group, then the root
attrs ``committed_epochs`` / ``committed_steps`` are updated and the metadata consolidated.
Readers see committed epochs only, so a crash (even ``kill -9``) at any point loses no
finished epoch; :meth:`RunStore.trim` cuts half-written data before a resume.

Every array carries a crc32c checksum per chunk, and each commit records the chunk files it
expects (:mod:`workbench.record.integrity`), so a missing or corrupt file is detected and named
by :func:`open_run` (``verify=True``) and ``workbench verify``. Writers hold the run's lock
(:mod:`workbench.record.lock`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import xarray as xr
import zarr

from ..dims import EPOCH, SAMPLE, STEP
from .integrity import INTEGRITY, StoreDamagedError, encoding_for, manifest, record_manifest
from .integrity import verify as verify_run

RECORD = "record.zarr"
CHECKPOINTS = "checkpoints"
ANALYSIS = "analysis"
#: Groups and the dim they grow along.
APPEND_DIMS = {"steps": STEP, "layers": STEP, "epochs": EPOCH, "epochs_layers": EPOCH,
               "probe": EPOCH, "ranks": STEP, "probe_inputs": SAMPLE}


class RunExistsError(FileExistsError):
    """The output directory already holds a different run."""


def _quiet():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="zarr.*")
    warnings.filterwarnings("ignore", message=".*unstable.*")
    return ctx


class RunStore:
    """Writes a run directory. Readers use :func:`open_run`.

    Parameters
    ----------
    run_dir : path
        ``runs/<name>``.
    """

    def __init__(self, run_dir):
        self.dir = Path(run_dir)
        self.path = self.dir / RECORD
        self.checkpoints = self.dir / CHECKPOINTS

    # -- creation ----------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / "zarr.json").exists()

    def create(self, attrs: dict) -> None:
        """Start an empty store whose root attrs hold the run's provenance."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)
        root = zarr.open_group(str(self.path), mode="w")
        root.attrs.update({**_jsonable(attrs), "committed_epochs": 0, "committed_steps": 0,
                           INTEGRITY: "{}"})
        zarr.consolidate_metadata(str(self.path))

    def attrs(self) -> dict:
        return dict(zarr.open_group(str(self.path), mode="r").attrs)

    # -- appending ---------------------------------------------------------------------------
    def commit_epoch(self, groups: dict[str, xr.Dataset], *, epoch: int,
                     attrs: dict | None = None) -> None:
        """Append one epoch's data to each group, then mark it committed.

        ``groups`` maps a group path (``"steps"``, ``"features/conv1"``…) to the epoch's
        Dataset; each grows along its dim in :data:`APPEND_DIMS` (``epoch`` for features).
        """
        ctx = _quiet()
        try:
            before = int(self.attrs().get("committed_steps", 0))
            new_steps = groups["steps"].sizes.get(STEP, 0) if "steps" in groups else 0
            for name, ds in groups.items():
                dim = APPEND_DIMS.get(name, EPOCH)
                if ds.sizes.get(dim, 0) == 0:
                    continue
                if (self.path / name / "zarr.json").exists():
                    ds.to_zarr(str(self.path), group=name, mode="a", append_dim=dim,
                               consolidated=False)
                else:
                    ds.to_zarr(str(self.path), group=name, mode="w", consolidated=False,
                               encoding=encoding_for(ds))
            root = zarr.open_group(str(self.path), mode="r+", use_consolidated=False)
            expected = json.dumps(manifest(root, skip=ANALYSIS + "/"), separators=(",", ":"))
            root.attrs.update({**_jsonable(attrs or {}), "committed_epochs": int(epoch) + 1,
                               "committed_steps": before + int(new_steps),
                               INTEGRITY: expected})
            zarr.consolidate_metadata(str(self.path))
        finally:
            ctx.__exit__(None, None, None)

    def append_analysis(self, name: str, ds: xr.Dataset) -> None:
        """Append one analysed epoch to ``/analysis/<name>``, then mark it committed.

        ``ds`` has an ``epoch`` dim of length 1. The group's attr ``committed`` counts the
        epochs readers may see; rows past it (a kill between the append and the mark) are cut
        here before appending and hidden by :func:`open_run`.
        """
        if ds.sizes.get(EPOCH) != 1:
            raise ValueError(f"append_analysis({name!r}) needs one epoch; got dims "
                             f"{dict(ds.sizes)}")
        group = f"{ANALYSIS}/{name}"
        ctx = _quiet()
        try:
            n = self.analysis_committed(name)
            if n is None:
                ds.to_zarr(str(self.path), group=group, mode="w", consolidated=False,
                           encoding=encoding_for(ds))
            else:
                node = zarr.open_group(str(self.path / group), mode="r+",
                                       use_consolidated=False)
                _cut(node, {EPOCH: n})
                ds.to_zarr(str(self.path), group=group, mode="a", append_dim=EPOCH,
                           consolidated=False)
            node = zarr.open_group(str(self.path / group), mode="r+", use_consolidated=False)
            node.attrs.update({"committed": (n or 0) + 1,
                               INTEGRITY: json.dumps(manifest(node), separators=(",", ":"))})
            zarr.consolidate_metadata(str(self.path))
        finally:
            ctx.__exit__(None, None, None)

    def analysis_committed(self, name: str) -> int | None:
        """How many epochs ``/analysis/<name>`` holds (None when it does not exist)."""
        path = self.path / ANALYSIS / name / "zarr.json"
        if not path.exists():
            return None
        node = zarr.open_group(str(path.parent), mode="r", use_consolidated=False)
        return int(node.attrs.get("committed", 0))

    def analysis_epochs(self, name: str) -> list[int]:
        """The epochs committed in ``/analysis/<name>``, read past the consolidated metadata.

        A ``kill -9`` between an analysis's commit mark and the consolidation of the
        metadata leaves readers of the consolidated view one epoch behind; this reads the
        mark and the ``epoch`` array themselves, so the next ``analyze`` neither loses nor
        repeats that epoch.
        """
        n = self.analysis_committed(name)
        if not n:
            return []
        node = zarr.open_group(str(self.path / ANALYSIS / name), mode="r",
                               use_consolidated=False)
        return [int(e) for e in node[EPOCH][:n]]

    def consolidate(self) -> None:
        """Rewrite the consolidated metadata from the groups themselves."""
        ctx = _quiet()
        try:
            zarr.consolidate_metadata(str(self.path))
        finally:
            ctx.__exit__(None, None, None)

    def trim(self) -> tuple[int, int]:
        """Cut every group back to the committed epochs and steps (after a crash)."""
        root = zarr.open_group(str(self.path), mode="r+", use_consolidated=False)
        n = {EPOCH: int(root.attrs["committed_epochs"]),
             STEP: int(root.attrs["committed_steps"])}
        _cut(root, n, skip=ANALYSIS + "/")
        if ANALYSIS in dict(root.groups()):
            for _name, node in root[ANALYSIS].groups():
                _cut(node, {EPOCH: int(node.attrs.get("committed", 0))})
        zarr.consolidate_metadata(str(self.path))
        return n[EPOCH], n[STEP]

    def seal(self) -> None:
        """Record the chunk files the store holds now as the expected ones (after a trim
        that cut damaged epochs away)."""
        root = zarr.open_group(str(self.path), mode="r+", use_consolidated=False)
        record_manifest(root, skip=ANALYSIS + "/")
        if ANALYSIS in dict(root.groups()):
            for _name, node in root[ANALYSIS].groups():
                record_manifest(node)
        zarr.consolidate_metadata(str(self.path))

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint_path(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch_{epoch:04d}.pt"

    def save_checkpoint(self, state: dict, epoch: int) -> Path:
        """Write atomically (temporary file, then rename)."""
        import torch

        self.checkpoints.mkdir(parents=True, exist_ok=True)
        path = self.checkpoint_path(epoch)
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path

    def last_checkpoint(self) -> tuple[int, Path] | None:
        found = sorted(self.checkpoints.glob("epoch_*.pt"))
        return (int(found[-1].stem.split("_")[1]), found[-1]) if found else None


def _cut(group, n: dict, *, skip: str | None = None) -> None:
    """Resize every array below ``group`` so that dim ``d`` has at most ``n[d]`` entries."""
    for path, arr in _arrays(group):
        if skip and path.startswith(skip):
            continue
        dims = arr.metadata.dimension_names or arr.attrs.get("_ARRAY_DIMENSIONS") or ()
        for axis, d in enumerate(dims):
            if d in n and arr.shape[axis] > n[d]:
                shape = list(arr.shape)
                shape[axis] = n[d]
                arr.resize(tuple(shape))


def _arrays(group, prefix=""):
    for name, arr in group.arrays():
        yield prefix + name, arr
    for name, sub in group.groups():
        yield from _arrays(sub, prefix + name + "/")


def _jsonable(d: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool)) or v is None
                else json.dumps(v, default=str)) for k, v in d.items()}


class DamagedStoreWarning(UserWarning):
    """The run store misses chunk files it committed (see :func:`open_run`)."""


def open_run(run_dir, *, chunks=None, verify: bool = False) -> xr.DataTree:
    """Open a run's record as a DataTree, showing committed epochs only.

    Parameters
    ----------
    run_dir : path
        The run directory (or its ``record.zarr``).
    chunks : dict or "auto", optional
        Open lazily with dask (e.g. ``{}`` for the stored chunks).
    verify : bool
        Read every chunk and check its crc32c, and check every committed checkpoint; raise
        :class:`~workbench.record.integrity.StoreDamagedError` naming each damaged group,
        array, epoch and file. Without it, only the presence of the committed chunk files
        is checked (cheap), and missing ones are named in a :class:`DamagedStoreWarning`;
        the undamaged parts stay readable either way.

    Examples
    --------
    >>> tree = open_run("runs/demo")          # doctest: +SKIP
    >>> tree["layers"].grad_norm.dims          # doctest: +SKIP
    ('step', 'layer')
    """
    path = Path(run_dir)
    if path.name != RECORD:
        path = path / RECORD
    if not (path / "zarr.json").exists():
        raise FileNotFoundError(f"no run record at {path}; expected a directory written by "
                                f"'workbench train' (holding {RECORD})")
    damage = verify_run(path.parent, decode=verify, checkpoints=verify)
    if damage and verify:
        raise StoreDamagedError(path.parent, damage, action="open")
    if damage:
        warnings.warn(str(StoreDamagedError(path.parent, damage, action="trust")),
                      DamagedStoreWarning, stacklevel=2)
    ctx = _quiet()
    try:
        tree = xr.open_datatree(str(path), engine="zarr", chunks=chunks)
    finally:
        ctx.__exit__(None, None, None)
    n = {EPOCH: int(tree.attrs.get("committed_epochs", 0)),
         STEP: int(tree.attrs.get("committed_steps", 0))}

    def cut(ds: xr.Dataset, n: dict) -> xr.Dataset:
        sel = {d: slice(0, k) for d, k in n.items() if d in ds.dims and ds.sizes[d] > k}
        return ds.isel(sel) if sel else ds

    for node in tree.subtree:
        own = node.attrs.get("committed") if node.parent is not None and \
            node.parent.name == ANALYSIS else None
        limit = {EPOCH: int(own)} if own is not None else n
        if node.has_data:
            node.dataset = cut(node.to_dataset(inherit=False), limit)
    return tree


def config(tree: xr.DataTree) -> dict:
    """The run's settings (root attr ``config``) as a dict."""
    raw = tree.attrs.get("config", "{}")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def signals(tree: xr.DataTree) -> xr.DataArray:
    """The layer signals (step, layer): the steps where the probe-batch signal was taken."""
    sig = tree["layers"]["signal"]
    return sig.dropna(STEP, how="all")


def committed_epochs(run_dir) -> int:
    """How many epochs the run's record has committed (0 when it has no record)."""
    path = Path(run_dir) / RECORD
    if not (path / "zarr.json").exists():
        return 0
    ctx = _quiet()
    try:
        attrs = zarr.open_group(str(path), mode="r", use_consolidated=False).attrs
        return int(attrs.get("committed_epochs", 0))
    finally:
        ctx.__exit__(None, None, None)


def checkpoint_epochs(run_dir) -> list[int]:
    """Epochs that are committed in the record *and* have a checkpoint file.

    A checkpoint written before a crash, for an epoch the record never committed, is not
    listed (nor loaded by :func:`load_checkpoint`).
    """
    n = committed_epochs(run_dir)
    found = (int(p.stem.split("_")[1])
             for p in sorted((Path(run_dir) / CHECKPOINTS).glob("epoch_*.pt")))
    return [e for e in found if e < n]


def load_state(path, *, map_location="cpu") -> dict:
    """``torch.load(path, weights_only=True)``, with a damaged file named in the error."""
    import pickle
    import zipfile

    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path} holds more than tensors and plain values, so it was "
                              f"not loaded (weights_only=True refuses code): "
                              f"{str(e).splitlines()[0]}. Use checkpoints written by "
                              f"'workbench train' only") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CheckpointError(f"{path} is damaged or truncated and cannot be read "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:160]}); "
                              f"restore it from a backup, or retrain that epoch") from None


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be loaded (truncated, damaged or not plain data)."""


def load_checkpoint(run_dir, epoch: int | None = None, *, device="cpu"):
    """Rebuild the run's model and load a checkpoint (``weights_only=True``).

    Parameters
    ----------
    run_dir : path
    epoch : int, optional
        Which epoch; the last committed one by default (negative values count from the end).
        Only epochs the record has committed are loaded.

    Returns
    -------
    model : torch.nn.Module
        In eval mode, on ``device``.
    state : dict
        The checkpoint (``epoch``, ``step``, ``optimizer``...).
    """

    from ..config import TrainConfig
    from ..models import model_for

    epochs = checkpoint_epochs(run_dir)
    if not epochs:
        raise FileNotFoundError(f"no committed epoch with a checkpoint in "
                                f"{Path(run_dir) / CHECKPOINTS}")
    if epoch is None or epoch < 0:
        epoch = epochs[epoch if epoch is not None else -1]
    if epoch not in epochs:
        raise ValueError(f"no checkpoint for epoch {epoch} in {run_dir}; found epochs {epochs}")
    state = load_state(RunStore(run_dir).checkpoint_path(epoch), map_location=device)
    cfg = TrainConfig.from_json(state["config"])
    model = model_for(cfg).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    return model, state


__all__ = ["RunStore", "RunExistsError", "DamagedStoreWarning", "CheckpointError", "load_state",
           "open_run", "config", "signals", "load_checkpoint",
           "checkpoint_epochs", "RECORD", "CHECKPOINTS", "ANALYSIS"]
