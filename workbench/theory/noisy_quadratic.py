"""Heavy ball on a noisy quadratic: the calibration of the update-cosine signal.

Mini-batch SGD sees the gradient plus noise. On a quadratic with curvatures
:math:`\\lambda_d`, heavy-ball momentum with white gradient noise is a linear stochastic
process whose consecutive updates have a known correlation
(:func:`workbench.diagnostics.damping.expected_update_cos`). This module simulates it, so that
the recorded ``update_cos`` of a run can be read against what each damping regime gives.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import STEP
from .heavy_ball import DIM

__all__ = ["noisy_heavy_ball"]


def noisy_heavy_ball(lr: float, momentum: float, *, curvature=1.0, noise=1.0, start=None,
                     steps: int = 2000, seed: int = 0) -> xr.Dataset:
    r"""Heavy-ball momentum on :math:`\tfrac12\sum_d\lambda_d\theta_d^2` with gradient noise.

    Parameters
    ----------
    lr, momentum : float
        Learning rate :math:`\alpha > 0` and momentum :math:`0 \le \mu < 1`.
    curvature : float or sequence of float
        Curvature :math:`\lambda_d \ge 0` of each coordinate (0: a flat direction).
    noise : float or sequence of float
        Standard deviation :math:`\sigma_d` of the gradient noise per coordinate (white, one
        fresh draw per step, as a new mini-batch gives).
    start : sequence of float, optional
        :math:`\theta_0` (default zeros: the noise alone drives the ball); the velocity
        starts at 0.
    steps : int
        Number of updates.
    seed : int
        Seed of the noise.

    Returns
    -------
    xarray.Dataset
        ``delta`` (step, dim): the update :math:`\Delta\theta_t`; ``grad_norm`` (step): the noisy
        gradient's norm; ``true_grad_norm`` (step): the noise-free gradient's norm;
        ``update_cos`` (step): :math:`\cos(\Delta\theta_t, \Delta\theta_{t-1})` as the
        recorder stores it (NaN at the first step).

    Notes
    -----
    :math:`g_t = \lambda\theta_t + \sigma\xi_t`, :math:`v \leftarrow \mu v - \alpha g_t`,
    :math:`\theta \leftarrow \theta + v` (``torch.optim.SGD`` with momentum). Started at the
    minimum, the mean of ``update_cos`` tends to :math:`\sum_d w_d(\mu - \alpha\lambda_d/2)`
    with weights :math:`w_d \propto \sigma_d^2 / (2 + 2\mu - \alpha\lambda_d)`.

    Examples
    --------
    >>> ds = noisy_heavy_ball(0.01, 0.9, curvature=[10.0, 0.0], steps=100)
    >>> ds.delta.dims, ds.update_cos.dims
    (('step', 'dim'), ('step',))
    """
    lam = np.atleast_1d(np.asarray(curvature, dtype=float))
    sig = np.broadcast_to(np.asarray(noise, dtype=float), lam.shape)
    if lam.ndim != 1 or np.any(~(lam >= 0)) or np.any(~(sig >= 0)):
        raise ValueError(f"noisy_heavy_ball() needs curvatures >= 0 and noise >= 0; got "
                         f"curvature={curvature!r}, noise={noise!r}")
    if not lr > 0 or not 0 <= momentum < 1:
        raise ValueError(f"noisy_heavy_ball() needs lr > 0 and 0 <= momentum < 1; "
                         f"got lr={lr!r}, momentum={momentum!r}")
    theta = np.zeros_like(lam) if start is None else np.asarray(start, dtype=float).copy()
    if theta.shape != lam.shape:
        raise ValueError(f"noisy_heavy_ball() needs one start value per curvature "
                         f"({lam.size}); got {theta.size}")
    rng = np.random.default_rng(seed)
    xi = rng.standard_normal((steps, lam.size)) * sig
    upd = np.empty((steps, lam.size))
    gn, tgn = np.empty(steps), np.empty(steps)
    v = np.zeros_like(lam)
    for t in range(steps):
        true = lam * theta
        g = true + xi[t]
        v = momentum * v - lr * g
        theta = theta + v
        upd[t] = v
        gn[t], tgn[t] = np.linalg.norm(g), np.linalg.norm(true)
    norms = np.linalg.norm(upd, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.full(steps, np.nan)
        cos[1:] = (upd[1:] * upd[:-1]).sum(1) / (norms[1:] * norms[:-1])
    coords = {STEP: np.arange(steps), DIM: np.arange(lam.size)}
    return xr.Dataset({
        "delta": ((STEP, DIM), upd, {"long_name": r"update $\Delta\theta$"}),
        "grad_norm": (STEP, gn, {"long_name": "noisy gradient norm"}),
        "true_grad_norm": (STEP, tgn, {"long_name": "noise-free gradient norm"}),
        "update_cos": (STEP, cos, {"long_name": r"$\cos(\Delta\theta_t, \Delta\theta_{t-1})$"}),
    }, coords=coords, attrs={"lr": float(lr), "momentum": float(momentum)})
