"""Damage is detected and named: checksums on every chunk, chunk counts at every commit.

Each array of a run store is written with the codecs :func:`codecs` (zstd, then a ``crc32c``
checksum of the compressed bytes), so a flipped bit fails its checksum instead of decoding to
wrong numbers. At each commit the store records, per array, its shape and the chunk files it
holds (:func:`manifest`; zarr does not write a chunk that is all fill value, so the absent
ones are listed): root attr ``integrity`` for the record, group attr ``integrity`` for each
``/analysis/<name>``. :func:`verify` compares the files on disk with that record, decodes
every chunk (checking its checksum), and checks that each committed epoch's checkpoint is a
readable zip; each problem is a :class:`Damage` that names the group, array, epochs and file.

Examples
--------
>>> damage = verify("runs/demo")                # doctest: +SKIP
>>> [str(d) for d in damage]                     # doctest: +SKIP
['layers/grad_norm, epochs 1-1: chunk file missing (runs/demo/record.zarr/layers/grad_norm/c/1/0)']
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import zarr

from ..dims import EPOCH, STEP

INTEGRITY = "integrity"


def codecs() -> tuple:
    """The compressors of every array in a run store: zstd, then a crc32c checksum."""
    from zarr.codecs import Crc32cCodec, ZstdCodec

    return (ZstdCodec(level=0), Crc32cCodec())


def encoding_for(ds) -> dict:
    """``to_zarr`` encoding giving every variable of ``ds`` the checksummed codecs."""
    return {str(v): {"compressors": codecs()} for v in ds.variables}


@dataclass(frozen=True)
class Damage:
    """One damaged part of a run: where it is and what is wrong."""

    group: str
    array: str | None
    epochs: tuple[int, int] | None  # first and last epoch touched, when known
    file: str
    problem: str

    def __str__(self) -> str:
        where = self.group + (f"/{self.array}" if self.array else "")
        if self.epochs is not None:
            a, b = self.epochs
            where += f", epoch {a}" if a == b else f", epochs {a}-{b}"
        return f"{where}: {self.problem} ({self.file})"


class StoreDamagedError(RuntimeError):
    """A run store with missing or corrupt files; ``.damage`` lists them."""

    def __init__(self, run_dir, damage: list[Damage], *, action: str = "read"):
        self.damage = list(damage)
        shown = "; ".join(str(d) for d in self.damage[:5])
        more = f"; and {len(self.damage) - 5} more" if len(self.damage) > 5 else ""
        super().__init__(
            f"cannot {action} {run_dir}: {len(self.damage)} damaged part(s): {shown}{more}. "
            f"Restore those files from a backup, or cut the run back to its last intact "
            f"epoch with 'workbench verify {run_dir} --trim'")


def _arrays(group, prefix=""):
    for name, arr in group.arrays():
        yield prefix + name, arr
    for name, sub in group.groups():
        yield from _arrays(sub, prefix + name + "/")


def _grid(shape, chunks):
    return [math.ceil(s / c) if c else 0 for s, c in zip(shape, chunks, strict=True)]


def manifest(group, *, skip: str | None = None) -> dict:
    """Per array below ``group``: its shape and the grid chunks that have no file.

    Returns ``{path: {"shape": [...], "absent": [chunk keys]}}``.
    """
    root = Path(str(group.store.root)) / group.path if group.path else \
        Path(str(group.store.root))
    out = {}
    for path, arr in _arrays(group):
        if skip and path.startswith(skip):
            continue
        grid = _grid(arr.shape, arr.metadata.chunk_grid.chunk_shape)
        absent = [key for key in (arr.metadata.encode_chunk_key(c)
                                  for c in product(*map(range, grid)))
                  if not (root / path / key).exists()]
        out[path] = {"shape": list(arr.shape), "absent": absent}
    return out


def record_manifest(group, *, skip: str | None = None) -> None:
    """Store :func:`manifest` of ``group`` in its attrs (call at each commit)."""
    group.attrs[INTEGRITY] = json.dumps(manifest(group, skip=skip), separators=(",", ":"))


def _epochs_of(dims, coords, chunks, shape, steps_per_epoch):
    for axis, d in enumerate(dims):
        lo = coords[axis] * chunks[axis]
        hi = min(lo + chunks[axis], shape[axis]) - 1
        if d == EPOCH:
            return (lo, hi)
        if d == STEP and steps_per_epoch:
            return (lo // steps_per_epoch, hi // steps_per_epoch)
    return None


def _check_group(node, base: Path, name: str, decode: bool, spe) -> list[Damage]:
    raw = node.attrs.get(INTEGRITY)
    if raw is None:
        return []
    expected = json.loads(raw)
    damage = []
    # every group between this one and its arrays has its own metadata (a reader that does
    # not use the consolidated copy needs it)
    groups = sorted({"/".join(p.split("/")[:i]) for p in expected
                     for i in range(1, p.count("/") + 1)})
    for g in groups:
        if not (base / g / "zarr.json").is_file():
            damage.append(Damage((name + "/" + g).strip("/"), None, None,
                                 str(base / g / "zarr.json"), "group metadata missing"))
    for path, info in expected.items():
        group, _, array = (name + "/" + path).strip("/").rpartition("/")
        group = group or "/"
        folder = base / path
        try:
            arr = zarr.open_array(str(folder), mode="r")
        except Exception as e:  # metadata missing or unreadable
            damage.append(Damage(group, array, None, str(folder / "zarr.json"),
                                 f"array metadata missing or unreadable ({type(e).__name__})"))
            continue
        shape = info["shape"]
        chunks = arr.metadata.chunk_grid.chunk_shape
        dims = arr.metadata.dimension_names or arr.attrs.get("_ARRAY_DIMENSIONS") or ()
        if any(s > t for s, t in zip(shape, arr.shape, strict=False)):
            damage.append(Damage(group, array, None, str(folder / "zarr.json"),
                                 f"shape {list(arr.shape)} is smaller than the committed "
                                 f"{shape}"))
            continue
        absent = set(info["absent"])
        for c in product(*map(range, _grid(shape, chunks))):
            key = arr.metadata.encode_chunk_key(c)
            if key in absent:
                continue
            file = folder / key
            epochs = _epochs_of(dims, c, chunks, shape, spe)
            if not file.exists():
                damage.append(Damage(group, array, epochs, str(file), "chunk file missing"))
                continue
            if decode:
                try:
                    arr.get_block_selection(c)
                except Exception as e:
                    msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
                    if "checksum" in msg:
                        msg = "crc32c checksum mismatch"
                    damage.append(Damage(group, array, epochs, str(file),
                                         f"chunk corrupt ({msg})"))
    return damage


def verify(run_dir, *, decode: bool = True, checkpoints: bool = True) -> list[Damage]:
    """Every damaged part of a run: missing or corrupt chunks, missing or unreadable
    checkpoints of committed epochs. An empty list means the run is intact.

    Parameters
    ----------
    run_dir : path
        The run directory (or its ``record.zarr``).
    decode : bool
        Also read every chunk (checking its crc32c); without it, only check that the
        committed chunk files exist (fast).
    checkpoints : bool
        Check that each committed epoch has a checkpoint whose zip members pass their CRC.
    """
    from .store import ANALYSIS, CHECKPOINTS, RECORD, _quiet

    run_dir = Path(run_dir)
    if run_dir.name == RECORD:
        run_dir = run_dir.parent
    base = run_dir / RECORD
    if not base.is_dir():
        raise FileNotFoundError(f"no run record at {base}; expected a directory written by "
                                f"'workbench train' (holding {RECORD})")
    ctx = _quiet()
    try:
        try:
            root = zarr.open_group(str(base), mode="r", use_consolidated=False)
            attrs = dict(root.attrs)
        except Exception as e:
            return [Damage("/", None, None, str(base / "zarr.json"),
                           f"root metadata missing or unreadable ({type(e).__name__})")]
        spe = int(attrs.get("steps_per_epoch", 0) or 0)
        damage = _check_group(root, base, "", decode, spe)
        if (base / ANALYSIS / "zarr.json").exists():
            for name, node in zarr.open_group(str(base / ANALYSIS), mode="r",
                                              use_consolidated=False).groups():
                damage += _check_group(node, base / ANALYSIS / name, f"{ANALYSIS}/{name}",
                                       decode, spe)
    finally:
        ctx.__exit__(None, None, None)
    if checkpoints:
        for e in range(int(attrs.get("committed_epochs", 0))):
            path = run_dir / CHECKPOINTS / f"epoch_{e:04d}.pt"
            if not path.exists():
                damage.append(Damage(CHECKPOINTS, None, (e, e), str(path),
                                     "checkpoint missing"))
                continue
            try:
                with zipfile.ZipFile(path) as z:
                    bad = z.testzip()
                problem = None if bad is None else f"checkpoint member {bad} fails its CRC"
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                problem = f"checkpoint unreadable or truncated ({type(err).__name__})"
            if problem:
                damage.append(Damage(CHECKPOINTS, None, (e, e), str(path), problem))
    return damage


def trim_to_intact(run_dir) -> int:
    """Cut the run back to the epochs before its first damaged one; returns how many
    epochs remain. Damage that no epoch cut removes (a coordinate, metadata) is raised."""
    from .store import RunStore, _quiet

    ctx = _quiet()
    try:
        return _trim(RunStore(run_dir), run_dir)
    finally:
        ctx.__exit__(None, None, None)


def _trim(store, run_dir) -> int:
    damage = verify(run_dir)
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
    for p in sorted(store.checkpoints.glob("epoch_*.pt")):
        if int(p.stem.split("_")[1]) >= keep:
            p.unlink()
    store.seal()
    left = verify(run_dir)
    if left:
        raise StoreDamagedError(run_dir, left, action="trim")
    return keep


__all__ = ["Damage", "StoreDamagedError", "verify", "trim_to_intact", "manifest",
           "record_manifest", "codecs", "encoding_for"]
