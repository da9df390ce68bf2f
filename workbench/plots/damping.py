"""The damping regime per (epoch, layer) as a coloured strip."""

from __future__ import annotations

import xarray as xr

from .base import SELECTION_GID, axes_or_new, epoch_axis

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


__all__ = ["REGIMES", "REGIME_COLORS", "regime_strip"]
