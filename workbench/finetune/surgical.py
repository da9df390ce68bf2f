"""Surgical correction: fine-tune only the problematic layer groups, with physics momentum.

Source: Pasichnyk 2026, "Beta-Scheduling" (arXiv:2603.28921), "surgical correction" and
"layer-level beats parameter-level". The compute-saved definitions are ours (see
:func:`surgical_fix`).
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import xarray as xr
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..batches import logits, n_samples
from ..dims import SAMPLE, choice
from ..groups import group_parameters, resolve_groups, unwrap
from ..models import count_parameters
from ..probes.attribution import _predict, as_tensors

__all__ = ["surgical_fix", "SurgicalReport", "physics_momentum"]

LEVELS = ("layer", "parameter")


def physics_momentum(lr, *, momentum_max=0.99):
    """``(mu, clipped)``: the critical-damping momentum 1 - 2*sqrt(lr) clipped to [0, max]."""
    raw = 1.0 - 2.0 * math.sqrt(lr)
    mu = min(max(raw, 0.0), momentum_max)
    return mu, mu != raw


@dataclass
class SurgicalReport:
    """What a surgical fine-tune changed, and what it cost.

    ``fixed``: test examples wrong before and right after; ``broken``: right before and wrong
    after; ``net = fixed - broken``. ``param_fraction``: trained parameters / all trainable
    parameters. ``compute_saved``, ``steps_saved``, ``time_saved``: see
    :func:`surgical_fix`. ``model`` is the fine-tuned copy.
    """

    level: str
    groups: tuple
    fixed: int
    broken: int
    n_test: int
    errors_before: int
    errors_after: int
    n_params_trained: int
    n_params_total: int
    steps: int
    epochs: int
    lr: float
    momentum: float
    momentum_clipped: bool
    wall_time: float
    full_train_steps: int | None = None
    full_train_time: float | None = None
    seed: int = 0
    diagnosis_time: float = 0.0
    sample: np.ndarray = field(default=None, repr=False)
    target: np.ndarray = field(default=None, repr=False)
    pred_before: np.ndarray = field(default=None, repr=False)
    pred_after: np.ndarray = field(default=None, repr=False)
    model: torch.nn.Module = field(default=None, repr=False, compare=False)

    @property
    def net(self) -> int:
        return self.fixed - self.broken

    @property
    def param_fraction(self) -> float:
        return self.n_params_trained / self.n_params_total

    @property
    def acc_before(self) -> float:
        return 1.0 - self.errors_before / self.n_test

    @property
    def acc_after(self) -> float:
        return 1.0 - self.errors_after / self.n_test

    @property
    def compute_saved(self) -> float:
        """1 - (fine-tune steps x trained fraction) / full-training steps (NaN if unknown)."""
        if not self.full_train_steps:
            return float("nan")
        return 1.0 - self.steps * self.param_fraction / self.full_train_steps

    @property
    def steps_saved(self) -> float:
        """1 - fine-tune steps / full-training steps: every step counted as a full one."""
        if not self.full_train_steps:
            return float("nan")
        return 1.0 - self.steps / self.full_train_steps

    @property
    def total_time(self) -> float:
        """What the user waited for: diagnosis (choosing the groups) plus fine-tune, in s."""
        return self.diagnosis_time + self.wall_time

    @property
    def time_saved(self) -> float:
        """1 - (diagnosis + fine-tune wall time) / full-training wall time (NaN if unknown)."""
        if not self.full_train_time:
            return float("nan")
        return 1.0 - self.total_time / self.full_train_time

    def to_dataset(self) -> xr.Dataset:
        """Per-test-example predictions (dim ``sample``) with every number in ``attrs``."""
        status = np.full(len(self.target), "unchanged", dtype="<U9")
        before_ok = self.pred_before == self.target
        after_ok = self.pred_after == self.target
        status[~before_ok & after_ok] = "fixed"
        status[before_ok & ~after_ok] = "broken"
        attrs = {k: getattr(self, k) for k in (
            "level", "fixed", "broken", "net", "n_test", "errors_before", "errors_after",
            "n_params_trained", "n_params_total", "param_fraction", "steps", "epochs", "lr",
            "momentum", "momentum_clipped", "wall_time", "compute_saved", "steps_saved",
            "time_saved", "acc_before", "acc_after", "seed", "diagnosis_time", "total_time")}
        attrs["groups"] = ",".join(self.groups)
        attrs["momentum_clipped"] = int(self.momentum_clipped)
        attrs = {k: (float(v) if isinstance(v, float) else v) for k, v in attrs.items()}
        return xr.Dataset(
            {"target": (SAMPLE, self.target, {"long_name": "true label"}),
             "pred_before": (SAMPLE, self.pred_before, {"long_name": "prediction before"}),
             "pred_after": (SAMPLE, self.pred_after, {"long_name": "prediction after"}),
             "status": (SAMPLE, status, {"long_name": "fixed / broken / unchanged"})},
            coords={SAMPLE: self.sample}, attrs=attrs)

    def __str__(self) -> str:
        def pct(v):
            return "n/a" if not math.isfinite(v) else f"{100 * v:.1f}%"
        clip = " (clipped)" if self.momentum_clipped else ""
        rows = [
            f"surgical fix ({self.level} level) of {', '.join(self.groups)}",
            f"  errors fixed (wrong -> right)  {self.fixed}",
            f"  errors broken (right -> wrong) {self.broken}",
            f"  net                            {self.net:+d}",
            f"  test accuracy                  {100 * self.acc_before:.2f}% -> "
            f"{100 * self.acc_after:.2f}%  (n={self.n_test})",
            f"  parameters trained             {self.n_params_trained} of "
            f"{self.n_params_total} ({pct(self.param_fraction)})",
            f"  steps                          {self.steps} ({self.epochs} epochs, "
            f"lr {self.lr:g}, momentum {self.momentum:.3f}{clip})",
            f"  compute saved (param-grad)     {pct(self.compute_saved)}",
            f"  steps saved                    {pct(self.steps_saved)}",
            f"  wall time                      {self.total_time:.1f} s (diagnosis "
            f"{self.diagnosis_time:.1f} s + fine-tune {self.wall_time:.1f} s)",
        ]  # time saved: the whole press's (FixResult.time_line), not one level's loop
        return "\n".join(rows)


def _gradient_mask(model, x, y, k, batch_size, device, forward=None):
    """Boolean masks selecting the k parameters with the largest |gradient| on (x, y)."""
    params = [p for p in model.parameters() if p.requires_grad]
    acc = [torch.zeros_like(p) for p in params]
    n = n_samples(x)
    for i in range(0, n, batch_size):
        out = logits(model, x[i:i + batch_size].to(device), forward)
        loss = F.cross_entropy(out, y[i:i + batch_size].to(device), reduction="sum") / n
        for a, g in zip(acc, torch.autograd.grad(loss, params, allow_unused=True), strict=True):
            if g is not None:
                a += g
    flat = torch.cat([a.abs().flatten() for a in acc])
    chosen = torch.zeros_like(flat, dtype=torch.bool)
    chosen[torch.topk(flat, k).indices] = True
    masks, start = [], 0
    for p in params:
        masks.append(chosen[start:start + p.numel()].view_as(p))
        start += p.numel()
    return params, masks


def surgical_fix(model, data, *, groups, test_data, epochs=1, lr=0.01, level="layer",
                 batch_size=128, seed=0, progress=True, full_train_steps=None,
                 full_train_time=None, momentum_max=0.99, max_steps=None, device=None,
                 forward=None):
    r"""Fine-tune a copy of ``model``, training only ``groups``, and report what changed.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model (any classifier: logits read by
        :func:`workbench.batches.output_tensor`). It is never modified (a deep copy is
        fine-tuned).
    data : (x, y) tensors or ImageDataset
        The fine-tuning set (usually the training set the model was trained on). Inputs are
        images, integer token ids, or a dict of tensors sharing the sample dim
        (``model(**x)``); batches index every tensor of the dict.
    groups : list of str, or mapping
        Groups to train: names of the model's groups (e.g. the ``problematic`` ones of
        :func:`workbench.probes.attribution.misclassified_attribution`), or a mapping name
        → module/parameter prefixes (a subset of ``Run.groups``).
    test_data : (x, y) tensors or ImageDataset
        Where errors fixed and broken are counted.
    epochs : int
        Passes over ``data``.
    lr : float
        Learning rate (constant). Momentum is the physics value :math:`1 - 2\sqrt{lr}`
        clipped to [0, ``momentum_max``]; ``lr > 0.25`` warns and gives plain SGD.
    level : {"layer", "parameter"}
        ``"layer"``: train every parameter of ``groups``. ``"parameter"``: train the same
        NUMBER of individual parameters, the ones with the largest gradient magnitude of the
        mean loss on the misclassified examples of ``data``, across all groups (a gradient
        mask), for the paper's side-by-side comparison.
    batch_size, seed : int
        Mini-batch size; seed of the shuffling and of dropout.
    progress : bool
        Show a ``tqdm.auto`` progress bar.
    full_train_steps, full_train_time : int, float, optional
        Optimizer steps and wall time (s) of the original full training, for the savings.
    momentum_max : float
        Upper clip of the momentum.
    max_steps : int, optional
        Stop after this many steps (for quick checks).
    device : optional
        Default: the model's device.
    forward : callable, optional
        ``forward(model, x) -> output`` (see :func:`workbench.batches.call`).

    Returns
    -------
    SurgicalReport
        Counts and costs (``str(report)`` is a readable table, ``report.to_dataset()`` an
        ``xarray.Dataset`` over ``sample``); ``report.model`` is the fine-tuned copy.

    Raises
    ------
    ValueError
        Unknown group (lists the model's groups), unknown level, ``lr <= 0``, or (parameter
        level) no misclassified example in ``data`` to rank gradients on.

    Notes
    -----
    **Freezing.** Parameters outside the trained set get ``requires_grad=False`` and stay
    bit-identical. BatchNorm running statistics of frozen modules are frozen too: the copy
    is put in eval mode and only the trained groups' modules (each module a group's prefixes
    name) are switched to train mode (at
    the parameter level every module stays in eval mode, since no whole module is trained).
    The returned model has ``requires_grad`` restored and is in eval mode.

    **Momentum.** SGD with :math:`\mu = \mathrm{clip}(1 - 2\sqrt{\alpha}, 0, \mu_{max})`
    (critical damping at unit curvature, see :mod:`workbench.diagnostics.damping`).

    **Compute saved.** Counted work, parameter-gradient model (the paper's accounting):
    ``compute_saved = 1 - steps_fix * f / steps_full`` with ``f`` the fraction of parameters
    trained (each full-training step costs 1, a fine-tune step costs ``f``). This ignores
    that the forward pass and most of the backward pass still run through the whole
    network, so we also report ``steps_saved = 1 - steps_fix / steps_full`` (every step
    counted as a full one, a lower bound on the saving for the same batch size) and the
    measured ``time_saved = 1 - (diagnosis_time + wall_time) / time_full`` of this level
    alone (against the original run's recorded wall time, which includes its recording
    overhead). What a user waits for, every level with its loading and counting, is
    :attr:`workbench.finetune.FixResult.time_saved`, the one the Fix button and
    ``workbench fix`` state.

    Examples
    --------
    >>> from workbench.models import build_model
    >>> m = build_model("mlp", depth=1, width=8, image_size=4)
    >>> x, y = torch.randn(64, 1, 4, 4), torch.randint(0, 10, (64,))
    >>> r = surgical_fix(m, (x, y), groups=["head"], test_data=(x, y), progress=False)
    >>> r.to_dataset()["status"].dims
    ('sample',)
    """
    choice(level, LEVELS, "level")
    if not lr > 0:
        raise ValueError(f"surgical_fix() needs lr > 0; got {lr}")
    if not groups:
        raise ValueError("surgical_fix() needs at least one group to train; this model's "
                         f"groups are: {', '.join(resolve_groups(model))}")
    spec = resolve_groups(model, groups)  # validates names before any work
    groups = tuple(spec)
    mu, clipped = physics_momentum(lr, momentum_max=momentum_max)
    if clipped and lr > 0.25:
        warnings.warn(f"lr={lr} > 0.25 makes the physics momentum 1 - 2*sqrt(lr) = "
                      f"{1 - 2 * math.sqrt(lr):.3f} negative; clipped to {mu} (plain SGD)",
                      stacklevel=2)
    x, y, _ = as_tensors(data)
    xt, yt, t_index = as_tensors(test_data)
    n = n_samples(x)
    if device is None:
        device = next(model.parameters()).device

    fixed_model = copy.deepcopy(model)
    requires = [p.requires_grad for p in fixed_model.parameters()]
    n_total = count_parameters(model)
    fixed_model.eval()
    if level == "layer":
        trained = {id(p) for ps in group_parameters(fixed_model, spec).values() for p in ps}
        for p in fixed_model.parameters():
            p.requires_grad_(id(p) in trained)
        modules = dict(unwrap(fixed_model).named_modules())
        for prefix in {p for prefixes in spec.values() for p in prefixes}:
            if prefix in modules:
                modules[prefix].train()
        params = [p for p in fixed_model.parameters() if p.requires_grad]
        masks = None
        n_trained = sum(p.numel() for p in params)
    else:
        k = sum(p.numel() for ps in group_parameters(model, spec).values() for p in ps)
        pred, _ = _predict(fixed_model, x, y, batch_size, device, forward)
        wrong = pred != y
        if not wrong.any():
            raise ValueError("level='parameter' ranks gradients on the misclassified "
                             f"examples of data, but the model is right on all {len(y)}")
        params, masks = _gradient_mask(fixed_model, x[wrong], y[wrong], k, batch_size,
                                       device, forward)
        keep = [bool(m.any()) for m in masks]
        params = [p for p, kp in zip(params, keep, strict=True) if kp]
        masks = [m for m, kp in zip(masks, keep, strict=True) if kp]
        live = {id(p) for p in params}
        for p in fixed_model.parameters():
            p.requires_grad_(id(p) in live)
        n_trained = int(sum(int(m.sum()) for m in masks))

    opt = torch.optim.SGD(params, lr=lr, momentum=mu)
    n_batches = math.ceil(n / batch_size)
    total = epochs * n_batches if max_steps is None else min(max_steps, epochs * n_batches)
    gen = torch.Generator().manual_seed(seed)
    steps = 0
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]), tqdm(total=total, disable=not progress,
                                                  desc=f"surgical fix ({level})") as bar:
        torch.manual_seed(seed)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, batch_size):
                if steps >= total:
                    break
                idx = perm[i:i + batch_size]
                out = logits(fixed_model, x[idx].to(device), forward)
                loss = F.cross_entropy(out, y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if masks is not None:
                    for p, m in zip(params, masks, strict=True):
                        p.grad.mul_(m)
                opt.step()
                steps += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    wall = time.perf_counter() - start
    for p, r in zip(fixed_model.parameters(), requires, strict=True):
        p.requires_grad_(r)
    fixed_model.eval()

    was_training = model.training
    model.eval()
    try:
        before, _ = _predict(model, xt, yt, batch_size, device, forward)
    finally:
        model.train(was_training)
    after, _ = _predict(fixed_model, xt, yt, batch_size, device, forward)
    ok_b, ok_a = before == yt, after == yt
    return SurgicalReport(
        level=level, groups=groups, fixed=int((~ok_b & ok_a).sum()),
        broken=int((ok_b & ~ok_a).sum()), n_test=len(yt), errors_before=int((~ok_b).sum()),
        errors_after=int((~ok_a).sum()), n_params_trained=n_trained, n_params_total=n_total,
        steps=steps, epochs=epochs, lr=lr, momentum=mu, momentum_clipped=clipped,
        wall_time=wall, full_train_steps=full_train_steps, full_train_time=full_train_time,
        seed=seed, sample=t_index, target=yt.numpy(), pred_before=before.numpy(),
        pred_after=after.numpy(), model=fixed_model)
