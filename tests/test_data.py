import pickle
import shutil

import numpy as np
import pytest
import torch

from workbench import data
from workbench.data import ChecksumError, load_dataset, probe_indices


@pytest.fixture(scope="module")
def fmnist_test():
    return load_dataset("fashion-mnist", train=False)


def test_embedded_fashion_mnist_reads_offline(fmnist_test):
    ds = fmnist_test
    assert (len(ds), ds.shape) == ((10000), (1, 28, 28))
    assert np.bincount(ds.targets.numpy()).tolist() == [1000] * 10
    # normalised with the training mean/std: the raw pixels come back exactly
    raw = data.read_idx(data.DATA_DIR / "fashion-mnist" / "t10k-images-idx3-ubyte.gz")
    back = (ds.images[:5, 0] * 0.3530 + 0.2860) * 255
    np.testing.assert_allclose(back.numpy(), raw[:5], atol=1e-3)


def test_checksum_failure_names_file_and_expected_hash(tmp_path):
    for name in data.FASHION_MNIST_SHA256:
        shutil.copy(data.DATA_DIR / "fashion-mnist" / name, tmp_path / name)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-3] + b"xyz")
    with pytest.raises(ChecksumError) as e:
        load_dataset("fashion-mnist", train=False, root=tmp_path)
    assert str(bad) in str(e.value)
    assert data.FASHION_MNIST_SHA256["t10k-labels-idx1-ubyte.gz"] in str(e.value)


def test_probe_set_is_stratified_seeded_and_traceable(fmnist_test):
    y = fmnist_test.targets.numpy()
    idx = probe_indices(y, size=512, seed=3)
    assert len(idx) == 512 and len(set(idx)) == 512 and np.all(np.diff(idx) > 0)
    counts = np.bincount(y[idx], minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 512
    np.testing.assert_array_equal(idx, probe_indices(y, size=512, seed=3))
    assert not np.array_equal(idx, probe_indices(y, size=512, seed=4))
    sub = fmnist_test.subset(idx)
    torch.testing.assert_close(sub.images[7], fmnist_test.images[sub.indices[7]])


def test_probe_set_of_a_whole_uneven_split_is_all_of_it():
    y = np.array([0] * 25 + [1] * 26 + [2] * 26)
    np.testing.assert_array_equal(probe_indices(y, size=len(y), seed=9), np.arange(len(y)))
    with pytest.raises(ValueError, match="class 0 has 25 samples, fewer than the 26"):
        probe_indices(np.r_[y, [1, 2]], size=78, seed=0)


def test_label_noise_flips_the_asked_fraction_to_other_classes(fmnist_test):
    noisy = data.inject_label_noise(fmnist_test, 0.2, seed=1)
    flipped = (noisy.targets != noisy.clean_targets).numpy()
    assert flipped.sum() == 2000
    assert torch.equal(noisy.clean_targets, fmnist_test.targets)


def _write_cifar(folder, files, label_key, n, k, meta, meta_key, rng):
    folder.mkdir(parents=True)
    truth = {}
    for f in files:
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = rng.integers(0, k, size=n).tolist()
        with open(folder / f, "wb") as fh:
            pickle.dump({"data": x, label_key: y}, fh)
        truth[f] = (x, y)
    with open(folder / meta, "wb") as fh:
        pickle.dump({meta_key: [f"class{i}" for i in range(k)]}, fh)
    return truth


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reading_path_on_small_files(tmp_path, name):
    rng = np.random.default_rng(0)
    if name == "cifar10":
        files = [f"data_batch_{i}" for i in range(1, 6)]
        truth = _write_cifar(tmp_path / "cifar-10-batches-py", files + ["test_batch"], "labels",
                             4, 10, "batches.meta", "label_names", rng)
        train_files, test_file = files, "test_batch"
    else:
        truth = _write_cifar(tmp_path / "cifar-100-python", ["train", "test"], "fine_labels",
                             6, 100, "meta", "fine_label_names", rng)
        train_files, test_file = ["train"], "test"
    tr = load_dataset(name, train=True, root=tmp_path, download=False)
    te = load_dataset(name, train=False, root=tmp_path, download=False)
    assert tr.shape == (3, 32, 32) and len(tr) == sum(len(truth[f][1]) for f in train_files)
    assert te.targets.tolist() == truth[test_file][1]
    mean, std = data.NORMALISATION[name]
    x, _ = truth[test_file]
    # channel-major rows of 1024 pixels, as CIFAR stores them
    red = x[1, :1024].reshape(32, 32) / 255.0
    np.testing.assert_allclose(te.images[1, 0].numpy() * std[0] + mean[0], red, atol=1e-5)
    assert len(tr.classes) == (10 if name == "cifar10" else 100)


def test_cifar_download_failure_says_what_to_do(tmp_path, monkeypatch):
    import torchvision

    # a real download attempt, to a closed local port (this machine has no internet)
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", "http://127.0.0.1:9/cifar.tar.gz")
    with pytest.raises(RuntimeError, match="needs internet once.*--data-root"):
        load_dataset("cifar10", train=False, root=tmp_path)


def test_unknown_dataset_lists_choices():
    with pytest.raises(ValueError, match="fashion-mnist, cifar10, cifar100"):
        load_dataset("mnist")
