"""Optimizers, learning-rate schedules and momentum schedules.

Every schedule is a plain callable ``step -> float`` (the global optimizer step, from 0), so
any function of the step plugs into the training loop.

Momentum schedules (``--momentum``):

============== ===========================================================================
spec           meaning
============== ===========================================================================
constant:0.9   constant momentum (any value in [0, 1))
nesterov:0.9   constant momentum with Nesterov's look-ahead
physics        critical damping mu(t) = 1 - 2 sqrt(lr(t)) (Pasichnyk 2026), clipped to
               [0, 0.99]; the steps where it clipped are recorded (``clipped``)
hybrid         physics for the first half of the steps, then constant 0.9 (see :class:`Hybrid`)
onecycle       one-cycle momentum (Smith 2018): 0.95 down to 0.85 over the first 30% of the
               steps while the learning rate warms up, then back up to 0.95 (cosine)
============== ===========================================================================
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from .config import OPTIMIZERS
from .dims import choice

LR_SCHEDULES = ("constant", "cosine", "step", "onecycle")
MOMENTUM_SCHEDULES = ("constant", "nesterov", "physics", "hybrid", "onecycle")


@dataclass(frozen=True)
class LRSchedule:
    """Learning rate as a function of the step.

    ``constant``: lr. ``cosine``: lr·(1 + cos(pi·t/T))/2. ``step``: lr·0.1^(floor(3t/T))
    (divided by 10 at one and two thirds of training). ``onecycle``: cosine warm-up from lr/25
    to lr over the first 30% of steps, then cosine annealing to lr/1e4 (Smith 2018).
    """

    kind: str
    lr: float
    total_steps: int

    def __call__(self, step: int) -> float:
        t, T = min(step, self.total_steps), max(self.total_steps, 1)
        if self.kind == "constant":
            return self.lr
        if self.kind == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * t / T))
        if self.kind == "step":
            return self.lr * 0.1 ** min(int(3 * t / T), 2)
        warm = 0.3 * T
        if t < warm:
            return _cos_interp(self.lr / 25, self.lr, t / warm)
        return _cos_interp(self.lr, self.lr / 1e4, (t - warm) / max(T - warm, 1))


def _cos_interp(a: float, b: float, frac: float) -> float:
    return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * min(max(frac, 0.0), 1.0)))


def make_lr_schedule(kind: str, lr: float, total_steps: int) -> LRSchedule:
    """Build a learning-rate schedule by name (one of :data:`LR_SCHEDULES`)."""
    choice(kind, LR_SCHEDULES, "learning-rate schedule")
    if not lr > 0:
        raise ValueError(f"learning rate must be positive; got {lr}")
    return LRSchedule(kind, float(lr), int(total_steps))


@dataclass(frozen=True)
class Constant:
    """Constant momentum ``value``; ``nesterov`` flags Nesterov's variant."""

    value: float = 0.9
    nesterov: bool = False

    def __call__(self, step: int) -> float:
        return self.value

    def clipped(self, step: int) -> bool:
        return False


@dataclass(frozen=True)
class Physics:
    """Critical-damping momentum mu(t) = 1 - 2 sqrt(lr(t)), clipped to [0, mu_max].

    Notes
    -----
    Heavy-ball on a quadratic of curvature lambda is critically damped at
    mu_c = (1 - sqrt(lr·lambda))² = 1 - 2 sqrt(lr·lambda) + lr·lambda; Pasichnyk (2026) takes
    the first-order form with lambda = 1. For lr > 0.25 the formula is negative and the
    schedule clips to 0 (plain SGD); ``clipped(step)`` tells when.
    """

    lr: LRSchedule
    mu_max: float = 0.99
    nesterov: bool = False

    def raw(self, step: int) -> float:
        return 1.0 - 2.0 * math.sqrt(self.lr(step))

    def __call__(self, step: int) -> float:
        return min(max(self.raw(step), 0.0), self.mu_max)

    def clipped(self, step: int) -> bool:
        r = self.raw(step)
        return r < 0.0 or r > self.mu_max


@dataclass(frozen=True)
class Hybrid:
    """Physics momentum, then constant ``after`` (0.9) from step ``switch_step`` on.

    The switch rule is fixed, not tuned per run: half of the planned optimizer steps
    (``switch_step = total_steps // 2``). Early on, critical damping moves fast without
    overshoot; later the larger constant momentum averages gradient noise for refinement.
    """

    physics: Physics
    switch_step: int
    after: float = 0.9
    nesterov: bool = False

    def __call__(self, step: int) -> float:
        return self.physics(step) if step < self.switch_step else self.after

    def clipped(self, step: int) -> bool:
        return step < self.switch_step and self.physics.clipped(step)


@dataclass(frozen=True)
class OneCycle:
    """One-cycle momentum (Smith 2018): ``high`` to ``low`` over the first 30% of the steps,
    then back to ``high`` by the end, both with cosine interpolation."""

    total_steps: int
    high: float = 0.95
    low: float = 0.85
    nesterov: bool = False

    def __call__(self, step: int) -> float:
        warm = 0.3 * max(self.total_steps, 1)
        if step < warm:
            return _cos_interp(self.high, self.low, step / warm)
        return _cos_interp(self.low, self.high, (step - warm) / max(self.total_steps - warm, 1))

    def clipped(self, step: int) -> bool:
        return False


def make_momentum(spec: str, lr: LRSchedule, total_steps: int):
    """Build a momentum schedule from a spec such as ``"constant:0.9"`` or ``"physics"``.

    Examples
    --------
    >>> lr = make_lr_schedule("constant", 0.01, 100)
    >>> round(make_momentum("physics", lr, 100)(0), 3)
    0.8
    >>> make_momentum("hybrid", lr, 100)(60)
    0.9
    """
    name, _, arg = spec.partition(":")
    choice(name, MOMENTUM_SCHEDULES, "momentum schedule")
    if name in ("constant", "nesterov"):
        try:
            value = float(arg) if arg else 0.9
        except ValueError:
            raise ValueError(f"momentum spec {spec!r}: expected a number after ':', "
                             f"e.g. '{name}:0.9'; found {arg!r}") from None
        if not 0.0 <= value < 1.0:
            raise ValueError(f"momentum must be in [0, 1); got {value} in {spec!r}")
        return Constant(value, nesterov=name == "nesterov")
    if name in ("physics", "hybrid"):
        if lr(0) > 0.25:
            warnings.warn(f"the physics momentum 1 - 2*sqrt(lr) is negative for lr > 0.25 "
                          f"(lr = {lr(0):g} gives {1 - 2 * math.sqrt(lr(0)):.3f}); it is clipped "
                          f"to 0, i.e. plain SGD, while lr > 0.25. The clipped steps are "
                          f"recorded in /steps/momentum_clipped.", stacklevel=2)
        phys = Physics(lr)
        return phys if name == "physics" else Hybrid(phys, switch_step=total_steps // 2)
    return OneCycle(total_steps)


def build_optimizer(name: str, params, *, lr: float, momentum=None, weight_decay: float = 0.0):
    """SGD (momentum set per step by the schedule) or Adam."""
    choice(name, OPTIMIZERS, "optimizer")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    nesterov = bool(getattr(momentum, "nesterov", False))
    mu0 = momentum(0) if momentum is not None else 0.0
    # Nesterov needs a positive momentum at construction; the schedule sets it each step.
    return torch.optim.SGD(params, lr=lr, momentum=mu0 if not nesterov else max(mu0, 1e-8),
                           nesterov=nesterov, weight_decay=weight_decay)


def set_hyperparameters(optimizer, lr: float, momentum: float | None) -> None:
    """Set this step's learning rate (and SGD momentum) on every parameter group."""
    for g in optimizer.param_groups:
        g["lr"] = lr
        if momentum is not None and "momentum" in g:
            g["momentum"] = momentum
