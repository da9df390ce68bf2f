"""Momentum as a damped oscillator: critical momentum, damping ratio and damping regime.

Pure functions (no torch). Scalars in -> scalars out (a Python ``str`` for the regime),
numpy in -> numpy out, DataArray in -> DataArray out (dask-backed arrays stay lazy).

Source: Pasichnyk 2026, "Beta-Scheduling" (arXiv:2603.28921), after Qian 1999. The paper
uses a curvature of 1 for the whole network; the ``curvature`` keyword lets you pass an
effective per-layer curvature (see :func:`workbench.probes.curvature.layer_curvature`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import EPOCH, LAYER, STEP, DimsError, require

REGIMES = ("underdamped", "critical", "overdamped")
UNDEFINED = "undefined"
TOL = 0.05
_STR = np.dtype("<U11")

__all__ = ["critical_momentum", "damping_ratio", "damping_regime", "update_cos_summary",
           "epoch_regime", "layer_damping", "REGIMES", "TOL"]


# ----------------------------------------------------------------------------- helpers
def _dispatch(core, *args, dtype=float):
    """Apply a numpy ``core`` to scalars, arrays or DataArrays, keeping the input's kind."""
    if any(isinstance(a, xr.DataArray) for a in args):
        return xr.apply_ufunc(core, *args, dask="parallelized", output_dtypes=[dtype])
    out = core(*[np.asarray(a, dtype=float) for a in args])
    if all(np.ndim(a) == 0 and not isinstance(a, np.ndarray) for a in args):
        return out.item()
    return out


def _critical_np(lr, lam, exact):
    with np.errstate(invalid="ignore"):
        s = np.sqrt(lr * lam)
    return (1.0 - s) ** 2 if exact else 1.0 - 2.0 * s


def _zeta_np(lr, mu, lam, exact):
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sqrt(lr * lam)
        denom = 2.0 * s - s * s if exact else 2.0 * s
        zeta = (1.0 - mu) / denom
    if exact:
        zeta = np.where(s >= 1.0, np.nan, zeta)
    return zeta


def _regime_np(lr, mu, lam, tol, exact):
    zeta = _zeta_np(lr, mu, lam, exact)
    out = np.full(np.shape(zeta), UNDEFINED, dtype=_STR)
    out[zeta < 1.0 - tol] = "underdamped"
    out[np.abs(zeta - 1.0) <= tol] = "critical"
    out[zeta > 1.0 + tol] = "overdamped"
    if exact:
        with np.errstate(invalid="ignore"):
            out[np.broadcast_to(np.sqrt(lr * lam) >= 1.0, out.shape)] = "underdamped"
    return out


# ----------------------------------------------------------------------------- public
def critical_momentum(lr, *, curvature=1.0, exact=False):
    r"""Momentum that critically damps heavy-ball SGD on a quadratic of given curvature.

    Parameters
    ----------
    lr : float, numpy array or xarray.DataArray
        Learning rate :math:`\alpha`.
    curvature : float, array or DataArray
        Curvature :math:`\lambda` of the quadratic (1 in the paper).
    exact : bool
        False (default): the paper's first-order form :math:`1 - 2\sqrt{\alpha\lambda}`.
        True: the exact double-root momentum :math:`(1 - \sqrt{\alpha\lambda})^2`.

    Returns
    -------
    float, numpy array or DataArray
        :math:`\mu_c` (not clipped: negative when :math:`\alpha\lambda > 1/4`).

    Notes
    -----
    Heavy ball on :math:`f(\theta) = \lambda\theta^2/2`: :math:`v \leftarrow \mu v -
    \alpha\lambda\theta`, :math:`\theta \leftarrow \theta + v`, so
    :math:`\theta_{t+1} = (1 + \mu - \alpha\lambda)\theta_t - \mu\theta_{t-1}` with
    characteristic polynomial

    .. math:: r^2 - (1 + \mu - \alpha\lambda)\,r + \mu = 0 .

    The roots are complex (the iterate oscillates) when :math:`(1 + \mu - \alpha\lambda)^2 <
    4\mu`, i.e. :math:`(1-\sqrt{\alpha\lambda})^2 < \mu < (1+\sqrt{\alpha\lambda})^2`. The
    lower edge is the exact critical momentum :math:`\mu_c = (1 - \sqrt{\alpha\lambda})^2 =
    1 - 2\sqrt{\alpha\lambda} + \alpha\lambda`, a double root. Dropping the
    :math:`\alpha\lambda` term gives the paper's schedule :math:`\mu = 1 - 2\sqrt{\alpha}`
    (:math:`\lambda = 1`).

    Examples
    --------
    >>> critical_momentum(0.01)
    0.8
    >>> round(critical_momentum(0.01, exact=True), 6)
    0.81
    """
    return _dispatch(lambda a, c: _critical_np(a, c, exact), lr, curvature)


def damping_ratio(lr, momentum, *, curvature=1.0, exact=False):
    r"""Damping ratio :math:`\zeta = (1 - \mu) / (2\sqrt{\alpha\lambda})`.

    Parameters
    ----------
    lr, momentum : float, numpy array or xarray.DataArray
        Learning rate :math:`\alpha` and momentum :math:`\mu` (broadcast together).
    curvature : float, array or DataArray
        Curvature :math:`\lambda` (1 in the paper). Non-positive curvature gives NaN.
    exact : bool
        True: normalise by the exact critical momentum instead,
        :math:`\zeta = (1-\mu)/(1-\mu_c) = (1-\mu)/(2\sqrt{\alpha\lambda} - \alpha\lambda)`,
        so :math:`\zeta = 1` exactly at the double root; NaN where :math:`\alpha\lambda \ge 1`
        (there every momentum oscillates: the step alone overshoots).

    Returns
    -------
    float, numpy array or DataArray
        :math:`\zeta`; :math:`\zeta < 1` under-damped, :math:`= 1` critical, :math:`> 1`
        over-damped. ``inf`` for a zero learning rate.

    Notes
    -----
    Heavy ball on :math:`\lambda\theta^2/2` rewritten with differences is
    :math:`(\theta_{t+1} - 2\theta_t + \theta_{t-1}) + (1-\mu)(\theta_t - \theta_{t-1}) +
    \alpha\lambda\theta_t = 0`, the discrete form of :math:`\ddot\theta + 2\zeta\omega
    \dot\theta + \omega^2\theta = 0` with unit time step, friction :math:`2\zeta\omega =
    1-\mu` and natural frequency :math:`\omega = \sqrt{\alpha\lambda}`, so
    :math:`\zeta = (1-\mu)/(2\sqrt{\alpha\lambda}) = (1-\mu)/(1-\mu_c)`
    with the first-order :math:`\mu_c` of :func:`critical_momentum`. Because the first-order
    :math:`\mu_c` is below the exact one by :math:`\alpha\lambda`, momenta with
    :math:`1 - \sqrt{\alpha\lambda}/2 < \zeta < 1` are called under-damped although the
    heavy ball does not oscillate there; use ``exact=True`` to remove that gap.

    Examples
    --------
    >>> round(damping_ratio(0.01, 0.9), 6)
    0.5
    >>> import xarray as xr
    >>> damping_ratio(xr.DataArray([0.01, 0.04], dims="epoch"), 0.8).dims
    ('epoch',)
    """
    return _dispatch(lambda a, m, c: _zeta_np(a, m, c, exact), lr, momentum, curvature)


def damping_regime(lr, momentum, *, curvature=1.0, tol=TOL, exact=False):
    r"""Name the damping regime: ``"underdamped"``, ``"critical"`` or ``"overdamped"``.

    Parameters
    ----------
    lr, momentum : float, numpy array or xarray.DataArray
        Learning rate and momentum.
    curvature : float, array or DataArray
        Curvature :math:`\lambda` (1 in the paper).
    tol : float
        Half-width of the critical band: :math:`|\zeta - 1| \le` ``tol`` is ``"critical"``
        (default 0.05, i.e. within 5% of critical damping).
    exact : bool
        Use the exact damping ratio (see :func:`damping_ratio`); with it, every
        :math:`\alpha\lambda \ge 1` is ``"underdamped"`` (the iterate flips sign).

    Returns
    -------
    str, numpy array of str or DataArray of str
        The regime; ``"undefined"`` where :math:`\zeta` is NaN (non-positive curvature,
        missing values).

    Notes
    -----
    :math:`\zeta < 1 - tol` under-damped (oscillates, overshoots), :math:`|\zeta-1|\le tol`
    critical (fastest without overshoot), :math:`\zeta > 1 + tol` over-damped (creeps).
    For :math:`\mu \ge 0` an over-damped call always means real positive roots of
    :math:`r^2 - (1+\mu-\alpha\lambda)r + \mu`, so no oscillation.

    Examples
    --------
    >>> damping_regime(0.01, 0.9)
    'underdamped'
    >>> damping_regime(0.01, 0.8)
    'critical'
    >>> damping_regime(0.01, 0.0)
    'overdamped'
    """
    return _dispatch(lambda a, m, c: _regime_np(a, m, c, tol, exact), lr, momentum, curvature,
                     dtype=_STR)


def update_cos_summary(update_cos, *, dim=STEP, by=EPOCH):
    r"""Summarise the per-step oscillation signal :math:`\cos(\Delta\theta_t,\Delta\theta_{t-1})`.

    Parameters
    ----------
    update_cos : xarray.DataArray
        Cosine between consecutive updates, with dim ``dim`` (e.g. ``(step, layer)``) and a
        coordinate ``by`` along ``dim`` (e.g. ``epoch(step)``). NaN (the first step) ignored.
    dim : str
        The time dim reduced.
    by : str
        The coordinate to group by.

    Returns
    -------
    xarray.Dataset
        Dims ``(by, <other dims>)``: ``mean`` (mean cosine) and ``frac_negative`` (fraction of
        non-NaN steps with a negative cosine).

    Notes
    -----
    Persistently negative cosine (``frac_negative`` > 0.5, ``mean`` < 0) means the layer
    rattles back and forth (under-damped); ``mean`` near +1 means it creeps (over-damped).
    Needs no curvature estimate.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> c = xr.DataArray(np.ones((4, 2)), dims=("step", "layer"),
    ...                  coords={"epoch": ("step", [0, 0, 1, 1])})
    >>> update_cos_summary(c)["mean"].dims
    ('epoch', 'layer')
    """
    require(update_cos, "update_cos_summary", [dim], name="update_cos")
    if by not in update_cos.coords or update_cos[by].dims != (dim,):
        raise ValueError(f"update_cos_summary() needs a coordinate {by!r} along {dim!r} "
                         f"(e.g. epoch(step)); got coords {list(update_cos.coords)}")
    update_cos = update_cos.assign_coords({by: update_cos[by].compute()})  # small; eager
    valid = update_cos.notnull()
    neg = (update_cos < 0).where(valid)
    mean = update_cos.groupby(by).mean(dim)
    frac = neg.groupby(by).mean(dim)
    mean.attrs = {"long_name": "mean cosine between consecutive updates", "units": "1"}
    frac.attrs = {"long_name": "fraction of steps with negative update cosine", "units": "1"}
    return xr.Dataset({"mean": mean, "frac_negative": frac})


def epoch_regime(steps_ds, *, curvature=1.0, tol=TOL, exact=False):
    r"""A run's damping regime per epoch from its recorded learning rate and momentum.

    Parameters
    ----------
    steps_ds : xarray.Dataset
        The run's ``/steps`` group: dim ``step``, variables ``lr`` and ``momentum``,
        coordinate ``epoch(step)``.
    curvature, tol, exact
        As in :func:`damping_regime`.

    Returns
    -------
    xarray.Dataset
        Dim ``epoch``: ``lr`` and ``momentum`` (epoch means), ``damping_ratio`` and
        ``regime`` from those means, and ``frac_underdamped`` (fraction of the epoch's steps
        whose own regime is under-damped, which shows a regime change inside an epoch).

    Notes
    -----
    The epoch's :math:`(\alpha, \mu)` is the mean over its steps; with a per-step schedule
    ``frac_underdamped`` tells how representative that mean is.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.Dataset({"lr": ("step", [0.01] * 4), "momentum": ("step", [0.9, 0.9, 0.8, 0.8])},
    ...                coords={"epoch": ("step", [0, 0, 1, 1])})
    >>> epoch_regime(s)["regime"].values.tolist()
    ['underdamped', 'critical']
    """
    for v in ("lr", "momentum"):
        if v not in steps_ds:
            raise ValueError(f"epoch_regime() needs variables 'lr' and 'momentum' (the /steps "
                             f"group); got {list(steps_ds.data_vars)}")
        require(steps_ds[v], "epoch_regime", [STEP], name=v)
    if EPOCH not in steps_ds.coords:
        raise ValueError("epoch_regime() needs a coordinate 'epoch(step)'; got coords "
                         f"{list(steps_ds.coords)}")
    steps_ds = steps_ds.assign_coords({EPOCH: steps_ds[EPOCH].compute()})  # small; eager
    lr, mu = steps_ds["lr"], steps_ds["momentum"]
    per_step = damping_regime(lr, mu, curvature=curvature, tol=tol, exact=exact)
    under = (per_step == "underdamped").astype(float).where(lr.notnull() & mu.notnull())
    lr_e = lr.groupby(EPOCH).mean(STEP)
    mu_e = mu.groupby(EPOCH).mean(STEP)
    zeta = damping_ratio(lr_e, mu_e, curvature=curvature, exact=exact)
    regime = damping_regime(lr_e, mu_e, curvature=curvature, tol=tol, exact=exact)
    zeta.attrs = {"long_name": "damping ratio", "units": "1"}
    regime.attrs = {"long_name": "damping regime", "tol": tol}
    frac = under.groupby(EPOCH).mean(STEP)
    frac.attrs = {"long_name": "fraction of under-damped steps", "units": "1"}
    return xr.Dataset({"lr": lr_e, "momentum": mu_e, "damping_ratio": zeta, "regime": regime,
                       "frac_underdamped": frac})


def layer_damping(curvature, lr, momentum, *, tol=TOL, exact=False):
    r"""Per-layer damping from a per-layer curvature estimate.

    Parameters
    ----------
    curvature : xarray.DataArray
        Effective curvature with dims ``(epoch, layer)`` (e.g. the top Hessian eigenvalue of
        each group from :func:`workbench.probes.curvature.layer_curvature`, stacked over
        epochs), or ``(layer,)``.
    lr, momentum : float or xarray.DataArray
        The learning rate and momentum in force (scalars or DataArrays over ``epoch``).
    tol, exact
        As in :func:`damping_regime`.

    Returns
    -------
    xarray.Dataset
        ``curvature``, ``damping_ratio`` and ``regime`` with the dims of ``curvature``.

    Notes
    -----
    :math:`\zeta_l = (1-\mu)/(2\sqrt{\alpha\lambda_l})`: a layer with higher curvature is
    more under-damped at the same :math:`(\alpha, \mu)`. Non-positive curvature (a saddle
    or flat direction) gives NaN and ``"undefined"``.

    Examples
    --------
    >>> import xarray as xr
    >>> lam = xr.DataArray([[1.0, 4.0]], dims=("epoch", "layer"),
    ...                    coords={"layer": ["conv1", "fc"]})
    >>> layer_damping(lam, 0.01, 0.8)["regime"].values.tolist()
    [['critical', 'underdamped']]
    """
    require(curvature, "layer_damping", [LAYER], name="curvature")
    extra = [d for d in curvature.dims if d not in (EPOCH, LAYER)]
    if extra:
        raise DimsError(f"layer_damping() needs curvature with dims ('layer',) or "
                        f"('epoch', 'layer'); got dims {curvature.dims} with sizes "
                        f"{dict(curvature.sizes)} (extra {tuple(extra)})")
    zeta = damping_ratio(lr, momentum, curvature=curvature, exact=exact)
    regime = damping_regime(lr, momentum, curvature=curvature, tol=tol, exact=exact)
    dims = curvature.dims + tuple(d for d in zeta.dims if d not in curvature.dims)
    zeta = zeta.transpose(*dims)
    regime = regime.transpose(*dims)
    zeta.attrs = {"long_name": "per-layer damping ratio", "units": "1"}
    regime.attrs = {"long_name": "per-layer damping regime", "tol": tol}
    curv = curvature.copy()
    curv.attrs = {"long_name": "effective curvature", "units": "loss/param²",
                  **curvature.attrs}
    return xr.Dataset({"curvature": curv, "damping_ratio": zeta, "regime": regime})
