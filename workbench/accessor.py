"""The ``.wb`` accessor on xarray objects: forwards to :mod:`workbench.diagnostics`, nothing else.

Defaults filled in from the data (only where the function's own default would not fit):

- time ``dim``: ``attrs["time_dim"]`` if set, else ``"step"`` if present, else ``"epoch"``;
- ``labels`` of :func:`separation_fuzziness`: the ``target`` (or ``label``/``labels``)
  coordinate along the sample dim, as written by the recorder on ``/probe`` and features.

Importing this module registers the accessor (``import workbench`` does it).

Examples
--------
>>> import numpy as np, xarray as xr
>>> import workbench.accessor  # noqa: F401
>>> x = xr.DataArray(np.random.default_rng(0).normal(size=(2, 256)), dims=("layer", "step"))
>>> x.wb.dfa().dims
('layer',)
"""

from __future__ import annotations

import xarray as xr

from . import diagnostics as dg
from .dims import EPOCH, SAMPLE, STEP

__all__ = ["WorkbenchDataArrayAccessor", "WorkbenchDatasetAccessor"]

_LABEL_COORDS = ("target", "label", "labels")


def _time_dim(obj, kwargs):
    if "dim" not in kwargs:
        dim = obj.attrs.get("time_dim")
        if dim is None:
            dim = STEP if STEP in obj.dims or EPOCH not in obj.dims else EPOCH
        kwargs["dim"] = dim
    return kwargs


def _labels(obj, kwargs):
    if kwargs.get("labels") is None:
        sample_dim = kwargs.get("sample_dim", SAMPLE)
        for name in _LABEL_COORDS:
            if name in obj.coords and obj[name].dims == (sample_dim,):
                kwargs["labels"] = obj[name]
                return kwargs
        raise ValueError(f"separation_fuzziness() needs labels=...: no coordinate among "
                         f"{_LABEL_COORDS} along {sample_dim!r}; found coords {list(obj.coords)}")
    return kwargs


@xr.register_dataarray_accessor("wb")
class WorkbenchDataArrayAccessor:
    """``da.wb.<diagnostic>(**kwargs)`` = ``workbench.diagnostics.<diagnostic>(da, **kwargs)``."""

    def __init__(self, obj: xr.DataArray):
        self._obj = obj

    def dfa(self, **kwargs):
        return dg.dfa(self._obj, **_time_dim(self._obj, kwargs))

    def phases(self, **kwargs):
        return dg.phases(self._obj, **_time_dim(self._obj, kwargs))

    def kuramoto_order(self, **kwargs):
        return dg.kuramoto_order(self._obj, **kwargs)

    def synchrony(self, **kwargs):
        return dg.synchrony(self._obj, **_time_dim(self._obj, kwargs))

    def metastability(self, **kwargs):
        return dg.metastability(self._obj, **_time_dim(self._obj, kwargs))

    def integration(self, **kwargs):
        return dg.integration(self._obj, **_time_dim(self._obj, kwargs))

    def stability(self, **kwargs):
        return dg.stability(self._obj, **_time_dim(self._obj, kwargs))

    def separation_fuzziness(self, labels=None, **kwargs):
        kwargs = _labels(self._obj, {"labels": labels, **kwargs})
        return dg.separation_fuzziness(self._obj, **kwargs)

    def load(self, **kwargs):
        return dg.load(self._obj, **kwargs)

    def load_curve(self, **kwargs):
        return dg.load_curve(self._obj, **kwargs)

    def linear_law_deviation(self, **kwargs):
        return dg.linear_law_deviation(self._obj, **kwargs)

    def powerlaw_alpha(self, **kwargs):
        return dg.powerlaw_alpha(self._obj, **kwargs)


@xr.register_dataset_accessor("wb")
class WorkbenchDatasetAccessor:
    """``ds.wb.<diagnostic>(var, **kwargs)`` = the DataArray accessor on ``ds[var]``.

    ``var`` may be omitted when the Dataset has a single data variable.
    """

    def __init__(self, obj: xr.Dataset):
        self._obj = obj

    def _var(self, var):
        if var is None:
            names = list(self._obj.data_vars)
            if len(names) != 1:
                raise ValueError(f"say which variable (var=...); the Dataset has {names}")
            var = names[0]
        if var not in self._obj.data_vars:
            raise KeyError(f"no variable {var!r}; the Dataset has {list(self._obj.data_vars)}")
        da = self._obj[var]
        return da.assign_attrs({**{k: v for k, v in self._obj.attrs.items()
                                   if k == "time_dim"}, **da.attrs})

    def dfa(self, var=None, **kwargs):
        return self._var(var).wb.dfa(**kwargs)

    def phases(self, var=None, **kwargs):
        return self._var(var).wb.phases(**kwargs)

    def synchrony(self, var=None, **kwargs):
        return self._var(var).wb.synchrony(**kwargs)

    def metastability(self, var=None, **kwargs):
        return self._var(var).wb.metastability(**kwargs)

    def integration(self, var=None, **kwargs):
        return self._var(var).wb.integration(**kwargs)

    def stability(self, var=None, **kwargs):
        return self._var(var).wb.stability(**kwargs)

    def separation_fuzziness(self, var=None, labels=None, **kwargs):
        return self._var(var).wb.separation_fuzziness(labels=labels, **kwargs)

    def powerlaw_alpha(self, var="eigenvalues", **kwargs):
        """Power-law fit of ``ds[var]`` (default: a weight spectrum's ``eigenvalues``)."""
        return self._var(var).wb.powerlaw_alpha(**kwargs)

    def early_convergence_lead(self, volatility, accuracy="test_acc", **kwargs):
        """Lead of ``volatility`` (a DataArray) over the Dataset's ``accuracy`` variable."""
        return dg.early_convergence_lead(volatility, self._var(accuracy), **kwargs)
