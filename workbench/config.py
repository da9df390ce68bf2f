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
from dataclasses import dataclass, field

from .dims import choice

#: Names accepted for ``model``, ``data`` and ``optimizer`` (the builders live in
#: :mod:`workbench.models`, :mod:`workbench.data`, :mod:`workbench.optim`; a test checks that
#: these tuples match theirs).
MODELS = ("cnn", "resnet18", "mlp")
DATASETS = ("fashion-mnist", "cifar10", "cifar100")
OPTIMIZERS = ("sgd", "adam")
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
    label_noise: float = 0.0
    data_root: str | None = None
    memory_budget_mb: float = 2048.0
    curvature_iters: int = 20
    curvature_batch: int = 256
    model_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        choice(self.model, MODELS, "model")
        choice(self.data, DATASETS, "dataset")
        choice(self.optimizer, OPTIMIZERS, "optimizer")
        for name in ("epochs", "batch_size", "record_every", "signal_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        self.feature_layers = tuple(self.feature_layers)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, side, classes) of the run's images."""
        return INPUT[self.data]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parse a stored config; unknown fields are refused with their names."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError(f"a run config must be a JSON object; got {type(raw).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown run settings {unknown}; expected only {sorted(known)}")
        return cls(**raw)

    def same_run(self, other: TrainConfig) -> bool:
        """Equal in everything but the number of epochs and the device."""
        return not self.differences(other, ignore=("epochs", "device"))

    def differences(self, other: TrainConfig, *, ignore=()) -> dict[str, tuple]:
        """``{field: (self's value, other's value)}`` for every field that differs."""
        a, b = dataclasses.asdict(self), dataclasses.asdict(other)
        return {k: (a[k], b[k]) for k in a if k not in ignore
                and json.dumps(a[k], sort_keys=True) != json.dumps(b[k], sort_keys=True)}


__all__ = ["TrainConfig", "MODELS", "DATASETS", "OPTIMIZERS", "INPUT"]
