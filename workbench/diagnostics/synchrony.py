"""Hilbert phases, Kuramoto order parameter, synchrony and metastability between channels."""

from __future__ import annotations

import warnings

import dask
import numpy as np
import xarray as xr

from ..dims import LAYER, STEP, choice, require, require_finite

__all__ = ["phases", "kuramoto_order", "synchrony", "metastability", "order_parameter"]

_DETRENDS = ("linear", "constant", "none")


def _detrend(x: np.ndarray, kind: str) -> np.ndarray:
    """``scipy.signal.detrend(x, type=kind)`` along the last axis, in numpy."""
    x = x - x.mean(axis=-1, keepdims=True)
    if kind == "linear":
        t = np.arange(x.shape[-1]) - (x.shape[-1] - 1) / 2
        x = x - (x @ t / (t @ t))[..., None] * t
    return x


def _analytic(x: np.ndarray) -> np.ndarray:
    """``scipy.signal.hilbert(x)`` along the last axis: FFT, keep positive frequencies x2."""
    n = x.shape[-1]
    h = np.zeros(n)
    h[0] = 1
    if n % 2 == 0:
        h[n // 2] = 1
        h[1:n // 2] = 2
    else:
        h[1:(n + 1) // 2] = 2
    return np.fft.ifft(np.fft.fft(x, axis=-1) * h, axis=-1)


def _phase_core(x, detrend, band, order, caller="phases", dim=STEP):
    return np.angle(_analytic_core(x, detrend, band, order, caller, dim))


def _phasor_core(x, detrend, band, order, caller="phases", dim=STEP):
    """``exp(i φ)`` of the phases of :func:`_phase_core`, as ``z / |z|`` of the analytic
    signal ``z`` (no arctangent, sine or cosine; 1 where ``z = 0``, as ``angle(0) = 0``)."""
    z = _analytic_core(x, detrend, band, order, caller, dim)
    mod = np.abs(z)
    return np.divide(z, mod, out=np.ones_like(z), where=mod > 0)


def _analytic_core(x, detrend, band, order, caller, dim):
    # numpy for detrend and Hilbert: scipy.signal costs 65 MiB of memory on import, which
    # matters for an analysis that must fit under a memory cap; only the band-pass needs it
    x = np.asarray(x, dtype=np.float64)
    require_finite(x, caller, dim=dim)
    if detrend != "none":
        x = _detrend(x, detrend)
    if band is not None:
        from scipy import signal

        sos = signal.butter(order, band, btype="bandpass", fs=1.0, output="sos")
        x = signal.sosfiltfilt(sos, x, axis=-1)
    return _analytic(x)


def _band(band, caller: str):
    """``band`` as a checked ``(lo, hi)`` in cycles per sample, or None."""
    if band is None:
        return None
    lo, hi = map(float, band)
    if not 0 < lo < hi < 0.5:
        raise ValueError(f"{caller}() needs band=(lo, hi) with 0 < lo < hi < 0.5 cycles per "
                         f"sample; got {band}")
    return (lo, hi)


def phases(x: xr.DataArray, *, dim: str = STEP, detrend: str = "linear", band=None,
           filter_order: int = 4, _caller: str = "phases") -> xr.DataArray:
    """Instantaneous phases of ``x`` along ``dim`` from its analytic signal.

    Parameters
    ----------
    x : xarray.DataArray
        Signals with a ``dim`` of at least 16 points; other dims are kept. Dask-backed input
        gives a lazy result (chunks along ``dim`` are merged).
    dim : str
        The time dim.
    detrend : {"linear", "constant", "none"}
        What is removed from each series before the Hilbert transform (default: the
        least-squares line, as for the drifting signals of training).
    band : (float, float), optional
        Band-pass ``(lo, hi)`` in cycles per sample (0 < lo < hi < 0.5): a Butterworth filter of
        order ``filter_order`` applied forwards and backwards (``scipy.signal.sosfiltfilt``, zero
        phase). Default None: no filtering. Phases are only well defined for narrow-band
        signals; use ``band`` when the signal mixes very different time scales.
    filter_order : int
        Order of the Butterworth band-pass.

    Returns
    -------
    xarray.DataArray
        Phases in radians in (-pi, pi], same dims as ``x``.

    Notes
    -----
    :math:`\\varphi(t) = \\arg\\,(\\tilde x(t) + i\\,\\mathcal H[\\tilde x](t))` with
    :math:`\\tilde x` the detrended (optionally band-passed) series and :math:`\\mathcal H` the
    Hilbert transform (FFT based, as ``scipy.signal.hilbert``). The first and last few points are
    affected by edge effects. NaN in a series makes its phases NaN.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.arange(200)
    >>> x = xr.DataArray(np.sin(2 * np.pi * t / 20)[None], dims=("layer", "step"))
    >>> phases(x).dims
    ('layer', 'step')
    """
    require(x, "phases", [dim], min_size={dim: 16})
    detrend = choice(detrend, _DETRENDS, "detrend")
    band = _band(band, "phases")
    out = xr.apply_ufunc(
        _phase_core, x, kwargs={"detrend": detrend, "band": band, "order": filter_order,
                                "caller": _caller, "dim": dim},
        input_core_dims=[[dim]], output_core_dims=[[dim]], dask="parallelized",
        output_dtypes=[float], dask_gufunc_kwargs={"allow_rechunk": True})
    return out.transpose(*x.dims).rename("phase").assign_attrs(
        long_name="phase", units="rad", detrend=detrend, band=str(band))


def kuramoto_order(phases: xr.DataArray, *, dim: str = LAYER) -> xr.DataArray:
    """Kuramoto order parameter R of the phases across ``dim``.

    Parameters
    ----------
    phases : xarray.DataArray
        Phases in radians with at least 2 entries along ``dim`` (the oscillators/channels).
    dim : str
        The channel dim that is averaged over.

    Returns
    -------
    xarray.DataArray
        R in [0, 1] with ``dim`` removed.

    Notes
    -----
    :math:`R = \\left| \\frac{1}{L} \\sum_{l=1}^{L} e^{i\\varphi_l} \\right|`: 1 when all phases
    are equal, near 0 (order :math:`1/\\sqrt L`) when they are spread uniformly. In memory
    a numpy core, :math:`R = \\mathrm{hypot}(\\langle\\cos\\varphi\\rangle,
    \\langle\\sin\\varphi\\rangle)` (NaN phases skipped); dask-backed input stays lazy.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ph = xr.DataArray(np.zeros((4, 10)), dims=("layer", "step"))
    >>> kuramoto_order(ph).dims
    ('step',)
    """
    require(phases, "kuramoto_order", [dim], min_size={dim: 2}, name="phases")
    if dask.is_dask_collection(phases.data):
        # combine the chunks' partial sums pairwise as they come: with the default (16 at a
        # time) a large lazy input keeps many (step,)-long partial sums in memory at once
        with dask.config.set({"split_every": 2}):
            r = abs(np.exp(1j * phases).mean(dim))
    else:
        r = xr.apply_ufunc(_order_core, phases, input_core_dims=[[dim]])
    return r.rename("R").assign_attrs(long_name="Kuramoto order parameter R", units="1")


def _order_core(ph: np.ndarray) -> np.ndarray:
    """R along the last axis: ``|mean e^{iφ}| = hypot(mean cos φ, mean sin φ)`` (no complex
    exponential); NaN phases are skipped, as xarray's mean skips them (all NaN: NaN)."""
    ph = np.asarray(ph, dtype=np.float64)
    if np.isnan(ph).any():
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
            return np.hypot(np.nanmean(np.cos(ph), -1), np.nanmean(np.sin(ph), -1))
    return np.hypot(np.cos(ph).mean(-1), np.sin(ph).mean(-1))


order_parameter = kuramoto_order


def _order_stat_core(x, detrend, band, caller, dim, stat):
    """Numpy core of :func:`synchrony` and :func:`metastability`: ``x`` is (..., channel,
    time); phasors ``exp(i φ)`` along time (:func:`_phasor_core`), R over the channels,
    then the mean or the (population) standard deviation of R over time."""
    r = np.abs(_phasor_core(x, detrend, band, 4, caller=caller, dim=dim).mean(axis=-2))
    return r.mean(-1) if stat == "mean" else r.std(-1)


def _order_stat(x, channel_dim, dim, detrend, band, func, stat):
    """``R(t).mean(dim)`` or ``.std(dim)`` (see :func:`_order_stat_core`); dask-backed input
    goes through :func:`_lazy_order_over_time` and stays lazy."""
    require(x, func, [channel_dim, dim], min_size={channel_dim: 2, dim: 16})
    detrend, band = choice(detrend, _DETRENDS, "detrend"), _band(band, func)
    if dask.is_dask_collection(x.data):
        r = _lazy_order_over_time(x, channel_dim, dim, detrend, band, func)
        out = r.mean(dim) if stat == "mean" else r.std(dim)
    else:
        out = xr.apply_ufunc(
            _order_stat_core, x, input_core_dims=[[channel_dim, dim]],
            kwargs={"detrend": detrend, "band": band, "caller": func, "dim": dim,
                    "stat": stat})
    return out.assign_attrs(detrend=detrend, band=str(band))


def _lazy_order_over_time(x, channel_dim, dim, detrend, band, func):
    """R(t) of dask-backed signals in one task per chunk of channels.

    Each task turns its chunk into phases, :math:`e^{i\\varphi}` and their sum over the
    chunk's channels, so what stays in memory between tasks is one ``dim``-long complex
    partial sum per chunk (not the chunk's phases); the partial sums are added pairwise and
    :math:`R = |\\sum_l e^{i\\varphi_l}| / L`, exactly :func:`kuramoto_order` of :func:`phases`.
    """
    band = _band(band, func)
    detrend = choice(detrend, _DETRENDS, "detrend")
    rest = [d for d in x.dims if d not in (channel_dim, dim)]
    arr = x.transpose(*rest, channel_dim, dim).chunk({dim: -1}).data

    def chunk_sum(block):
        ph = _phase_core(block, detrend, band, 4, caller=func, dim=dim)
        return np.exp(1j * ph).sum(axis=-2, keepdims=True)

    sums = arr.map_blocks(chunk_sum, dtype=np.complex128,
                          chunks=(*arr.chunks[:-2], (1,) * arr.numblocks[-2], arr.chunks[-1]))
    with dask.config.set({"split_every": 2}):
        total = sums.sum(axis=-2)
    coords = {k: v for k, v in x.coords.items() if channel_dim not in v.dims}
    r = xr.DataArray(abs(total) / x.sizes[channel_dim], dims=(*rest, dim), coords=coords)
    return r.rename("R").assign_attrs(long_name="Kuramoto order parameter R", units="1")


def synchrony(x: xr.DataArray, *, channel_dim: str = LAYER, dim: str = STEP,
              detrend: str = "linear", band=None) -> xr.DataArray:
    """Mean over time of the Kuramoto order parameter between channels.

    Parameters
    ----------
    x : xarray.DataArray
        Signals with ``channel_dim`` (at least 2) and ``dim`` (at least 16 points).
    channel_dim, dim : str
        Channel dim (the oscillators) and time dim.
    detrend, band
        Passed to :func:`phases`.

    Returns
    -------
    xarray.DataArray
        Synchrony in [0, 1]; ``channel_dim`` and ``dim`` removed.

    Notes
    -----
    :math:`\\langle R \\rangle_t` with :math:`R(t)` from :func:`kuramoto_order` of
    :func:`phases` (Deco et al. 2017). In memory, one numpy core (phases, R, its mean) in
    one ``apply_ufunc``; dask-backed input stays lazy.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.random.default_rng(0).normal(size=(3, 100)), dims=("layer", "step"))
    >>> synchrony(x).dims
    ()
    """
    r = _order_stat(x, channel_dim, dim, detrend, band, "synchrony", "mean")
    return r.rename("synchrony").assign_attrs(long_name="synchrony", units="1")


def metastability(x: xr.DataArray, *, channel_dim: str = LAYER, dim: str = STEP,
                  detrend: str = "linear", band=None) -> xr.DataArray:
    """Standard deviation over time of the Kuramoto order parameter between channels.

    Parameters
    ----------
    x : xarray.DataArray
        Signals with ``channel_dim`` (at least 2) and ``dim`` (at least 16 points).
    channel_dim, dim : str
        Channel dim (the oscillators) and time dim.
    detrend, band
        Passed to :func:`phases`.

    Returns
    -------
    xarray.DataArray
        Metastability in [0, 0.5]; ``channel_dim`` and ``dim`` removed.

    Notes
    -----
    :math:`\\sqrt{\\langle (R(t) - \\langle R \\rangle)^2 \\rangle_t}` (population standard
    deviation), as in Deco et al. 2017; Shanahan 2010 used the variance, which is the square
    of this number. 0 for phase-locked (or constantly incoherent) channels; large when the
    channels keep falling in and out of synchrony. In memory, one numpy core (phases, R, its
    standard deviation) in one ``apply_ufunc``; dask-backed input stays lazy.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.random.default_rng(0).normal(size=(3, 100)), dims=("layer", "step"))
    >>> metastability(x).dims
    ()
    """
    r = _order_stat(x, channel_dim, dim, detrend, band, "metastability", "std")
    return r.rename("metastability").assign_attrs(long_name="metastability", units="1")
