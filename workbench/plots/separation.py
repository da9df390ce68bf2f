"""The separation picture: the load curve over depth at one epoch with its linear law,
beside the deviation from the law over epochs (He & Su's law of data separation)."""

from __future__ import annotations

import xarray as xr

from .base import SELECTION_GID, artist, epoch_axis, epoch_marker, label_of, padded_limits


def draw(data: xr.Dataset, ax, *, epoch) -> dict:
    """Cumulative load per layer against depth at ``epoch`` (left, with the fitted linear
    law; y-limits hold every epoch), the deviation from the law over epochs with ``epoch``
    marked (right).

    Parameters
    ----------
    data : Dataset (epoch, layer)
        ``run.analysis("separation")``: ``cumulative_load``, ``linear_law``,
        ``linear_law_deviation`` and the coord ``depth(layer)``.
    ax : (Axes, Axes)
    epoch : int
        The selected epoch (the nearest one is drawn).

    Returns
    -------
    dict
        ``axes``, ``load``, ``law`` and ``selection``; pass to :func:`update`.

    Examples
    --------
    >>> import numpy as np, xarray as xr, matplotlib.pyplot as plt
    >>> ds = xr.Dataset({"cumulative_load": (("epoch", "layer"), [[0.5, 1.0], [0.4, 1.0]]),
    ...                  "linear_law": (("epoch", "layer"), [[0.5, 1.0], [0.5, 1.0]]),
    ...                  "linear_law_deviation": ("epoch", [0.0, 0.1])},
    ...                 coords={"epoch": [0, 1], "layer": ["a", "b"], "depth": ("layer", [1, 2])})
    >>> h = draw(ds, plt.figure().subplots(1, 2), epoch=1)
    >>> h["load"].get_ydata().tolist()
    [0.4, 1.0]
    """
    d = data
    ax_l, ax_d = ax
    at = d.sel(epoch=epoch, method="nearest")
    depth = d["depth"].values
    ax_l.plot(depth, at["cumulative_load"].values, "o-", color="C0", lw=2,
              label=label_of(d["cumulative_load"]), gid="load")
    ax_l.plot(depth, at["linear_law"].values, "--", color="k", lw=1.2,
              label=label_of(d["linear_law"]), gid="law")
    ax_l.set_xticks(depth, [str(v) for v in d["layer"].values])
    ax_l.set_xlabel("layer (by depth)")
    ax_l.set_ylabel(label_of(d["cumulative_load"]))
    both = xr.concat([d["cumulative_load"], d["linear_law"]], "which")
    ax_l.set_ylim(*padded_limits(both.values))
    ax_l.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                frameon=False, borderaxespad=0.2)
    dev = d["linear_law_deviation"]
    ax_d.plot(d["epoch"].values, dev.values, "o-", color="C2")
    ax_d.set_ylabel(label_of(dev))
    epoch_axis(ax_d, d["epoch"].values)
    epoch_marker(ax_d, epoch)
    return {"axes": (ax_l, ax_d), "load": artist(ax_l, "load"), "law": artist(ax_l, "law"),
            "selection": artist(ax_d, SELECTION_GID)}


def update(handles: dict, at: xr.Dataset) -> None:
    """Show one epoch of the separation analysis (``at``, no epoch dim) in place."""
    handles["load"].set_ydata(at["cumulative_load"].values)
    handles["law"].set_ydata(at["linear_law"].values)
    e = float(at["epoch"])
    handles["selection"].set_xdata([e, e])


__all__ = ["draw", "update"]
