"""Datasets: the embedded Fashion-MNIST, torchvision's CIFAR-10/100, and the probe set.

Fashion-MNIST (MIT licence, Zalando SE) ships in ``data/fashion-mnist`` as the original gzip
IDX files and is read without any network; each file is checked against its SHA-256 before use.
CIFAR-10/100 are downloaded by torchvision into ``root`` for users who have internet, and read
from there by :func:`read_cifar` (the python-pickle format) through :func:`safe_unpickle`,
which rebuilds only dicts, lists, strings, numbers and numeric numpy arrays: a batch file that
carries code is refused, never run.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import DATASETS
from .dims import choice

#: Default folder of the embedded data (the repository's ``data/``); override with
#: the ``WORKBENCH_DATA`` environment variable.
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA", Path(__file__).resolve().parent.parent / "data"))

FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz":
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz":
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz":
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
# Per-channel mean and std of the training images (pixel values in [0, 1]).
NORMALISATION = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


class ChecksumError(RuntimeError):
    """A data file does not have the SHA-256 it should."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something other than plain data (it would have run code)."""


#: The only globals a CIFAR batch may name: numpy's array reconstruction (old and new module
#: paths, protocols 2-5) and the codec Python 3 uses for bytes in protocol 2.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, f, path):
        super().__init__(f, encoding="latin1")
        self.path = path

    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.path} is not a plain CIFAR data file: it asks to load {module}.{name}, "
            f"which could run code, so it was refused. Delete it and download the dataset "
            f"again from its official source.")


def safe_unpickle(path) -> object:
    """Unpickle a data file without running any code it carries.

    Only dicts, lists, tuples, strings, bytes, numbers and numpy arrays of a numeric or
    string dtype are rebuilt; any other global (``os.system``, ``builtins.eval``, a class
    with ``__reduce__``…) raises :class:`UnsafePickleError` before it is looked up.

    Examples
    --------
    >>> import pickle, tempfile, numpy as np
    >>> f = tempfile.NamedTemporaryFile(suffix=".pkl", delete=False)
    >>> pickle.dump({"data": np.zeros((2, 3), np.uint8), "labels": [0, 1]}, f); f.close()
    >>> safe_unpickle(f.name)["data"].shape
    (2, 3)
    """
    path = Path(path)
    with open(path, "rb") as f:
        out = _DataUnpickler(f, path).load()
    _check_plain(out, path)
    return out


def _check_plain(obj, path, depth=0) -> None:
    if depth > 4:
        raise UnsafePickleError(f"{path} nests deeper than a CIFAR data file does")
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufSU":
            raise UnsafePickleError(f"{path} holds an array of dtype {obj.dtype}; a CIFAR "
                                    f"data file holds numbers and names only")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, path, depth + 1)
            _check_plain(v, path, depth + 1)
    elif isinstance(obj, (list, tuple)):
        if obj and not all(isinstance(v, (int, float, str, bytes)) for v in obj):
            for v in obj:
                _check_plain(v, path, depth + 1)
    elif not isinstance(obj, (int, float, str, bytes, np.generic)) and obj is not None:
        raise UnsafePickleError(f"{path} holds a {type(obj).__name__}; a CIFAR data file "
                                f"holds numbers and names only")


@dataclass
class ImageDataset:
    """Images and labels held in memory as tensors.

    Attributes
    ----------
    images : torch.Tensor
        float32 (N, C, H, W), normalised per channel.
    targets : torch.Tensor
        int64 (N,) class labels (possibly noisy, see ``clean_targets``).
    indices : numpy.ndarray
        Index of each image in its original split, so a sample can be traced back.
    classes : tuple of str
    name, split : str
    clean_targets : torch.Tensor or None
        The original labels when label noise was injected.
    """

    images: torch.Tensor
    targets: torch.Tensor
    indices: np.ndarray
    classes: tuple
    name: str
    split: str
    clean_targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        return self.images[i], self.targets[i]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        return tuple(self.images.shape[1:])

    def subset(self, idx) -> ImageDataset:
        """The samples at positions ``idx`` (their original indices are kept)."""
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        clean = None if self.clean_targets is None else self.clean_targets[idx]
        return ImageDataset(self.images[idx], self.targets[idx], self.indices[idx.numpy()],
                            self.classes, self.name, self.split, clean)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, expected: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"missing data file {path}; the repository ships it in data/ "
                                f"(or set WORKBENCH_DATA to a folder holding it)")
    found = sha256(path)
    if found != expected:
        raise ChecksumError(f"{path} failed its checksum: expected SHA-256 {expected}, "
                            f"found {found}. Restore it from the repository (git checkout -- "
                            f"data/) or from Debian's dataset-fashion-mnist package.")
    return path


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip IDX file (the MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or dtype != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (header {raw[:4]!r})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()


def read_cifar(folder: Path, files: list[str], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR python-pickle batches: (N, 32, 32, 3) uint8 images and int labels.

    Each batch goes through :func:`safe_unpickle`: no code in it is run.
    """
    xs, ys = [], []
    for name in files:
        path = Path(folder) / name
        if not path.exists():
            raise FileNotFoundError(f"missing CIFAR batch {path}")
        entry = safe_unpickle(path)
        if not isinstance(entry, dict) or "data" not in entry or label_key not in entry:
            raise ValueError(f"{path} is not a CIFAR batch: expected a dict with 'data' and "
                             f"{label_key!r}; found {type(entry).__name__}"
                             + (f" with keys {sorted(map(str, entry))}"
                                if isinstance(entry, dict) else ""))
        xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(entry[label_key], dtype=np.int64))
    return np.concatenate(xs).transpose(0, 2, 3, 1), np.concatenate(ys)


def _cifar(name: str, train: bool, root: Path, download: bool):
    folder = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}[name]
    if name == "cifar10":
        files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        meta, meta_key, label_key = "batches.meta", "label_names", "labels"
    else:
        files = ["train"] if train else ["test"]
        meta, meta_key, label_key = "meta", "fine_label_names", "fine_labels"
    if not (root / folder).exists():
        if not download:
            raise FileNotFoundError(f"{name} is not in {root / folder} and download=False")
        import torchvision

        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        try:
            cls(str(root), train=train, download=True)
        except Exception as e:  # URLError, socket errors, HTTP errors...
            raise RuntimeError(
                f"could not download {name} into {root} ({type(e).__name__}: {e}). "
                f"{name} needs internet once: run on a machine with internet, or download "
                f"the python version of the archive yourself and unpack it so that "
                f"{root / folder} exists, then pass --data-root {root}. The embedded default "
                f"'fashion-mnist' works offline.") from e
    images, labels = read_cifar(root / folder, files, label_key)
    classes = tuple(str(c) for c in safe_unpickle(root / folder / meta)[meta_key])
    return images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2), labels, classes


def load_dataset(name: str = "fashion-mnist", *, train: bool = True, root=None,
                 download: bool = True, label_noise: float = 0.0,
                 noise_seed: int = 0) -> ImageDataset:
    """Load a dataset into memory, normalised.

    Parameters
    ----------
    name : {"fashion-mnist", "cifar10", "cifar100"}
    train : bool
        Training split (True) or test split (False).
    root : path, optional
        Folder of the data; the embedded ``data/`` for Fashion-MNIST, ``~/.cache/workbench``
        for CIFAR.
    download : bool
        For CIFAR: download through torchvision when absent.
    label_noise : float
        Fraction of labels replaced by a different, uniformly drawn class (seeded by
        ``noise_seed``); the originals are kept in ``clean_targets``.

    Examples
    --------
    >>> ds = load_dataset("fashion-mnist", train=False)
    >>> len(ds), ds.shape
    (10000, (1, 28, 28))
    """
    choice(name, DATASETS, "dataset")
    if name == "fashion-mnist":
        folder = Path(root) if root else DATA_DIR / "fashion-mnist"
        prefix = "train" if train else "t10k"
        img = read_idx(_verified(folder / f"{prefix}-images-idx3-ubyte.gz",
                                 FASHION_MNIST_SHA256[f"{prefix}-images-idx3-ubyte.gz"]))
        lab = read_idx(_verified(folder / f"{prefix}-labels-idx1-ubyte.gz",
                                 FASHION_MNIST_SHA256[f"{prefix}-labels-idx1-ubyte.gz"]))
        images, labels, classes = img[:, None], lab.astype(np.int64), FASHION_MNIST_CLASSES
    else:
        root = Path(root) if root else Path.home() / ".cache" / "workbench"
        images, labels, classes = _cifar(name, train, root, download)
    mean, std = NORMALISATION[name]
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    y = torch.from_numpy(labels)
    ds = ImageDataset(x, y, np.arange(len(y)), tuple(classes), name,
                      "train" if train else "test")
    return inject_label_noise(ds, label_noise, seed=noise_seed) if label_noise else ds


def inject_label_noise(ds: ImageDataset, fraction: float, *, seed: int = 0) -> ImageDataset:
    """Replace ``fraction`` of the labels by a different class drawn uniformly (seeded).

    The flipped positions are those where ``targets != clean_targets``.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"label noise must be a fraction in [0, 1]; got {fraction}")
    rng = np.random.default_rng(seed)
    n, k = len(ds), len(ds.classes)
    flip = rng.permutation(n)[: int(round(fraction * n))]
    noisy = ds.targets.clone()
    shift = torch.from_numpy(rng.integers(1, k, size=len(flip)))
    noisy[flip] = (noisy[flip] + shift) % k
    return ImageDataset(ds.images, noisy, ds.indices, ds.classes, ds.name, ds.split,
                        ds.targets.clone())


def probe_indices(targets, *, size: int = 512, seed: int = 0) -> np.ndarray:
    """A fixed, stratified, seeded selection of sample positions, sorted.

    Each class gets ``size // n_classes`` samples, and the remainder goes one each to the
    first classes in a seeded order, so class counts differ by at most one.

    Examples
    --------
    >>> import numpy as np
    >>> idx = probe_indices(np.repeat(np.arange(10), 100), size=512, seed=0)
    >>> len(idx), int(np.bincount(np.repeat(np.arange(10), 100)[idx]).min())
    (512, 51)
    """
    targets = np.asarray(targets)
    classes = np.unique(targets)
    if size > len(targets):
        raise ValueError(f"probe set of {size} samples asked for, but the split has only "
                         f"{len(targets)}")
    if size == len(targets):  # the whole split, whatever its class counts
        return np.arange(len(targets))
    rng = np.random.default_rng(seed)
    per = np.full(len(classes), size // len(classes))
    per[rng.permutation(len(classes))[: size % len(classes)]] += 1
    chosen = []
    for c, n in zip(classes, per, strict=True):
        pool = np.flatnonzero(targets == c)
        if n > len(pool):
            raise ValueError(f"class {c} has {len(pool)} samples, fewer than the {n} the "
                             f"stratified probe set needs")
        chosen.append(rng.choice(pool, size=n, replace=False))
    return np.sort(np.concatenate(chosen))


def train_subset(ds: ImageDataset, size: int | None, *, seed: int = 0) -> ImageDataset:
    """A seeded, stratified subset of ``size`` samples (all when size is None or too big)."""
    if size is None or size >= len(ds):
        return ds
    return ds.subset(probe_indices(ds.targets.numpy(), size=size, seed=seed))


def UserDataset(dataset, *, classes=(), name: str = "user data",
                split: str = "") -> ImageDataset:  # noqa: N802  (a constructor)
    """A user's torch ``Dataset`` held in memory the way the workbench's own are.

    Items ``(x, y)`` or dicts with a label key (:func:`workbench.batches.collate`) become
    ``images`` (the stacked inputs: a tensor, or a :class:`~workbench.batches.TensorDict`
    of token ids and masks) and ``targets``; ``indices`` are the positions in ``dataset``.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> ds = UserDataset(TensorDataset(torch.zeros(5, 3), torch.arange(5)))
    >>> ds.images.shape, ds.targets.tolist(), ds.indices.tolist()
    (torch.Size([5, 3]), [0, 1, 2, 3, 4], [0, 1, 2, 3, 4])
    """
    from .batches import collate

    inputs, targets = collate(dataset)
    return ImageDataset(inputs, targets, np.arange(len(targets)), tuple(classes), name, split)
