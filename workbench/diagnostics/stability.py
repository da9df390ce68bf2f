"""Integration, windowed metastability, a dynamical stability index and its early-warning lead.

Follows La Quang et al. 2026 (layers as EEG channels); the definitions that paper leaves open
are ours and are stated in each docstring.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import EPOCH, LAYER, STEP, require
from .dfa import MIN_POINTS, dfa
from .synchrony import kuramoto_order, phases

__all__ = ["collective_signal", "integration", "stability", "early_convergence_lead"]

_WIN = "_window"


def collective_signal(x: xr.DataArray, *, channel_dim: str = LAYER,
                      dim: str = STEP) -> xr.DataArray:
    """The network's collective signal: mean over channels of the z-scored channel signals.

    Notes
    -----
    :math:`c(t) = \\frac{1}{L}\\sum_l (x_l(t) - \\bar x_l)/s_l` with mean and (population)
    standard deviation over ``dim``. A constant channel (:math:`s_l = 0`) contributes 0.
    z-scoring first keeps a layer with large activations from dominating the sum.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.random.default_rng(0).normal(size=(3, 100)), dims=("layer", "step"))
    >>> collective_signal(x).dims
    ('step',)
    """
    require(x, "collective_signal", [channel_dim, dim])
    sd = x.std(dim)
    z = ((x - x.mean(dim)) / sd.where(sd > 0)).fillna(0.0)
    return z.mean(channel_dim).rename("collective").assign_attrs(
        long_name="collective signal (mean z-score)", units="1")


def integration(x: xr.DataArray, *, channel_dim: str = LAYER, dim: str = STEP, scales=None,
                order: int = 1) -> xr.DataArray:
    """Integration: DFA exponent of the collective signal (La Quang et al. 2026).

    Parameters
    ----------
    x : xarray.DataArray
        Per-channel signals with ``channel_dim`` and ``dim`` (at least 64 points).
    channel_dim, dim : str
        Channel and time dims.
    scales, order
        Passed to :func:`~workbench.diagnostics.dfa.dfa`.

    Returns
    -------
    xarray.DataArray
        Exponent with ``channel_dim`` and ``dim`` removed. Per-layer integration is simply
        ``dfa(x, dim=dim)``.

    Notes
    -----
    :math:`\\alpha_{DFA}(c)` with :math:`c` from :func:`collective_signal`. 0.5: no memory;
    near 1: long-range coordinated (1/f); 1.5: a random walk.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.random.default_rng(0).normal(size=(3, 256)), dims=("layer", "step"))
    >>> integration(x).dims
    ()
    """
    require(x, "integration", [channel_dim, dim], min_size={dim: MIN_POINTS})
    out = dfa(collective_signal(x, channel_dim=channel_dim, dim=dim), dim=dim, scales=scales,
              order=order)
    return out.rename("integration").assign_attrs(long_name="integration (DFA exponent)")


def _windows(da: xr.DataArray, dim: str, window: int, stride: int) -> xr.DataArray:
    """Trailing windows of ``window`` points every ``stride`` points (coord = window end)."""
    ends = np.arange(window - 1, da.sizes[dim], stride)
    return da.rolling({dim: window}).construct(_WIN).isel({dim: ends})


def stability(x: xr.DataArray, *, channel_dim: str = LAYER, dim: str = STEP,
              window: int = 256, stride: int | None = None, volatility_window: int = 8,
              order: int = 1, detrend: str = "linear", band=None) -> xr.Dataset:
    """Windowed integration, metastability, the stability index and its volatility.

    Parameters
    ----------
    x : xarray.DataArray
        Per-channel signals with ``channel_dim`` (at least 2) and ``dim`` (at least ``window``
        points). Dask-backed input gives lazy results.
    channel_dim, dim : str
        Channel and time dims.
    window : int
        Points per window (at least 64, for DFA).
    stride : int, optional
        Points between consecutive windows (default ``window // 4``).
    volatility_window : int
        Number of consecutive windows over which the volatility is taken.
    order : int
        DFA order.
    detrend, band
        Passed to :func:`~workbench.diagnostics.synchrony.phases`.

    Returns
    -------
    xarray.Dataset
        Variables ``integration``, ``metastability``, ``stability``, ``volatility`` along
        ``dim``, one value per window, labelled by the ``dim`` coordinate of the window's LAST
        point (so a value at step t uses only data up to t). Other dims are kept.
        ``volatility`` is NaN for the first ``volatility_window - 1`` windows.

    Notes
    -----
    For the window :math:`w` ending at t:

    - :math:`I_w` = DFA exponent of the collective signal (:func:`collective_signal`, z-scored
      over the whole series) restricted to the window.
    - :math:`M_w` = standard deviation of :math:`R(t')` over the window, with the phases taken
      from the whole series (one Hilbert transform, so windows have no extra edge effects).
    - **Stability index** (ours): :math:`S_w = I_w\\,(1 - M_w)`. It grows with long-range
      coordination and falls when synchrony between layers keeps changing. The product needs
      no weight between the two terms (a difference :math:`I - M` would silently weigh an
      exponent against a standard deviation); since :math:`0 \\le M \\le 0.5`, S stays
      between :math:`I/2` and :math:`I`, in the exponent's units.
    - **Volatility**: :math:`V_w` = population standard deviation of S over the last
      ``volatility_window`` windows.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.random.default_rng(0).normal(size=(3, 1024)),
    ...                  dims=("layer", "step"), coords={"step": np.arange(1024)})
    >>> ds = stability(x, window=128, stride=64)
    >>> ds.stability.dims, int(ds.step[0])
    (('step',), 127)
    """
    stride = window // 4 if stride is None else int(stride)
    require(x, "stability", [channel_dim, dim], min_size={channel_dim: 2, dim: window})
    if window < MIN_POINTS or stride < 1 or volatility_window < 2:
        raise ValueError(f"stability() needs window >= {MIN_POINTS}, stride >= 1 and "
                         f"volatility_window >= 2; got window={window}, stride={stride}, "
                         f"volatility_window={volatility_window}")
    if dim not in x.coords:
        x = x.assign_coords({dim: np.arange(x.sizes[dim])})
    coll = collective_signal(x, channel_dim=channel_dim, dim=dim)
    integ = dfa(_windows(coll, dim, window, stride), dim=_WIN, order=order)
    r = kuramoto_order(phases(x, dim=dim, detrend=detrend, band=band, _caller="stability"),
                       dim=channel_dim)
    meta = _windows(r, dim, window, stride).std(_WIN)
    s = integ * (1 - meta)
    vol = s.rolling({dim: volatility_window}, min_periods=volatility_window).std()
    ds = xr.Dataset({
        "integration": integ.assign_attrs(long_name="windowed integration", units="1"),
        "metastability": meta.assign_attrs(long_name="windowed metastability", units="1"),
        "stability": s.assign_attrs(long_name="stability index I(1-M)", units="1"),
        "volatility": vol.assign_attrs(long_name="stability volatility", units="1"),
    })
    ds.attrs.update(window=window, stride=stride, volatility_window=volatility_window,
                    formula="S = integration * (1 - metastability)")
    return ds


def _settle_low(t, v, frac):
    """First time after which v stays <= frac * max(v) (NaN ignored); NaN if never."""
    ok = ~np.isnan(v)
    if not ok.any():
        return np.nan
    t, v = t[ok], v[ok]
    above = np.nonzero(v > frac * v.max())[0]
    last = above[-1] if above.size else -1
    return t[last + 1] if last + 1 < len(t) else np.nan


def _settle_band(t, a, band):
    """First time after which a stays within ``band`` of its final value; NaN if all NaN."""
    ok = ~np.isnan(a)
    if not ok.any():
        return np.nan
    t, a = t[ok], a[ok]
    out = np.nonzero(np.abs(a - a[-1]) > band)[0]
    return t[out[-1] + 1] if out.size else t[0]


def _lead_core(tv, v, ta, a, frac, band):
    t_v = _settle_low(np.asarray(tv, float), np.asarray(v, float), frac)
    t_a = _settle_band(np.asarray(ta, float), np.asarray(a, float), band)
    return t_a - t_v, t_v, t_a


def early_convergence_lead(volatility: xr.DataArray, accuracy: xr.DataArray, *,
                           frac: float = 0.5, band: float = 0.01,
                           dim: str = EPOCH) -> xr.Dataset:
    """How long before test accuracy settles the stability volatility has settled.

    Parameters
    ----------
    volatility : xarray.DataArray
        Volatility along ``dim`` (e.g. from :func:`stability`, with its step coordinate turned
        into fractional epochs: ``v.assign_coords(step=v.step / steps_per_epoch)
        .rename(step="epoch")``). Leading NaNs are ignored.
    accuracy : xarray.DataArray
        Test accuracy along ``dim`` (its coordinate values may differ from the volatility's;
        the two are NOT aligned, each is read against its own coordinate).
    frac : float
        Volatility rule threshold, as a fraction of its peak.
    band : float
        Accuracy rule half-width, in accuracy units (0.01 = one point when accuracy is a
        fraction in [0, 1]).
    dim : str
        The shared time dim; both inputs need a numeric coordinate on it. Other dims (e.g. a
        seed dim) are broadcast and kept.

    Returns
    -------
    xarray.Dataset
        ``lead`` = ``accuracy_settled - volatility_settled`` (positive: the volatility settled
        first, an early warning), ``volatility_settled`` and ``accuracy_settled``, in units of
        the ``dim`` coordinate. NaN where a rule is never met.

    Notes
    -----
    - Volatility rule: :math:`t_V` = first time from which :math:`V(t) \\le f \\cdot \\max V`
      holds at every later point (it falls under the fraction and stays).
    - Accuracy rule: :math:`t_A` = first time from which :math:`|a(t) - a(T)| \\le b` holds at
      every later point, with :math:`a(T)` the final value (it enters the band and stays).
    - Lead: :math:`t_A - t_V`. Both rules read "and stays", so one late spike moves them.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> e = np.arange(10.0)
    >>> vol = xr.DataArray([4, 3, 1, .5, .4, .3, .3, .2, .2, .2], dims="epoch",
    ...                    coords={"epoch": e})
    >>> acc = xr.DataArray([.5, .7, .8, .85, .88, .905, .91, .91, .91, .91], dims="epoch",
    ...                    coords={"epoch": e})
    >>> float(early_convergence_lead(vol, acc).lead)
    3.0
    """
    require(volatility, "early_convergence_lead", [dim], name="volatility")
    require(accuracy, "early_convergence_lead", [dim], name="accuracy")
    for name, da in (("volatility", volatility), ("accuracy", accuracy)):
        if dim not in da.coords:
            raise ValueError(f"early_convergence_lead() needs a numeric {dim!r} coordinate on "
                             f"{name}; found coords {list(da.coords)}")
    v = volatility.rename({dim: "_tv"})
    a = accuracy.rename({dim: "_ta"})
    lead, t_v, t_a = xr.apply_ufunc(
        _lead_core, v["_tv"], v, a["_ta"], a, kwargs={"frac": frac, "band": band},
        input_core_dims=[["_tv"], ["_tv"], ["_ta"], ["_ta"]], output_core_dims=[[], [], []],
        vectorize=True, dask="parallelized", output_dtypes=[float] * 3,
        dask_gufunc_kwargs={"allow_rechunk": True})
    units = accuracy[dim].attrs.get("units", dim)
    return xr.Dataset({
        "lead": lead.assign_attrs(long_name="early-convergence lead", units=units),
        "volatility_settled": t_v.assign_attrs(long_name="volatility settled", units=units),
        "accuracy_settled": t_a.assign_attrs(long_name="accuracy settled", units=units),
    }, attrs={"frac": frac, "band": band})
