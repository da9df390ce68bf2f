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

    Three numpy calls per step, in float32 (float32 sines are ~6x faster than float64
    ones). Two buffers ``sc`` of six rows ``[sin θ; cos θ; dt ω; π/2; θ; θ + π/2]`` take
    turns: ONE SIMD sine of the state rows ``[θ; θ + π/2]`` gives both sines and cosines;
    one product of the flattened sines with ``m4`` gives ``(a, a, b, b)`` with
    ``(a, b) = dt K/N (-C, S)`` (``C, S`` the sums of cosines and sines), written straight
    into the (column-major) update matrix ``M``; one product ``M @ sc`` writes the next
    state ``[θ + d; θ + d + π/2]`` into the other buffer, with the whole increment
    ``d = dt ω_i + dt K/N (S cos θ_i - C sin θ_i)``. The phases are wrapped to [-π, π)
    about every 256 steps (at a record) so that float32 keeps ~1e-6 rad.
    """
    n = omega.size
    f32 = np.float32
    bufs = [np.empty((6, n), dtype=f32) for _ in range(2)]
    for sc in bufs:
        sc[2] = dt * omega
        sc[3] = np.pi / 2
    bufs[0][4] = theta0
    bufs[0][5] = theta0 + np.pi / 2
    g = dt * coupling / n
    m4 = np.zeros((2 * n, 4), dtype=f32)  # sines (2n,) @ m4 = (a, a, b, b)
    m4[n:, :2] = -g
    m4[:n, 2:] = g
    mt = np.empty((6, 2), dtype=f32)      # M = mt.T (2, 6): row 1 = row 0 + π/2 unit
    mt[2:] = [[1.0, 1.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
    ab, m = mt[:2].reshape(-1), mt.T      # ab: a view of M's first two columns
    (s_a, i_a, f_a), (s_b, i_b, f_b) = ((sc[4:6], sc[:2], sc[:2].reshape(-1)) for sc in bufs)
    c_a, c_b = bufs
    sin, matmul = np.sin, np.matmul
    two_pi, pi = f32(2 * np.pi), f32(np.pi)
    rec = np.empty((steps // every, n))
    for k in range(steps // every):
        for _ in range(every // 2):       # two steps: buffer a -> b -> a
            sin(s_a, out=i_a)
            matmul(f_a, m4, out=ab)
            matmul(m, c_a, out=s_b)
            sin(s_b, out=i_b)
            matmul(f_b, m4, out=ab)
            matmul(m, c_b, out=s_a)
        if every % 2:                     # one more step: the buffers swap roles
            sin(s_a, out=i_a)
            matmul(f_a, m4, out=ab)
            matmul(m, c_a, out=s_b)
            s_a, i_a, f_a, c_a, s_b, i_b, f_b, c_b = s_b, i_b, f_b, c_b, s_a, i_a, f_a, c_a
        rec[k] = s_a[0]
        if ((k + 1) * every) % 256 < every:
            s_a -= two_pi * np.floor((s_a[0] + pi) / two_pi)
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
    # numpy arrays into the diagnostics' xarray shells, and one Dataset of plain variables:
    # no alignment or reindexing on the slider's path
    phase = xr.DataArray(rec, dims=(STEP, OSCILLATOR), coords={STEP: t})
    r = kuramoto_order(phase, dim=OSCILLATOR)
    start = int(average_from * t.size)
    late = np.cos(rec[start:])
    meta = metastability(xr.DataArray(late, dims=(STEP, OSCILLATOR)), channel_dim=OSCILLATOR,
                         dim=STEP, detrend="constant")
    signal = np.full_like(rec, np.nan)
    signal[start:] = late
    ds = xr.Dataset({
        "phase": ((STEP, OSCILLATOR), rec, {"long_name": "phase θ", "units": "rad"}),
        "signal": ((STEP, OSCILLATOR), signal, {"long_name": "signal cos θ", "units": "1"}),
        "R": ((STEP,), r.values, r.attrs),
        "R_mean": ((), r.values[start:].mean(), {"long_name": "mean R (stationary)",
                                                    "units": "1"}),
        "R_theory": ((), kuramoto_theory(coupling, gamma),
                     {"long_name": "R theory √(1 − 2γ/K)"}),
        "metastability": ((), meta.values, meta.attrs),
        "frequency": (OSCILLATOR, omega, {"long_name": "natural frequency ω", "units": "rad"}),
    }, coords={STEP: t})
    ds.attrs.update(n=n, coupling=float(coupling), gamma=float(gamma), dt=float(dt),
                    carrier=float(carrier), seed=seed, frequencies=frequencies)
    return ds
