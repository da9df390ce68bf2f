"""A Kuramoto population: the model behind the synchrony and metastability diagnostics.

The order parameter and the metastability come from :mod:`workbench.diagnostics.synchrony`,
the functions that measure a recorded run's layers, so the toy and the run are read alike.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..diagnostics.synchrony import kuramoto_order, metastability
from ..dims import STEP

#: The oscillator dim of a simulated population.
OSCILLATOR = "oscillator"
_FREQS = ("quantile", "random")

__all__ = ["kuramoto", "kuramoto_theory", "lorentzian_frequencies", "OSCILLATOR"]


def kuramoto_theory(coupling, gamma):
    r"""Stationary order parameter of the infinite Lorentzian population.

    Parameters
    ----------
    coupling : float or array
        Coupling :math:`K`.
    gamma : float or array
        Half-width :math:`\gamma` of the Lorentzian frequency distribution.

    Returns
    -------
    float or numpy.ndarray
        :math:`R_\infty = \sqrt{1 - 2\gamma/K}` above the critical coupling
        :math:`K_c = 2\gamma`, 0 below it.

    Notes
    -----
    Kuramoto (1975) self-consistency for :math:`g(\omega) = \gamma / (\pi(\gamma^2 +
    \omega^2))`; finite populations fluctuate around it by about :math:`1/\sqrt N`.

    Examples
    --------
    >>> round(kuramoto_theory(2.0, 0.5), 6), kuramoto_theory(0.5, 0.5)
    (0.707107, 0.0)
    """
    k = np.asarray(coupling, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(np.clip(1.0 - 2.0 * np.asarray(gamma, dtype=float) / k, 0.0, None))
    r = np.where(k > 0, r, 0.0)
    return r.item() if r.ndim == 0 else r


def lorentzian_frequencies(n: int, gamma: float, *, kind: str = "quantile", seed: int = 0):
    r"""Natural frequencies of ``n`` oscillators from a Lorentzian of half-width ``gamma``.

    ``kind="quantile"`` takes the midpoint quantiles
    :math:`\omega_i = \gamma\tan(\pi(i - \tfrac12)/n - \pi/2)` (a deterministic sample with
    much smaller finite-size error); ``kind="random"`` draws them with ``seed``.

    Examples
    --------
    >>> lorentzian_frequencies(4, 1.0).round(3).tolist()
    [-2.414, -0.414, 0.414, 2.414]
    """
    if kind not in _FREQS:
        raise ValueError(f"lorentzian_frequencies() needs kind in {_FREQS}; got {kind!r}")
    if kind == "quantile":
        u = (np.arange(1, n + 1) - 0.5) / n
    else:
        u = np.random.default_rng(seed).random(n)
    return gamma * np.tan(np.pi * u - np.pi / 2)


def _simulate(omega, theta0, coupling, dt, steps, every):
    """Euler steps of the mean-field form; returns phases (recorded step, oscillator).

    Four numpy calls per step. The state is ``[theta, theta + pi/2]`` in float32, so ONE SIMD
    sine gives both sines and cosines (float32 sines are ~6x faster than float64 ones); the
    phases are wrapped to [-pi, pi) every 256 steps so that float32 keeps ~1e-6 rad.
    ``sc`` holds [sin; cos; dt*omega] and ``coef`` [a; b; 1], so that the whole increment
    ``dt*omega_i + dt*K/N*(S cos theta_i - C sin theta_i)`` is ``coef @ sc``, where
    ``(a, b) = dt*K/N*(-C, S)`` comes from one product of the flattened sines with ``m``.
    """
    n = omega.size
    f32 = np.float32
    theta = np.stack([theta0, theta0 + np.pi / 2]).astype(f32)
    sc = np.empty((3, n), dtype=f32)
    sc[2] = dt * omega
    sines, flat = sc[:2], sc[:2].reshape(-1)            # views: rows 0, 1 are contiguous
    rot = np.array([[0.0, -1.0], [1.0, 0.0]]) * (dt * coupling / n)
    m = np.repeat(rot.T, n, axis=0).astype(f32)         # (2n, 2): flat @ m = rot @ (S, C)
    coef = np.ones(3, dtype=f32)
    ab = coef[:2]
    d = np.empty(n, dtype=f32)
    two_pi, pi = f32(2 * np.pi), f32(np.pi)
    rec = np.empty((steps // every, n))
    for t in range(steps):
        np.sin(theta, out=sines)
        np.matmul(flat, m, out=ab)
        np.matmul(coef, sc, out=d)
        theta += d
        if (t + 1) % every == 0:
            rec[(t + 1) // every - 1] = theta[0]
        if t % 256 == 255:
            theta -= two_pi * np.floor((theta[0] + pi) / two_pi)
    return rec


def kuramoto(n: int = 200, *, coupling: float = 2.0, gamma: float = 0.5, steps: int = 2000,
             dt: float = 0.05, record_every: int = 1, average_from: float = 0.5,
             carrier: float = 1.0, frequencies: str = "quantile", seed: int = 0) -> xr.Dataset:
    r"""Simulate ``n`` Kuramoto oscillators and measure them with the run diagnostics.

    Parameters
    ----------
    n : int
        Number of oscillators N (at least 2).
    coupling : float
        Coupling K (>= 0).
    gamma : float
        Half-width :math:`\gamma > 0` of the Lorentzian spread of natural frequencies.
    steps, dt : int, float
        Euler steps and step size.
    record_every : int
        Record the phases every this many steps.
    average_from : float
        Fraction of the recorded points after which the stationary state is averaged
        (``R_mean``, ``metastability``).
    carrier : float
        Common frequency :math:`\omega_0` added to every oscillator (rad per unit time). It
        does not change R (the model depends on phase differences only) but makes each
        ``signal`` a narrow-band oscillation, as the Hilbert phases of the diagnostics need.
    frequencies : {"quantile", "random"}
        How natural frequencies are drawn (:func:`lorentzian_frequencies`).
    seed : int
        Seed of the initial phases (uniform on the circle) and of random frequencies.

    Returns
    -------
    xarray.Dataset
        ``phase`` (step, oscillator), wrapped to (-pi, pi]; ``signal`` (step, oscillator),
        :math:`\cos\theta_i` after ``average_from`` (NaN before); ``R`` (step) from
        :func:`~workbench.diagnostics.synchrony.kuramoto_order` of the phases; scalars
        ``R_mean`` (mean R after ``average_from``), ``R_theory`` (:func:`kuramoto_theory`)
        and ``metastability``, from
        :func:`~workbench.diagnostics.synchrony.metastability` of the signals after
        ``average_from`` (Hilbert phases, as for a run's layers); ``frequency`` (oscillator).

    Notes
    -----
    .. math:: \dot\theta_i = \omega_0 + \omega_i + \frac{K}{N}\sum_j \sin(\theta_j - \theta_i)
              = \omega_0 + \omega_i + K R \sin(\psi - \theta_i),

    with :math:`R e^{i\psi} = \frac1N \sum_j e^{i\theta_j}`, integrated by Euler steps in the
    frame rotating at :math:`\omega_0` (the mean-field form costs O(N) per step; the sines
    are evaluated in float32). Above :math:`K_c = 2\gamma`, R settles near
    :math:`\sqrt{1-2\gamma/K}`.

    Examples
    --------
    >>> ds = kuramoto(50, coupling=3.0, gamma=0.5, steps=400)
    >>> ds.R.dims, ds.phase.dims
    (('step',), ('step', 'oscillator'))
    """
    if n < 2 or steps < 2 * record_every or coupling < 0 or not gamma > 0 or not dt > 0:
        raise ValueError(f"kuramoto() needs n >= 2, steps >= 2*record_every, coupling >= 0, "
                         f"gamma > 0 and dt > 0; got n={n}, steps={steps}, "
                         f"record_every={record_every}, coupling={coupling}, gamma={gamma}, "
                         f"dt={dt}")
    n_late = steps // record_every - int(average_from * (steps // record_every))
    if n_late < 16:
        raise ValueError(f"kuramoto() needs at least 16 recorded points after average_from for "
                         f"the metastability; got {n_late} (steps={steps}, record_every="
                         f"{record_every}, average_from={average_from})")
    rng = np.random.default_rng(seed)
    theta0 = rng.uniform(-np.pi, np.pi, n)
    omega = lorentzian_frequencies(n, gamma, kind=frequencies, seed=seed + 1)
    rec = _simulate(omega, theta0, coupling, dt, steps, record_every)
    t = np.arange(1, rec.shape[0] + 1) * record_every
    rec += carrier * dt * t[:, None] + np.pi
    rec = np.pi - np.remainder(-rec, 2 * np.pi)  # wrap to (-pi, pi]
    phase = xr.DataArray(rec, dims=(STEP, OSCILLATOR), coords={STEP: t},
                         attrs={"long_name": "phase θ", "units": "rad"})
    r = kuramoto_order(phase, dim=OSCILLATOR)
    late = slice(int(average_from * t.size), None)
    signal = np.cos(phase.isel({STEP: late})).assign_attrs(long_name="signal cos θ", units="1")
    meta = metastability(signal, channel_dim=OSCILLATOR, dim=STEP, detrend="constant")
    ds = xr.Dataset({
        "phase": phase, "signal": signal.reindex({STEP: t}), "R": r,
        "R_mean": r.isel({STEP: late}).mean().assign_attrs(long_name="mean R (stationary)"),
        "R_theory": ((), kuramoto_theory(coupling, gamma),
                     {"long_name": "R theory √(1 − 2γ/K)"}),
        "metastability": meta,
        "frequency": (OSCILLATOR, omega, {"long_name": "natural frequency ω", "units": "rad"}),
    })
    ds.attrs.update(n=n, coupling=float(coupling), gamma=float(gamma), dt=float(dt),
                    carrier=float(carrier), seed=seed, frequencies=frequencies)
    return ds
