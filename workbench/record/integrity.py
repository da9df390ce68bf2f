"""Damage is detected and named: checksums on every chunk, chunk counts at every commit.

Each array of a run store is written with the codecs :func:`codecs` (zstd, then a ``crc32c``
checksum of the compressed bytes), so a flipped bit fails its checksum instead of decoding to
wrong numbers. At each commit the store records, per array, its shape and the chunk files it
holds (:func:`manifest`; zarr does not write a chunk that is all fill value, so the absent
ones are listed): root attr ``integrity`` for the record, group attr ``integrity`` for each
``/analysis/<name>``. :func:`verify` compares the files on disk with that record, decodes
every chunk (checking its checksum), and checks that each committed epoch's checkpoint is a
readable zip; each problem is a :class:`Damage` that names the group, array, epochs and file.

It also checks what readers trust: the consolidated metadata in ``record.zarr/zarr.json``
(which ``open_run`` reads) against each array's and group's own metadata, the root attrs
``committed_epochs``/``committed_steps``/``committed_evals`` against the arrays, the
store's format version (:func:`check_version`), the analysed epochs against the checkpoints
they were computed from (:mod:`workbench.record.fingerprint`), and that the run holds no
symbolic link or special file (:mod:`workbench.record.safe`).

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

from ..dims import EPOCH, EVAL_STEP, STEP
from . import safe
from .fingerprint import check_epochs, stored_fingerprints
from .layout import ANALYSIS, CHECKPOINTS, FORMAT, RECORD, arrays, checkpoint_name, quiet
from .text import printable

INTEGRITY = "integrity"


class StoreVersionError(ValueError):
    """A run store written by a newer workbench (or in a newer format) than this one."""


def _version(v) -> tuple[int, ...]:
    parts = []
    for p in str(v).split("."):
        digits = "".join(c for c in p if c.isdigit())
        if not digits or len(digits) > 6:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_version(attrs: dict, where) -> None:
    """Refuse a store of a newer format or workbench version, naming both versions."""
    from .. import __version__  # the package's, not a record module: no import circle

    fmt = attrs.get("format", 1)
    stored = attrs.get("workbench_version")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise StoreVersionError(f"{where}: root attr 'format' is {printable(repr(fmt))[:40]}; "
                                f"expected a whole number (this workbench reads format "
                                f"{FORMAT})")
    if fmt > FORMAT or (stored is not None and _version(stored) > _version(__version__)):
        raise StoreVersionError(
            f"{where} was written by workbench {printable(str(stored))[:40]} (store format "
            f"{fmt}); this is workbench {__version__} (store format {FORMAT}), which does not "
            f"read newer stores. Upgrade workbench to read it")


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


def _grid(shape, chunks):
    return [math.ceil(s / c) if c else 0 for s, c in zip(shape, chunks, strict=True)]


def manifest(group, *, skip: str | None = None) -> dict:
    """Per array below ``group``: its shape and the grid chunks that have no file.

    Returns ``{path: {"shape": [...], "absent": [chunk keys]}}``.
    """
    root = Path(str(group.store.root)) / group.path if group.path else \
        Path(str(group.store.root))
    out = {}
    for path, arr in arrays(group):
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


def _epochs_of(dims, coords, chunks, shape, steps_per_epoch, eval_epochs=None):
    for axis, d in enumerate(dims):
        lo = coords[axis] * chunks[axis]
        hi = min(lo + chunks[axis], shape[axis]) - 1
        if d == EPOCH:
            return (lo, hi)
        if d == STEP and steps_per_epoch:
            return (lo // steps_per_epoch, hi // steps_per_epoch)
        if d == EVAL_STEP and eval_epochs is not None and hi < len(eval_epochs):
            return (int(eval_epochs[lo]), int(eval_epochs[hi]))
    return None


def _eval_epochs(base: Path):
    """The epoch of each ``/evals`` point (its ``epoch`` coord), or None when unreadable:
    damage to ``/evals`` is then named without its epochs."""
    try:
        return zarr.open_array(str(base / "evals" / EPOCH), mode="r")[:]
    except Exception:  # missing, or itself damaged (named by the check)
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
    eval_epochs = _eval_epochs(base) if any(p.startswith("evals/") for p in expected) \
        else None
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
            epochs = _epochs_of(dims, c, chunks, shape, spe, eval_epochs)
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
    run_dir = Path(run_dir)
    if run_dir.name == RECORD:
        run_dir = run_dir.parent
    base = run_dir / RECORD
    if not base.is_dir():
        raise FileNotFoundError(f"no run record at {base}; expected a directory written by "
                                f"'workbench train' (holding {RECORD})")
    links = [Damage("/", None, None, str(p), f"{kind} inside the run (a writer would follow "
                    f"it out of the run; writers refuse the run until it is removed)")
             for p, kind in safe.unsafe_entries(run_dir)]
    ctx = quiet()
    try:
        try:
            root = zarr.open_group(str(base), mode="r", use_consolidated=False)
            attrs = dict(root.attrs)
        except Exception as e:
            return links + [Damage("/", None, None, str(base / "zarr.json"),
                                   f"root metadata missing or unreadable ({type(e).__name__})")]
        check_version(attrs, run_dir)
        counts = _check_counts(root, attrs, base)
        if counts:  # the committed counts themselves are wrong: nothing below is trusted
            return links + counts
        spe = int(attrs.get("steps_per_epoch", 0) or 0)
        damage = links + _check_consolidated(base)
        damage += _check_group(root, base, "", decode, spe)
        if (base / ANALYSIS / "zarr.json").exists():
            for name, node in zarr.open_group(str(base / ANALYSIS), mode="r",
                                              use_consolidated=False).groups():
                damage += _check_group(node, base / ANALYSIS / name, f"{ANALYSIS}/{name}",
                                       decode, spe)
                if checkpoints:
                    damage += _check_analysis(run_dir, node, f"{ANALYSIS}/{name}")
    finally:
        ctx.__exit__(None, None, None)
    if checkpoints:
        for e in range(int(attrs.get("committed_epochs", 0))):
            path = run_dir / CHECKPOINTS / checkpoint_name(e)
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


def _check_counts(root, attrs: dict, base: Path) -> list[Damage]:
    """``committed_epochs``/``committed_steps``: whole numbers within what the arrays hold."""
    where = str(base / "zarr.json")
    out = []
    for key, group, dim in (("committed_epochs", "epochs", EPOCH),
                            ("committed_steps", "steps", STEP),
                            ("committed_evals", "evals", EVAL_STEP)):
        n = attrs.get(key, 0)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            out.append(Damage("/", None, None, where, f"root attr {key} is "
                              f"{str(n)[:40]!r}; expected a whole number >= 0"))
            continue
        try:
            held = root[f"{group}/{dim}"].shape[0]
        except KeyError:
            held = 0
        if n > held:
            out.append(Damage("/", None, None, where, f"root attr {key} is {n}, but "
                              f"/{group} holds {held} {dim}s"))
    return out


def _own_metadata(base: Path, path: str) -> dict | None:
    try:
        with open(base / path / "zarr.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _check_consolidated(base: Path) -> list[Damage]:
    """The consolidated metadata (what readers use) against each node's own ``zarr.json``.

    Shapes may lag by an epoch after a ``kill -9`` (the committed counts cut them); every
    other field (dtype, chunks, codecs, dims, attrs) must be the node's own.
    """
    own_root = _own_metadata(base, ".") or {}
    meta = (own_root.get("consolidated_metadata") or {}).get("metadata") or {}
    out = []
    for path, seen in sorted(meta.items()):
        own = _own_metadata(base, path)
        if own is None:
            continue  # named as missing metadata by the manifest check
        fields = sorted(k for k in set(seen) | set(own)
                        if k not in ("shape", "consolidated_metadata")
                        and seen.get(k) != own.get(k))
        if fields == ["attributes"] and _lags(seen["attributes"], own["attributes"]):
            continue  # a kill between a commit mark and the consolidation: readers see less
        if fields:
            out.append(Damage(path, None, None, str(base / "zarr.json"),
                              f"consolidated metadata differs from {path}/zarr.json in "
                              f"{', '.join(fields)[:80]} (readers would use the wrong one; "
                              f"'workbench verify --trim' rewrites it from the arrays)"))
    return out


#: Attrs a commit updates before it consolidates: the consolidated copy may lag behind them.
_COMMIT_ATTRS = {"committed", "committed_epochs", "committed_steps", "committed_evals",
                 INTEGRITY, "fingerprints"}


def _lags(seen: dict, own: dict) -> bool:
    """Whether the consolidated attrs ``seen`` only lag behind ``own`` (counts not above)."""
    keys = {k for k in set(seen) | set(own) if seen.get(k) != own.get(k)}
    if not keys <= _COMMIT_ATTRS:
        return False
    counts = [k for k in keys if k.startswith("committed")]
    return all(isinstance(seen.get(k, 0), int) and isinstance(own.get(k), int)
               and seen.get(k, 0) <= own[k] for k in counts)


def _check_analysis(run_dir: Path, node, name: str) -> list[Damage]:
    """Analysed epochs that no longer describe the run (see :mod:`.fingerprint`)."""
    n = int(node.attrs.get("committed", 0) or 0)
    if n <= 0 or EPOCH not in node:
        return []
    epochs = [int(e) for e in node[EPOCH][:n]]
    whys = check_epochs(run_dir, epochs, stored_fingerprints(node, len(epochs)))
    return [Damage(name, None, None, str(run_dir / RECORD / name / "zarr.json"), why)
            for why in whys if why is not None]


__all__ = ["Damage", "StoreDamagedError", "StoreVersionError", "check_version", "verify",
           "manifest", "record_manifest", "codecs", "encoding_for"]
