"""Separation fuzziness (He & Su 2023), per-layer load and the load curve (Shi, Pan & Dokmanic)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..dims import LAYER, SAMPLE, UNIT, require, require_finite

__all__ = ["separation_fuzziness", "separation_by_layer", "load", "load_curve",
           "linear_law_deviation"]


def _fuzziness_core(x, onehot, ridge):
    """D for features x (..., N, p) and one-hot labels (N, K); never forms a p x p matrix."""
    x = np.asarray(x, dtype=np.float64)
    require_finite(x, "separation_fuzziness", dim="sample", name="features")
    n, k = onehot.shape
    means = np.swapaxes(onehot, 0, 1) @ x / onehot.sum(0)[:, None]  # (..., K, p)
    centred_means = means - x.mean(axis=-2, keepdims=True)  # M, (..., K, p)
    within = x - onehot @ means  # X_c, (..., N, p)
    gram = centred_means @ np.swapaxes(centred_means, -1, -2) / k  # M M^T / K, (..., K, K)
    lam, vec = np.linalg.eigh(gram)  # nonzero spectrum of Sigma_B
    cross = within @ np.swapaxes(centred_means, -1, -2) @ vec  # X_c M^T V, (..., N, K)
    trace_b = lam.sum(-1, keepdims=True)
    tol = lam.max(-1, keepdims=True) * max(k, x.shape[-1]) * np.finfo(float).eps
    keep = lam > tol
    safe = np.where(keep, lam, 1.0)
    # u_i = M^T v_i / sqrt(K lam_i);  u_i^T Sigma_W u_i = |X_c M^T v_i|^2 / (N K lam_i)
    proj = np.sum(cross**2, axis=-2) / (n * k * safe)
    return np.sum(np.where(keep, proj / (safe + ridge * trace_b), 0.0), axis=-1)


def separation_fuzziness(features: xr.DataArray, labels, *, sample_dim: str = SAMPLE,
                         feature_dim: str = UNIT, ridge: float = 1e-8) -> xr.DataArray:
    """Separation fuzziness D = Tr(Sigma_W Sigma_B^+) of labelled features (He & Su 2023).

    Parameters
    ----------
    features : xarray.DataArray
        Features with ``sample_dim`` and ``feature_dim`` (flatten channels x positions into
        ``feature_dim`` first); other dims (epoch, layer, ...) are kept. Dask-backed input
        gives a lazy result.
    labels : xarray.DataArray or array-like
        Integer class of each sample, along ``sample_dim``; at least 2 classes.
    sample_dim, feature_dim : str
        Sample and feature dims.
    ridge : float
        Regularisation of the pseudo-inverse, relative to :math:`\\mathrm{Tr}\\,\\Sigma_B`
        (see Notes). 0 gives the plain Moore-Penrose pseudo-inverse.

    Returns
    -------
    xarray.DataArray
        D >= 0 with ``sample_dim`` and ``feature_dim`` removed. Small: classes well separated.

    Notes
    -----
    With :math:`n` samples, :math:`K` classes, class means :math:`\\mu_k` and global mean
    :math:`\\mu` (He & Su's definitions):

    .. math:: \\Sigma_W = \\frac1n \\sum_k \\sum_{i \\in k} (x_i - \\mu_k)(x_i - \\mu_k)^T,\\quad
              \\Sigma_B = \\frac1K \\sum_k (\\mu_k - \\mu)(\\mu_k - \\mu)^T,\\quad
              D = \\mathrm{Tr}(\\Sigma_W \\Sigma_B^{+}).

    :math:`\\Sigma_B` has rank at most K - 1, so D is computed in the K-dimensional space of
    the centred class means M (K x p): the eigenpairs :math:`(\\lambda_i, v_i)` of
    :math:`M M^T / K` give :math:`\\Sigma_B`'s range, :math:`u_i = M^T v_i/\\sqrt{K\\lambda_i}`,
    and :math:`D = \\sum_i \\frac{u_i^T \\Sigma_W u_i}{\\lambda_i + \\epsilon}` with
    :math:`u_i^T\\Sigma_W u_i = \\lVert X_c M^T v_i\\rVert^2/(nK\\lambda_i)`, :math:`X_c` the
    class-centred features. Cost O(n p K); no p x p matrix is formed, so 12k units stay cheap.
    Ridge: :math:`\\epsilon = \\mathrm{ridge}\\cdot\\mathrm{Tr}\\,\\Sigma_B`, and directions with
    :math:`\\lambda_i \\le \\max(K, p)\\,\\varepsilon_{mach}\\,\\lambda_{max}` (numerically null,
    as in ``numpy.linalg.pinv``) are dropped. The ridge keeps a nearly collapsed class-mean
    direction from dominating D; at the default 1e-8 it changes well-conditioned results by
    about 1e-8 relative.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> f = xr.DataArray(rng.normal(size=(2, 30, 5)), dims=("epoch", "sample", "unit"))
    >>> separation_fuzziness(f, np.arange(30) % 3).dims
    ('epoch',)
    """
    require(features, "separation_fuzziness", [sample_dim, feature_dim],
            min_size={sample_dim: 2}, name="features")
    lab = np.asarray(labels.values if isinstance(labels, xr.DataArray) else labels)
    if isinstance(labels, xr.DataArray) and labels.dims != (sample_dim,):
        raise ValueError(f"separation_fuzziness() needs labels with dims ({sample_dim!r},); "
                         f"got {labels.dims}")
    if lab.shape != (features.sizes[sample_dim],):
        raise ValueError(f"separation_fuzziness() needs one label per {sample_dim!r} "
                         f"({features.sizes[sample_dim]}); got labels of shape {lab.shape}")
    classes, codes = np.unique(lab, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"separation_fuzziness() needs at least 2 classes; got {classes}")
    onehot = np.eye(len(classes))[codes]
    out = xr.apply_ufunc(
        _fuzziness_core, features, kwargs={"onehot": onehot, "ridge": ridge},
        input_core_dims=[[sample_dim, feature_dim]], output_core_dims=[[]],
        dask="parallelized", output_dtypes=[float], dask_gufunc_kwargs={"allow_rechunk": True})
    return out.rename("fuzziness").assign_attrs(long_name="separation fuzziness D", units="1",
                                                ridge=ridge)


def separation_by_layer(features: Mapping[str, xr.DataArray], labels, *, dim: str = LAYER,
                        **kwargs) -> xr.DataArray:
    """:func:`separation_fuzziness` of each layer's features, stacked along ``dim``.

    ``features`` maps layer names (in depth order) to DataArrays; layers may have different
    numbers of units. Other keyword arguments go to :func:`separation_fuzziness`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> f = {n: xr.DataArray(rng.normal(size=(30, u)), dims=("sample", "unit"))
    ...      for n, u in [("l1", 8), ("l2", 4)]}
    >>> separation_by_layer(f, np.arange(30) % 3).dims
    ('layer',)
    """
    names = list(features)
    parts = [separation_fuzziness(features[n], labels, **kwargs) for n in names]
    return xr.concat(parts, dim=xr.DataArray(names, dims=dim, name=dim), coords="minimal")


def load(fuzziness: xr.DataArray, *, dim: str = LAYER) -> xr.DataArray:
    """Per-layer load: the separation a layer adds, log D_{l-1} - log D_l.

    Returns one value per layer after the first (labelled by the later layer). Positive: the
    layer separates the classes further. Include the input (or first feature map) as the
    first entry to get the first layer's load too.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> d = xr.DataArray(np.exp(-np.arange(4.0)), dims="layer", coords={"layer": list("abcd")})
    >>> load(d).values.round(6).tolist(), load(d).layer.values.tolist()
    ([1.0, 1.0, 1.0], ['b', 'c', 'd'])
    """
    require(fuzziness, "load", [dim], min_size={dim: 2}, name="fuzziness")
    out = -np.log(fuzziness).diff(dim, label="upper")
    return out.rename("load").assign_attrs(long_name="layer load (log D drop)", units="nats")


def _load_curve_core(fuzziness: np.ndarray) -> np.ndarray:
    """Numpy core of :func:`load_curve` along the last axis."""
    s = _cumulative(fuzziness)
    total = s[..., -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, s / np.where(total != 0, total, 1.0), np.nan)


def _cumulative(fuzziness: np.ndarray) -> np.ndarray:
    """Cumulative separation ``s_l = log D_0 - log D_l`` along the last axis."""
    logd = np.log(np.asarray(fuzziness, dtype=np.float64))
    return logd[..., :1] - logd


def load_curve(fuzziness: xr.DataArray, *, dim: str = LAYER) -> xr.DataArray:
    """Normalised cumulative separation against depth (the load curve).

    Notes
    -----
    :math:`c_l = \\frac{\\log D_0 - \\log D_l}{\\log D_0 - \\log D_{L-1}}`: 0 at the first
    entry, 1 at the last. The linear law (He & Su) is :math:`c_l = l/(L-1)`; a curve below it
    means the deep layers carry the load (shallow layers lazy), above it the shallow ones do.
    NaN where the total separation :math:`\\log D_0 - \\log D_{L-1}` is 0. If it is negative
    (the classes end up *less* separated than they started, e.g. an untrained net) the curve
    still runs from 0 to 1; check the sign of the total with :func:`load` before reading it.
    A numpy core along ``dim`` (other dims kept; dask-backed input stays lazy).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> d = xr.DataArray(np.exp(-np.arange(5.0)), dims="layer")
    >>> load_curve(d).values.round(6).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    require(fuzziness, "load_curve", [dim], min_size={dim: 2}, name="fuzziness")
    out = xr.apply_ufunc(_load_curve_core, fuzziness, input_core_dims=[[dim]],
                         output_core_dims=[[dim]], dask="parallelized", output_dtypes=[float],
                         dask_gufunc_kwargs={"allow_rechunk": True})
    return out.transpose(*fuzziness.dims).rename("load_curve").assign_attrs(
        long_name="cumulative separation (normalised)", units="1")


def _deviation_core(fuzziness: np.ndarray) -> np.ndarray:
    """Numpy core of :func:`linear_law_deviation` along the last axis."""
    s = _cumulative(fuzziness)
    n = s.shape[-1]
    line = s[..., -1:] * np.linspace(0.0, 1.0, n)
    rms = np.sqrt(np.mean((s - line) ** 2, axis=-1))
    variation = np.abs(np.diff(s, axis=-1)).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variation > 0, rms / np.where(variation > 0, variation, 1.0),
                        np.nan)


def linear_law_deviation(fuzziness: xr.DataArray, *, dim: str = LAYER) -> xr.DataArray:
    """Relative RMS departure of the cumulative separation from the linear law.

    Notes
    -----
    With the cumulative separation :math:`s_l = \\log D_0 - \\log D_l` over the
    :math:`L` entries :math:`l = 0..L-1`, the loads :math:`a_l = s_l - s_{l-1}` and the
    linear law :math:`s_{L-1}\\, l/(L-1)` (every layer the same load),

    .. math:: \\Delta = \\frac{\\sqrt{\\frac1L \\sum_{l=0}^{L-1}
              \\left(s_l - s_{L-1}\\,\\frac{l}{L-1}\\right)^2}}{\\sum_{l=1}^{L-1} |a_l|},

    the RMS departure relative to the total load moved through the layers (the total
    variation of :math:`s`). For a monotone curve (every load of one sign) the denominator
    is :math:`|s_{L-1}|`, so :math:`\\Delta` is the RMS of the :func:`load_curve` minus
    :math:`l/(L-1)` (below :math:`1/\\sqrt 3`). Whatever the curve, :math:`0 \\le \\Delta
    \\le 1`, 0 exactly when every layer carries the same load, and it does not depend on the
    scale of :math:`\\log D`. Unlike the RMS of the normalised curve, it stays finite and
    changes continuously when the total separation :math:`s_{L-1}` is near or crosses 0
    (a nearly flat curve whose layers separate and then undo it): the denominator is 0 only
    when no layer moves at all (every :math:`D_l` equal), where :math:`\\Delta` is NaN, as it
    is when some :math:`D_l` is NaN. The sign (which layers carry the load) is read from the
    curve itself, or from :func:`load`. A numpy core along ``dim`` (other dims kept;
    dask-backed input stays lazy).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> d = xr.DataArray(np.exp(-np.arange(5.0)), dims="layer")
    >>> float(linear_law_deviation(d))
    0.0
    >>> late = xr.DataArray(np.exp(-np.array([0.0, 0.0, 0.0, 1.0])), dims="layer")
    >>> round(float(linear_law_deviation(late)), 6)     # the last layer carries all the load
    0.372678
    """
    require(fuzziness, "linear_law_deviation", [dim], min_size={dim: 2}, name="fuzziness")
    dev = xr.apply_ufunc(_deviation_core, fuzziness, input_core_dims=[[dim]],
                         dask="parallelized", output_dtypes=[float],
                         dask_gufunc_kwargs={"allow_rechunk": True})
    return dev.rename("linear_law_deviation").assign_attrs(
        long_name="relative RMS deviation from the linear law", units="1")
