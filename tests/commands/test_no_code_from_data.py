"""A run store from elsewhere chooses nothing that gets read or executed, and readers use
committed epochs only."""

import pickle
import shutil
import subprocess
import sys

import pytest
import zarr

from workbench.record.store import RECORD, checkpoint_epochs, load_checkpoint


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def set_attrs(run, **attrs):
    root = zarr.open_group(str(run / RECORD), mode="r+", use_consolidated=False)
    root.attrs.update(attrs)
    zarr.consolidate_metadata(str(run / RECORD))


@pytest.fixture
def hostile_run(tiny_run, tmp_path):
    """A copy of the tiny run whose store names ``data: cifar10`` and a data_root of pickles
    that run code when unpickled."""
    run = tmp_path / "hostile"
    shutil.copytree(tiny_run, run)
    evil = tmp_path / "evil"
    folder = evil / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    marker = tmp_path / "marker"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (folder / name).write_bytes(pickle.dumps(_Payload(marker)))
    cfg = zarr.open_group(str(run / RECORD), mode="r").attrs["config"]
    import json
    raw = json.loads(cfg)
    raw.update(data="cifar10", data_root=str(evil))
    set_attrs(run, config=json.dumps(raw))
    return run, marker, tmp_path / "home"


@pytest.mark.slow
def test_diagnose_and_forces_never_read_the_stores_data_root(hostile_run):
    run, marker, home = hostile_run
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    for args in (["diagnose", str(run)],
                 ["forces", str(run), "--sample", "0", "--pool", "10"]):
        out = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                             text=True, timeout=300, env=env)
        assert not marker.exists(), f"workbench {args[0]} ran code from the store's data_root"
        assert out.returncode == 1, out.stderr
        # one clear line; it never points at the store's data root (the command fails on
        # this user's data root or, first, on the weights that do not fit a CIFAR model)
        assert "Traceback" not in out.stderr
        assert str(marker.parent / "evil") not in out.stderr
        assert "error:" in out.stderr.strip().splitlines()[-1]


def test_explore_reads_no_pickle_from_the_store(hostile_run, monkeypatch):
    from workbench.widgets.explorer import explore

    run, marker, home = hostile_run
    monkeypatch.setenv("HOME", str(home))
    ex = explore(run)
    assert not marker.exists() and "training" in ex.views


def test_readers_list_and_load_committed_epochs_only(tiny_run, tmp_path):
    """A crash between a checkpoint's write and the epoch's commit leaves a checkpoint the
    record does not hold: no reader may use it."""
    run = tmp_path / "crashed"
    shutil.copytree(tiny_run, run)
    shutil.copy(run / "checkpoints" / "epoch_0001.pt", run / "checkpoints" / "epoch_0002.pt")
    assert checkpoint_epochs(run) == [0, 1]
    _, state = load_checkpoint(run)
    assert state["epoch"] == 1
    with pytest.raises(ValueError, match="found epochs \\[0, 1\\]"):
        load_checkpoint(run, 2)
