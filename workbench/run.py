"""``Run``: the one way into a recorded run.

Every command, widget, notebook and bench that needs a run's settings, classes, data as
trained, committed epochs, probe images or model goes through :class:`Run`; nothing else
rebuilds them. Reading a run never imports the training loop, and nothing read from the
store is unpickled, executed or rendered as markup: checkpoints load with
``weights_only=True``, and the data are read from the user's own data root, never from a
path the store names.

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

from .config import TrainConfig
from .dims import SAMPLE
from .record.layout import checkpoint_files
from .record.store import ANALYSIS, RECORD, RunStore, open_run


class Run:
    """A recorded run directory, opened read-only.

    Parameters
    ----------
    path : path
        The run directory (``runs/<name>``, holding ``record.zarr``) or its ``record.zarr``.
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

    def __init__(self, path, *, data_root=None):
        path = Path(path)
        self.path = path.parent if path.name == RECORD else path
        self.store = RunStore(self.path)
        self.data_root = data_root
        self._tree = None
        self.tree  # noqa: B018  (opening it now gives a clear error for a non-run)

    def __repr__(self) -> str:
        cfg = self.config
        return (f"Run({str(self.path)!r}: {cfg.model} on {cfg.data}, {cfg.optimizer}, "
                f"epochs {self.epochs})")

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
        for name in ("config", "classes", "_train_indices", "flipped"):
            self.__dict__.pop(name, None)
        self.train_data.cache_clear()
        self.test_data.cache_clear()
        return self

    @functools.cached_property
    def config(self) -> TrainConfig:
        """The run's settings, typed."""
        raw = self.tree.attrs.get("config")
        if raw is None:
            raise ValueError(f"{self.path / RECORD} has no 'config' attr; expected a run "
                             f"written by 'workbench train'")
        return TrainConfig.from_json(raw) if isinstance(raw, str) else TrainConfig(**raw)

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

        cfg = self.config
        ds = load_dataset(cfg.data, train=False, root=self._root(), download=False)
        return train_subset(ds, cfg.test_size, seed=cfg.seed)

    def _root(self):
        return self.data_root if self.config.data != "fashion-mnist" or self.data_root \
            else None

    def probe_images(self) -> xr.DataArray:
        """The probe samples' images (sample, row, col, channel), from the test split.

        The /probe ``sample`` coord holds test-set indices, so each image traces back to its
        dataset row.
        """
        from .data import load_dataset

        ds = load_dataset(self.config.data, train=False, root=self._root(), download=False)
        # a writable int64 copy: indexing a tensor with a read-only array (as zarr gives)
        # raises torch's non-writable-array UserWarning in the user's notebook
        samples = np.array(self.tree["probe"][SAMPLE].values, dtype=np.int64)
        pixels = ds.images[samples].permute(0, 2, 3, 1).numpy().copy()
        return xr.DataArray(pixels, dims=(SAMPLE, "row", "col", "channel"),
                            coords={SAMPLE: samples}, name="image",
                            attrs={"long_name": "normalised pixel value", "units": ""})

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
        """The model at the end of ``epoch`` (negative counts from the end), in eval mode."""
        from .models import model_for

        state = self.checkpoint(epoch, device=device)
        model = model_for(self.config).to(device)
        model.load_state_dict(state["model"])
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


__all__ = ["Run"]
