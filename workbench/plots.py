"""One function per picture: data in (xarray), an optional ``ax``, the Axes out.

Axis labels come from the data's ``attrs`` (``long_name``, ``units``). Plots never compute
diagnostics; they draw what they are given.
"""

from __future__ import annotations

import xarray as xr


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


def label_of(da: xr.DataArray) -> str:
    """``long_name [units]`` from attrs, or the variable's name."""
    name = da.attrs.get("long_name", da.name or "")
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def lines(da: xr.DataArray, *, x: str, hue: str | None = None, ax=None, logy: bool = False,
          smooth: int = 1, **kw):
    """One line per value of ``hue`` (e.g. layer) against dim ``x`` (e.g. step).

    ``smooth`` > 1 draws a centred rolling mean over that many points.
    """
    ax = _ax(ax)
    data = da.rolling({x: smooth}, center=True, min_periods=1).mean() if smooth > 1 else da
    groups = [(None, data)] if hue is None else [(v, data.sel({hue: v})) for v in da[hue].values]
    for value, line in groups:
        ax.plot(line[x].values, line.values, label=None if value is None else str(value), **kw)
    ax.set_xlabel(label_of(da[x]) if x in da.coords else x)
    ax.set_ylabel(label_of(da))
    if logy:
        ax.set_yscale("log")
    if hue is not None:
        ax.legend(title=hue, fontsize="small")
    return ax


def heatmap(da: xr.DataArray, *, x: str, y: str, ax=None, cmap: str = "viridis", **kw):
    """``da`` as an image with dim ``x`` across and dim ``y`` down, with a colour bar."""
    ax = _ax(ax)
    d = da.transpose(y, x)
    mesh = ax.pcolormesh(range(d.sizes[x]), range(d.sizes[y]), d.values, cmap=cmap,
                         shading="nearest", **kw)
    ax.set_yticks(range(d.sizes[y]), [str(v) for v in d[y].values])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.figure.colorbar(mesh, ax=ax, label=label_of(da))
    return ax


def accuracy_curves(epochs: xr.Dataset, *, ax=None):
    """Train and test accuracy per epoch."""
    ax = _ax(ax)
    for name in ("train_acc", "test_acc"):
        if name in epochs:
            ax.plot(epochs["epoch"].values, epochs[name].values, marker="o",
                    label=name.replace("_acc", ""))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend()
    return ax
