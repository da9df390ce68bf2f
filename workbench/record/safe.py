"""Writing into a run directory without reaching outside it.

A run directory may come from someone else, so what it holds must not choose which files get
written, truncated or deleted. Every writer of the workbench goes through this module:

- :func:`unsafe_entries` lists the symbolic links (and FIFOs, devices, sockets) inside a run;
  :func:`refuse_unsafe` raises naming them (writers call it when they take the run's lock,
  ``workbench verify`` reports them);
- :func:`atomic_write` writes to a temporary file created inside the run (``O_EXCL``: never
  through a planted link), then renames it into place (a rename replaces a link, it does not
  follow it);
- :func:`unlink` and :func:`rmtree` delete only what resolves inside the resolved run
  directory;
- :func:`open_lock` opens the lock file with ``O_NOFOLLOW | O_NONBLOCK`` and refuses anything
  that is not a regular file.

The run directory itself may be a symbolic link (``runs/latest -> runs/2024-06-01``): only
what is *inside* it is checked.

Examples
--------
>>> import tempfile, pathlib
>>> run = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_write(run, run / "notes.txt") as tmp:
...     _ = pathlib.Path(tmp).write_text("hello")
>>> (run / "notes.txt").read_text(), unsafe_entries(run)
('hello', [])
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path


class UnsafeRunError(RuntimeError):
    """A run directory holding a symbolic link or special file, or a path leading out of it."""


def _real(p) -> Path:
    return Path(os.path.realpath(p))


def inside(run_dir, path) -> Path:
    """``path`` resolved, after checking it lies inside the resolved ``run_dir``.

    Raises
    ------
    UnsafeRunError
        When ``path`` resolves outside the run (through a symbolic link).
    """
    root, real = _real(run_dir), _real(path)
    if real != root and root not in real.parents:
        raise UnsafeRunError(f"{path} resolves to {real}, outside the run directory {root}; "
                             f"nothing outside a run is written or deleted. Remove the "
                             f"symbolic link from the run, or copy the run without links")
    return real


def _kind(mode: int) -> str | None:
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISSOCK(mode):
        return "socket"
    return None


def unsafe_entries(run_dir) -> list[tuple[Path, str]]:
    """``(path, kind)`` of every symbolic link or special file inside ``run_dir``.

    The walk never follows a link; ``run_dir`` itself may be one. It reads each folder once
    (``os.scandir``: no extra system call per ordinary file).
    """
    root = Path(run_dir)
    found, todo = [], [_real(root)]
    while todo:
        top = todo.pop()
        try:
            entries = list(os.scandir(top))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                todo.append(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False):
                try:
                    kind = _kind(entry.stat(follow_symlinks=False).st_mode)
                except FileNotFoundError:
                    continue
                if kind:
                    found.append((root / Path(entry.path).relative_to(_real(root)), kind))
    return sorted(found)


def refuse_unsafe(run_dir, task: str = "write") -> None:
    """Raise :class:`UnsafeRunError` naming the links and special files inside ``run_dir``."""
    found = unsafe_entries(run_dir) if Path(run_dir).is_dir() else []
    if found:
        shown = "; ".join(f"{p} ({k})" for p, k in found[:5])
        more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
        raise UnsafeRunError(f"{task} refused: the run directory {run_dir} holds "
                             f"{len(found)} symbolic link(s) or special file(s), which a "
                             f"writer would follow out of the run: {shown}{more}. Remove "
                             f"them (or replace them by the files they point to)")


def _check_target(run_dir, path: Path) -> None:
    inside(run_dir, path.parent)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    kind = _kind(mode)
    if kind:
        raise UnsafeRunError(f"{path} is a {kind}; it is not written through. Remove it from "
                             f"the run, then try again")


@contextlib.contextmanager
def atomic_write(run_dir, path, *, tmp_name: str | None = None):
    """Yield a temporary path inside the run; on success it is renamed to ``path``.

    Parameters
    ----------
    run_dir : path
        The run directory ``path`` must stay inside.
    path : path
        The file to (re)place. Its folder is created when missing.
    tmp_name : str, optional
        The temporary file's name (e.g. ``epoch_0002.tmp``); a stale one left by a crash is
        removed first. By default a fresh unique name.
    """
    path = Path(path)
    _check_target(run_dir, path)
    inside(run_dir, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tmp_name is not None:
        tmp = path.parent / tmp_name
        _check_target(run_dir, tmp)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    else:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".",
                                   suffix=".tmp")
        os.fchmod(fd, 0o644)
    os.close(fd)
    try:
        yield str(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(run_dir, path, data: bytes) -> Path:
    """Write ``data`` to ``path`` inside the run, atomically (see :func:`atomic_write`)."""
    with atomic_write(run_dir, path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def unlink(run_dir, path) -> None:
    """Delete the file ``path`` after checking it resolves inside the run."""
    inside(run_dir, path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def rmtree(run_dir, path) -> None:
    """Delete the folder ``path`` (never through a link) after checking it is inside the run."""
    path = Path(path)
    if path.is_symlink():
        raise UnsafeRunError(f"{path} is a symbolic link; it is not deleted through. Remove "
                             f"the link itself")
    inside(run_dir, path)
    shutil.rmtree(path)


def open_lock(path) -> int:
    """Open (creating) the lock file ``path`` read-write, never through a link, never
    blocking on a FIFO or device; anything but a regular file is refused."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | \
        getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):
            raise UnsafeRunError(f"the lock {path} is a symbolic link; a writer does not "
                                 f"follow it. Remove it, then try again") from None
        if e.errno in (errno.ENXIO, errno.EISDIR):
            raise UnsafeRunError(f"the lock {path} is not a regular file; remove it, then try "
                                 f"again") from None
        raise
    kind = _kind(os.fstat(fd).st_mode) or (
        None if stat.S_ISREG(os.fstat(fd).st_mode) else "folder")
    if kind:
        os.close(fd)
        raise UnsafeRunError(f"the lock {path} is a {kind}, not a regular file; remove it, "
                             f"then try again")
    return fd


__all__ = ["UnsafeRunError", "inside", "unsafe_entries", "refuse_unsafe", "atomic_write",
           "write_bytes", "unlink", "rmtree", "open_lock"]
