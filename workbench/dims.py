"""Dimension names shared by every part of the workbench, and one validator.

Every array the workbench records or returns uses these names; code refers to dims by
name, never by axis number.

========== =============================================================
name       meaning
========== =============================================================
step       global optimizer step (the index of the /steps and /layers groups)
eval_step  optimizer steps taken when the test subset was evaluated (/evals)
epoch      training epoch
layer      a layer or layer group, named as in ``model.named_modules()``
sample     a dataset index (not a position in a batch)
unit       a feature (flattened channel x position) of a layer's output
label      a class
sample_i   first sample axis of a kernel (eNTK)
sample_j   second sample axis of a kernel
label_i    first class axis of a kernel
label_j    second class axis of a kernel
sample_u   the update examples of an AKG decomposition
component  the A, K, G terms of an AKG decomposition
scale      DFA window sizes
========== =============================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

STEP = "step"
EVAL_STEP = "eval_step"
EPOCH = "epoch"
LAYER = "layer"
SAMPLE = "sample"
UNIT = "unit"
LABEL = "label"
SAMPLE_I = "sample_i"
SAMPLE_J = "sample_j"
LABEL_I = "label_i"
LABEL_J = "label_j"
SAMPLE_U = "sample_u"
COMPONENT = "component"
SCALE = "scale"

__all__ = [
    "STEP", "EVAL_STEP", "EPOCH", "LAYER", "SAMPLE", "UNIT", "LABEL", "SAMPLE_I", "SAMPLE_J",
    "LABEL_I", "LABEL_J", "SAMPLE_U", "COMPONENT", "SCALE", "DimsError", "require", "choice",
]


class DimsError(ValueError):
    """An array does not have the dims (or sizes) a function needs."""


class NonFiniteError(ValueError):
    """A diagnostic got NaN or infinite values where it needs finite ones."""


def require_finite(values, func: str, *, dim: str = "step", name: str = "x") -> None:
    """Raise :class:`NonFiniteError` naming ``func`` when ``values`` hold NaN or inf.

    Called inside a diagnostic's numpy core, so it also runs block by block on dask arrays.

    Examples
    --------
    >>> import numpy as np
    >>> require_finite(np.array([1.0, np.nan]), "synchrony")
    Traceback (most recent call last):
    ...
    workbench.dims.NonFiniteError: synchrony() needs finite values in x; found 1 NaN/inf of 2 ...
    """
    import numpy as np

    values = np.asarray(values)
    bad = int(values.size - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise NonFiniteError(
            f"{func}() needs finite values in {name}; found {bad} NaN/inf of {values.size} "
            f"(steps where a value was not recorded, or a diverged run). Drop or fill them "
            f"first, e.g. {name}.dropna({dim!r}, how='any') or {name}.interpolate_na({dim!r})")


def require(x, func: str, dims: Iterable[str] = (), *,
            min_size: Mapping[str, int] | None = None, name: str = "x") -> None:
    """Check that ``x`` is a DataArray with ``dims`` (and sizes), or raise a clear error.

    Parameters
    ----------
    x : xarray.DataArray
        The array to check.
    func : str
        Name of the calling function, used in the message (e.g. ``"dfa"``).
    dims : iterable of str
        Dims that must be present (others are allowed).
    min_size : mapping of str to int, optional
        Minimum length along some of those dims.
    name : str
        What the argument is called, for the message.

    Raises
    ------
    TypeError
        If ``x`` is not an ``xarray.DataArray``.
    DimsError
        Naming the dims expected and the dims and sizes found.

    Examples
    --------
    >>> import numpy as np, xarray as xr  # doctest: +ELLIPSIS
    >>> x = xr.DataArray(np.zeros(12), dims="epoch")
    >>> require(x, "dfa", ["step"], min_size={"step": 64})
    Traceback (most recent call last):
    ...
    workbench.dims.DimsError: dfa() needs a 'step' dim with at least 64 points; got dims ...
    """
    import xarray as xr

    if not isinstance(x, xr.DataArray):
        raise TypeError(f"{func}() needs {name} as an xarray.DataArray with dims "
                        f"{tuple(dims)}; got {type(x).__name__}")
    min_size = dict(min_size or {})
    found = f"got dims {tuple(x.dims)} with sizes {dict(x.sizes)}"
    for d in dims:
        need = min_size.get(d)
        what = f"a {d!r} dim" + (f" with at least {need} points" if need else "")
        if d not in x.dims:
            raise DimsError(f"{func}() needs {what}; {found}")
        if need and x.sizes[d] < need:
            raise DimsError(f"{func}() needs {what}; {found}")


def choice(value: str, choices: Iterable[str], what: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them.

    Examples
    --------
    >>> choice("cnn", ["cnn", "mlp"], "model")
    'cnn'
    """
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected one of: {', '.join(choices)}")
    return value
