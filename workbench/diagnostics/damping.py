"""Momentum as a damped oscillator: critical momentum, damping ratio and damping regime.

Pure functions (no torch). Scalars in -> scalars out (a Python ``str`` for the regime),
numpy in -> numpy out, DataArray in -> DataArray out (dask-backed arrays stay lazy).

Source: Pasichnyk 2026, "Beta-Scheduling" (arXiv:2603.28921), after Qian 1999. The paper
uses a curvature of 1 for the whole network; the ``curvature`` keyword lets you pass an
effective per-layer curvature (see :func:`workbench.probes.curvature.layer_curvature`).

:func:`epoch_damping` computes a run's damping quantities; :func:`measured_verdict` (and
:func:`damping_word`) gives THE answer, one word per (epoch, layer) and per epoch from the
measured curvature, that every surface shows. The paper's network-wide verdict (curvature 1)
stays available, labelled as the paper's convention, in second place.
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
           "REGIMES", "TOL", "UNDEFINED"]


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
    A measured quantity, not a regime: under mini-batch noise a heavy ball's mean cosine is
    :math:`\mu - \alpha\lambda/2` per direction in every regime (:func:`expected_update_cos`),
    so it stays near the momentum unless a direction is far into under-damping.

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


# ----------------------------------------------------------------------------- the verdict
def expected_update_cos(lr, momentum, *, curvature=0.0):
    r"""Mean cosine between consecutive updates that a noise-driven heavy ball gives.

    The calibration of the update-cosine signal (``update_cos``): what a direction of
    curvature :math:`\lambda` shows when its gradient is dominated by mini-batch noise.

    Parameters
    ----------
    lr, momentum : float, numpy array or xarray.DataArray
        Learning rate :math:`\alpha` (or the effective step size) and momentum :math:`\mu`.
    curvature : float, array or DataArray
        Curvature :math:`\lambda` of the direction (0: a flat direction).

    Returns
    -------
    float, numpy array or DataArray
        :math:`\rho = \mu - \alpha\lambda/2`; NaN outside the stable range
        :math:`0 \le \alpha\lambda < 2(1+\mu)`.

    Notes
    -----
    Heavy ball with white gradient noise :math:`\xi_t` (variance :math:`\sigma^2`) on
    :math:`\lambda\theta^2/2` is the AR(2) process :math:`\theta_{t+1} = a\theta_t -
    \mu\theta_{t-1} - \alpha\xi_t`, :math:`a = 1 + \mu - h`, :math:`h = \alpha\lambda`.
    Its stationary autocorrelations are :math:`r_1 = a/(1+\mu)`, :math:`r_2 = a r_1 - \mu`
    (Yule-Walker), so the velocity :math:`v_t = \theta_t - \theta_{t-1}` has lag-1
    autocorrelation

    .. math:: \rho = \frac{2r_1 - 1 - r_2}{2(1 - r_1)} = \mu - \frac{h}{2},

    independent of :math:`\sigma`. Its variance :math:`2\alpha^2\sigma^2 / ((1-\mu)(2 + 2\mu
    - h))` hardly depends on :math:`h`, so a layer's mean cosine is the noise-weighted mean of
    :math:`\mu - \alpha\lambda_d/2` over its directions: between :math:`\mu -
    \alpha\lambda_{max}/2` and :math:`\mu`. At critical damping of the stiffest direction
    (:math:`\sqrt{h} = (1-\mu)/2`) it is :math:`\mu - (1-\mu)^2/8`, within 0.002 of
    :math:`\mu` for :math:`\mu \ge 0.9`: **the cosine cannot tell the regimes apart**; it
    turns negative only for :math:`h > 2\mu`, far into under-damping. It is shown as a
    measured quantity beside this expected value, never as a verdict. A gradient signal that
    persists from step to step pulls the cosine toward +1, above :math:`\mu`.

    Measured on a real run (the tests' tiny CNN: 1500 Fashion-MNIST images, batch 32,
    momentum 0.9, cosine lr from 0.05): the mini-batch gradient noise was 0.8 to 1.4 times
    the full-batch gradient at the end of epoch 0 and 4 to 6.5 times at the end of epoch 1,
    per group; the recorded mean cosines (0.85 to 0.93) lay between
    :math:`\mu - \alpha\lambda_{max}/2` (0.61 to 0.89) and :math:`\mu + 0.03`, while the
    curvature called every group under-damped (ζ < 0.4).
    ``tests/diagnostics/test_damping.py`` checks the formula against
    :func:`workbench.theory.noisy_quadratic.noisy_heavy_ball`.

    Examples
    --------
    >>> expected_update_cos(0.01, 0.9, curvature=10.0)
    0.85
    >>> expected_update_cos(0.01, 0.9)
    0.9
    """
    def core(a, m, c):
        h = a * c
        with np.errstate(invalid="ignore"):
            ok = (h >= 0) & (h < 2 * (1 + m))
        return np.where(ok, m - h / 2, np.nan)

    return _dispatch(core, lr, momentum, curvature)


def _classify(zeta, tol):
    """The regime of a damping ratio (the one rule, also inside :func:`damping_regime`)."""
    def core(z):
        out = np.full(np.shape(z), UNDEFINED, dtype=_STR)
        out[z < 1.0 - tol] = "underdamped"
        out[np.abs(z - 1.0) <= tol] = "critical"
        out[z > 1.0 + tol] = "overdamped"
        return out

    return _dispatch(core, zeta, dtype=_STR)


#: What the per-epoch answer is (every surface states it beside the word).
EPOCH_VERDICT = ("from the measured curvature: the stiffest group (the largest top Hessian "
                 "eigenvalue over the groups, each measured on its own block at the epoch's "
                 "checkpoint; a lower bound on the network's top eigenvalue)")
#: What the per-(epoch, layer) answer is.
LAYER_VERDICT = ("from the measured curvature: the top Hessian eigenvalue of the group's block "
                 "at the epoch's checkpoint")
#: The paper's convention, shown second and labelled as such.
PAPER_VERDICT = ("the paper's convention: curvature 1 for the whole network (lr and momentum "
                 "= median over each epoch's steps)")
#: How the update cosine is shown: a measured quantity against its expected value.
COS_READING = ("update cosine (measured, not a verdict): a noise-driven heavy ball gives "
               "mu - lr*lambda/2 per direction, so a layer's mean lies between "
               "mu - lr*lambda_max/2 and mu in every regime; a persistent gradient signal "
               "pulls it toward +1")


def measured_verdict(damping, *, tol=None) -> xr.Dataset:
    r"""THE damping answer: one word per (epoch, layer) and per epoch, from the measured curvature.

    Every surface (the damping view and CompareView, ``workbench diagnose`` and ``report``,
    ``workbench compare`` and the presets' ``REPORT.md``) takes its words from here, through
    :func:`damping_word` or this function.

    Parameters
    ----------
    damping : xarray.Dataset
        :func:`epoch_damping`'s result or ``/analysis/damping``: ``damping_ratio`` and
        ``curvature`` over ``layer`` (any other dims, e.g. ``epoch`` or ``run``, are kept).
    tol : float, optional
        Half-width of the critical band (default: the ``tol`` the regimes were stored with,
        else :data:`TOL`).

    Returns
    -------
    xarray.Dataset
        ``word`` (…, layer): the regime of each group; ``epoch_word`` (…): the regime of the
        stiffest group, ``epoch_damping_ratio`` (its ζ, the smallest over the groups),
        ``epoch_curvature`` (its λ) and ``epoch_layer`` (its name; ``""`` where no group was
        measured). ``"undefined"`` where nothing was measured.

    Notes
    -----
    :math:`\zeta_{e,l} = (1-\bar\mu_e)/(2\sqrt{\bar\alpha_e\lambda_{e,l}})`; the epoch's
    answer is :math:`\min_l \zeta_{e,l}`, which for one learning rate is the regime at
    :math:`\lambda_{max} = \max_l \lambda_{e,l}`: the stiffest direction oscillates first.

    Examples
    --------
    >>> ds = xr.Dataset({"damping_ratio": (("epoch", "layer"), [[0.5, 2.0]]),
    ...                  "curvature": (("epoch", "layer"), [[4.0, 0.25]])},
    ...                 coords={"epoch": [0], "layer": ["a", "b"]})
    >>> v = measured_verdict(ds)
    >>> v["word"].values.tolist(), v["epoch_word"].values.tolist()
    ([['underdamped', 'overdamped']], ['underdamped'])
    """
    for v in ("damping_ratio", "curvature"):
        if v not in damping:
            found = list(damping.data_vars) if isinstance(damping, xr.Dataset) else \
                type(damping).__name__
            raise ValueError(f"measured_verdict() needs 'damping_ratio' and 'curvature' per "
                             f"layer (epoch_damping or /analysis/damping); got {found}")
    require(damping["damping_ratio"], "measured_verdict", [LAYER], name="damping_ratio")
    if tol is None:
        tol = float(damping["regime"].attrs.get("tol", TOL)) if "regime" in damping else TOL
    zeta = damping["damping_ratio"].astype(float).compute()
    word = _classify(zeta, tol)
    finite = zeta.notnull().any(LAYER)
    pos = zeta.fillna(np.inf).argmin(LAYER)
    ez = zeta.isel({LAYER: pos}).drop_vars(LAYER, errors="ignore").where(finite)
    names = damping[LAYER].values.astype(str)
    layer = xr.DataArray(np.where(finite.values, names[pos.values], ""), dims=pos.dims,
                         coords=pos.coords)
    out = xr.Dataset({
        "word": word.assign_attrs(long_name="damping regime", verdict=LAYER_VERDICT,
                                  tol=tol),
        "epoch_word": _classify(ez, tol).assign_attrs(long_name="damping regime of the epoch",
                                                      verdict=EPOCH_VERDICT, tol=tol),
        "epoch_damping_ratio": ez.assign_attrs(
            long_name=r"damping ratio $\zeta$ of the stiffest group", units=""),
        "epoch_curvature": damping["curvature"].astype(float).isel({LAYER: pos})
        .drop_vars(LAYER, errors="ignore").where(finite)
        .assign_attrs(long_name=r"largest group curvature $\lambda_{max}$", units=""),
        "epoch_layer": layer.assign_attrs(long_name="stiffest group"),
    })
    return out


def damping_word(damping, epoch, layer=None) -> str:
    """THE damping word of (epoch, layer), or of the epoch when ``layer`` is None.

    Parameters
    ----------
    damping : xarray.Dataset
        ``/analysis/damping`` of a run (or :func:`epoch_damping`'s result), dims
        ``(epoch, layer)``.
    epoch : int
        An analysed epoch.
    layer : str, optional
        A group; None gives the epoch's word (its stiffest group).

    Returns
    -------
    str
        ``"underdamped"``, ``"critical"``, ``"overdamped"`` or ``"undefined"``.

    Examples
    --------
    >>> ds = xr.Dataset({"damping_ratio": (("epoch", "layer"), [[0.5, 2.0]]),
    ...                  "curvature": (("epoch", "layer"), [[4.0, 0.25]])},
    ...                 coords={"epoch": [3], "layer": ["a", "b"]})
    >>> damping_word(ds, 3, "b"), damping_word(ds, 3)
    ('overdamped', 'underdamped')
    """
    v = measured_verdict(damping)
    have = [int(e) for e in v[EPOCH].values]
    if int(epoch) not in have:
        raise ValueError(f"no damping analysed for epoch {epoch}; analysed epochs: {have}")
    if layer is None:
        return str(v["epoch_word"].sel({EPOCH: int(epoch)}).values)
    layers = [str(n) for n in v[LAYER].values]
    if str(layer) not in layers:
        raise ValueError(f"no layer {layer!r} in the damping analysis; layers: {layers}")
    return str(v["word"].sel({EPOCH: int(epoch), LAYER: str(layer)}).values)


def epoch_lr_momentum(steps, epoch: int | None = None) -> xr.Dataset:
    r"""THE learning rate and momentum of each epoch: the medians over the epoch's steps.

    Every surface that needs "the epoch's lr" (:func:`epoch_damping` and so the damping
    verdict, the ``forces`` analysis and ``workbench forces``, the heavy-ball simulation
    seeded from a run) calls this one function.

    Parameters
    ----------
    steps : xarray.Dataset or DataTree
        The run's ``/steps`` group: ``lr`` (and ``momentum`` when recorded) over ``step``,
        with the coordinate ``epoch(step)``.
    epoch : int, optional
        One epoch (its label): the result has no ``epoch`` dim.

    Returns
    -------
    xarray.Dataset
        Dim ``epoch`` (unless ``epoch`` is given): ``lr`` and, when recorded, ``momentum``,
        :math:`\bar\alpha_e = \mathrm{median}_{s \in e}\,\alpha_s` and
        :math:`\bar\mu_e = \mathrm{median}_{s \in e}\,\mu_s` (NaN steps skipped).

    Notes
    -----
    The median, not the last step: with a cosine schedule the last step's lr is near 0.

    Examples
    --------
    >>> s = xr.Dataset({"lr": ("step", [0.01, 0.03, 0.02, 0.001]),
    ...                 "momentum": ("step", [0.9] * 4)},
    ...                coords={"epoch": ("step", [0, 0, 0, 1])})
    >>> epoch_lr_momentum(s)["lr"].values.tolist()
    [0.02, 0.001]
    >>> float(epoch_lr_momentum(s, 1)["momentum"])
    0.9
    """
    if isinstance(steps, xr.DataTree):
        steps = steps.to_dataset()
    if not isinstance(steps, xr.Dataset) or "lr" not in steps:
        found = list(steps.data_vars) if isinstance(steps, xr.Dataset) else \
            type(steps).__name__
        raise ValueError(f"epoch_lr_momentum() needs the /steps group with a variable 'lr'; "
                         f"got {found}")
    require(steps["lr"], "epoch_lr_momentum", [STEP], name="lr")
    if EPOCH not in steps.coords or steps[EPOCH].dims != (STEP,):
        raise ValueError("epoch_lr_momentum() needs a coordinate 'epoch' along 'step' "
                         f"(epoch(step)); got coords {list(steps.coords)}")
    names = [v for v in ("lr", "momentum") if v in steps]
    # one scalar per step: small, eager (dask has no grouped median)
    sub = steps[names].assign_coords({EPOCH: steps[EPOCH].compute()}).compute()
    if epoch is not None:
        have = sorted({int(e) for e in sub[EPOCH].values})
        if int(epoch) not in have:
            raise ValueError(f"epoch {epoch} has no recorded steps in /steps; got epochs "
                             f"{have}")
        sub = sub.where(sub[EPOCH] == int(epoch), drop=True)
        out = sub.median(STEP).drop_vars(EPOCH, errors="ignore")
    else:
        out = sub.groupby(EPOCH).median(STEP)
    out["lr"].attrs = {"long_name": r"learning rate $\alpha$ (median of the epoch's steps)",
                       "units": ""}
    if "momentum" in out:
        out["momentum"].attrs = {"long_name": r"momentum $\mu$ (median of the epoch's steps)",
                                 "units": ""}
    return out


def effective_step_size(update_norm, grad_norm, momentum, *, dim=STEP):
    r"""The heavy-ball step size that would make each group's updates as large as they were.

    For an Adam-type optimizer the damping picture is an **analogy**: β₁ plays the momentum
    μ, and the step size is what a heavy ball with that momentum would need to take the
    recorded steps.

    Parameters
    ----------
    update_norm, grad_norm : xarray.DataArray
        ``/layers`` ``update_norm`` :math:`\lVert\Delta	heta_t
Vert` and ``grad_norm``
        :math:`\lVert g_t
Vert`, over ``dim`` (and ``layer``), with the ``epoch(step)``
        coord.
    momentum : xarray.DataArray
        μ per step (``/steps`` ``momentum``: Adam's β₁ for a watched Adam run).

    Returns
    -------
    xarray.DataArray
        Dims ``(epoch, layer)``: the median over the epoch's steps of
        :math:`\eta_{\mathrm{eff}} = (1-\mu)\,\lVert\Delta	heta_t
Vert / \lVert g_t
Vert`.

    Notes
    -----
    A heavy ball :math:`v_{t+1} = \mu v_t - \eta g`, :math:`\Delta	heta = v` under a
    constant gradient settles at :math:`\lVert\Delta	heta
Vert = \eta\lVert g
Vert/(1-\mu)`,
    so for plain SGD with momentum :math:`\eta_{\mathrm{eff}} 	o \eta` (the test checks
    this against torch's SGD). For Adam it is the step size the analogy needs per group.
    Steps where the gradient norm is 0 or missing are NaN and left out of the median.

    Examples
    --------
    >>> import xarray as xr
    >>> c = {"epoch": ("step", [0, 0])}
    >>> u = xr.DataArray([[1.0], [1.0]], dims=("step", "layer"), coords=c)
    >>> g = xr.DataArray([[10.0], [10.0]], dims=("step", "layer"), coords=c)
    >>> mu = xr.DataArray([0.9, 0.9], dims="step", coords=c)
    >>> float(effective_step_size(u, g, mu).sel(epoch=0)[0].round(6))
    0.01
    """
    require(update_norm, "effective_step_size", [dim], name="update_norm")
    require(grad_norm, "effective_step_size", [dim], name="grad_norm")
    if EPOCH not in update_norm.coords:
        raise ValueError("effective_step_size() needs the coordinate 'epoch' along 'step'")
    g = grad_norm.where(grad_norm > 0)
    eta = ((1 - momentum) * update_norm / g).compute()
    eta = eta.assign_coords({EPOCH: update_norm[EPOCH].compute()})
    out = eta.groupby(EPOCH).median(dim)
    return out.assign_attrs(long_name=r"effective step size $(1-\mu)\|\Delta\theta\|/\|g\|$",
                            units="", verdict=ANALOGY)


#: How the damping verdict reads an Adam-type run.
ANALOGY = ("heavy-ball analogy for an Adam-type optimizer: beta1 as the momentum, the "
           "effective step size (1 - beta1) |update| / |gradient| per group as the lr")


def epoch_damping(steps, *, curvature=None, update_cos=None, tol=TOL, step_size=None):
    r"""A run's damping quantities: per epoch, per (epoch, layer), and the paper's convention.

    The ``damping`` analysis and notebook 02 call this one function; the words every
    surface shows come from :func:`measured_verdict` on its result.

    Parameters
    ----------
    steps : xarray.Dataset
        The run's ``/steps`` group: ``lr`` and ``momentum`` over ``step``, with the
        coordinate ``epoch(step)``.
    curvature : xarray.DataArray, optional
        Measured curvature :math:`\lambda_l` (top Hessian eigenvalue of each group at the
        epoch's checkpoint), dims ``(epoch, layer)`` or ``(layer,)``.
    update_cos : xarray.DataArray, optional
        ``/layers/update_cos`` over ``(step, layer)`` (it needs the ``epoch(step)`` coord, or
        takes it from ``steps``).
    tol : float
        Half-width of the critical band of :math:`\zeta` (see :func:`damping_regime`).
    step_size : xarray.DataArray, optional
        For an Adam-type optimizer: the effective step size per ``(epoch, layer)``
        (:func:`effective_step_size`) used in place of the lr in the per-layer verdict, which
        is then labelled as the heavy-ball analogy (attr ``verdict``); the SGD formula is
        not applied silently.

    Returns
    -------
    xarray.Dataset
        Dim ``epoch``: ``lr`` and ``momentum`` (median over the epoch's steps, as the steps
        used them), and, second, the paper's convention at :math:`\lambda = 1`:
        ``critical_momentum`` (:math:`1-2\sqrt{\alpha}`), ``network_damping_ratio``,
        ``network_regime``. With ``curvature``, the answer (:func:`measured_verdict`):
        dims ``(epoch, layer)``: ``curvature``, ``damping_ratio``, ``regime``; dim
        ``epoch``: ``epoch_regime``, ``epoch_damping_ratio``, ``epoch_curvature`` and
        ``epoch_layer`` (the stiffest group). With ``update_cos``: ``update_cos_mean``
        (measured) and, with ``curvature``, ``update_cos_expected`` (:func:`expected_update_cos`
        along the group's stiffest direction; :math:`\mu` along flat ones). Each variable has
        ``long_name``, ``units`` and ``verdict`` attrs that name which verdict it is.

    Notes
    -----
    With :math:`\bar\alpha_e, \bar\mu_e` the medians of the epoch's steps,

    .. math:: \zeta_{e,l} = \frac{1-\bar\mu_e}{2\sqrt{\bar\alpha_e\lambda_{e,l}}}, \qquad
              \zeta_e^{paper} = \frac{1-\bar\mu_e}{2\sqrt{\bar\alpha_e}}

    and the regime is under-damped for :math:`\zeta < 1-tol`, critical within the band,
    over-damped above. The median, not the last step: with a cosine schedule the last
    step's lr is near 0, which calls every epoch over-damped. The update cosine is no
    second verdict: a noise-driven heavy ball gives :math:`\mu - \alpha\lambda/2` per
    direction whatever the regime (:func:`expected_update_cos`).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.Dataset({"lr": ("step", [0.01, 0.01, 0.0001, 0.0001]),
    ...                 "momentum": ("step", [0.9] * 4)},
    ...                coords={"epoch": ("step", [0, 0, 1, 1])})
    >>> v = epoch_damping(s)
    >>> v["network_regime"].values.tolist(), v["network_damping_ratio"].values.round(2).tolist()
    (['underdamped', 'overdamped'], [0.5, 5.0])
    >>> lam = xr.DataArray([[4.0], [0.25]], dims=("epoch", "layer"), coords={"layer": ["fc"]})
    >>> epoch_damping(s, curvature=lam)["regime"].dims
    ('epoch', 'layer')
    """
    # 1. validate
    for v in ("lr", "momentum"):
        if v not in steps:
            raise ValueError(f"epoch_damping() needs variables 'lr' and 'momentum' (the /steps "
                             f"group); got {list(steps.data_vars)}")
        require(steps[v], "epoch_damping", [STEP], name=v)
    if EPOCH not in steps.coords or steps[EPOCH].dims != (STEP,):
        raise ValueError("epoch_damping() needs a coordinate 'epoch' along 'step' (epoch(step)); "
                         f"got coords {list(steps.coords)}")
    steps = steps.assign_coords({EPOCH: steps[EPOCH].compute()})  # small; eager
    # 2. the epoch's lr and momentum as the steps used them, and the paper's verdict
    out = epoch_lr_momentum(steps)
    lr, mu = out["lr"], out["momentum"]
    paper = PAPER_VERDICT
    out["critical_momentum"] = critical_momentum(lr).assign_attrs(
        long_name=r"critical momentum $1 - 2\sqrt{\alpha}$ (paper, $\lambda = 1$)", units="",
        verdict=paper)
    out["network_damping_ratio"] = damping_ratio(lr, mu).assign_attrs(
        long_name=r"damping ratio $\zeta$ (paper, $\lambda = 1$)", units="", verdict=paper)
    out["network_regime"] = damping_regime(lr, mu, tol=tol).assign_attrs(
        long_name="damping regime (paper, $\\lambda = 1$)", units="", verdict=paper, tol=tol)
    # 3. the answer: per (epoch, layer) and per epoch, from the measured curvature
    measured = LAYER_VERDICT
    alpha = lr
    if curvature is not None:
        require(curvature, "epoch_damping", [LAYER], name="curvature")
        extra = [d for d in curvature.dims if d not in (EPOCH, LAYER)]
        if extra:
            raise DimsError(f"epoch_damping() needs curvature with dims ('layer',) or "
                            f"('epoch', 'layer'); got dims {curvature.dims} with sizes "
                            f"{dict(curvature.sizes)} (extra {tuple(extra)})")
        curv = curvature.astype(float)
        if EPOCH in curv.dims:  # epochs without a measurement get NaN (regime "undefined")
            curv = curv.reindex({EPOCH: lr[EPOCH].values})
        out["curvature"] = curv.assign_attrs(
            long_name=r"curvature $\lambda$ (top Hessian eigenvalue)", units="")
        if step_size is not None:
            require(step_size, "epoch_damping", [LAYER], name="step_size")
            alpha = step_size.reindex({EPOCH: lr[EPOCH].values}) \
                if EPOCH in step_size.dims else step_size
            out["step_size"] = alpha.assign_attrs(step_size.attrs)
            measured = f"{ANALOGY}; {LAYER_VERDICT}"
        zeta = damping_ratio(alpha, mu, curvature=curv)
        regime = damping_regime(alpha, mu, curvature=curv, tol=tol)
        dims = tuple(d for d in (EPOCH, LAYER) if d in zeta.dims)
        out["damping_ratio"] = zeta.transpose(*dims, ...).assign_attrs(
            long_name=r"damping ratio $\zeta$", units="", verdict=measured)
        out["regime"] = regime.transpose(*dims, ...).assign_attrs(
            long_name="damping regime", units="", verdict=measured, tol=tol)
        answer = measured_verdict(out, tol=tol)
        for k in ("epoch_damping_ratio", "epoch_curvature", "epoch_layer"):
            out[k] = answer[k]
        out["epoch_regime"] = answer["epoch_word"].assign_attrs(units="")
    # 4. the update cosine, measured, beside its expected value (no verdict of its own)
    if update_cos is not None:
        require(update_cos, "epoch_damping", [STEP, LAYER], name="update_cos")
        if EPOCH not in update_cos.coords:
            update_cos = update_cos.assign_coords({EPOCH: steps[EPOCH]})
        c = update_cos.assign_coords({EPOCH: update_cos[EPOCH].compute()})
        cos_mean = c.groupby(EPOCH).mean(STEP).transpose(EPOCH, LAYER)
        out["update_cos_mean"] = cos_mean.assign_attrs(
            long_name=r"mean $\cos(\Delta\theta_t, \Delta\theta_{t-1})$", units="",
            verdict="measured: consecutive-update cosine over the epoch's steps")
        if "curvature" in out:
            exp = expected_update_cos(alpha, mu, curvature=out["curvature"])
            out["update_cos_expected"] = exp.transpose(*out["curvature"].dims).assign_attrs(
                long_name=r"expected mean cosine along the stiffest direction "
                          r"$\mu - \alpha\lambda/2$", units="", verdict=COS_READING)
    return out


def verdict_records(verdict) -> dict:
    """The verdict of :func:`epoch_damping` as plain JSON-ready lists (for ``--json``).

    Returns ``{"epochs": [...], "layers": [...], "paper": [...]}``: the answer per epoch
    (``regime``, ``damping_ratio``, ``curvature``, ``layer``: the stiffest group, with the
    epoch's ``lr`` and ``momentum``) and per (epoch, layer), both from
    :func:`measured_verdict` (empty without a measured curvature), and the paper's
    convention per epoch (``critical_momentum``, ``network_damping_ratio``,
    ``network_regime``).
    """
    def clean(v):
        v = v.item() if hasattr(v, "item") else v
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v

    verdict = verdict.compute()
    epochs = [int(e) for e in verdict[EPOCH].values]
    paper_vars = [v for v in ("lr", "momentum", "critical_momentum", "network_damping_ratio",
                              "network_regime") if v in verdict]
    paper = [{"epoch": e, **{v: clean(verdict[v].sel(epoch=e).values) for v in paper_vars}}
             for e in epochs]
    out = {"epochs": [], "layers": [], "paper": paper}
    if "damping_ratio" not in verdict or "curvature" not in verdict:
        return out
    answer = measured_verdict(verdict)
    if "update_cos_mean" in verdict and "update_cos_expected" not in verdict:  # older stores
        alpha = verdict["step_size"] if "step_size" in verdict else verdict["lr"]
        verdict["update_cos_expected"] = expected_update_cos(
            alpha, verdict["momentum"], curvature=verdict["curvature"])
    for e in epochs:
        a = answer.sel(epoch=e)
        out["epochs"].append({
            "epoch": e, "regime": str(a["epoch_word"].values),
            "damping_ratio": clean(a["epoch_damping_ratio"].values),
            "curvature": clean(a["epoch_curvature"].values),
            "layer": str(a["epoch_layer"].values),
            **{v: clean(verdict[v].sel(epoch=e).values) for v in ("lr", "momentum")
               if v in verdict}})
    extra = [v for v in ("step_size", "update_cos_mean", "update_cos_expected")
             if v in verdict and LAYER in verdict[v].dims]
    for e in epochs:
        for name in verdict[LAYER].values:
            at = {EPOCH: e, LAYER: name}
            out["layers"].append({
                "epoch": e, "layer": str(name), "regime": str(answer["word"].sel(at).values),
                "damping_ratio": clean(verdict["damping_ratio"].sel(at).values),
                "curvature": clean(verdict["curvature"].sel(at).values),
                **{v: clean(verdict[v].sel(at).values) for v in extra}})
    return out


__all__ += ["epoch_damping", "epoch_lr_momentum", "verdict_records", "measured_verdict",
            "damping_word", "expected_update_cos", "effective_step_size", "ANALOGY",
            "EPOCH_VERDICT", "LAYER_VERDICT", "PAPER_VERDICT", "COS_READING"]
