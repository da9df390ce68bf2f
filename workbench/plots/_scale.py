"""Binning helpers used only within :mod:`workbench.plots` (log-spaced bins, densities)."""

from __future__ import annotations


def log_bins(values, n: int = 30):
    """Logarithmically spaced bin edges over the positive finite ``values``."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return np.geomspace(1e-3, 1.0, n + 1)
    lo, hi = v.min(), v.max()
    hi = hi * 1.0001 if hi > lo else lo * 10
    return np.geomspace(lo, hi, n + 1)


def esd_density(eigenvalues, bins):
    """Density of ``eigenvalues`` (NaNs dropped) over ``bins``: counts / (n · bin width).

    Notes
    -----
    :math:`\\rho(\\lambda) = \\#\\{\\lambda_i \\in [b_k, b_{k+1})\\} / (n (b_{k+1} - b_k))`,
    so the density integrates to one over the bins.
    """
    import numpy as np

    v = np.asarray(eigenvalues, dtype=float)
    v = v[np.isfinite(v)]
    counts, _ = np.histogram(v, bins=bins)
    return counts / max(len(v), 1) / np.diff(bins)


__all__ = ["log_bins", "esd_density"]
