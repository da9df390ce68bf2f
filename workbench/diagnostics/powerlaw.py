"""Power-law tail fits (Clauset, Shalizi & Newman 2009), vectorised over every spectrum and
every candidate xmin at once."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import require

__all__ = ["MIN_RELIABLE_TAIL", "powerlaw_alpha", "tail_too_short"]

#: Fewest eigenvalues in a tail whose α reads as a fit: the MLE's standard error is
#: :math:`(\alpha - 1)/\sqrt{n_{tail}}` (Clauset et al. 2009, eq. 3.2), over a third of
#: α − 1 below 10 samples, and the KS choice of x_min is noise there.
MIN_RELIABLE_TAIL = 10

#: Elements of the (spectra, candidates, values) block evaluated at once for the KS distance.
_BLOCK = 1 << 21

KS_CONVENTIONS = ("left", "sup")


def _fit(x: np.ndarray, min_tail: int, ks: str):
    """alpha, xmin, D, n_tail for each row of ``x`` (..., n); NaN and x <= 0 are ignored.

    Steps: (1) sort each row (invalid values last); (2) every first occurrence of a value
    is a candidate xmin, with its tail; (3) the MLE alpha of every candidate from suffix
    sums of ln x; (4) the KS distance of every candidate, in blocks of candidates; (5) the
    candidate with the smallest distance (the smallest xmin on ties).
    """
    x = np.asarray(x, dtype=np.float64)
    lead, n = x.shape[:-1], x.shape[-1]
    x = x.reshape(-1, n)
    rows = x.shape[0]
    # 1. sorted values, invalid ones (NaN, <= 0) moved to the end as NaN
    x = np.sort(np.where(x > 0, x, np.nan), axis=-1)
    valid = np.sum(~np.isnan(x), axis=-1)  # (rows,)
    logx = np.log(x)
    # 2. candidates: position k, tail x[k:valid], first occurrence of its value
    pos = np.arange(n)
    n_tail = valid[:, None] - pos  # (rows, n)
    first = np.ones_like(x, dtype=bool)
    first[:, 1:] = x[:, 1:] != x[:, :-1]
    # 3. alpha_k = 1 + n_tail / sum_{i >= k} ln(x_i / x_k), from suffix sums of ln x
    logs = np.where(np.isnan(logx), 0.0, logx)
    suffix = np.cumsum(logs[:, ::-1], axis=-1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = suffix - n_tail * logs
        alpha = 1.0 + n_tail / denom
    ok = first & (n_tail >= max(min_tail, 2)) & (denom > 0) & np.isfinite(alpha)
    # 4. D_k = max_{i >= k} |P_k(x_i) - S_k(x_i)|, P_k(x) = 1 - (x / x_k)^(1 - alpha_k)
    dist = np.full((rows, n), np.inf)
    k_block = max(1, _BLOCK // max(1, rows * n))
    r_block = max(1, _BLOCK // (n * min(n, k_block)))
    for r0 in range(0, rows, r_block):
        r = slice(r0, r0 + r_block)
        for k0 in range(0, n, k_block):
            k = slice(k0, k0 + k_block)
            if not ok[r, k].any():
                continue
            kk = pos[k]
            p = pos[k0:]  # samples below the block's first candidate are in no tail
            nt = np.maximum(n_tail[r, k, None], 1)  # (rows past the valid samples: masked)
            with np.errstate(invalid="ignore", over="ignore"):
                step = logs[r, None, k0:] - logs[r, kk, None]  # ln(x_i / x_k): (r, k, i)
                model = -np.expm1((1.0 - alpha[r, k, None]) * step)
                below = (p - kk[:, None]) / nt  # empirical CDF, left limit: (i - k) / n_tail
                gap = np.abs(model - below)
                if ks == "sup":
                    gap = np.maximum(gap, np.abs(model - below - 1.0 / nt))
            inside = (p >= kk[:, None]) & (p < valid[r, None, None])
            d = np.max(np.where(inside, gap, -np.inf), axis=-1)
            dist[r, k] = np.where(ok[r, k], d, np.inf)
    # 5. the smallest distance wins; rows with no candidate give NaN
    best = np.argmin(dist, axis=-1)
    take = (np.arange(rows), best)
    found = np.isfinite(dist[take])
    out_alpha = np.where(found, alpha[take], np.nan)
    out_xmin = np.where(found, x[take], np.nan)
    out_d = np.where(found, dist[take], np.nan)
    out_n = np.where(found, n_tail[take], 0).astype(np.int64)
    return tuple(a.reshape(lead) for a in (out_alpha, out_xmin, out_d, out_n))


def powerlaw_alpha(eigenvalues: xr.DataArray, *, dim: str = "eigenvalue", min_tail: int = 2,
                   ks: str = "left") -> xr.Dataset:
    """Power-law exponent of the tail of every spectrum, by maximum likelihood and KS.

    Parameters
    ----------
    eigenvalues : xarray.DataArray
        Samples (e.g. the eigenvalues of a layer's ``W^T W / N``) along ``dim``; every other
        dim is a separate spectrum. NaN (padding) and values <= 0 are ignored. May be
        dask-backed (the result is then lazy; chunks along ``dim`` are merged).
    dim : str
        The sample dim.
    min_tail : int
        Fewest samples a candidate tail may have (at least 2, as in the ``powerlaw`` package,
        which drops the largest value as a candidate). Raise it to avoid fits of a handful
        of outliers.
    ks : {"left", "sup"}
        Which empirical CDF the KS distance uses (see Notes). "left" is the ``powerlaw``
        package's (and so WeightWatcher's) convention.

    Returns
    -------
    xarray.Dataset
        With the dims of ``eigenvalues`` less ``dim``: ``alpha`` (exponent), ``xmin`` (start
        of the tail, one of the samples), ``ks_distance`` (D at that xmin) and ``n_tail``
        (samples >= xmin; int). A spectrum with no candidate tail (fewer than ``min_tail``
        valid samples, or all equal) gives NaN and ``n_tail`` 0.

    Notes
    -----
    Continuous power law :math:`p(x) \\propto x^{-\\alpha}` for :math:`x \\ge x_{min}`
    (Clauset, Shalizi & Newman 2009, SIAM Review 51, 661). For a candidate
    :math:`x_{min}` with tail :math:`x_1 \\le \\dots \\le x_n` (all samples
    :math:`\\ge x_{min}`), the maximum-likelihood exponent is

    .. math:: \\hat\\alpha = 1 + n \\Big/ \\sum_{i=1}^{n} \\ln(x_i / x_{min})

    and the fitted CDF is :math:`P(x) = 1 - (x / x_{min})^{1 - \\hat\\alpha}`. Candidates
    are the distinct sample values whose tail has at least ``min_tail`` samples and a
    positive log-sum (so the largest value never is one). The KS distance of a candidate
    is evaluated at the tail's samples only:

    .. math:: D = \\max_{1 \\le j \\le n} \\big| P(x_j) - S_j \\big|,\\qquad
              S_j = \\frac{j - 1}{n} \\ \\text{("left")}

    i.e. the fraction of the tail strictly below :math:`x_j` (for distinct samples), which
    is what ``powerlaw.Fit`` computes. ``ks="sup"`` takes the exact supremum over x of
    :math:`|P - S|` with the right-continuous ECDF, i.e. the larger of the distances to
    :math:`(j-1)/n` and :math:`j/n` at each sample. Tied samples are each their own point.
    :math:`x_{min}` is the candidate with the smallest D (the smallest :math:`x_{min}`
    among equal D). Unlike ``powerlaw.Fit`` (whose default range caps alpha below 3 and
    drops candidates outside it), alpha is not bounded.

    Every candidate of every spectrum is evaluated at once: suffix sums of :math:`\\ln x`
    give every :math:`\\hat\\alpha`, and D is one masked maximum over a (spectra,
    candidates, samples) block, evaluated in blocks of about 2M values (O(n^2) per
    spectrum).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> u = np.random.default_rng(0).uniform(size=(2, 3000))
    >>> x = xr.DataArray((1 - u) ** (-1 / 1.5), dims=("layer", "eigenvalue"))  # alpha 2.5
    >>> fit = powerlaw_alpha(x)
    >>> fit.alpha.dims, sorted(fit.data_vars)
    (('layer',), ['alpha', 'ks_distance', 'n_tail', 'xmin'])
    >>> bool(abs(fit.alpha - 2.5).max() < 0.15)
    True
    """
    require(eigenvalues, "powerlaw_alpha", [dim], name="eigenvalues")
    if ks not in KS_CONVENTIONS:
        raise ValueError(f"powerlaw_alpha() needs ks in {KS_CONVENTIONS}; got {ks!r}")
    if int(min_tail) < 2:
        raise ValueError(f"powerlaw_alpha() needs min_tail >= 2; got {min_tail}")
    alpha, xmin, dist, n_tail = xr.apply_ufunc(
        _fit, eigenvalues, kwargs={"min_tail": int(min_tail), "ks": ks},
        input_core_dims=[[dim]], output_core_dims=[[], [], [], []],
        output_dtypes=[float, float, float, np.int64], dask="parallelized",
        dask_gufunc_kwargs={"allow_rechunk": True}, keep_attrs=False)
    units = eigenvalues.attrs.get("units", "")
    ds = xr.Dataset({
        "alpha": alpha.assign_attrs(long_name="power-law exponent α", units="1"),
        "xmin": xmin.assign_attrs(long_name="start of the tail x_min", units=units),
        "ks_distance": dist.assign_attrs(long_name="KS distance of the tail fit", units="1"),
        "n_tail": n_tail.assign_attrs(long_name="samples in the tail", units="1"),
    })
    ds.attrs.update(method="continuous MLE, x_min by minimum KS distance (Clauset et al. 2009)",
                    ks=ks, min_tail=int(min_tail))
    return ds


def tail_too_short(n_tail, *, minimum: int = MIN_RELIABLE_TAIL):
    """True where a fit's tail holds fewer than ``minimum`` eigenvalues (its α is shown but
    not read as a fit; 0, no tail at all, counts as too short).

    Examples
    --------
    >>> tail_too_short(xr.DataArray([7, 10, 0], dims="layer")).values.tolist()
    [True, False, True]
    >>> bool(tail_too_short(12))
    False
    """
    return n_tail < minimum
