"""The settings of a run, typed: :class:`TrainConfig`.

Kept apart from the training loop so that reading a run (:class:`workbench.run.Run`) never
imports it. Importing this module does not import torch.

Examples
--------
>>> cfg = TrainConfig(epochs=2, train_size=2000)
>>> TrainConfig.from_json(cfg.to_json()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field

from .dims import choice

#: Names accepted for ``model``, ``data`` and ``optimizer`` (the builders live in
#: :mod:`workbench.models`, :mod:`workbench.data`, :mod:`workbench.optim`; a test checks that
#: these tuples match theirs).
MODELS = ("cnn", "resnet18", "mlp")
DATASETS = ("fashion-mnist", "cifar10", "cifar100")
OPTIMIZERS = ("sgd", "adam")
#: Settings that may differ on ``--resume`` without asking: how long, where, and where this
#: user keeps the data.
RESUME_FREE = ("epochs", "device", "data_root")
#: Settings that may differ on ``--resume`` with ``allow_changes`` (``--allow-change``): they
#: change how densely or how the run is recorded or computed, not what is trained.
RESUME_SAFE = ("memory_budget_mb", "record_every", "signal_every", "amp")
#: (channels, side, classes) of each dataset's images.
INPUT = {"fashion-mnist": (1, 28, 10), "cifar10": (3, 32, 10), "cifar100": (3, 32, 100)}


@dataclass
class TrainConfig:
    """Everything that defines a run (stored in the run's root attrs as JSON)."""

    model: str = "cnn"
    data: str = "fashion-mnist"
    epochs: int = 3
    train_size: int | None = None
    test_size: int | None = None
    batch_size: int = 128
    lr: float = 0.05
    lr_schedule: str = "cosine"
    optimizer: str = "sgd"
    momentum: str = "constant:0.9"
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    probe_size: int = 512
    feature_layers: tuple = ()
    record_every: int = 1
    signal_every: int = 8
    signal_batch: int = 32
    #: Test accuracy on a fixed stratified subset every K optimizer steps (``/evals``):
    #: None is about ten points an epoch (:func:`workbench.record.evals.default_every`), 0
    #: none.
    eval_every: int | None = None
    #: Samples of that subset (clipped to the test split).
    eval_size: int = 1000
    label_noise: float = 0.0
    data_root: str | None = None
    memory_budget_mb: float = 2048.0
    curvature_iters: int = 20
    curvature_batch: int = 256
    model_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        """Check every setting, so that a bad one fails before any file is created or
        deleted; each message names the setting, what it must be and what it got."""
        choice(self.model, MODELS, "model")
        choice(self.data, DATASETS, "dataset")
        choice(self.optimizer, OPTIMIZERS, "optimizer")
        for name in ("epochs", "batch_size", "record_every", "signal_every", "probe_size",
                     "signal_batch", "curvature_batch"):
            _integer(self, name, low=1)
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                _integer(self, name, low=1)
        if self.eval_every is not None:
            _integer(self, "eval_every", low=0)
        _integer(self, "eval_size", low=1)
        _integer(self, "curvature_iters", low=0)
        _integer(self, "seed", low=0, high=2**32 - 1)
        _number(self, "lr", positive=True)
        _number(self, "weight_decay")
        _number(self, "memory_budget_mb", positive=True)
        _number(self, "label_noise")
        if not self.label_noise <= 1:
            raise ValueError(f"label_noise must be a fraction in [0, 1]; got {self.label_noise}")
        if not isinstance(self.lr_schedule, str):
            raise ValueError(f"lr_schedule must be a name; got {self.lr_schedule!r}")
        if not isinstance(self.momentum, str) or not self.momentum:
            raise ValueError(f"momentum must be a spec such as 'constant:0.9'; got "
                             f"{self.momentum!r}")
        if isinstance(self.feature_layers, str):
            self.feature_layers = tuple(f for f in self.feature_layers.split(",") if f)
        self.feature_layers = tuple(self.feature_layers)
        if not all(isinstance(f, str) and f for f in self.feature_layers):
            raise ValueError(f"feature_layers must be layer names; got {self.feature_layers}")
        if not isinstance(self.model_kwargs, dict):
            raise ValueError(f"model_kwargs must be a dict; got {self.model_kwargs!r}")

    def resume_conflicts(self, stored: TrainConfig, *, allow_changes: bool = False
                         ) -> dict[str, tuple]:
        """The settings in which ``self`` differs from the ``stored`` run and which a resume
        may not change: ``{field: (stored value, this value)}``.

        :data:`RESUME_FREE` may always change; :data:`RESUME_SAFE` only with
        ``allow_changes``.
        """
        ignore = RESUME_FREE + (RESUME_SAFE if allow_changes else ())
        return stored.differences(self, ignore=ignore)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, side, classes) of the run's images."""
        return INPUT[self.data]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parse a stored config; unknown fields are refused with their names."""
        return _from_json(cls, text)

    def same_run(self, other: TrainConfig) -> bool:
        """Equal in everything but the number of epochs and the device."""
        return not self.differences(other, ignore=("epochs", "device"))

    def differences(self, other: TrainConfig, *, ignore=()) -> dict[str, tuple]:
        """``{field: (self's value, other's value)}`` for every field that differs."""
        a, b = dataclasses.asdict(self), dataclasses.asdict(other)
        return {k: (a[k], b[k]) for k in a if k not in ignore
                and json.dumps(a[k], sort_keys=True) != json.dumps(b[k], sort_keys=True)}


@dataclass
class WatchConfig:
    """What the workbench knows of a run recorded with :func:`workbench.watch`.

    The user's own settings are ``user`` (their ``config=`` dict, plain JSON, never
    executed); the rest is read off the model and optimizer when recording starts, for
    display, and the analyses' own settings (curvature batch and iterations, seed).
    ``model`` and ``optimizer`` are class names, never code to import.
    """

    model: str = "model"
    data: str = "user data"
    optimizer: str = "optimizer"
    momentum: str = ""
    lr: float = float("nan")
    weight_decay: float = 0.0
    seed: int = 0
    label_noise: float = 0.0
    feature_layers: tuple = ()
    curvature_iters: int = 20
    curvature_batch: int = 256
    every_steps: int | None = None
    user: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("model", "data", "optimizer", "momentum"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string; got {getattr(self, name)!r}")
        self.feature_layers = tuple(self.feature_layers)
        _integer(self, "seed", low=0, high=2**32 - 1)
        _integer(self, "curvature_iters", low=0)
        _integer(self, "curvature_batch", low=1)
        if not isinstance(self.user, dict):
            raise ValueError(f"the user's config must be a dict; got {type(self.user).__name__}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> WatchConfig:
        """Parse a stored watch config; unknown fields are refused with their names."""
        return _from_json(cls, text)


def _from_json(cls, text: str):
    """``cls`` from a stored JSON object; unknown fields are refused with their names."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError(f"a run config must be a JSON object; got {type(raw).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"unknown run settings {unknown}; expected only {sorted(known)}")
    return cls(**raw)


def _integer(cfg, name, *, low, high=None):
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {v!r}")
    if v < low or (high is not None and v > high):
        bound = f"at least {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}; got {v}")


def _number(cfg, name, *, positive=False):
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValueError(f"{name} must be a number; got {v!r}")
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        what = "a finite number > 0" if positive else "a finite number >= 0"
        raise ValueError(f"{name} must be {what}; got {v}")


__all__ = ["TrainConfig", "WatchConfig", "MODELS", "DATASETS", "OPTIMIZERS", "INPUT", "RESUME_FREE",
           "RESUME_SAFE"]
