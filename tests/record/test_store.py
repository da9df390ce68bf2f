"""``RunStore``'s write methods take the run's lock themselves (issue 19 item 5)."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from workbench.record.lock import RunLock, RunLockedError
from workbench.record.store import RunStore

HOLD = ("import sys, time\n"
        "from workbench.record.lock import RunLock\n"
        "lock = RunLock(sys.argv[1], 'test holder').acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n")


def _epoch(e):
    return {"epochs": xr.Dataset({"test_acc": ("epoch", [0.5])}, coords={"epoch": [e]})}


def _analysis(e):
    return xr.Dataset({"value": ("epoch", [float(e)])}, coords={"epoch": [e]})


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "run")
    s.create({"config": "{}"})
    s.commit_epoch(_epoch(0), epoch=0)
    return s


def test_a_second_writer_through_runstore_is_refused_naming_the_holders_pid(store):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(store.dir)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        for write in (lambda: store.commit_epoch(_epoch(1), epoch=1),
                      lambda: store.append_analysis("a", _analysis(0), fingerprint=""),
                      store.trim, store.seal, store.consolidate,
                      lambda: store.save_checkpoint({"x": 1}, 1)):
            with pytest.raises(RunLockedError, match=rf"pid {proc.pid} .*test holder"):
                write()
    finally:
        proc.kill()
        proc.wait()
    assert store.attrs()["committed_epochs"] == 1  # nothing was written
    assert store.analysis_committed("a") is None
    assert not store.checkpoint_path(1).exists()


def test_writes_work_while_this_process_holds_the_lock(store):
    with RunLock(store.dir, "train"):
        store.commit_epoch(_epoch(1), epoch=1)
        store.append_analysis("a", _analysis(0), fingerprint="")
        store.trim()
    assert store.attrs()["committed_epochs"] == 2
    assert store.analysis_epochs("a") == [0]
    with RunLock(store.dir, "again"):  # released after its holder: free again
        pass


def test_analysis_epochs_can_only_be_appended_in_order(store):
    store.append_analysis("a", _analysis(1), fingerprint="")
    for e in (1, 0):
        with pytest.raises(ValueError, match=rf"epoch {e} does not come after the stored "
                                             rf"epochs \[1\]"):
            store.append_analysis("a", _analysis(e), fingerprint="")
    assert store.analysis_epochs("a") == [1]
    # to add epoch 0, prepare_analysis cuts the group back so that order holds
    assert store.prepare_analysis("a", [0, 1]) == [0, 1]
    assert store.analysis_committed("a") is None
    for e in (0, 1):
        store.append_analysis("a", _analysis(e), fingerprint="")
    assert store.analysis_epochs("a") == [0, 1]
    np.testing.assert_array_equal(xr.open_zarr(store.path, group="analysis/a")["value"],
                                  [0.0, 1.0])
