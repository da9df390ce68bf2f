"""Class probabilities from logits (softmax over the label dim)."""

from __future__ import annotations

import xarray as xr

from ..dims import LABEL, require


def softmax(logits: xr.DataArray, *, dim: str = LABEL) -> xr.DataArray:
    """Softmax of ``logits`` over ``dim``; other dims kept; lazy on dask-backed input.

    Parameters
    ----------
    logits : DataArray
        With a ``dim`` (default ``label``) dim.
    dim : str
        The class dim.

    Returns
    -------
    DataArray
        Same dims and coords, values in [0, 1] summing to 1 over ``dim``.

    Notes
    -----
    p_k = exp(z_k − max_j z_j) / Σ_j exp(z_j − max_j z_j); subtracting the max changes
    nothing mathematically and keeps ``exp`` from overflowing.

    Examples
    --------
    >>> import numpy as np
    >>> z = xr.DataArray(np.zeros((2, 4)), dims=("sample", "label"))
    >>> softmax(z).dims, float(softmax(z)[0, 0])
    (('sample', 'label'), 0.25)
    """
    require(logits, "softmax", [dim], min_size={dim: 1}, name="logits")
    shifted = logits - logits.max(dim)
    e = xr.ufuncs.exp(shifted)
    out = e / e.sum(dim)
    out = out.transpose(*logits.dims)
    out.name = "probability"
    out.attrs = {"long_name": "predicted probability", "units": "1"}
    return out


__all__ = ["softmax"]
