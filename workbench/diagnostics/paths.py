"""Learning paths on the probability simplex: length, straightness, zig-zag (pure, no torch).

A sample's *learning path* is its predicted distribution π_t over classes at each recorded
time t (epoch or step). Ren et al. (ICLR 2022) observe that hard or mislabelled samples take
a detour: their prediction first drifts toward another class before reaching the label.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import EPOCH, LABEL, require
from .probabilities import softmax


def probabilities(logits: xr.DataArray, *, label_dim: str = LABEL) -> xr.DataArray:
    """Softmax of ``logits`` over ``label_dim`` (numerically stable); other dims kept.

    Notes
    -----
    ``π_c = exp(z_c − max z) / Σ_k exp(z_k − max z)``.

    Examples
    --------
    >>> z = xr.DataArray(np.zeros((2, 3, 4)), dims=("epoch", "sample", "label"))
    >>> probabilities(z).dims
    ('epoch', 'sample', 'label')
    """
    return softmax(logits, dim=label_dim)


def path_length(probs: xr.DataArray, *, dim: str = EPOCH,
                label_dim: str = LABEL) -> xr.DataArray:
    """Length of each learning path: the sum of the Euclidean steps between recorded times.

    Notes
    -----
    ``L = Σ_t ‖π_{t+1} − π_t‖₂`` (norm over ``label_dim``). Other dims (e.g. ``sample``) kept.

    Examples
    --------
    >>> p = xr.DataArray(np.full((3, 5, 2), 0.5), dims=("epoch", "sample", "label"))
    >>> path_length(p).dims
    ('sample',)
    """
    require(probs, "path_length", [dim, label_dim], min_size={dim: 2}, name="probs")
    out = _apply(_length, probs, dim, label_dim)
    out.attrs = {"long_name": "learning-path length on the simplex", "units": "1"}
    return out.rename("path_length")


def path_ratio(probs: xr.DataArray, *, dim: str = EPOCH,
               label_dim: str = LABEL) -> xr.DataArray:
    """Path length over the straight-line distance from the first to the last point.

    Notes
    -----
    ``ratio = Σ_t ‖π_{t+1} − π_t‖₂ / ‖π_T − π_0‖₂ ≥ 1``; 1 for a straight path (at any
    speed). NaN where the path ends where it started (zero chord).

    Examples
    --------
    >>> p = xr.DataArray(np.random.default_rng(0).dirichlet(np.ones(3), (4, 2)),
    ...                  dims=("epoch", "sample", "label"))
    >>> bool((path_ratio(p) >= 1).all())
    True
    """
    require(probs, "path_ratio", [dim, label_dim], min_size={dim: 2}, name="probs")
    out = _apply(_ratio, probs, dim, label_dim)
    out.attrs = {"long_name": "path length / straight distance", "units": "1"}
    return out.rename("path_ratio")


def zigzag(probs: xr.DataArray, *, labels: xr.DataArray | None = None, dim: str = EPOCH,
           label_dim: str = LABEL) -> xr.DataArray:
    """Zig-zag score: the most probability another class gained before convergence.

    Parameters
    ----------
    probs : xarray.DataArray
        Probabilities with ``dim`` (time) and ``label_dim``; other dims (``sample``) kept.
    labels : xarray.DataArray of int, optional
        The reference class of each path (e.g. the given, possibly noisy, training label),
        broadcast against the other dims. Default: the class predicted at the last time.
    dim, label_dim : str
        Time and class dims.

    Returns
    -------
    xarray.DataArray
        Score in [0, 1) per path; 0 for a path on which no other class ever rises.

    Notes
    -----
    With reference class ``r``, let ``t*`` be the first time from which ``r`` stays the
    arg-max until the end (the last time if it never does). Then

    .. math:: zigzag = \\max_{t \\le t^*} \\max_{c \\ne r} (π_{t,c} − π_{0,c})^+ ,

    the largest probability a class other than ``r`` gained over its starting value before
    convergence. A path heading straight to ``r`` (others only fall) scores 0; a detour
    through class ``c`` scores the height of the detour above ``c``'s start. Our choice: Ren
    et al. (ICLR 2022) show such detours on the simplex but give no single number; measuring
    the gain over the start makes the uniform-ish prediction at initialisation count as 0.

    Examples
    --------
    >>> p = xr.DataArray([[[1/3, 1/3, 1/3]], [[0.1, 0.8, 0.1]], [[0.8, 0.1, 0.1]]],
    ...                  dims=("epoch", "sample", "label"))
    >>> round(float(zigzag(p).item()), 4)
    0.4667
    """
    require(probs, "zigzag", [dim, label_dim], min_size={dim: 1}, name="probs")
    if labels is None:
        ref = probs.isel({dim: -1}).argmax(label_dim)
    else:
        if not isinstance(labels, xr.DataArray):
            raise TypeError(f"zigzag() needs labels as an xarray.DataArray of ints; got "
                            f"{type(labels).__name__}")
        ref = labels
    out = xr.apply_ufunc(_zigzag, probs, ref, input_core_dims=[[dim, label_dim], []],
                         dask="parallelized", output_dtypes=[float])
    out.attrs = {"long_name": "zig-zag score (max gain of another class)", "units": "1",
                 "reference": "final prediction" if labels is None else "given label"}
    return out.rename("zigzag")


def _apply(kernel, probs, dim, label_dim):
    return xr.apply_ufunc(kernel, probs, input_core_dims=[[dim, label_dim]],
                          dask="parallelized", output_dtypes=[float])


def _length(p):
    return np.linalg.norm(np.diff(p, axis=-2), axis=-1).sum(-1)


def _ratio(p):
    chord = np.linalg.norm(p[..., -1, :] - p[..., 0, :], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chord > 0, _length(p) / np.where(chord > 0, chord, 1.0), np.nan)


def _zigzag(p, ref):
    """p (..., T, L), ref (...) int -> (...)."""
    ref = np.asarray(ref).astype(np.int64)
    n_t, n_l = p.shape[-2:]
    is_ref = p.argmax(-1) == ref[..., None]                              # (..., T)
    stays = np.flip(np.cumprod(np.flip(is_ref, -1), -1), -1).astype(bool)
    t_conv = np.where(stays.any(-1), stays.argmax(-1), n_t - 1)          # (...)
    before = np.arange(n_t) <= t_conv[..., None]                        # (..., T)
    other = np.arange(n_l) != ref[..., None]                            # (..., L)
    gain = p - p[..., :1, :]
    mask = before[..., :, None] & other[..., None, :]
    return np.clip(np.where(mask, gain, -np.inf).max(axis=(-2, -1)), 0.0, None)


__all__ = ["probabilities", "path_length", "path_ratio", "zigzag"]
