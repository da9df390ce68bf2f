"""Learning forces: AKG pull per class, one-step change of log-probability, class
paths, eNTK heat maps."""

from __future__ import annotations

import xarray as xr

from .base import (
    SELECTED_GID,
    SELECTION_GID,
    axes_or_new,
    class_name,
    integer_ticks,
    label_of,
)
from .placement import place_labels, stack_end_labels


def forces_pull(f: xr.Dataset, *, sample_o, classes=None, ax=None) -> dict:
    """The pull :math:`-\\eta\\,A K G` of each update example on one observed sample.

    One horizontal bar per update example ``sample_u``: its contribution to
    :math:`\\Delta \\log \\pi_y(x_o)` for the observed sample's true class :math:`y`
    (positive: the step on that example makes the true class likelier). Flipped-label update
    examples are red and marked "(flipped)".

    Parameters
    ----------
    f : Dataset
        One epoch of ``/analysis/forces``: ``pull(sample_o, sample_u, label)``, coords
        ``target(sample_o)``, ``label_u(sample_u)``, ``flipped(sample_u)``.
    sample_o : int
        The observed sample (a ``sample_o`` value).
    classes : sequence of str, optional
    ax : Axes, optional

    Returns
    -------
    dict
        ``ax``, ``bars`` (gid ``"pull"``); see :func:`set_forces_pull`.

    Examples
    --------
    >>> import numpy as np
    >>> pull = np.arange(8.0).reshape(1, 4, 2)
    >>> f = xr.Dataset({"pull": (("sample_o", "sample_u", "label"), pull)},
    ...                coords={"sample_o": [5], "sample_u": [1, 2, 3, 4], "label": [0, 1],
    ...                        "target": ("sample_o", [1]),
    ...                        "label_u": ("sample_u", [0, 1, 0, 1]),
    ...                        "flipped": ("sample_u", [False, True, False, False])})
    >>> [b.get_width() for b in forces_pull(f, sample_o=5)["bars"]]
    [1.0, 3.0, 5.0, 7.0]
    """
    import numpy as np
    from matplotlib.patches import Patch

    ax = axes_or_new(ax)
    su = np.asarray(f["sample_u"].values)
    flipped = (np.asarray(f["flipped"].values, dtype=bool).ravel()[-len(su):]
               if "flipped" in f.variables else np.zeros(len(su), bool))
    label_u = (np.asarray(f["label_u"].values).ravel()[-len(su):] if "label_u" in f.variables
               else None)
    y = np.arange(len(su))
    bars = ax.barh(y, np.zeros(len(su)), color=["C3" if fl else "C0" for fl in flipped],
                   gid="pull")
    names = []
    for i, u in enumerate(su):
        name = f"{int(u)}"
        if label_u is not None:
            name += f" · {class_name(classes, label_u[i])}"
        names.append(name + (" (flipped)" if flipped[i] else ""))
    ax.set_yticks(y, names, fontsize="x-small")
    for tick, fl in zip(ax.get_yticklabels(), flipped, strict=True):
        tick.set_color("C3" if fl else "k")
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel(label_of(f["pull"]) if f["pull"].attrs else "pull on log π")
    ax.set_ylabel("update example · its training label")
    if flipped.any():
        ax.legend(handles=[Patch(color="C3", label="flipped label"),
                           Patch(color="C0", label="label as drawn")],
                  fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncols=2, frameon=False)
    handles = {"ax": ax, "bars": list(bars), "classes": classes}
    set_forces_pull(handles, f, sample_o=sample_o)
    return handles


def set_forces_pull(handles: dict, f: xr.Dataset, *, sample_o, xlim=None) -> None:
    """Show another observed sample or epoch on :func:`forces_pull` (in place)."""
    import numpy as np

    target = int(f["target"].sel(sample_o=sample_o))
    pull = np.asarray(f["pull"].sel(sample_o=sample_o, label=target).values, dtype=float)
    for bar, v in zip(handles["bars"], pull, strict=True):
        bar.set_width(float(v) if np.isfinite(v) else 0.0)
    if xlim is None:
        lim = float(np.nanmax(np.abs(pull))) if np.isfinite(pull).any() else 0.0
        xlim = (-(lim or 1.0) * 1.1, (lim or 1.0) * 1.1)
    handles["ax"].set_xlim(*xlim)
    handles["ax"].set_title(f"pull on log π({class_name(handles['classes'], target)}) "
                            f"of sample {int(sample_o)}", fontsize="small")


def delta_log_prob(f: xr.Dataset, *, sample_o, classes=None, ax=None) -> dict:
    """Predicted (A·K·G, first order) against actual :math:`\\Delta\\log\\pi` of one sample.

    One point per class, named; the true class circled; the dashed line is
    :math:`y = x` (a perfect first-order prediction).

    Parameters
    ----------
    f : Dataset
        One epoch of ``/analysis/forces``: ``predicted(sample_o, label)``,
        ``actual(sample_o, label)``, coord ``target(sample_o)``.
    sample_o : int
    classes : sequence of str, optional
    ax : Axes, optional

    Returns
    -------
    dict
        ``ax``, ``points`` (Line2D, gid ``"delta"``), ``true`` (gid ``"selected"``),
        ``texts``, ``diagonal``; see :func:`set_delta_log_prob`.

    Examples
    --------
    >>> f = xr.Dataset({"predicted": (("sample_o", "label"), [[0.1, -0.1]]),
    ...                 "actual": (("sample_o", "label"), [[0.2, -0.3]])},
    ...                coords={"sample_o": [5], "label": [0, 1], "target": ("sample_o", [0])})
    >>> h = delta_log_prob(f, sample_o=5)
    >>> h["points"].get_xydata().tolist()
    [[0.1, 0.2], [-0.1, -0.3]]
    """
    ax = axes_or_new(ax)
    labels = f["label"].values
    diagonal = ax.plot([-1, 1], [-1, 1], color="0.6", ls="--", lw=0.8, zorder=1)[0]
    points = ax.plot([], [], "o", color="C0", ms=4, zorder=2, gid="delta")[0]
    true = ax.plot([], [], "o", ms=9, mfc="none", mec="k", mew=1.5, zorder=3,
                   gid=SELECTED_GID, label="true class")[0]
    texts = [ax.text(0, 0, class_name(classes, k), fontsize="x-small", zorder=4)
             for k in labels]
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.85", lw=0.5, zorder=0)
    ax.set_xlabel(label_of(f["predicted"]) if f["predicted"].attrs
                  else "predicted Δ log π")
    ax.set_ylabel(label_of(f["actual"]) if f["actual"].attrs else "actual Δ log π")
    handles = {"ax": ax, "points": points, "true": true, "texts": texts,
               "diagonal": diagonal}
    set_delta_log_prob(handles, f, sample_o=sample_o)
    return handles


def set_delta_log_prob(handles: dict, f: xr.Dataset, *, sample_o, lim=None) -> None:
    """Show another observed sample or epoch on :func:`delta_log_prob` (in place)."""
    import numpy as np

    x = np.asarray(f["predicted"].sel(sample_o=sample_o).values, dtype=float)
    y = np.asarray(f["actual"].sel(sample_o=sample_o).values, dtype=float)
    target = int(f["target"].sel(sample_o=sample_o))
    t = int(np.flatnonzero(np.asarray(f["label"].values) == target)[0])
    handles["points"].set_data(x, y)
    handles["true"].set_data([x[t]], [y[t]])
    if lim is None:
        both = np.concatenate([x, y])
        lim = float(np.nanmax(np.abs(both))) * 1.15 if np.isfinite(both).any() else 1.0
    lim = lim or 1.0
    handles["diagonal"].set_data([-lim, lim], [-lim, lim])
    handles["ax"].set_xlim(-lim, lim)
    handles["ax"].set_ylim(-lim, lim)
    handles["xy"], handles["target_index"] = (x, y), t
    place_delta_names(handles)


def place_delta_names(handles: dict) -> None:
    """Name the points of :func:`delta_log_prob` where the names fit: the true class first,
    then the classes farthest from the origin; a name that would overlap another (a pile of
    classes near 0) is hidden (:func:`~workbench.plots.placement.place_labels`)."""
    import numpy as np

    x, y = handles["xy"]
    t = handles["target_index"]
    far = np.nan_to_num(np.hypot(x, y), nan=-1.0)
    order = [t] + [int(i) for i in np.argsort(-far, kind="stable") if i != t]
    texts = handles["texts"]
    place_labels(handles["ax"], [texts[i] for i in order], [(x[i], y[i]) for i in order])


def class_paths(prob: xr.DataArray, *, epoch=None, target=None, classes=None, top: int = 3,
                ax=None) -> dict:
    """One sample's class probabilities over epochs up to ``epoch``: top classes and the true one.

    Each shown line is named at its end (no legend to cover the data).

    Parameters
    ----------
    prob : DataArray (epoch, label)
        :math:`\\pi(x_o)` per epoch (``/analysis/forces`` ``prob`` of one ``sample_o``).
    epoch : int, optional
        Lines stop at this epoch (the learning path so far); default the last.
    target : int, optional
        The true class: always drawn, black and bold (gid ``"selected"``).
    classes : sequence of str, optional
    top : int
        How many of the most probable classes (by their maximum over epochs) to show.
    ax : Axes, optional

    Returns
    -------
    dict
        ``ax``, ``lines`` and ``names`` (one per label; those not shown are hidden),
        ``cursor``; see :func:`set_class_paths`.

    Examples
    --------
    >>> import numpy as np
    >>> p = xr.DataArray([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5]], dims=("epoch", "label"),
    ...                  coords={"epoch": [0, 1], "label": [0, 1, 2]})
    >>> h = class_paths(p, epoch=0, target=2, top=1)
    >>> [ln.get_visible() for ln in h["lines"]], h["lines"][2].get_ydata().tolist()
    ([True, False, True], [0.1])
    >>> h["names"][2].get_text()
    '2 (true)'
    """
    ax = axes_or_new(ax)
    epochs = prob["epoch"].values
    lines_ = [ax.plot([], [], marker=".", lw=1.2)[0] for _ in prob["label"].values]
    names = [ax.text(0, 0, "", fontsize="x-small", va="center") for _ in lines_]
    cursor = ax.axvline(epochs[-1], color="C3", lw=1.2, ls="--", gid=SELECTION_GID)
    span = max(float(epochs[-1] - epochs[0]), 1.0)
    ax.set_xlim(epochs[0] - 0.1 * span, epochs[-1] + 0.45 * span)   # room for the names
    ax.set_ylim(-0.03, 1.03)
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_xlabel("epoch")
    ax.set_ylabel(label_of(prob) if prob.attrs else "probability")
    handles = {"ax": ax, "lines": lines_, "names": names, "cursor": cursor,
               "classes": classes, "top": top, "dx": 0.04 * span}
    set_class_paths(handles, prob, epoch=epoch, target=target)
    return handles


def set_class_paths(handles: dict, prob: xr.DataArray, *, epoch=None, target=None) -> None:
    """Show another sample or epoch on :func:`class_paths` (in place)."""
    import numpy as np

    labels = [int(k) for k in prob["label"].values]
    epochs = prob["epoch"].values
    epoch = epochs[-1] if epoch is None else epoch
    values = np.asarray(prob.transpose("label", "epoch").values, dtype=float)  # (label, epoch)
    keep = epochs <= epoch
    best = np.nan_to_num(np.nanmax(np.where(np.isnan(values), -1.0, values), axis=1), nan=-1.0)
    shown = {labels[i] for i in np.argsort(-best, kind="stable")[:handles["top"]]}
    if target is not None:
        shown.add(int(target))
    color = 1
    x = epochs[keep]
    for k, line, name, row in zip(labels, handles["lines"], handles["names"], values,
                                  strict=True):
        y = row[keep]
        line.set_data(x, y)
        visible = k in shown and len(x) > 0
        line.set_visible(visible)
        name.set_visible(visible)
        if not visible:
            continue
        is_true = target is not None and k == int(target)
        c = "k" if is_true else f"C{color}"
        color += 0 if is_true else 1
        line.set_color(c)
        line.set_linewidth(2.2 if is_true else 1.2)
        line.set_gid(SELECTED_GID if is_true else None)
        text = class_name(handles["classes"], k) + (" (true)" if is_true else "")
        line.set_label(text)
        name.set_text(text)
        name.set_color(c)
    place_path_names(handles)
    handles["cursor"].set_xdata([epoch, epoch])
    handles["ax"].set_title(f"learning path up to epoch {int(epoch)}", fontsize="small")


def place_path_names(handles: dict) -> None:
    """The names of :func:`class_paths` at their lines' ends, spread so none overlaps
    another (:func:`~workbench.plots.placement.stack_end_labels`)."""
    import numpy as np

    ends = []
    for line in handles["lines"]:
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        ends.append((x[-1], y[-1]) if line.get_visible() and len(x) else (np.nan, np.nan))
    stack_end_labels(handles["ax"], handles["names"], ends)


def ntk_heatmap(K: xr.DataArray, *, target_i, target_j=None, classes=None, ax=None):
    """A kernel over samples (the eNTK trace, say) with every row and column named by class.

    Tick labels read ``"<dataset index> · <class>"``. A kernel with negative entries gets a
    diverging colour map centred at zero; a non-negative one ``viridis`` from zero.

    Parameters
    ----------
    K : DataArray (sample_i, sample_j)
        E.g. ``workbench.probes.empirical_ntk(model, x, sample_i=..., mode="trace")``.
    target_i, target_j : sequence of int
        The class of each ``sample_i`` / ``sample_j`` (``target_j`` defaults to ``target_i``).
    classes : sequence of str, optional
    ax : Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> K = xr.DataArray([[2.0, 1.0], [1.0, 3.0]], dims=("sample_i", "sample_j"),
    ...                  coords={"sample_i": [4, 9], "sample_j": [4, 9]})
    >>> ax = ntk_heatmap(K, target_i=[0, 1], classes=["shirt", "bag"])
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['4 · shirt', '9 · bag']
    """
    import numpy as np

    ax = axes_or_new(ax)
    target_j = target_i if target_j is None else target_j
    d = K.transpose("sample_i", "sample_j")
    values = np.asarray(d.values, dtype=float)
    if np.nanmin(values) < 0:
        lim = float(np.nanmax(np.abs(values)))
        mesh = ax.imshow(values, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        mesh = ax.imshow(values, cmap="viridis", vmin=0)
    rows = [f"{int(s)} · {class_name(classes, t)}"
            for s, t in zip(d["sample_i"].values, target_i, strict=True)]
    cols = [f"{int(s)} · {class_name(classes, t)}"
            for s, t in zip(d["sample_j"].values, target_j, strict=True)]
    ax.set_yticks(range(len(rows)), rows, fontsize="x-small")
    ax.set_xticks(range(len(cols)), cols, fontsize="x-small", rotation=60, ha="right")
    ax.set_ylabel("observed example")
    ax.set_xlabel("other example")
    ax.figure.colorbar(mesh, ax=ax, label=label_of(K) if K.attrs else "eNTK")
    return ax


__all__ = ["forces_pull", "set_forces_pull", "delta_log_prob", "set_delta_log_prob", "class_paths",
           "set_class_paths", "ntk_heatmap"]
