"""The run store: one directory per run, ``record.zarr`` (an xarray DataTree) and checkpoints.

::

    runs/<name>/
      record.zarr        /steps (step) · /layers (step, layer) · /epochs (epoch)
                         /epochs_layers (epoch, layer) · /probe (epoch, sample, label)
                         /features/<layer> (epoch, sample, unit) · /evals (eval_step)
      checkpoints/epoch_0007.pt

Each epoch is *committed* at its end: its data are appended to every group, then the root
attrs ``committed_epochs`` / ``committed_steps`` / ``committed_evals`` are updated and the
metadata consolidated.
Readers see committed epochs only, so a crash (even ``kill -9``) at any point loses no
finished epoch; :meth:`RunStore.trim` cuts half-written data before a resume.

Every array carries a crc32c checksum per chunk, and each commit records the chunk files it
expects (:mod:`workbench.record.integrity`), so a missing or corrupt file is detected and named
by :func:`open_run` (``verify=True``) and ``workbench verify``. Every write method of
:class:`RunStore` holds the run's lock (:func:`workbench.record.lock.hold`: taken for the
write, or already held by this process's ``train``/``analyze``), writes nothing through a
symbolic link and deletes nothing outside the run (:mod:`workbench.record.safe`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from ..dims import EPOCH, EVAL_STEP, SAMPLE, STEP
from . import safe
from .fingerprint import cut_fingerprints, epoch_fingerprint, stored_fingerprints, valid_prefix
from .integrity import (
    INTEGRITY,
    StoreDamagedError,
    check_version,
    encoding_for,
    manifest,
    record_manifest,
)
from .integrity import verify as verify_run
from .layout import (
    ANALYSIS,
    CHECKPOINTS,
    FORMAT,
    RECORD,
    arrays,
    checkpoint_files,
    checkpoint_name,
    quiet,
)
from .lock import hold
from .text import check_attrs, printable

#: Groups and the dim they grow along.
APPEND_DIMS = {"steps": STEP, "layers": STEP, "epochs": EPOCH, "epochs_layers": EPOCH,
               "probe": EPOCH, "ranks": STEP, "probe_inputs": SAMPLE, "evals": EVAL_STEP}
#: Root attr → (group, dim) of the committed counts readers trust.
COMMITTED = {"committed_epochs": ("epochs", EPOCH), "committed_steps": ("steps", STEP),
             "committed_evals": ("evals", EVAL_STEP)}
_quiet = quiet  # the name this module used before layout.py


class RunExistsError(FileExistsError):
    """The output directory already holds a different run."""


class RunStore:
    """Writes a run directory. Readers use :func:`open_run`.

    Every write method takes the run's lock for its duration, or finds it held by this
    process already (``train``, ``analyze``); a write while another process holds it is
    refused (:class:`~workbench.record.lock.RunLockedError`, naming that process's pid).

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
        with hold(self.dir, "create"):
            self.checkpoints.mkdir(exist_ok=True)
            root = zarr.open_group(str(self.path), mode="w")
            root.attrs.update({**_jsonable(attrs), "format": FORMAT, "committed_epochs": 0,
                               "committed_steps": 0, "committed_evals": 0, INTEGRITY: "{}"})
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
        ctx = quiet()
        try:
            with hold(self.dir, "commit"):
                self._commit(groups, epoch, attrs)
        finally:
            ctx.__exit__(None, None, None)

    def _commit(self, groups, epoch, attrs) -> None:
        stored = self.attrs()
        before = int(stored.get("committed_steps", 0))
        new_steps = groups["steps"].sizes.get(STEP, 0) if "steps" in groups else 0
        evals = int(stored.get("committed_evals", 0)) + (
            groups["evals"].sizes.get(EVAL_STEP, 0) if "evals" in groups else 0)
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
                           "committed_evals": evals, INTEGRITY: expected})
        zarr.consolidate_metadata(str(self.path))

    def append_analysis(self, name: str, ds: xr.Dataset, *,
                        fingerprint: str | None = None) -> None:
        """Append one analysed epoch to ``/analysis/<name>``, then mark it committed.

        ``ds`` has an ``epoch`` dim of length 1, and its epoch must come after every epoch
        the group holds (:meth:`prepare_analysis` cuts the group back first when an earlier
        epoch is to be recomputed), so the epochs are always stored in order. The group's
        attr ``committed`` counts the epochs readers may see; rows past it (a kill between
        the append and the mark) are cut here before appending and hidden by
        :func:`open_run`. Its attr ``fingerprints`` holds, per epoch, what it was computed
        from (:func:`~workbench.record.fingerprint.fingerprint`; computed here by default).
        """
        if ds.sizes.get(EPOCH) != 1:
            raise ValueError(f"append_analysis({name!r}) needs one epoch; got dims "
                             f"{dict(ds.sizes)}")
        epoch = int(ds[EPOCH].values[0])
        group = f"{ANALYSIS}/{name}"
        ctx = quiet()
        try:
            with hold(self.dir, "analyze"):
                done = self.analysis_epochs(name)
                if done and epoch <= done[-1]:
                    raise ValueError(f"append_analysis({name!r}): epoch {epoch} does not come "
                                     f"after the stored epochs {done}; analysis epochs are "
                                     f"stored in order (prepare_analysis cuts the group back "
                                     f"to recompute an earlier one)")
                fp = fingerprint if fingerprint is not None else \
                    epoch_fingerprint(self.dir, epoch)
                n = self.analysis_committed(name)
                if n is None:
                    ds.to_zarr(str(self.path), group=group, mode="w", consolidated=False,
                               encoding=encoding_for(ds))
                    prints = []
                else:
                    node = zarr.open_group(str(self.path / group), mode="r+",
                                           use_consolidated=False)
                    _cut(node, {EPOCH: n})
                    prints = stored_fingerprints(node, n)
                    ds.to_zarr(str(self.path), group=group, mode="a", append_dim=EPOCH,
                               consolidated=False)
                node = zarr.open_group(str(self.path / group), mode="r+",
                                       use_consolidated=False)
                node.attrs.update({"committed": (n or 0) + 1,
                                   "fingerprints": json.dumps([*prints, fp or ""]),
                                   INTEGRITY: json.dumps(manifest(node),
                                                         separators=(",", ":"))})
                zarr.consolidate_metadata(str(self.path))
        finally:
            ctx.__exit__(None, None, None)

    def prepare_analysis(self, name: str, epochs) -> list[int]:
        """The epochs of ``epochs`` to (re)compute for ``/analysis/<name>``, in order.

        The stored epochs are kept while they are in order, still committed with a
        checkpoint, and their fingerprint matches what the run holds now; the group is cut
        back before the first that is not (a trim and resume retrained it, say), and before
        the first epoch of ``epochs`` it lacks, so what is returned can be appended in order.
        """
        if self.analysis_committed(name) is None:
            return sorted(set(int(e) for e in epochs))
        ctx = quiet()
        try:
            with hold(self.dir, "analyze"):
                node = zarr.open_group(str(self.path / ANALYSIS / name), mode="r+",
                                       use_consolidated=False)
                done = self.analysis_epochs(name)
                keep = valid_prefix(self.dir, done, stored_fingerprints(node, len(done)))
                missing = sorted(set(int(e) for e in epochs) - set(done[:keep]))
                if missing:
                    keep = sum(1 for e in done[:keep] if e < missing[0])
                if keep < len(done):
                    self._cut_analysis(node, keep)
                return sorted(set(int(e) for e in epochs) - set(done[:keep]))
        finally:
            ctx.__exit__(None, None, None)

    def _cut_analysis(self, node, keep: int) -> None:
        if keep == 0:  # nothing left: the next append starts the group afresh
            safe.rmtree(self.dir, self.path / ANALYSIS / node.basename)
            zarr.consolidate_metadata(str(self.path))
            return
        _cut(node, {EPOCH: keep})
        node.attrs.update({"committed": keep, **cut_fingerprints(node, keep),
                           INTEGRITY: json.dumps(manifest(node), separators=(",", ":"))})
        zarr.consolidate_metadata(str(self.path))

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

    def prune_analyses(self) -> dict[str, int]:
        """Cut every ``/analysis/<name>`` back to the epochs that still describe the run
        (in order, committed, checkpointed, fingerprint matching); returns name → kept."""
        kept = {}
        if not (self.path / ANALYSIS / "zarr.json").exists():
            return kept
        with hold(self.dir, "prune analyses"):
            for name, _ in zarr.open_group(str(self.path / ANALYSIS), mode="r",
                                           use_consolidated=False).groups():
                self.prepare_analysis(name, [])
                kept[name] = self.analysis_committed(name) or 0
        return kept

    def consolidate(self) -> None:
        """Rewrite the consolidated metadata from the groups themselves."""
        ctx = quiet()
        try:
            with hold(self.dir, "consolidate"):
                zarr.consolidate_metadata(str(self.path))
        finally:
            ctx.__exit__(None, None, None)

    def trim(self) -> tuple[int, int]:
        """Cut every group back to the committed epochs and steps (after a crash)."""
        with hold(self.dir, "trim"):
            root = zarr.open_group(str(self.path), mode="r+", use_consolidated=False)
            n = {EPOCH: int(root.attrs["committed_epochs"]),
                 STEP: int(root.attrs["committed_steps"])}
            n[EVAL_STEP] = _evals_before(root, n[EPOCH])
            _cut(root, n, skip=ANALYSIS + "/")
            if int(root.attrs.get("committed_evals", 0)) != n[EVAL_STEP]:
                root.attrs["committed_evals"] = n[EVAL_STEP]
            if ANALYSIS in dict(root.groups()):
                for _name, node in root[ANALYSIS].groups():
                    k = int(node.attrs.get("committed", 0))
                    _cut(node, {EPOCH: k})
                    node.attrs.update(cut_fingerprints(node, k))
            zarr.consolidate_metadata(str(self.path))
        return n[EPOCH], n[STEP]

    def seal(self) -> None:
        """Record the chunk files the store holds now as the expected ones (after a trim
        that cut damaged epochs away)."""
        with hold(self.dir, "seal"):
            root = zarr.open_group(str(self.path), mode="r+", use_consolidated=False)
            record_manifest(root, skip=ANALYSIS + "/")
            if ANALYSIS in dict(root.groups()):
                for _name, node in root[ANALYSIS].groups():
                    record_manifest(node)
            zarr.consolidate_metadata(str(self.path))

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint_path(self, epoch: int) -> Path:
        return self.checkpoints / checkpoint_name(epoch)

    def save_checkpoint(self, state: dict, epoch: int) -> Path:
        """Write atomically: ``epoch_NNNN.tmp`` created inside the run, then renamed."""
        import torch

        path = self.checkpoint_path(epoch)
        with hold(self.dir, "checkpoint"), safe.atomic_write(
                self.dir, path, tmp_name=checkpoint_name(epoch, tmp=True)) as tmp:
            torch.save(state, tmp)
        return path

    def remove_checkpoints(self, *, from_epoch: int) -> list[Path]:
        """Delete the checkpoints of epochs ``from_epoch`` and later (never committed, or
        trimmed), and any temporary checkpoint file; a file of another name (a user's
        ``epoch_0005_mybackup.pt``) is never touched. Returns what was deleted."""
        gone = []
        with hold(self.dir, "remove checkpoints"):
            doomed = [p for e, p in checkpoint_files(self.dir).items() if e >= from_epoch]
            for p in doomed + list(checkpoint_files(self.dir, tmp=True).values()):
                safe.unlink(self.dir, p)
                gone.append(p)
        return gone

    def clear(self) -> None:
        """Delete the run this directory holds (its record, checkpoints and report); a file
        of another name (a user's notes, ``checkpoints/epoch_0005_mybackup.pt``) stays."""
        from .layout import REPORT

        with hold(self.dir, "clear"):
            for name in (RECORD, REPORT):
                if (self.dir / name).is_dir():
                    safe.rmtree(self.dir, self.dir / name)
            self.remove_checkpoints(from_epoch=0)
            folder = self.dir / CHECKPOINTS
            if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                folder.rmdir()

    def last_checkpoint(self) -> tuple[int, Path] | None:
        found = checkpoint_files(self.dir)
        return next(reversed(found.items())) if found else None


def _cut(group, n: dict, *, skip: str | None = None) -> None:
    """Resize every array below ``group`` so that dim ``d`` has at most ``n[d]`` entries."""
    for path, arr in arrays(group):
        if skip and path.startswith(skip):
            continue
        dims = arr.metadata.dimension_names or arr.attrs.get("_ARRAY_DIMENSIONS") or ()
        for axis, d in enumerate(dims):
            if d in n and arr.shape[axis] > n[d]:
                shape = list(arr.shape)
                shape[axis] = n[d]
                arr.resize(tuple(shape))


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
    ctx = quiet()
    try:
        tree = xr.open_datatree(str(path), engine="zarr", chunks=chunks)
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise StoreReadError(f"cannot read {path}: its metadata (zarr.json files) is damaged "
                             f"or not a run store's ({type(e).__name__}: "
                             f"{printable(str(e).splitlines()[0] if str(e) else '')[:120]}); "
                             f"check it with 'workbench verify {path.parent}'") from None
    finally:
        ctx.__exit__(None, None, None)
    check_version(dict(tree.attrs), path.parent)
    layers = tree["layers"]["layer"].values if "layers" in tree.children and \
        "layer" in tree["layers"].coords else ()
    check_attrs(dict(tree.attrs), layers=layers)
    n = _committed(tree, path)

    def cut(ds: xr.Dataset, n: dict) -> xr.Dataset:
        sel = {d: slice(0, k) for d, k in n.items() if d in ds.dims and ds.sizes[d] > k}
        return ds.isel(sel) if sel else ds

    if "evals" in tree.children and EPOCH in tree["evals"].coords:  # committed epochs only
        ev = tree["evals"].to_dataset(inherit=False)
        late = np.asarray(ev[EPOCH].values) >= n[EPOCH]
        if late.any():
            tree["evals"].dataset = ev.isel({EVAL_STEP: ~late})
    dropped = []
    for node in list(tree.subtree):
        own = node.attrs.get("committed") if node.parent is not None and \
            node.parent.name == ANALYSIS else None
        limit = {EPOCH: _whole(own, f"{path}/{ANALYSIS}/{node.name} attr 'committed'")} \
            if own is not None else n
        if node.has_data:
            node.dataset = cut(node.to_dataset(inherit=False), limit)
        if own is not None and EPOCH in node.dataset.coords and \
                np.any(np.diff(node.dataset[EPOCH].values.astype(np.int64)) <= 0):
            dropped.append(node.name)
    for name in dropped:  # epochs repeated or out of order: analyze recomputes it
        del tree[ANALYSIS][name]
        warnings.warn(f"{path}/{ANALYSIS}/{name} holds its epochs out of order or repeated, "
                      f"so it is not shown; 'workbench analyze {path.parent} --only {name}' "
                      f"recomputes it", DamagedStoreWarning, stacklevel=2)
    return tree


class StoreReadError(ValueError):
    """A run store whose metadata cannot be read."""


def _whole(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise StoreReadError(f"{what} is {printable(repr(value))[:40]}; expected a whole "
                             f"number >= 0 (check the run with 'workbench verify')")
    return int(value)


def _committed(tree, path) -> dict:
    """The committed counts, checked against what the groups hold."""
    n = {}
    for key, (group, dim) in COMMITTED.items():
        k = _whole(tree.attrs.get(key, 0), f"{path} root attr {key!r}")
        held = tree[group].sizes.get(dim, 0) if group in tree.children else 0
        if k > held:
            raise StoreReadError(f"{path} root attr {key!r} is {k:,}, but /{group} holds "
                                 f"{held:,} {dim}s; the store was altered or damaged: check it "
                                 f"with 'workbench verify {path.parent}'")
        n[dim] = k
    return n


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
    ctx = quiet()
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
    return [e for e in checkpoint_files(run_dir) if e < n]


def trim_to_intact(run_dir) -> int:
    """Cut the run back to the epochs before its first damaged one; returns how many
    epochs remain. Damage that no epoch cut removes (a coordinate, metadata) is raised.

    The consolidated metadata is first rewritten from the groups' own, and every analysis
    is cut back to the epochs that still describe the run (the trimmed epochs' analyses
    go, so a resume and ``analyze`` recompute them).
    """
    ctx = quiet()
    try:
        with hold(run_dir, "verify --trim"):
            return _trim(RunStore(run_dir), run_dir)
    finally:
        ctx.__exit__(None, None, None)


def _trim(store: RunStore, run_dir) -> int:
    store.consolidate()
    store.prune_analyses()
    damage = verify_run(run_dir)
    if not damage:
        return int(store.attrs()["committed_epochs"])
    if any(d.epochs is None for d in damage):
        raise StoreDamagedError(run_dir, [d for d in damage if d.epochs is None],
                                action="trim")
    keep = min(d.epochs[0] for d in damage)
    root = zarr.open_group(str(store.path), mode="r+", use_consolidated=False)
    spe = int(root.attrs.get("steps_per_epoch", 0))
    root.attrs.update({"committed_epochs": keep, "committed_steps": keep * spe})
    store.trim()
    store.remove_checkpoints(from_epoch=keep)
    store.seal()
    store.prune_analyses()
    left = verify_run(run_dir)
    if left:
        raise StoreDamagedError(run_dir, left, action="trim")
    return keep


def _evals_before(root, epoch: int) -> int:
    """How many of the committed ``/evals`` points belong to epochs before ``epoch`` (read
    from its ``epoch`` coord): what a cut back to ``epoch`` epochs keeps of ``/evals``."""
    n = int(root.attrs.get("committed_evals", 0))
    if "evals" not in dict(root.groups()) or EPOCH not in root["evals"]:
        return n
    return int(np.count_nonzero(root["evals"][EPOCH][:n] < epoch))


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
           "StoreReadError", "trim_to_intact",
           "open_run", "config", "signals", "load_checkpoint",
           "checkpoint_epochs", "RECORD", "CHECKPOINTS", "ANALYSIS"]
