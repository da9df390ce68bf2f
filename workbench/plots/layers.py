"""Per-layer statistics over steps, the selected layer bold."""

from __future__ import annotations

import xarray as xr

from .base import SELECTED_GID, SELECTION_GID, axes_or_new, label_of, spans_decades
from .placement import stack_end_labels


def layer_stat(da: xr.DataArray, *, layer=None, step=None, ax=None, smooth: int = 1,
               logy: bool | None = None):
    """One per-layer statistic over steps: ``layer`` bold, the others faint and labelled at
    their ends, ``step`` marked.

    Parameters
    ----------
    da : DataArray (step, layer)
    layer : str, optional
        The layer drawn bold (gid ``"selected"``); default the first. Each line has gid
        ``"layer:<name>"`` too (the bold one is found by ``"selected"``).
    step : int, optional
        Marked with a vertical line (gid ``"selection"``).
    smooth : int
        Centred rolling mean over that many steps (NaNs, such as unrecorded steps, skipped).
    logy : bool, optional
        Log y-axis; by default when the statistic spans more than two decades
        (:func:`spans_decades`).
    """
    ax = axes_or_new(ax)
    layers = [str(v) for v in da["layer"].values]
    layer = layers[0] if layer is None else str(layer)
    data = da.rolling(step=smooth, center=True, min_periods=1).mean() if smooth > 1 else da
    for name in layers:
        line = data.sel(layer=name).dropna("step")
        (drawn,) = ax.plot(line["step"].values, line.values, label=name, gid=f"layer:{name}")
        drawn.wb_layer = name
        if len(line):
            ax.text(float(line["step"].values[-1]), float(line.values[-1]), name,
                    fontsize="x-small", va="center", gid=f"label:{name}")
    style_layers(ax, layers, layer)
    steps = da["step"].values
    if len(steps):
        ax.set_xlim(steps.min(), steps.max() + 0.12 * (steps.max() - steps.min() or 1))
    if step is not None:
        ax.axvline(step, color="C3", lw=1.2, ls="--", zorder=4, gid=SELECTION_GID)
    if logy is None:
        logy = spans_decades(data.values)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(label_of(da["step"]) if "step" in da.coords else "step")
    ax.set_ylabel(label_of(da))
    title = f"{da.name or ''} · {layer}" + ("" if step is None else f" · step {step}")
    ax.set_title(title.strip(" ·"), fontsize="medium")
    place_end_labels(ax)
    return ax


def place_end_labels(ax) -> None:
    """The layer names of :func:`layer_stat` at their lines' ends, spread apart so none
    overlaps another (:func:`~workbench.plots.placement.stack_end_labels`); call again
    once the figure is laid out."""
    import numpy as np

    lines = {getattr(ln, "wb_layer", None): ln for ln in ax.lines}
    texts, ends = [], []
    for text in ax.texts:
        gid = text.get_gid() or ""
        if gid.startswith("label:") and gid[6:] in lines:
            x, y = (np.asarray(v, dtype=float) for v in lines[gid[6:]].get_data())
            texts.append(text)
            ends.append((x[-1], y[-1]) if len(x) else (np.nan, np.nan))
    stack_end_labels(ax, texts, ends, dx=3.0)


def style_layers(ax, layers, layer) -> None:
    """Make ``layer``'s line bold (gid ``"selected"``) and the others faint, in place."""
    for line in ax.lines:
        name = getattr(line, "wb_layer", None)
        if name is None:
            continue
        bold = name == layer
        line.set_gid(SELECTED_GID if bold else f"layer:{name}")
        line.set_color("C0" if bold else "0.7")
        line.set_linewidth(1.8 if bold else 0.8)
        line.set_zorder(3 if bold else 1)
    for text in ax.texts:
        if (text.get_gid() or "").startswith("label:"):
            bold = text.get_gid() == f"label:{layer}"
            text.set_color("C0" if bold else "0.45")
            text.set_fontweight("bold" if bold else "normal")


__all__ = ["layer_stat", "place_end_labels", "style_layers"]
