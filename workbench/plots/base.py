"""What every picture shares: labels from attrs, gids of the selection, lookups of
artists, epoch axes, bars and limits that hold across epochs."""

from __future__ import annotations

import re

import xarray as xr


def axes_or_new(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


#: Units that mean "none" and are not printed (no "[1]" on an axis).
NO_UNITS = ("", "1", "none", "dimensionless", "-")


def label_of(da: xr.DataArray) -> str:
    """``long_name (units)`` from attrs, or the variable's name with ``_`` as spaces.

    Dimensionless units ("", "1", …) are left out; mathtext in ``long_name`` is kept.

    Examples
    --------
    >>> print(label_of(xr.DataArray(0.0, name="lr", attrs={"long_name": r"$\\eta$", "units": "1"})))
    $\\eta$
    """
    long_name = da.attrs.get("long_name")
    name = mathtext(str(long_name)) if long_name else str(da.name or "").replace("_", " ")
    units = str(da.attrs.get("units") or "").strip()
    return f"{name} ({units})" if units.lower() not in NO_UNITS else str(name)


#: A symbol with a subscript in plain text (``θ_t``, ``θ_{t−1}``, ``‖θ_t``, ``x_min``): one or
#: two letters at the start of a word, ``_``, then a braced group or a word.
_SUBSCRIPTED = r"‖?(?<!\w)[^\W\d_]{1,2}_(?:\{[^}\s]*\}|[^\W_]+)‖?"
_MATH_RUN = re.compile(rf"{_SUBSCRIPTED}(?:\s*[−+\-,]\s*{_SUBSCRIPTED})*")
_TEX = {"‖": r"\|", "−": "-", "Δ": r"\Delta ", "θ": r"\theta ", "η": r"\eta ",
        "λ": r"\lambda ", "μ": r"\mu ", "π": r"\pi ", "σ": r"\sigma ", "α": r"\alpha "}


def mathtext(text: str) -> str:
    """Plain-text subscripts (``‖θ_t − θ_{t−1}‖``) as matplotlib mathtext, so an axis shows
    :math:`\\|\\theta_t - \\theta_{t-1}\\|` rather than the raw underscores; text that
    already holds mathtext (a ``$``) or no subscript is returned as it is.

    Examples
    --------
    >>> print(mathtext("update norm ‖θ_t − θ_{t−1}‖"))
    update norm $\\|\\theta _t - \\theta _{t-1}\\|$
    >>> print(mathtext("cos(Δθ_t, Δθ_{t−1})"))
    cos($\\Delta \\theta _t, \\Delta \\theta _{t-1}$)
    >>> mathtext("gradient norm ‖g‖"), mathtext("learning_rate")
    ('gradient norm ‖g‖', 'learning_rate')
    """
    if "$" in text:
        return text

    def tex(m):
        body = re.sub(r"_([^\W_]{2,})", r"_{\1}", m.group(0))
        return "$" + "".join(_TEX.get(c, c) for c in body) + "$"

    return _MATH_RUN.sub(tex, text)


def lines(da: xr.DataArray, *, x: str, hue: str | None = None, ax=None, logy: bool = False,
          smooth: int = 1, **kw):
    """One line per value of ``hue`` (e.g. layer) against dim ``x`` (e.g. step).

    ``smooth`` > 1 draws a centred rolling mean over that many points.
    """
    ax = axes_or_new(ax)
    data = da.rolling({x: smooth}, center=True, min_periods=1).mean() if smooth > 1 else da
    groups = [(None, data)] if hue is None else [(v, data.sel({hue: v})) for v in da[hue].values]
    for value, line in groups:
        opts = dict(kw) if value is None else {**kw, "label": str(value)}
        ax.plot(line[x].values, line.values, **opts)
    ax.set_xlabel(label_of(da[x]) if x in da.coords else x)
    ax.set_ylabel(label_of(da))
    if logy:
        ax.set_yscale("log")
    if hue is not None:
        ax.legend(title=hue, fontsize="small")
    return ax


def heatmap(da: xr.DataArray, *, x: str, y: str, ax=None, cmap: str | None = None, **kw):
    """``da`` as an image with dim ``x`` across and dim ``y`` down, with a colour bar.

    Data of both signs get a diverging map (``RdBu_r``) centred at zero (limits ±max|da|);
    other data ``viridis``, unless ``cmap`` is given.
    """
    import numpy as np

    ax = axes_or_new(ax)
    d = da.transpose(y, x)
    v = np.asarray(d.values, dtype=float)
    finite = v[np.isfinite(v)]
    if finite.size and finite.min() < 0 < finite.max() and "vmin" not in kw and "norm" not in kw:
        lim = float(np.abs(finite).max())
        kw = {**kw, "vmin": -lim, "vmax": lim}
        cmap = cmap or "RdBu_r"
    mesh = ax.pcolormesh(range(d.sizes[x]), range(d.sizes[y]), v, cmap=cmap or "viridis",
                         shading="nearest", **kw)
    ax.set_yticks(range(d.sizes[y]), [str(k) for k in d[y].values])
    if x == "epoch":
        ax.xaxis.set_major_locator(integer_ticks())
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.figure.colorbar(mesh, ax=ax, label=label_of(da))
    return ax


#: ``gid`` of the artists that mark the current selection (tests and widgets look them up).
SELECTION_GID = "selection"


SELECTED_GID = "selected"


def integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def log_ticks(axis, lo: float, hi: float, *, max_ticks: int = 6) -> list[float]:
    """Labelled ticks on a log ``axis`` (``ax.xaxis``) from ``lo`` to ``hi``: the powers of
    ten, with 2 and 5 (and 3, 7 on a short range) between them when there is room, never
    fewer than two nor more than ``max_ticks``; minor labels off. Returns the ticks.

    Examples
    --------
    >>> import matplotlib.figure
    >>> ax = matplotlib.figure.Figure().subplots()
    >>> ax.set_xscale("log")
    >>> log_ticks(ax.xaxis, 13, 180)
    [20.0, 50.0, 100.0]
    >>> log_ticks(ax.xaxis, 0.9, 4000)
    [1.0, 10.0, 100.0, 1000.0]
    """
    import math

    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if not (lo > 0 and math.isfinite(hi)):
        return []
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks: list[float] = []
    for subs in ((1,), (1, 2, 5), (1, 2, 3, 5, 7), tuple(range(1, 10))):
        cand = [float(f"{m * 10.0 ** k:.12g}") for k in range(k0, k1 + 1) for m in subs]
        cand = [v for v in cand if lo <= v <= hi]
        if len(cand) > max_ticks:
            stride = math.ceil(len(cand) / max_ticks)
            cand = cand[::stride]
        if len(cand) >= 2 and (len(cand) >= 3 or subs == tuple(range(1, 10))):
            ticks = cand
            break
        ticks = cand if len(cand) > len(ticks) else ticks
    if len(ticks) < 2:  # under a factor of two: three ticks between the ends
        ticks = [float(f"{v:.2g}") for v in (lo * (hi / lo) ** f for f in (0.1, 0.5, 0.9))]
        ticks = sorted(set(ticks))
    axis.set_ticks(ticks, [f"{v:g}" for v in ticks])
    axis.set_minor_formatter("")
    return ticks


def bars(da: xr.DataArray, *, x: str = "layer", highlight: xr.DataArray | None = None,
         ax=None, label: str = "highlighted"):
    """One bar per value of dim ``x``; bars where ``highlight`` is True drawn in red."""
    ax = axes_or_new(ax)
    names = [str(v) for v in da[x].values]
    flags = ([bool(v) for v in highlight.sel({x: da[x]}).values] if highlight is not None
             else [False] * len(names))
    colors = ["C3" if f else "C0" for f in flags]
    ax.bar(names, da.values, color=colors)
    if any(flags):
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color="C3", label=label), Patch(color="C0", label="other")],
                  fontsize="small")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel(x)
    ax.set_ylabel(label_of(da))
    return ax


def as_texts(values) -> list[str]:
    """Stored text (fixed-width str or bytes) as a list of str."""
    import numpy as np

    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def class_name(classes, k) -> str:
    k = int(k)
    return str(classes[k]) if classes is not None and 0 <= k < len(classes) else str(k)


def artist(ax, gid: str):
    """The one artist of ``ax`` whose gid is ``gid`` (lines, patches, collections, texts,
    images); a clear error when there is none or several."""
    found = [a for a in (*ax.lines, *ax.patches, *ax.collections, *ax.texts, *ax.images)
             if a.get_gid() == gid]
    if len(found) != 1:
        raise LookupError(f"expected one artist with gid {gid!r} on {ax.get_title()!r}; "
                          f"found {len(found)}")
    return found[0]


def epoch_axis(ax, epochs=None) -> None:
    """Integer ticks on an epoch x-axis, labelled "epoch"."""
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_xlabel("epoch")
    if epochs is not None and len(epochs):
        lo, hi = float(min(epochs)), float(max(epochs))
        pad = max(0.3, 0.03 * (hi - lo))
        ax.set_xlim(lo - pad, hi + pad)


def epoch_marker(ax, epoch, **kw):
    """The vertical line marking the selected epoch (gid ``"selection"``)."""
    return ax.axvline(epoch, color="C3", lw=1.2, ls="--", zorder=5, gid=SELECTION_GID, **kw)


def spans_decades(values, decades: float = 2.0) -> bool:
    """True when the positive, finite ``values`` span more than ``decades`` powers of ten
    (and none is ≤ 0): such a statistic reads better on a log axis."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size and (v > 0).all() and np.log10(v.max() / v.min()) > decades)


def layer_bars(da: xr.DataArray, *, limits=None, log: bool = False, ref: float | None = None,
               ax=None, gid: str = "bars"):
    """One bar per layer (gid ``gid``; update with :func:`set_bars`), optional reference
    line at ``ref`` (gid ``"reference"``), fixed y ``limits`` so bars compare across epochs."""
    ax = axes_or_new(ax)
    names = [str(v) for v in da["layer"].values]
    bottom = limits[0] if (log and limits is not None) else 0
    bars = ax.bar(names, [1.0] * len(names), bottom=bottom, color="C0", gid=gid)
    for b in bars:
        b.set_gid(gid)
    set_bars(ax, da.values, gid=gid)
    if log:
        ax.set_yscale("log")
    if limits is not None:
        ax.set_ylim(*limits)
    if ref is not None:
        ax.axhline(ref, color="k", lw=0.8, ls=":", gid="reference")
    ax.set_ylabel(label_of(da))
    return ax


def set_bars(ax, heights, *, gid: str = "bars", colors=None) -> None:
    """Set the heights (tops, on a log axis) of the bars tagged ``gid``."""
    import numpy as np

    bars = [p for p in ax.patches if p.get_gid() == gid]
    for i, (b, h) in enumerate(zip(bars, np.asarray(heights, dtype=float), strict=True)):
        b.set_height((h - b.get_y()) if np.isfinite(h) else 0.0)
        if colors is not None:
            b.set_facecolor(colors[i])


def bar_heights(ax, gid: str = "bars"):
    """The values the bars tagged ``gid`` show (their tops)."""
    return [p.get_y() + p.get_height() for p in ax.patches if p.get_gid() == gid]


def padded_limits(values, *, log: bool = False, include=(), zero: bool = False):
    """Axis limits that hold every finite value (and ``include``) with a margin; ``zero``
    keeps 0 in a positive range (bars)."""
    import numpy as np

    v = np.concatenate([np.ravel(np.asarray(values, dtype=float)), np.asarray(include, float)])
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    if not v.size:
        return (0.1, 10.0) if log else (0.0, 1.0)
    lo, hi = v.min(), v.max()
    if log:
        return lo / 1.6, hi * 1.6
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    return (0.0 if (zero and lo >= 0) else lo - pad), hi + pad


__all__ = ["axes_or_new", "NO_UNITS", "label_of", "mathtext", "lines", "heatmap",
           "SELECTION_GID", "SELECTED_GID", "integer_ticks", "bars", "as_texts", "class_name",
           "artist", "epoch_axis", "epoch_marker", "log_ticks", "spans_decades", "layer_bars",
           "set_bars", "bar_heights", "padded_limits"]
