"""Test accuracy every K optimizer steps on a fixed stratified test subset: ``/evals``.

Measured once an epoch (79 steps of a default preset run), "steps to a threshold" can only
take a few values, and schedules tie. :class:`Evaluator` measures test accuracy and loss
every ``every`` optimizer steps (by default about ten times an epoch,
:func:`default_every`) on a fixed, stratified, seeded subset of the test split
(:func:`eval_subset`; 1,000 images by default, the same images at every point), beside the
per-epoch full-test figures of ``/epochs``.

Stored in the run as ``/evals`` (dim ``eval_step``), appended and committed with each
epoch like every other group:

- ``eval_step``: the number of optimizer steps taken when the model was evaluated, so the
  point after the first epoch of 79 steps is 79, the count
  :func:`workbench.compare.steps_to` gives that epoch's end in ``/epochs``;
- ``acc``, ``loss``: accuracy and mean cross-entropy on the subset (model in eval mode);
- coord ``epoch`` (eval_step); attrs ``subset_size``, ``class_counts`` (JSON, per class in
  label order), ``every``, ``indices`` (JSON: the subset's indices in the test split).

An evaluation is due after step ``n`` (counted from 1) when ``n % every == 0``, so a run of
``S`` steps holds ``S // every`` points: the cost is bounded by that count.

Examples
--------
>>> import numpy as np
>>> targets = np.repeat(np.arange(10), 1000)           # 10 classes, 1000 each
>>> pos = eval_subset(targets, 1000, seed=0)
>>> len(pos), np.bincount(targets[pos]).tolist() == [100] * 10
(1000, True)
>>> default_every(79), default_every(469), default_every(4)
(8, 47, 1)
"""

from __future__ import annotations

import json
import numbers

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from ..batches import logits as logits_of
from ..dims import EPOCH, EVAL_STEP

#: Default size of the evaluation subset (clipped to the test split).
EVAL_SIZE = 1000
#: Points an epoch that the default spacing aims at.
POINTS_PER_EPOCH = 10


def default_every(steps_per_epoch: int) -> int:
    """The default spacing: about :data:`POINTS_PER_EPOCH` evaluations an epoch,
    ``max(1, round(steps_per_epoch / 10))``."""
    return max(1, int(round(int(steps_per_epoch) / POINTS_PER_EPOCH)))


def eval_subset(targets, size: int, *, seed: int = 0) -> np.ndarray:
    """Positions of a fixed, stratified, seeded subset of ``size`` samples (all when the
    split is smaller), sorted.

    Each class gets ``size // n_classes`` samples and the remainder goes one each to the
    first classes of a seeded order, so class counts differ by at most one
    (:func:`workbench.data.probe_indices`, the rule of the probe set).
    """
    from ..data import probe_indices

    targets = np.asarray(targets)
    return probe_indices(targets, size=min(int(size), len(targets)), seed=seed)


class Evaluator:
    """Evaluate a model every ``every`` optimizer steps on a fixed set; keep the points.

    Parameters
    ----------
    x : torch.Tensor or TensorDict
        The evaluation inputs (the subset already chosen), on any device.
    y : torch.Tensor
        Their class ids.
    every : int
        Spacing in optimizer steps (>= 1).
    indices : array of int, optional
        The subset's indices in the test split (stored in the attrs); positions by default.
    forward : callable ``(model, inputs) -> output``, optional
        As in :class:`~workbench.record.recorder.Recorder`.
    batch_size : int
        Samples per forward pass.

    Attributes
    ----------
    calls : int
        Evaluations made (each one pass over the subset).
    """

    def __init__(self, x, y, *, every: int, indices=None, forward=None,
                 batch_size: int = 500):
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"eval_every must be a whole number of optimizer steps >= 1; "
                             f"got {every!r}")
        y = torch.as_tensor(y).detach().long().cpu()
        n = x.shape[0] if hasattr(x, "shape") else len(x)
        if y.ndim != 1 or len(y) != n or n == 0:
            raise ValueError(f"evaluation targets must be one class id per sample ({n}); got "
                             f"shape {tuple(y.shape)}")
        self.x, self.y = x, y
        self.every = int(every)
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
        self.forward = forward
        self.batch_size = int(batch_size)
        self.calls = 0
        self._on = None  # (device, x, y) cached on the model's device
        self._rows: list[tuple[int, int, float, float]] = []

    def due(self, steps_done: int) -> bool:
        """Whether an evaluation is due after ``steps_done`` optimizer steps."""
        return steps_done > 0 and steps_done % self.every == 0

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, *, steps_done: int, epoch: int
                 ) -> tuple[float, float]:
        """Evaluate ``model`` (in eval mode, restored after) and keep the point;
        returns (accuracy, loss)."""
        dev = next((p.device for p in model.parameters()), torch.device("cpu"))
        if self._on is None or self._on[0] != dev:
            self._on = (dev, self.x.to(dev), self.y.to(dev))
        _, x, y = self._on
        was = model.training
        model.eval()
        loss = torch.zeros((), dtype=torch.float64, device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        try:
            for i in range(0, len(y), self.batch_size):
                out = logits_of(model, x[i:i + self.batch_size], self.forward).float()
                yb = y[i:i + self.batch_size]
                loss += F.cross_entropy(out, yb, reduction="sum").double()
                correct += (out.argmax(1) == yb).sum()
        finally:
            model.train(was)
        acc, mean_loss = correct.item() / len(y), loss.item() / len(y)
        self.calls += 1
        self._rows.append((int(steps_done), int(epoch), acc, mean_loss))
        return acc, mean_loss

    def attrs(self) -> dict:
        """The subset's description, stored as the group's attrs."""
        counts = np.bincount(self.y.numpy(), minlength=int(self.y.max()) + 1)
        return {"subset_size": int(len(self.y)), "every": self.every,
                "class_counts": json.dumps(counts.tolist()),
                "indices": json.dumps(self.indices.tolist()),
                "description": f"test accuracy and loss every {self.every} optimizer steps "
                               f"on a fixed stratified subset of {len(self.y)} test samples",
                "eval_step": "optimizer steps taken when the model was evaluated"}

    def dataset(self) -> xr.Dataset | None:
        """The points kept since the last call as a Dataset over ``eval_step`` (None when
        there are none), and forget them."""
        rows, self._rows = self._rows, []
        if not rows:
            return None
        steps, epochs, acc, loss = (np.array(c) for c in zip(*rows, strict=True))
        return xr.Dataset(
            {"acc": (EVAL_STEP, acc.astype(np.float64),
                     {"long_name": "test accuracy (eval subset)"}),
             "loss": (EVAL_STEP, loss.astype(np.float64),
                      {"long_name": "test cross-entropy (eval subset)"})},
            coords={EVAL_STEP: steps.astype(np.int64), EPOCH: (EVAL_STEP,
                                                              epochs.astype(np.int64))},
            attrs=self.attrs())


__all__ = ["Evaluator", "eval_subset", "default_every", "EVAL_SIZE", "POINTS_PER_EPOCH"]
