"""No code from data: CIFAR batches are unpickled without running what they carry, and a run
store's ``data_root`` never chooses which files are read."""

import pickle

import numpy as np
import pytest

from workbench.data import UnsafePickleError, load_dataset, safe_unpickle


def _fake_cifar10(root, n=20, protocol=2):
    """A CIFAR-10 folder of tiny batches in the python-pickle layout."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in rng.integers(0, 10, n)], "batch_label": name}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=protocol))
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return folder


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_cifar_batches_load(tmp_path, protocol):
    _fake_cifar10(tmp_path, protocol=protocol)
    ds = load_dataset("cifar10", train=True, root=tmp_path, download=False)
    assert len(ds) == 100 and ds.shape == (3, 32, 32)
    assert ds.classes == tuple(f"class{i}" for i in range(10))


def test_a_batch_carrying_code_is_refused_and_not_run(tmp_path):
    folder = _fake_cifar10(tmp_path)
    marker = tmp_path / "marker"
    entry = {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1],
             "evil": _Payload(marker)}
    (folder / "test_batch").write_bytes(pickle.dumps(entry, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"builtin__\.exec.*refused"):
        load_dataset("cifar10", train=False, root=tmp_path, download=False)
    assert not marker.exists()
    # the meta file too
    (folder / "batches.meta").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(UnsafePickleError, match="batches.meta"):
        safe_unpickle(folder / "batches.meta")
    assert not marker.exists()


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj"
    path.write_bytes(pickle.dumps({"data": np.array([1, "a"], dtype=object)}, protocol=2))
    with pytest.raises(UnsafePickleError, match="dtype object"):
        safe_unpickle(path)


def test_safe_unpickle_agrees_with_pickle_on_plain_data(tmp_path):
    entry = {"data": np.arange(12, dtype=np.uint8).reshape(3, 4), "labels": [3, 1, 2],
             "name": "x", "f": 1.5}
    path = tmp_path / "plain"
    path.write_bytes(pickle.dumps(entry))
    got, ref = safe_unpickle(path), pickle.loads(path.read_bytes())
    assert np.array_equal(got["data"], ref["data"]) and got["labels"] == ref["labels"]
    assert got["name"] == ref["name"] and got["f"] == ref["f"]
