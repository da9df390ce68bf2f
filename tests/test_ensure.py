import json

import pytest
import zarr

from workbench.ensure import ensure_run
from workbench.record.store import RunStore, open_run


def test_existing_run_is_returned_untouched(tmp_path):
    store = RunStore(tmp_path / "r")
    store.create({"config": json.dumps({"model": "cnn"})})
    zarr.open_group(str(store.path), mode="r+").attrs["committed_epochs"] = 1
    before = sorted(p.name for p in store.path.rglob("*"))
    assert ensure_run(tmp_path / "r") == tmp_path / "r"
    assert sorted(p.name for p in store.path.rglob("*")) == before


@pytest.mark.slow
def test_missing_run_is_trained_once(tmp_path):
    small = {"epochs": 1, "train_size": 256, "test_size": 128, "probe_size": 20,
             "feature_layers": (), "batch_size": 64}
    run = ensure_run(tmp_path / "new", progress=False, **small)
    tree = open_run(run)
    assert tree.attrs["committed_epochs"] == 1
    assert tree["probe"].sizes["sample"] == 20
    mtime = (run / "record.zarr" / "zarr.json").stat().st_mtime_ns
    assert ensure_run(run, progress=False, **small) == run
    assert (run / "record.zarr" / "zarr.json").stat().st_mtime_ns == mtime
