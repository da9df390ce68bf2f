"""Heavy-ball momentum on a quadratic: the toy behind the damping diagnostics.

Goh's "Why Momentum Really Works" (distill.pub 2017) in a few lines of numpy. The damping
ratio and the regime come from :mod:`workbench.diagnostics.damping`, the same functions that
name a recorded run's regime, so the toy and the run speak the same language.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..diagnostics.damping import critical_momentum, damping_ratio, damping_regime
from ..dims import STEP

#: The parameter-space axis of the quadratic (one entry per curvature).
DIM = "dim"
#: The two roots of the characteristic polynomial.
ROOT = "root"

__all__ = ["heavy_ball", "characteristic_roots", "DIM", "ROOT"]


def characteristic_roots(lr, momentum, curvature):
    r"""Roots of :math:`r^2 - (1 + \mu - \alpha\lambda)\,r + \mu = 0`.

    Parameters
    ----------
    lr, momentum : float
        Learning rate :math:`\alpha` and momentum :math:`\mu`.
    curvature : float or array-like
        Curvature(s) :math:`\lambda`.

    Returns
    -------
    numpy.ndarray of complex
        Shape ``(*shape(curvature), 2)``; the root of larger modulus first.

    Notes
    -----
    Heavy ball on :math:`\lambda\theta^2/2` obeys :math:`\theta_{t+1} = (1+\mu-\alpha\lambda)
    \theta_t - \mu\theta_{t-1}`, so :math:`\theta_t = c_1 r_1^t + c_2 r_2^t` (or
    :math:`(c_1 + c_2 t) r^t` at a double root). It converges iff both :math:`|r| < 1`;
    complex roots mean oscillation.

    Examples
    --------
    >>> characteristic_roots(0.01, 0.81, 1.0).round(6).tolist()
    [(0.9+0j), (0.9+0j)]
    """
    lam = np.asarray(curvature, dtype=float)
    b = 1.0 + momentum - lr * lam
    disc = np.sqrt((b * b - 4.0 * momentum).astype(complex))
    r = np.stack([(b + disc) / 2.0, (b - disc) / 2.0], axis=-1)
    swap = np.abs(r[..., 1]) > np.abs(r[..., 0])
    r[swap] = r[swap][:, ::-1]
    return r


def heavy_ball(lr: float, momentum: float, *, curvature=1.0, start=None, steps: int = 100,
               exact: bool = False) -> xr.Dataset:
    r"""Trajectory of heavy-ball momentum on a separable quadratic.

    Parameters
    ----------
    lr, momentum : float
        Learning rate :math:`\alpha > 0` and momentum :math:`0 \le \mu < 1`.
    curvature : float or sequence of float
        Curvature :math:`\lambda_d > 0` of each coordinate of
        :math:`f(\theta) = \tfrac12 \sum_d \lambda_d \theta_d^2` (two values draw an ellipse).
    start : sequence of float, optional
        :math:`\theta_0` (default all ones); the velocity starts at 0.
    steps : int
        Number of updates; the result has ``steps + 1`` points (step 0 is the start).
    exact : bool
        Passed to :func:`~workbench.diagnostics.damping.damping_ratio` and
        :func:`~workbench.diagnostics.damping.damping_regime`.

    Returns
    -------
    xarray.Dataset
        ``theta`` (step, dim), ``loss`` (step), and per ``dim``: ``curvature``,
        ``damping_ratio``, ``regime``, ``critical_momentum`` (the exact double-root momentum
        for that curvature), ``root_real``/``root_imag`` (dim, root) of the characteristic
        polynomial. Attributes: ``lr``, ``momentum``, ``physics_momentum``
        (:math:`1 - 2\sqrt{\alpha}`, the schedule of the paper at :math:`\lambda = 1`) and
        ``diverges`` (1 if a root lies outside the unit circle).

    Notes
    -----
    The update, as ``torch.optim.SGD`` with momentum and no dampening writes it:

    .. math:: v \leftarrow \mu v - \alpha\lambda\theta, \qquad \theta \leftarrow \theta + v.

    Coordinates do not interact, so each follows
    :math:`\theta_{t+1} = (1+\mu-\alpha\lambda_d)\theta_t - \mu\theta_{t-1}` (see
    :func:`characteristic_roots`). Values of a diverging run overflow to ``inf``.

    Examples
    --------
    >>> ds = heavy_ball(0.01, 0.9, curvature=[1.0, 0.1], steps=50)
    >>> ds.theta.dims, ds.regime.values.tolist()
    (('step', 'dim'), ['underdamped', 'overdamped'])
    """
    lam = np.atleast_1d(np.asarray(curvature, dtype=float))
    if lam.ndim != 1 or np.any(~(lam > 0)):
        raise ValueError(f"heavy_ball() needs positive curvature(s); got {curvature!r}")
    if not lr > 0 or not 0 <= momentum < 1:
        raise ValueError(f"heavy_ball() needs lr > 0 and 0 <= momentum < 1; "
                         f"got lr={lr!r}, momentum={momentum!r}")
    theta = np.ones_like(lam) if start is None else np.asarray(start, dtype=float).copy()
    if theta.shape != lam.shape:
        raise ValueError(f"heavy_ball() needs one start value per curvature "
                         f"({lam.size}); got {theta.size}")
    out = np.empty((steps + 1, lam.size))
    out[0] = theta
    v = np.zeros_like(lam)
    step = lr * lam
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            v = momentum * v - step * theta
            theta = theta + v
            out[t] = theta
        loss = 0.5 * (lam * out * out).sum(axis=1)
    roots = characteristic_roots(lr, momentum, lam)
    curv = xr.DataArray(lam, dims=DIM, attrs={"long_name": "curvature", "units": "1"})
    zeta = damping_ratio(lr, momentum, curvature=curv, exact=exact)
    regime = damping_regime(lr, momentum, curvature=curv, exact=exact)
    coords = {STEP: np.arange(steps + 1), DIM: np.arange(lam.size), ROOT: [1, 2]}
    ds = xr.Dataset({
        "theta": ((STEP, DIM), out, {"long_name": "parameter θ"}),
        "loss": (STEP, loss, {"long_name": "loss f(θ)"}),
        "curvature": curv,
        "damping_ratio": zeta.assign_attrs(long_name="damping ratio ζ", units="1"),
        "regime": regime.assign_attrs(long_name="damping regime"),
        "critical_momentum": (DIM, critical_momentum(lr, curvature=lam, exact=True),
                              {"long_name": "double-root momentum (1 − √(αλ))²"}),
        "root_real": ((DIM, ROOT), roots.real),
        "root_imag": ((DIM, ROOT), roots.imag),
    }, coords=coords)
    ds.attrs.update(lr=float(lr), momentum=float(momentum), exact=int(exact),
                    physics_momentum=float(critical_momentum(lr)),
                    diverges=int(np.abs(roots).max() > 1.0))
    return ds
