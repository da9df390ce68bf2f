"""The probe set: sample images and predicted probabilities over epochs."""

from __future__ import annotations

import xarray as xr

from .base import SELECTED_GID, SELECTION_GID, axes_or_new, epoch_axis, label_of


def sample_image(image: xr.DataArray, *, ax=None, title: str | None = None):
    """An image with dims (row, col[, channel]) or (y, x[, channel]), scaled for display."""
    import numpy as np

    ax = axes_or_new(ax)
    image = image.rename({k: v for k, v in {"y": "row", "x": "col"}.items() if k in image.dims})
    dims = [d for d in ("row", "col", "channel") if d in image.dims]
    values = np.asarray(image.transpose(*dims).values, dtype=float)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim == 3:
        lo, hi = np.nanmin(values), np.nanmax(values)
        ax.imshow((values - lo) / (hi - lo if hi > lo else 1.0))
    else:
        ax.imshow(values, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize="small")
    return ax


def probe_sample(probs: xr.DataArray, *, image: xr.DataArray | None = None, epoch=None,
                 classes=None, ax=None):
    """One probe sample: its image and its predicted probabilities across epochs.

    Parameters
    ----------
    probs : DataArray (epoch, label)
        Probabilities of one sample; a scalar coord ``target`` marks its true class (bold,
        gid ``"selected"``) and a scalar coord ``sample`` names it.
    image : DataArray (row, col[, channel]), optional
        Drawn on the left when given.
    epoch : int, optional
        Marked with a vertical line (gid ``"selection"``).
    classes : sequence of str, optional
        Class names by label.
    ax : Axes or pair of Axes, optional
        (image axes, probability axes) when ``image`` is given.

    Returns
    -------
    Axes, or a tuple (image axes, probability axes).
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2 if image is not None else 1, figsize=(8, 3.2),
                             width_ratios=[1, 3] if image is not None else None)
    ax_img, ax_p = (ax[0], ax[1]) if image is not None else (None, ax)

    def name(k):
        return str(classes[int(k)]) if classes is not None else str(k)

    target = int(probs["target"]) if "target" in probs.coords else None
    epochs = probs["epoch"].values
    last = probs.isel(epoch=-1)
    shown = {int(k) for k in last.sortby(last, ascending=False)["label"].values[:3]}
    if target is not None:
        shown.add(target)
    for k in probs["label"].values:
        p = probs.sel(label=k).values
        if int(k) == target:
            ax_p.plot(epochs, p, color="k", lw=2.2, marker="o", label=f"{name(k)} (true)",
                      zorder=3, gid=SELECTED_GID)
        elif int(k) in shown:
            ax_p.plot(epochs, p, marker=".", lw=1.2, label=name(k), zorder=2)
        else:
            ax_p.plot(epochs, p, color="0.8", lw=0.8, zorder=1)
    ax_p.axvline(float("nan") if epoch is None else epoch, color="C3", lw=1.2, ls="--",
                 gid=SELECTION_GID)
    ax_p.set_ylim(-0.02, 1.02)
    epoch_axis(ax_p, epochs)
    ax_p.set_ylabel(label_of(probs) or "probability")
    ax_p.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    if image is None:
        return ax_p
    sample_image(image, ax=ax_img, title=probe_title(probs, epoch=epoch, classes=classes))
    return ax_img, ax_p


def probe_title(probs: xr.DataArray, *, epoch=None, classes=None) -> str:
    """"sample i / true: c / epoch e: predicted" for one probe sample's probabilities."""
    def name(k):
        return str(classes[int(k)]) if classes is not None else str(k)

    sample = int(probs["sample"]) if "sample" in probs.coords else None
    target = int(probs["target"]) if "target" in probs.coords else None
    title = "" if sample is None else f"sample {sample}"
    if target is not None:
        title += f"\ntrue: {name(target)}"
    if epoch is not None:
        at = probs.sel(epoch=epoch, method="nearest")
        pred = int(at["label"].values[int(at.argmax("label"))])
        title += f"\nepoch {epoch}: {name(pred)}"
    return title


def image_grid(images: xr.DataArray, *, dim: str = "sample", titles=None, ncols: int = 4,
               cmap: str | None = None, symmetric: bool = False, fig=None):
    """Images along ``dim`` in a grid; ``symmetric`` centres the colour scale on 0 (for
    attributions). Returns the array of Axes."""
    import numpy as np

    n = images.sizes[dim]
    nrows = -(-n // ncols)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(2.2 * ncols, 2.3 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        img = images.isel({dim: i})
        img = img.rename({k: v for k, v in {"y": "row", "x": "col"}.items() if k in img.dims})
        if "channel" in img.dims:
            img = img.mean("channel") if symmetric else img
        values = np.asarray(img.transpose(*[d for d in ("row", "col", "channel")
                                            if d in img.dims]).values, dtype=float)
        if values.ndim == 3 and values.shape[-1] == 1:
            values = values[..., 0]
        if symmetric:
            lim = np.nanmax(np.abs(values)) or 1.0
            ax.imshow(values, cmap=cmap or "RdBu_r", vmin=-lim, vmax=lim)
        elif values.ndim == 3:
            lo, hi = np.nanmin(values), np.nanmax(values)
            ax.imshow((values - lo) / (hi - lo if hi > lo else 1.0))
        else:
            ax.imshow(values, cmap=cmap or "gray")
        title = titles[i] if titles is not None else str(images[dim].values[i])
        ax.set_title(title, fontsize="small")
    return axes


__all__ = ["sample_image", "probe_sample", "probe_title", "image_grid"]
