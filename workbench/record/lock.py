"""One writer per run directory: an exclusive lock held while training or analysing.

The lock is ``RUN/lock``, taken with ``flock(LOCK_EX | LOCK_NB)`` and holding the writer's
pid, host and task. The kernel releases a ``flock`` when its process dies (``kill -9``
included), so a lock file left behind by a killed writer is detected (its pid no longer holds
it) and taken over, with a warning that names the old pid.

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

import json
import os
import socket
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None

LOCK = "lock"


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
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
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
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
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


def _read(fd) -> dict:
    try:
        raw = os.pread(fd, 4096, 0).decode(errors="replace")
        return json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        return {"pid": "unknown"}


__all__ = ["RunLock", "RunLockedError", "LOCK"]
