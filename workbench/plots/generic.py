"""The generic picture of any per-epoch variable (an analysis with no view of its own)."""

from __future__ import annotations

import xarray as xr

from .base import (
    SELECTED_GID,
    epoch_axis,
    epoch_marker,
    label_of,
    layer_bars,
    padded_limits,
    set_bars,
    spans_decades,
)


def _at_epoch(da: xr.DataArray, epoch) -> xr.DataArray:
    """``da`` at the epoch nearest ``epoch`` (the first epoch when ``epoch`` is None)."""
    if epoch is None:
        return da.isel(epoch=0)
    return da.sel(epoch=epoch, method="nearest")


def _other_dim(da: xr.DataArray) -> str | None:
    rest = [d for d in da.dims if d not in ("epoch", "layer")]
    return rest[0] if rest else None


def _positions(da: xr.DataArray, dim: str):
    """The values to plot ``dim`` at: its numeric coord, else 0, 1, 2…"""
    import numpy as np

    if dim in da.coords and np.asarray(da[dim].values).dtype.kind in "iuf":
        return np.asarray(da[dim].values, dtype=float)
    return np.arange(da.sizes[dim], dtype=float)


def generic_epochs(da: xr.DataArray, *, epoch=None, layer=None, fig=None) -> dict:
    """Any per-epoch variable, drawn by its dims (no view code needed).

    - ``(epoch,)``: a line over epochs, the selected epoch marked (gid ``"selection"``)
      and its value as a point (gid ``"selected"``);
    - ``(epoch, layer)``: a line per layer over epochs (``layer`` bold) beside one bar per
      layer holding the selected epoch's values (gid ``"bars"``, fixed limits);
    - ``(epoch, layer, x)``: a heat map of (layer, x) at the selected epoch (fixed colour
      limits over all epochs) beside ``layer``'s profile over x;
    - ``(epoch, x)``: the profile over x at the selected epoch.

    Parameters
    ----------
    da : DataArray
        One variable of an /analysis group, numeric, with an ``epoch`` dim, at most one dim
        besides ``epoch`` and ``layer``.
    epoch, layer : optional
        The selection (the nearest epoch; an unknown layer means the first).
    fig : Figure, optional

    Returns
    -------
    dict
        Handles for :func:`set_generic_epochs`: ``"kind"``, ``"axes"``, ``"dynamic"`` (the
        artists that change with the selection) and the artists by role.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(6.0).reshape(3, 2), dims=("epoch", "layer"),
    ...                   coords={"epoch": [0, 1, 2], "layer": ["a", "b"]}, name="v")
    >>> h = generic_epochs(da, epoch=1)
    >>> from workbench.plots import bar_heights
    >>> [float(v) for v in bar_heights(h["axes"][1])]
    [2.0, 3.0]
    """
    import numpy as np

    if "epoch" not in da.dims or da.ndim > 3 or da.sizes["epoch"] < 1:
        raise ValueError(f"generic_epochs() needs a variable with an 'epoch' dim (at least "
                         f"one epoch) and at most 3 dims; got {dict(da.sizes)}")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(8, 3.4), layout="constrained")
    da = da.astype(float)
    other = _other_dim(da)
    has_layer = "layer" in da.dims
    if da.ndim - has_layer - (other is not None) != 1:
        raise ValueError(f"generic_epochs() draws (epoch,), (epoch, layer), (epoch, x) or "
                         f"(epoch, layer, x); got dims {da.dims}")
    epochs = _positions(da, "epoch")
    label = label_of(da)
    h: dict = {"kind": ("epoch",) + (("layer",) if has_layer else ()) + ((other,) if other
                                                                         else ())}
    values = np.asarray(da.values, dtype=float)
    log = spans_decades(values)
    if not has_layer and other is None:
        ax = fig.subplots()
        ax.plot(epochs, values, marker="o", ms=3, color="C0")
        h["marker"] = epoch_marker(ax, epochs[0])
        (h["point"],) = ax.plot([epochs[0]], [values[0]], "o", color="C3", ms=7,
                                gid=SELECTED_GID, zorder=6)
        ax.set_ylabel(label)
        ax.set_ylim(*padded_limits(values, log=log))
        if log:
            ax.set_yscale("log")
        epoch_axis(ax, epochs)
        h["axes"] = (ax,)
        h["dynamic"] = [h["marker"], h["point"], ax.title]
    elif other is None:
        left, right = fig.subplots(1, 2, width_ratios=(3, 2))
        names = [str(v) for v in da["layer"].values]
        h["lines"] = {}
        for name in names:
            (h["lines"][name],) = left.plot(epochs, da.sel(layer=name).values, marker="o",
                                            ms=2, label=name)
        left.set_ylabel(label)
        if log:
            left.set_yscale("log")
        epoch_axis(left, epochs)
        if len(names) <= 12:
            left.legend(fontsize="x-small", title="layer", title_fontsize="x-small")
        h["marker"] = epoch_marker(left, epochs[0])
        layer_bars(_at_epoch(da, None), limits=padded_limits(values, log=log, zero=not log),
                   log=log, ax=right)
        right.tick_params(axis="x", labelrotation=45, labelsize="x-small")
        h["bars"] = [p for p in right.patches if p.get_gid() == "bars"]
        h["axes"] = (left, right)
        h["dynamic"] = [h["marker"], *h["bars"], right.title]
    else:
        grid = fig.subplots(1, 2 if has_layer else 1, squeeze=False)[0]
        xs = _positions(da, other)
        finite = values[np.isfinite(values)]
        if has_layer:
            ax = grid[0]
            first = _at_epoch(da, None).transpose("layer", other)
            diverging = bool(finite.size and finite.min() < 0 < finite.max())
            lim = float(np.abs(finite).max()) if finite.size else 1.0
            vmin, vmax = ((-lim, lim) if diverging else
                          ((float(finite.min()), float(finite.max())) if finite.size
                           else (0.0, 1.0)))
            h["image"] = ax.imshow(first.values, aspect="auto", interpolation="nearest",
                                   cmap="RdBu_r" if diverging else "viridis", vmin=vmin,
                                   vmax=vmax, gid="image")
            ax.set_yticks(range(first.sizes["layer"]), [str(v) for v in first["layer"].values],
                          fontsize="x-small")
            ax.set_xlabel(other)
            ax.figure.colorbar(h["image"], ax=ax, label=label)
            prof = grid[1]
        else:
            prof = grid[0]
        (h["profile"],) = prof.plot(xs, np.full(xs.shape, np.nan), marker="o", ms=2,
                                    color="C0", gid=SELECTED_GID)
        prof.set_xlim(*padded_limits(xs))
        prof.set_ylim(*padded_limits(values, log=log))
        if log:
            prof.set_yscale("log")
        prof.set_xlabel(label_of(da[other]) if other in da.coords else other)
        prof.set_ylabel(label)
        h["axes"] = tuple(grid)
        h["dynamic"] = [a for a in (h.get("image"), h["profile"]) if a is not None]
        h["dynamic"] += [ax.title for ax in grid]
    set_generic_epochs(h, da, epoch=epoch, layer=layer)
    return h


def set_generic_epochs(handles: dict, da: xr.DataArray, *, epoch=None, layer=None) -> bool:
    """Show the selection on a :func:`generic_epochs` picture, in place.

    Returns True when the lines' styles changed (another layer is bold), so the caller's
    cached background is out of date.
    """
    import numpy as np

    da = da.astype(float)
    at = _at_epoch(da, epoch)
    e = float(at["epoch"].values) if "epoch" in at.coords else 0.0
    names = [str(v) for v in da["layer"].values] if "layer" in da.dims else []
    chosen = layer if layer in names else (names[0] if names else None)
    restyled = False
    if "marker" in handles:
        handles["marker"].set_xdata([e, e])
    kind = handles["kind"]
    name = str(da.name or "")
    if kind == ("epoch",):
        v = float(at.values)
        handles["point"].set_data([e], [v])
        handles["axes"][0].set_title(f"{name} · epoch {e:g}: {v:.4g}", fontsize="medium")
    elif len(kind) == 2 and kind[1] == "layer":
        set_bars(handles["axes"][1], at.values,
                 colors=["C3" if n == chosen else "C0" for n in names])
        if handles.get("bold") != chosen:
            for n, line in handles["lines"].items():
                line.set_linewidth(2.4 if n == chosen else 1.0)
                line.set_alpha(1.0 if n == chosen else 0.45)
            restyled = "bold" in handles
            handles["bold"] = chosen
        handles["axes"][1].set_title(f"epoch {e:g} · {chosen}: "
                                     f"{float(at.sel(layer=chosen).values):.4g}",
                                     fontsize="medium")
    else:
        other = kind[-1]
        if "image" in handles:
            handles["image"].set_data(np.asarray(at.transpose("layer", other).values, float))
            handles["axes"][0].set_title(f"{name} · epoch {e:g}", fontsize="medium")
            handles["profile"].set_ydata(at.sel(layer=chosen).values)
            handles["axes"][1].set_title(f"{chosen}", fontsize="medium")
        else:
            handles["profile"].set_ydata(at.values)
            handles["axes"][0].set_title(f"{name} · epoch {e:g}", fontsize="medium")
    return restyled


#: The family's pair (see :mod:`workbench.plots`): ``draw(data, epoch=, layer=, fig=)``
#: and ``update(handles, data, epoch=, layer=)``.
draw, update = generic_epochs, set_generic_epochs


__all__ = ["generic_epochs", "set_generic_epochs", "draw", "update"]
