"""One writer per run directory: an exclusive lock held while training or analysing.

The lock is ``RUN/lock``, taken with ``flock(LOCK_EX | LOCK_NB)`` and holding the writer's
pid, host and task. The kernel releases a ``flock`` when its process dies (``kill -9``
included), so a lock file left behind by a killed writer is detected (its pid no longer holds
it) and taken over, with a warning that names the old pid.

The lock file is opened without following a link and must be a regular file, and a run
holding a symbolic link or special file is refused (:mod:`workbench.record.safe`): what a run
directory holds never chooses a file outside it to be written.

:func:`hold` is what :class:`~workbench.record.store.RunStore`'s write methods use: it takes
the lock for one write, or nothing when this process holds it already (``train``,
``analyze``, ``watch`` hold it for their whole work), so no writer can forget it.

Examples
--------
>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with RunLock(d, "train"):
...     try:
...         RunLock(d, "analyze").acquire()
...     except RunLockedError as e:
...         print("refused")
refused
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import warnings
from pathlib import Path

from . import safe
from .layout import LOCK

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None

#: realpath of a run directory → the pid that holds its lock in this process.
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


class RunLockedError(RuntimeError):
    """Another process is writing this run directory."""


class RunLock:
    """Exclusive, non-blocking lock on a run directory (a context manager).

    Parameters
    ----------
    run_dir : path
        The run directory (created when missing).
    task : str
        What the holder does (``"train"``, ``"analyze"``…), shown to a refused writer.

    Attributes
    ----------
    taken_over : dict or None
        What the lock file said when it was left by a process that no longer holds it.
    """

    def __init__(self, run_dir, task: str = "write"):
        self.dir = Path(run_dir)
        self.path = self.dir / LOCK
        self.task = task
        self._fd = None
        self.taken_over = None

    def acquire(self) -> RunLock:
        if fcntl is None:  # pragma: no cover
            return self
        self.dir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = safe.open_lock(self.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise RunLockedError(
                    f"{self.dir} is being written by another process (pid "
                    f"{holder.get('pid', '?')} on {holder.get('host', '?')}, "
                    f"{holder.get('task', '?')} since {holder.get('since', '?')}); wait for it "
                    f"to finish or stop it, then try again") from None
            # the file may have been unlinked by a holder releasing it between our open and
            # our flock: then lock the new file instead
            try:
                same = os.fstat(fd).st_ino == os.lstat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            safe.refuse_unsafe(self.dir, f"{self.task} of {self.dir}")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # a regular file (open_lock checked): ours to remove
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        old = _read(fd)
        if old.get("pid") is not None:
            self.taken_over = old
            warnings.warn(f"took over the lock of {self.dir} left by pid {old['pid']} "
                          f"({old.get('task', '?')}), which no longer holds it (killed?)",
                          stacklevel=2)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "task": self.task,
              "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        with _HELD_GUARD:
            _HELD[_key(self.dir)] = os.getpid()
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _HELD_GUARD:
            _HELD.pop(_key(self.dir), None)
        try:
            safe.unlink(self.dir, self.path)
        except (FileNotFoundError, safe.UnsafeRunError):
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def _key(run_dir) -> str:
    return os.path.realpath(run_dir)


def held_here(run_dir) -> bool:
    """Whether this process holds the lock of ``run_dir`` (through any :class:`RunLock`)."""
    with _HELD_GUARD:
        return _HELD.get(_key(run_dir)) == os.getpid()


@contextlib.contextmanager
def hold(run_dir, task: str = "write"):
    """Hold the lock of ``run_dir`` for one write: take it, or nothing when this process
    holds it already. Another process holding it is refused (:class:`RunLockedError`,
    naming its pid)."""
    if held_here(run_dir):
        yield None
        return
    with RunLock(run_dir, task) as lock:
        yield lock


def _read(fd) -> dict:
    try:
        raw = os.pread(fd, 4096, 0).decode(errors="replace")
        return json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        return {"pid": "unknown"}


__all__ = ["RunLock", "RunLockedError", "LOCK", "hold", "held_here"]
