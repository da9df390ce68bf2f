"""Damping: the regime per (epoch, layer) as a coloured strip, and the damping view's
panels (ζ and λ per layer, lr and momentum against the critical momentum)."""

from __future__ import annotations

import xarray as xr

from .base import (
    SELECTION_GID,
    artist,
    axes_or_new,
    epoch_axis,
    epoch_marker,
    label_of,
    layer_bars,
    padded_limits,
    set_bars,
    spans_decades,
)

#: The damping regimes in strip order, and their colours (under → blue, over → red).
REGIMES = ("underdamped", "critical", "overdamped")


REGIME_COLORS = ("#4477aa", "#cccccc", "#cc6677")


def regime_strip(regime: xr.DataArray, *, epoch=None, ax=None):
    """The damping regime per (epoch, layer) as a coloured strip, ``epoch`` marked.

    Parameters
    ----------
    regime : DataArray (epoch, layer) of str
        "underdamped" | "critical" | "overdamped" (anything else is drawn blank).
    epoch : int, optional
        Marked with a vertical line (gid ``"selection"``).
    """
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = axes_or_new(ax)
    d = regime.transpose("layer", "epoch")
    codes = np.full(d.shape, np.nan)
    for i, name in enumerate(REGIMES):
        codes[np.char.strip(d.values.astype(str)) == name] = i
    epochs = d["epoch"].values
    ax.pcolormesh(epochs, np.arange(d.sizes["layer"]), codes, shading="nearest",
                  cmap=ListedColormap(REGIME_COLORS), vmin=-0.5, vmax=2.5,
                  edgecolors="w", linewidth=0.5, gid="regime")
    ax.set_yticks(range(d.sizes["layer"]), [str(v) for v in d["layer"].values])
    ax.invert_yaxis()
    epoch_axis(ax)
    ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)
    if epoch is not None:
        ax.axvline(epoch, color="k", lw=2.0, zorder=5, gid=SELECTION_GID)
    handles = [Patch(color=c, label=n) for c, n in zip(REGIME_COLORS, REGIMES, strict=True)]
    ax.legend(handles=handles,
              fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3,
              frameon=False, borderaxespad=0.2)
    return ax



def draw(data: xr.Dataset, ax, *, epoch) -> dict:
    """The damping view's three panels: the regime strip with ``epoch`` marked; ζ per layer
    at ``epoch`` (bars, log axis, ζ = 1 dotted) with the curvature λ per layer (dots, right
    axis); lr and momentum over epochs against the critical momentum.

    Parameters
    ----------
    data : Dataset (epoch, layer)
        ``run.analysis("damping")``: ``regime``, ``damping_ratio``, ``curvature``, ``lr``,
        ``momentum``, ``critical_momentum``.
    ax : (Axes, Axes, Axes)
    epoch : int
        The selected epoch (the nearest one is drawn).

    Returns
    -------
    dict
        ``axes``, ``zeta`` (the bars' Axes), ``bars``, ``curvature``, ``markers`` (the two
        epoch markers); pass to :func:`update`. Bar and curvature limits hold every epoch.
    """
    d = data
    ax_s, ax_z, ax_m = ax
    regime_strip(d["regime"], epoch=epoch, ax=ax_s)
    ax_s.set_title("regime from measured curvature", fontsize="medium", loc="left", y=1.12)
    at = d.sel(epoch=epoch, method="nearest")
    zlim = padded_limits(d["damping_ratio"].values, log=True, include=[1.0])
    clim = padded_limits(d["curvature"].values, log=True)
    layer_bars(at["damping_ratio"], limits=zlim, log=True, ref=1.0, ax=ax_z)
    ax_c = ax_z.twinx()
    ax_c.plot(range(at.sizes["layer"]), at["curvature"].values, "o", color="C1",
              gid="curvature", label=r"curvature $\lambda$")
    ax_c.set_yscale("log")
    ax_c.set_ylim(*clim)
    ax_c.set_ylabel(label_of(d["curvature"]), color="C1")
    ax_z.tick_params(axis="x", labelrotation=30)
    ax_z.set_title(f"ζ and λ per layer · epoch {int(at['epoch'])}", fontsize="medium")
    ax_m.plot(d["epoch"].values, d["momentum"].values, "o-", color="C0",
              label=label_of(d["momentum"]))
    ax_m.plot(d["epoch"].values, d["critical_momentum"].values, "s--", color="k",
              label=label_of(d["critical_momentum"]))
    ax_m.set_ylabel("momentum")
    ax_l = ax_m.twinx()
    ax_l.plot(d["epoch"].values, d["lr"].values, ".:", color="C2")
    ax_l.set_ylabel(label_of(d["lr"]), color="C2")
    if spans_decades(d["lr"].values, 1.0):
        ax_l.set_yscale("log")
    epoch_axis(ax_m, d["epoch"].values)
    epoch_marker(ax_m, epoch)
    ax_m.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=1,
                frameon=False, borderaxespad=0.2)
    return {"axes": (ax_s, ax_z, ax_m), "twins": (ax_c, ax_l), "zeta": ax_z,
            "bars": [p for p in ax_z.patches if p.get_gid() == "bars"],
            "curvature": artist(ax_c, "curvature"),
            "markers": (artist(ax_s, SELECTION_GID), artist(ax_m, SELECTION_GID))}


def update(handles: dict, at: xr.Dataset) -> None:
    """Show one epoch of the damping analysis (``at``, no epoch dim) in place."""
    e = float(at["epoch"])
    for marker in handles["markers"]:
        marker.set_xdata([e, e])
    set_bars(handles["zeta"], at["damping_ratio"].values)
    handles["curvature"].set_ydata(at["curvature"].values)
    handles["zeta"].set_title(f"ζ and λ per layer · epoch {int(e)}", fontsize="medium")


__all__ = ["REGIMES", "REGIME_COLORS", "regime_strip", "draw", "update"]
