"""One writer: a run directory is locked while training or analysing (trial: two
``train --resume`` on one directory both exit 0 and leave epochs [0, 1, 2, 2, 3])."""

import os
import signal
import subprocess
import sys
import time

import pytest

from workbench.config import TrainConfig
from workbench.record.lock import LOCK, RunLock, RunLockedError

from .conftest import MINI

HOLD = ("import sys, time\n"
        "from workbench.record.lock import RunLock\n"
        "lock = RunLock(sys.argv[1], 'test holder').acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n")


@pytest.fixture
def holder(mini_run):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(mini_run)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_naming_the_holders_pid(mini_run, holder):
    from workbench.analysis.registry import analyze
    from workbench.train import train

    committed = _committed(mini_run)
    with pytest.raises(RunLockedError, match=rf"pid {holder.pid} .*test holder"):
        train(TrainConfig(**{**MINI, "epochs": 3}), mini_run, resume=True, progress=False)
    with pytest.raises(RunLockedError, match=rf"pid {holder.pid}"):
        analyze(mini_run, progress=False)
    with pytest.raises(RunLockedError, match=rf"pid {holder.pid}"):
        train(TrainConfig(**MINI), mini_run, overwrite=True, progress=False)
    assert _committed(mini_run) == committed  # nothing was written or deleted


def test_a_lock_left_by_a_killed_process_is_taken_over(mini_run, holder):
    assert (mini_run / LOCK).exists()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (mini_run / LOCK).exists()  # left behind
    with pytest.warns(UserWarning, match=rf"took over the lock .* pid {holder.pid}"):
        lock = RunLock(mini_run, "train").acquire()
    try:
        assert lock.taken_over["pid"] == holder.pid
        with pytest.raises(RunLockedError, match=rf"pid {os.getpid()}"):
            RunLock(mini_run, "analyze").acquire()
    finally:
        lock.release()
    assert not (mini_run / LOCK).exists()
    with RunLock(mini_run) as again:  # released: free again, nothing to take over
        assert again.taken_over is None


def test_training_holds_the_lock_until_it_ends(tmp_path):
    """An epoch probe runs inside training: a writer starting then is refused."""
    import xarray as xr

    from workbench.train import train

    refused = []

    def try_lock(model, epoch):
        try:
            RunLock(tmp_path / "r", "intruder").acquire().release()
        except RunLockedError as e:
            refused.append(str(e))
        return xr.Dataset()

    train(TrainConfig(**{**MINI, "epochs": 1}), tmp_path / "r", progress=False,
          epoch_probes=[try_lock])
    assert len(refused) == 1 and f"pid {os.getpid()}" in refused[0]
    assert not (tmp_path / "r" / LOCK).exists()


@pytest.mark.slow
def test_two_cli_resumes_on_one_directory_do_not_both_write(mini_run):
    """The second ``train --resume`` is refused while the first trains; the first, then
    interrupted, leaves whole epochs only. The first asks for far more epochs than it can
    finish, so the two overlap however fast the machine is."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "workbench", "train", "--resume", "--out", str(mini_run)]
    first = subprocess.Popen([*cmd, "--epochs", "100000"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (mini_run / LOCK).exists() and time.time() < deadline:
            time.sleep(0.05)
        second = subprocess.run([*cmd, "--epochs", "20"], env=env, capture_output=True,
                                text=True, timeout=300)
        assert first.poll() is None, "the first run ended before the second could start"
        assert second.returncode == 1, second.stderr[-2000:]
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=300)
    assert first.returncode == 130, err[-2000:]
    assert "every finished epoch is saved" in err
    from workbench.record.store import open_run
    tree = open_run(mini_run)
    epochs = list(tree["epochs"]["epoch"].values)
    assert epochs == list(range(len(epochs))) and len(epochs) >= MINI["epochs"]
    steps = tree["steps"]["step"].values
    assert list(steps) == list(range(len(steps)))
    assert not (mini_run / LOCK).exists()


def _committed(run):
    from workbench.record.store import committed_epochs
    return committed_epochs(run)
