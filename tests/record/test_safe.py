"""Nothing outside a run is written or deleted because of what the run holds (issue 20 item 1-3).

Each test plants a link inside a run directory that points at a victim outside it, and checks
the victim byte for byte afterwards.
"""

import os

import pytest

from workbench.record import safe
from workbench.record.lock import LOCK, RunLock, RunLockedError


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "outside" / "notes.txt"
    v.parent.mkdir()
    v.write_bytes(b"my notes\n")
    return v


@pytest.fixture
def run(tmp_path):
    r = tmp_path / "run"
    r.mkdir()
    return r


def test_a_lock_that_is_a_symlink_is_refused_and_not_truncated(run, victim):
    (run / LOCK).symlink_to(victim)
    with pytest.raises(safe.UnsafeRunError, match=r"lock .* is a symbolic link"):
        RunLock(run, "analyze").acquire()
    assert victim.read_bytes() == b"my notes\n"


def test_a_lock_that_is_a_fifo_is_refused_without_blocking(run):
    os.mkfifo(run / LOCK)
    with pytest.raises(safe.UnsafeRunError, match=r"lock .* is a FIFO, not a regular file"):
        RunLock(run, "analyze").acquire()
    (run / LOCK).unlink()
    (run / LOCK).mkdir()
    with pytest.raises(safe.UnsafeRunError, match=r"lock .* not a regular file"):
        RunLock(run, "analyze").acquire()


def test_a_link_anywhere_inside_refuses_the_writer_naming_it(run, victim):
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "epoch_0002.tmp").symlink_to(victim)
    with pytest.raises(safe.UnsafeRunError, match=r"epoch_0002\.tmp \(symbolic link\)"):
        RunLock(run, "train").acquire()
    assert not (run / LOCK).exists()  # refused: the lock is not left held
    assert safe.unsafe_entries(run) == [(run / "checkpoints" / "epoch_0002.tmp",
                                         "symbolic link")]


def test_atomic_write_never_writes_through_a_link(run, victim):
    (run / "report").mkdir()
    (run / "report" / "training.png").symlink_to(victim)
    with pytest.raises(safe.UnsafeRunError, match=r"training\.png is a symbolic link"):
        safe.write_bytes(run, run / "report" / "training.png", b"PNG")
    # a planted temporary name is removed, not followed
    (run / "ck").mkdir()
    (run / "ck" / "epoch_0002.tmp").symlink_to(victim)
    with pytest.raises(safe.UnsafeRunError, match=r"epoch_0002\.tmp is a symbolic link"):
        with safe.atomic_write(run, run / "ck" / "epoch_0002.pt", tmp_name="epoch_0002.tmp"):
            pass
    assert victim.read_bytes() == b"my notes\n"


def test_atomic_write_into_a_linked_folder_is_refused(run, victim):
    (run / "report").symlink_to(victim.parent, target_is_directory=True)
    with pytest.raises(safe.UnsafeRunError, match=r"outside the run directory"):
        safe.write_bytes(run, run / "report" / "new.png", b"PNG")
    assert sorted(p.name for p in victim.parent.iterdir()) == ["notes.txt"]


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(run):
    (run / "a.txt").write_text("old")
    safe.write_bytes(run, run / "a.txt", b"new")
    assert (run / "a.txt").read_bytes() == b"new"
    assert sorted(p.name for p in run.iterdir()) == ["a.txt"]
    with pytest.raises(KeyError):
        with safe.atomic_write(run, run / "a.txt") as tmp:
            open(tmp, "wb").write(b"half")
            raise KeyError("a writer fails")
    assert (run / "a.txt").read_bytes() == b"new"  # a failed write leaves the old file
    assert sorted(p.name for p in run.iterdir()) == ["a.txt"]


def test_deletes_stay_inside_the_run(run, victim):
    (run / "checkpoints").symlink_to(victim.parent, target_is_directory=True)
    with pytest.raises(safe.UnsafeRunError, match="outside the run directory"):
        safe.unlink(run, run / "checkpoints" / "notes.txt")
    with pytest.raises(safe.UnsafeRunError, match="symbolic link"):
        safe.rmtree(run, run / "checkpoints")
    assert victim.read_bytes() == b"my notes\n"
    (run / "mine.txt").write_text("x")
    safe.unlink(run, run / "mine.txt")
    assert not (run / "mine.txt").exists()


def test_a_run_directory_that_is_itself_a_link_keeps_working(run, tmp_path):
    link = tmp_path / "latest"
    link.symlink_to(run, target_is_directory=True)
    assert safe.unsafe_entries(link) == []
    with RunLock(link, "train"):
        safe.write_bytes(link, link / "report" / "a.png", b"PNG")
        with pytest.raises(RunLockedError, match=rf"pid {os.getpid()}"):
            RunLock(run, "analyze").acquire()  # the same run by its real path: one lock
    assert (run / "report" / "a.png").read_bytes() == b"PNG"
    assert not (run / LOCK).exists()
