"""Training curves: loss over steps, train/test accuracy over epochs."""

from __future__ import annotations

import xarray as xr

from .base import SELECTION_GID, axes_or_new, epoch_axis, lines


def accuracy_curves(epochs: xr.Dataset, *, ax=None):
    """Train and test accuracy per epoch."""
    ax = axes_or_new(ax)
    for name in ("train_acc", "test_acc", "probe_acc"):
        if name in epochs:
            ax.plot(epochs["epoch"].values, epochs[name].values, marker="o",
                    label=name.replace("_acc", ""))
    epoch_axis(ax)
    ax.set_ylabel("accuracy")
    if ax.lines:
        ax.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                  frameon=False, borderaxespad=0.2)
    return ax


def training_curves(loss: xr.DataArray, epochs: xr.Dataset, *, step=None, epoch=None,
                    ax=None, smooth: int = 9):
    """Loss over steps (``step`` marked) beside accuracy over epochs (``epoch`` marked).

    ``ax`` is a pair of Axes (or None); returns the pair.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2, figsize=(10, 3.2))
    import numpy as np

    lines(loss, x="step", ax=ax[0], smooth=smooth)
    accuracy_curves(epochs, ax=ax[1])
    epoch_axis(ax[1], epochs["epoch"].values)
    for a, value in zip(ax, (step, epoch), strict=True):
        a.axvline(np.nan if value is None else value, color="C3", lw=1.2, ls="--",
                  gid=SELECTION_GID)
    return ax[0], ax[1]


__all__ = ["accuracy_curves", "training_curves"]
