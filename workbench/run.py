"""``Run``: the one way into a recorded run.

Every command, widget, notebook and bench that needs a run's settings, classes, data as
trained, committed epochs, probe images or model goes through :class:`Run`; nothing else
rebuilds them. Reading a run never imports the training loop, and nothing read from the
store is unpickled, executed or rendered as markup: checkpoints load with
``weights_only=True``, and the data are read from the user's own data root, never from a
path the store names.

A run recorded with :func:`workbench.watch` (any model, any loop) holds no code: its model
factory and its datasets come from the user when the run is opened,
``Run(path, model=factory, data=(train, test))``. Runs of ``workbench train`` open with no
arguments. What a run cannot give without them is said by :meth:`Run.missing`.

Examples
--------
>>> run = Run("runs/demo")                               # doctest: +SKIP
>>> run.config.model, run.epochs                         # doctest: +SKIP
('cnn', [0, 1, 2])
>>> run.tree["layers"]["grad_norm"].dims                 # doctest: +SKIP
('step', 'layer')
>>> model = run.model(epoch=-1)                          # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import xarray as xr

from .config import TrainConfig, WatchConfig
from .dims import SAMPLE
from .record.layout import checkpoint_files
from .record.store import ANALYSIS, RECORD, RunStore, open_run


class Run:
    """A recorded run directory, opened read-only.

    Parameters
    ----------
    path : path
        The run directory (``runs/<name>``, holding ``record.zarr``) or its ``record.zarr``.
    model : callable, optional
        A factory ``model() -> nn.Module`` building the run's (untrained) model, for runs
        recorded with :func:`workbench.watch`; checkpoints are loaded into it. An
        ``nn.Module`` is accepted too (copied for each epoch). Runs of ``workbench train``
        rebuild their own model.
    data : (train, test), optional
        The run's torch ``Dataset`` s (items ``(x, y)`` or dicts with a label key), in the
        order they were recorded with; either may be None.
    forward : callable, optional
        ``forward(model, inputs) -> output`` when the model is not called as ``model(x)`` or
        ``model(**x)``.
    data_root : path, optional
        Where *this user* keeps the run's dataset when it is not the embedded Fashion-MNIST
        (CIFAR: ``~/.cache/workbench`` by default). A ``data_root`` stored in the run is
        ignored: a store from someone else must not choose which files get read.

    Attributes
    ----------
    path : Path
        The run directory.
    store : RunStore
    """

    def __init__(self, path, *, model=None, data=None, forward=None, data_root=None):
        path = Path(path)
        self.path = path.parent if path.name == RECORD else path
        self.store = RunStore(self.path)
        self.data_root = data_root
        self.factory = _factory(model)
        self.user_data = _data_pair(data)
        if forward is not None and not callable(forward):
            raise TypeError(f"Run(forward=...) must be a callable (model, inputs) -> output; "
                            f"got {type(forward).__name__}")
        self.forward = forward
        self._tree = None
        self.tree  # noqa: B018  (opening it now gives a clear error for a non-run)

    def __repr__(self) -> str:
        cfg = self.config
        return (f"Run({str(self.path)!r}: {cfg.model} on {cfg.data}, {cfg.optimizer}, "
                f"epochs {self.epochs})")

    # -- what the run holds, and what it needs from the user ---------------------------------
    @property
    def source(self) -> str:
        """``"train"`` (``workbench train``) or ``"watch"`` (:func:`workbench.watch`)."""
        return "watch" if self.tree.attrs.get("source") == "watch" else "train"

    @functools.cached_property
    def groups(self) -> dict[str, tuple[str, ...]] | None:
        """The recorded layer groups (name → module/parameter prefixes), or None when the
        run's model declares its own (the built-in models)."""
        raw = self._json_attr("groups", None)
        if not raw:
            return None
        return {str(g): tuple(str(p) for p in v["prefixes"]) for g, v in raw.items()}

    def missing(self, need: str) -> str | None:
        """Why this run cannot give ``need`` (a key of
        :data:`workbench.analysis.registry.NEEDS`), or None when it can.

        Examples
        --------
        >>> Run("runs/watched").missing("model")                   # doctest: +SKIP
        'needs model=, a factory returning the nn.Module: Run(path, model=make_model)'
        """
        train_run = self.source == "train"
        if need == "model":
            return None if train_run or self.factory is not None else (
                "needs model=, a factory returning the nn.Module: Run(path, model=make_model)"
                " (or --model pkg.module:factory)")
        if need in ("train_data", "test_data"):
            which = 0 if need == "train_data" else 1
            if train_run or self.user_data[which] is not None:
                return None
            what = "the training set" if which == 0 else "the test set"
            return (f"needs data=(train, test), {what}: Run(path, data=(train, test)) (or "
                    f"--data pkg.module:datasets)")
        if need == "probe":
            return None if "probe" in self.tree else (
                "needs a recorded probe set (/probe): record with watch(probe=(x, y))")
        if need == "features":
            return None if "features" in self.tree else (
                "needs recorded probe-set features (/features): train --features or "
                "watch(features=[...]); the run has none")
        if need == "steps":
            ok = "steps" in self.tree and "lr" in self.tree["steps"]
            return None if ok else "needs the recorded steps' lr (/steps)"
        if need == "signal":
            ok = "layers" in self.tree and "signal" in self.tree["layers"]
            return None if ok else "needs the recorded layer signal (/layers/signal)"
        raise ValueError(f"unknown need {need!r}")

    # -- the record ------------------------------------------------------------------------
    @property
    def tree(self) -> xr.DataTree:
        """The record, lazily opened (dask), committed epochs only."""
        if self._tree is None:
            self._tree = open_run(self.path, chunks={})
        return self._tree

    def refresh(self) -> Run:
        """Forget what was read (after training or analysing more epochs)."""
        self._tree = None
        for name in ("config", "classes", "_train_indices", "flipped", "groups"):
            self.__dict__.pop(name, None)
        self.train_data.cache_clear()
        self.test_data.cache_clear()
        return self

    @functools.cached_property
    def config(self) -> TrainConfig | WatchConfig:
        """The run's settings, typed: a :class:`TrainConfig` for ``workbench train`` runs,
        a :class:`WatchConfig` (the user's ``config=`` in ``.user``) for watched ones."""
        raw = self.tree.attrs.get("config")
        if raw is None:
            raise ValueError(f"{self.path / RECORD} has no 'config' attr; expected a run "
                             f"written by 'workbench train' or workbench.watch")
        cls = WatchConfig if self.source == "watch" else TrainConfig
        return cls.from_json(raw) if isinstance(raw, str) else cls(**raw)

    @functools.cached_property
    def classes(self) -> tuple[str, ...]:
        """Class names, in label order."""
        return tuple(str(c) for c in self._json_attr("classes", []))

    @property
    def committed_epochs(self) -> int:
        return int(self.tree.attrs.get("committed_epochs", 0))

    @property
    def epochs(self) -> list[int]:
        """Epochs that are committed in the record *and* have a checkpoint."""
        on_disk = checkpoint_files(self.path)
        return [e for e in range(self.committed_epochs) if e in on_disk]

    @functools.cached_property
    def _train_indices(self) -> np.ndarray | None:
        raw = self._json_attr("train_indices", None)
        return None if raw is None else np.asarray(raw, dtype=np.int64)

    @functools.cached_property
    def flipped(self) -> np.ndarray:
        """Training-split indices whose label the run flipped (``--label-noise``)."""
        return np.asarray(self._json_attr("flipped_train_indices", []), dtype=np.int64)

    def _json_attr(self, key, default):
        raw = self.tree.attrs.get(key)
        if raw is None:
            return default
        return json.loads(raw) if isinstance(raw, str) else raw

    # -- data as trained ------------------------------------------------------------------
    @functools.cache  # noqa: B019  (one Run, one copy of its data)
    def train_data(self):
        """The training set exactly as the run trained on it: subset, noisy labels included.

        Raises
        ------
        ValueError
            When the rebuilt subset or flipped labels differ from those the run recorded.
        """
        from .data import load_dataset, train_subset

        if self.source == "watch":
            return self._user_dataset(0)
        cfg = self.config
        ds = load_dataset(cfg.data, train=True, root=self._root(), download=False,
                          label_noise=cfg.label_noise, noise_seed=cfg.seed)
        ds = train_subset(ds, cfg.train_size, seed=cfg.seed)
        if self._train_indices is not None and not np.array_equal(ds.indices,
                                                                  self._train_indices):
            raise ValueError(f"the training subset rebuilt for {self.path} differs from the "
                             f"one it recorded ({len(ds.indices)} vs "
                             f"{len(self._train_indices)} samples); the data files changed")
        flipped = (ds.indices[(ds.targets != ds.clean_targets).numpy()]
                   if ds.clean_targets is not None else np.array([], dtype=np.int64))
        if not np.array_equal(np.sort(flipped), np.sort(self.flipped)):
            raise ValueError(f"the flipped labels rebuilt for {self.path} differ from the "
                             f"recorded ones ({len(flipped)} vs {len(self.flipped)})")
        return ds

    @functools.cache  # noqa: B019
    def test_data(self):
        """The test set the run evaluated on (its ``test_size`` subset)."""
        from .data import load_dataset, train_subset

        if self.source == "watch":
            return self._user_dataset(1)
        cfg = self.config
        ds = load_dataset(cfg.data, train=False, root=self._root(), download=False)
        return train_subset(ds, cfg.test_size, seed=cfg.seed)

    def _user_dataset(self, which: int):
        from .data import UserDataset

        reason = self.missing("train_data" if which == 0 else "test_data")
        if reason:
            raise ValueError(f"{self.path}: {reason}")
        return UserDataset(self.user_data[which], classes=self.classes)

    def _root(self):
        return self.data_root if self.config.data != "fashion-mnist" or self.data_root \
            else None

    def probe_images(self) -> xr.DataArray:
        """The probe samples' images (sample, row, col, channel), from the test split.

        The /probe ``sample`` coord holds test-set indices, so each image traces back to its
        dataset row. A watched run keeps its probe inputs in ``/probe_inputs``; image-shaped
        ones (sample, channel, row, col) are returned the same way, others raise ValueError
        (use :meth:`probe_inputs`).
        """
        from .data import load_dataset

        if "probe_inputs" in self.tree:
            x = self.probe_inputs()
            if not hasattr(x, "ndim") or x.ndim != 4:
                raise ValueError(f"{self.path}: the probe inputs are not images (sample, "
                                 f"channel, row, col)")
            samples = np.array(self.tree["probe"][SAMPLE].values, dtype=np.int64)
            return xr.DataArray(x.permute(0, 2, 3, 1).numpy().copy(),
                                dims=(SAMPLE, "row", "col", "channel"),
                                coords={SAMPLE: samples}, name="image",
                                attrs={"long_name": "input value", "units": ""})

        ds = load_dataset(self.config.data, train=False, root=self._root(), download=False)
        # a writable int64 copy: indexing a tensor with a read-only array (as zarr gives)
        # raises torch's non-writable-array UserWarning in the user's notebook
        samples = np.array(self.tree["probe"][SAMPLE].values, dtype=np.int64)
        pixels = ds.images[samples].permute(0, 2, 3, 1).numpy().copy()
        return xr.DataArray(pixels, dims=(SAMPLE, "row", "col", "channel"),
                            coords={SAMPLE: samples}, name="image",
                            attrs={"long_name": "normalised pixel value", "units": ""})

    def probe_inputs(self):
        """The probe samples' model inputs: a tensor, or a
        :class:`~workbench.batches.TensorDict` (watched runs store them in
        ``/probe_inputs``; ``workbench train`` runs read them from the test split)."""
        import torch

        if "probe_inputs" not in self.tree:
            images = self.probe_images().transpose(SAMPLE, "channel", "row", "col")
            return torch.from_numpy(np.array(images.values, dtype=np.float32))
        from .batches import TensorDict

        node = self.tree["probe_inputs"].to_dataset()
        arrays = {k[len("input_"):]: torch.from_numpy(np.array(v.values))
                  for k, v in node.data_vars.items() if k.startswith("input_")}
        if list(arrays) == [""]:
            return arrays[""]
        return TensorDict(arrays)

    # -- checkpoints ----------------------------------------------------------------------
    def _epoch(self, epoch: int) -> int:
        epochs = self.epochs
        if not epochs:
            raise FileNotFoundError(f"no committed epoch with a checkpoint in {self.path}")
        if epoch < 0:
            if -epoch > len(epochs):
                raise ValueError(f"epoch {epoch}: {self.path} has only {len(epochs)} "
                                 f"checkpointed epochs {epochs}")
            return epochs[epoch]
        if epoch not in epochs:
            raise ValueError(f"no committed checkpoint for epoch {epoch} in {self.path}; "
                             f"found epochs {epochs}")
        return epoch

    def checkpoint(self, epoch: int = -1, *, device="cpu") -> dict:
        """The checkpoint of a committed epoch (``weights_only=True``: no code is run)."""
        from .record.store import load_state

        epoch = self._epoch(epoch)
        return load_state(self.store.checkpoint_path(epoch), map_location=device)

    def model(self, epoch: int = -1, *, device="cpu"):
        """The model at the end of ``epoch`` (negative counts from the end), in eval mode.

        The one model loader: ``workbench train`` runs rebuild their built-in model; other
        runs call the ``model=`` factory given at open time.

        Raises
        ------
        ValueError
            When the run needs a factory and none was given, or the checkpoint does not fit
            the factory's model (the message names the first mismatched parameters).
        """
        reason = self.missing("model")
        if reason:
            raise ValueError(f"{self.path}: {reason}")
        state = self.checkpoint(epoch, device=device)
        if self.factory is not None:
            model = self.factory()
        else:
            from .models import model_for

            model = model_for(self.config)
        model = model.to(device)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as e:
            first = str(e).strip().splitlines()
            raise ValueError(f"{self.path}: the checkpoint of epoch {self._epoch(epoch)} does "
                             f"not fit the model built by the factory: "
                             f"{' '.join(first[:3])[:400]}") from None
        return model.eval()

    # -- analyses -------------------------------------------------------------------------
    def analysis(self, name: str) -> xr.Dataset | None:
        """``/analysis/<name>`` (epoch, …), or None when it has not been computed."""
        node = self.tree.get(ANALYSIS)
        if node is None or name not in node.children:
            return None
        return node[name].to_dataset()

    @property
    def analyses(self) -> list[str]:
        """Names of the analyses stored in the run."""
        node = self.tree.get(ANALYSIS)
        return sorted(node.children) if node is not None else []

    def analysed_epochs_view(self, name: str) -> list[int]:
        """Epochs of ``/analysis/<name>`` as :attr:`tree` shows them (consolidated metadata)."""
        ds = self.analysis(name)
        return [] if ds is None else [int(e) for e in ds["epoch"].values]

    def analysed_epochs(self, name: str) -> list[int]:
        """Epochs committed in ``/analysis/<name>`` (read from the store's commit mark)."""
        return self.store.analysis_epochs(name)

    # -- side by side and export ----------------------------------------------------------
    def group(self, name: str) -> xr.Dataset:
        """A recorded group (``"epochs"``, ``"layers"``…) or ``"analysis/<name>"``.

        Raises
        ------
        ValueError
            Naming the groups the run has, or the command that fills a missing analysis.
        """
        if name.startswith(ANALYSIS + "/"):
            short = name.split("/", 1)[1]
            ds = self.analysis(short)
            if ds is None:
                raise ValueError(f"run {self.path} has no {name}; run 'workbench analyze "
                                 f"{self.path} --only {short}' first")
            return ds
        if name not in self.tree:
            raise ValueError(f"run {self.path} has no group {name!r}; it has "
                             f"{sorted(self.tree.children)}")
        return self.tree[name].to_dataset()

    def to_dataframe(self, group: str):
        """A group (``"epochs"``, ``"layers"``, ``"analysis/damping"``…) as tidy pandas: one
        row per coordinate combination, one column per variable.

        Examples
        --------
        >>> Run("runs/demo").to_dataframe("layers").columns[:3].tolist()   # doctest: +SKIP
        ['step', 'layer', 'epoch']
        """
        return self.group(group).to_dataframe().reset_index()

    def _repr_html_(self) -> str:
        """Config, epochs, accuracy and stored analyses as an HTML table (values escaped)."""
        import dataclasses
        import html

        cfg = dataclasses.asdict(self.config)
        ep = self.tree["epochs"].to_dataset() if "epochs" in self.tree else xr.Dataset()
        acc = (f"{float(ep['test_acc'].values[-1]):.4f}" if "test_acc" in ep and
               ep.sizes.get("epoch") else "-")
        rows = [("run", str(self.path)), ("epochs", str(self.epochs)),
                ("final test accuracy", acc),
                ("analyses", ", ".join(f"{a} (epochs {self.analysed_epochs(a)})"
                                       for a in self.analyses) or
                 "none yet: workbench analyze RUN")]
        rows += [(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in cfg.items()]
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
                       for k, v in rows)
        return f"<table class='wb-run'>{body}</table>"


def _factory(model):
    """The model factory given to :class:`Run` (a module becomes a copying factory)."""
    if model is None:
        return None
    if not isinstance(model, type) and hasattr(model, "state_dict") \
            and hasattr(model, "parameters"):  # a module (a module *class* is a factory)
        import copy

        template = model
        return lambda: copy.deepcopy(template)
    if not callable(model):
        raise TypeError(f"Run(model=...) must be a callable returning the nn.Module (a "
                        f"factory) or an nn.Module; got {type(model).__name__}")
    return model


def _data_pair(data):
    if data is None:
        return (None, None)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"Run(data=...) must be a pair (train, test) of torch Datasets "
                        f"(either may be None); got {type(data).__name__}")
    for part, name in zip(data, ("train", "test"), strict=True):
        if part is not None and not (hasattr(part, "__getitem__") and hasattr(part, "__len__")):
            raise TypeError(f"Run(data=(train, test)): {name} must be a torch Dataset "
                            f"(with __getitem__ and __len__); got {type(part).__name__}")
    return tuple(data)


__all__ = ["Run"]
