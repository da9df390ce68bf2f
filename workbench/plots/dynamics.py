"""Dynamics: the layer signals and synchrony R(t) in the window ending at an epoch, the DFA
fit of one layer, the integration–metastability plane and stability over the accuracy."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import EPOCH, LAYER
from .base import (
    SELECTION_GID,
    artist,
    epoch_axis,
    epoch_marker,
    label_of,
    log_ticks,
    padded_limits,
)


def draw(data: xr.Dataset, fig, *, epochs: xr.Dataset | None = None, has_signal: bool = True,
         epoch=None) -> dict:
    """The dynamics view's five panels on ``fig``, empty until :func:`update`.

    Parameters
    ----------
    data : Dataset (epoch, layer, scale, t)
        ``run.analysis("dynamics")``.
    fig : Figure
    epochs : Dataset (epoch), optional
        ``tree["epochs"]`` with ``test_acc``.
    has_signal : bool
        False writes "no /layers signal recorded" on the signal panel.
    epoch : int, optional
        Where the epoch marker starts.

    Returns
    -------
    dict
        ``axes`` (signals, R, DFA, plane, stability), ``twin`` and ``dynamic`` (the artists
        :func:`update` changes).
    """

    d = data
    grid = fig.add_gridspec(2, 3)
    ax_sig = fig.add_subplot(grid[0, :2])
    ax_r = fig.add_subplot(grid[0, 2])
    ax_dfa, ax_pl, ax_st = (fig.add_subplot(grid[1, i]) for i in range(3))
    t = d["t"].values
    layers = [str(v) for v in d[LAYER].values]
    # layer signals, one row per layer
    for i, name in enumerate(layers):
        ax_sig.plot(t, np.full(len(t), np.nan), lw=1.0, gid=f"signal:{name}")
        ax_sig.axhline(i, color="0.85", lw=0.5, zorder=0)
    ax_sig.set_yticks(range(len(layers)), layers)
    ax_sig.set_ylim(len(layers) - 0.4, -0.6)
    ax_sig.set_xlim(t[0], t[-1])
    ax_sig.set_xlabel("position in the signal window ending at the epoch")
    ax_sig.set_title("layer signals (z-score in the window)", fontsize="medium", loc="left")
    if not has_signal:
        ax_sig.text(0.5, 0.5, "no /layers signal recorded", transform=ax_sig.transAxes,
                    ha="center")
    # R(t) with a band
    ax_r.axhspan(0, 0, color="C0", alpha=0.15, gid="band", lw=0)
    ax_r.plot(t, np.full(len(t), np.nan), color="C0", lw=1.5, gid="R")
    ax_r.axvline(np.nan, color="C3", lw=1.2, ls="--", gid="cursor")
    ax_r.set_ylim(0, 1.02)
    ax_r.set_xlim(t[0], t[-1])
    ax_r.set_ylabel(label_of(d["R"]))
    ax_r.set_xlabel("position in the window")
    ax_r.set_title(r"$R(t)$, band: mean $\pm$ metastability", fontsize="medium")
    ax_r.text(0.5, 0.5, "", transform=ax_r.transAxes, ha="center", va="center",
              fontsize="small", gid="R-note")
    # DFA log-log fit of the selected layer
    scale = d["scale"].values.astype(float)
    fl = d["fluctuation"]
    ax_dfa.plot(scale, np.full(len(scale), np.nan), "o", color="C0", gid="F")
    ax_dfa.plot(scale, np.full(len(scale), np.nan), "-", color="C3", gid="fit")
    ax_dfa.set_xscale("log")
    ax_dfa.set_yscale("log")
    ax_dfa.set_xlim(scale.min() / 1.3, scale.max() * 1.3)
    log_ticks(ax_dfa.xaxis, scale.min() / 1.3, scale.max() * 1.3)  # thinned: never run together
    ax_dfa.yaxis.set_minor_formatter("")
    with np.errstate(all="ignore"):  # every epoch's and layer's fit line stays inside too
        fits = np.exp(d["dfa_intercept"].values[..., None]
                      + d["dfa"].values[..., None] * np.log(scale))
    ax_dfa.set_ylim(*padded_limits(np.concatenate([np.ravel(fl.values), np.ravel(fits)]),
                                   log=True))
    ax_dfa.set_xlabel("window size $n$ (steps)")
    ax_dfa.set_ylabel(label_of(fl))
    ax_dfa.text(0.03, 0.95, "", transform=ax_dfa.transAxes, va="top", fontsize="small",
                gid="dfa")
    # integration–metastability plane
    x, y = d["integration"].values, d["metastability"].values
    ax_pl.plot(x, y, ".", color="0.8", zorder=1)
    ax_pl.plot(x[:1], y[:1], "-", color="C0", lw=1.5, zorder=2, gid="trajectory")
    ax_pl.plot(x[:1], y[:1], "o", color="C3", ms=7, zorder=3, gid="current")
    ax_pl.set_xlim(*padded_limits(x))
    ax_pl.set_ylim(*padded_limits(y))
    ax_pl.set_xlabel(label_of(d["integration"]))
    ax_pl.text(0.5, 0.92, "", transform=ax_pl.transAxes, ha="center", va="top",
               fontsize="small", gid="plane-note")
    ax_pl.set_ylabel(label_of(d["metastability"]))
    # stability and volatility over the accuracy curve
    e = d[EPOCH].values
    if epochs is not None and "test_acc" in epochs:
        acc = epochs["test_acc"]
        ax_st.plot(acc[EPOCH].values, acc.values, "o-", color="0.4", label="test accuracy")
        ax_st.set_ylabel("test accuracy")
    ax_tw = ax_st.twinx()
    ax_tw.plot(e, d["stability"].values, "s-", color="C0", label=label_of(d["stability"]))
    ax_tw.plot(e, d["volatility"].values, "^-", color="C1",
               label=label_of(d["volatility"]))
    ax_tw.set_ylabel("stability, volatility")
    ax_tw.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                 frameon=False, borderaxespad=0.2)
    epoch_axis(ax_st, e)
    epoch_marker(ax_st, epoch)
    ax_st.axvline(np.nan, color="k", lw=1.0, ls=":", gid="early")
    axes = ax_sig, ax_r, ax_dfa, ax_pl, ax_st
    gids = [(ax_sig, f"signal:{k}") for k in d[LAYER].values] + [
        (ax_r, "band"), (ax_r, "R"), (ax_r, "cursor"), (ax_r, "R-note"), (ax_dfa, "F"),
        (ax_dfa, "fit"),
        (ax_dfa, "dfa"), (ax_pl, "trajectory"), (ax_pl, "current"), (ax_pl, "plane-note"),
        (ax_st, SELECTION_GID), (ax_st, "early")]
    return {"axes": axes, "twin": ax_tw, "dynamic": [artist(ax, g) for ax, g in gids]}


def update(handles: dict, data: xr.Dataset, at: xr.Dataset, *, window=None, cursor=np.nan,
           layer: str, reasons: dict | None = None) -> None:
    """Show one epoch (``at``) of the dynamics analysis in place: ``window`` the z-scored
    signals of its window (layer, t) or None, ``cursor`` the window position of the
    selected step, ``layer`` the layer whose DFA fit is drawn, ``reasons`` why a NaN
    quantity is NaN (``{"dfa": "too few signal points: 58 of 64", ...}``, see
    :func:`workbench.analysis.dynamics.too_few_points`), written on its panel.

    The signal and R(t) panels span the window's points (not its padding) and the DFA
    panel the window sizes fitted at this epoch (a view's canvas keeps one background per
    set of axis ranges, :meth:`workbench.widgets.canvas.Canvas.render`).
    """
    ax_sig, ax_r, ax_dfa, ax_pl, ax_st = handles["axes"]
    d = data
    reasons = reasons or {}
    k = int(np.flatnonzero(d[EPOCH].values == int(at[EPOCH]))[0])
    filled = np.flatnonzero(np.asarray(at["signal_step"].values) >= 0)
    if filled.size:
        t = d["t"].values
        span = (t[filled[0]], max(t[filled[-1]], t[filled[0]] + 1))
        ax_sig.set_xlim(*span)
        ax_r.set_xlim(*span)
    if window is not None:
        w = window
        # 0.3 per z unit, less when a z-score would reach past its row's half-height (0.45):
        # every signal stays inside its row and the axes
        peak = float(np.nanmax(np.abs(w.values))) if np.isfinite(w.values).any() else 0.0
        gain = min(0.3, 0.45 / peak) if peak > 0 else 0.3
        for i, name in enumerate(w[LAYER].values):
            artist(ax_sig, f"signal:{name}").set_ydata(i - gain * w.sel(layer=name).values)
    r = at["R"].values
    artist(ax_r, "R").set_ydata(r)
    m, s = float(at["synchrony"]), float(at["metastability"])
    band = artist(ax_r, "band")
    band.set_y(m - s if np.isfinite(s) else 0.0)
    band.set_height(2 * s if np.isfinite(s) else 0.0)
    artist(ax_r, "R-note").set_text("" if np.isfinite(m) else
                                    reasons.get("synchrony", "no R(t) at this epoch"))
    c = cursor
    artist(ax_r, "cursor").set_xdata([c, c])
    chosen = at.sel(layer=layer)
    scale = d["scale"].values.astype(float)
    fluct = np.asarray(chosen["fluctuation"].values, float)
    artist(ax_dfa, "F").set_ydata(fluct)
    alpha, icpt = float(chosen["dfa"]), float(chosen["dfa_intercept"])
    # the fit line over the window sizes fitted at this epoch only (the axis spans those)
    artist(ax_dfa, "fit").set_ydata(np.where(np.isfinite(fluct),
                                             np.exp(icpt + alpha * np.log(scale)), np.nan))
    fitted = scale[np.isfinite(fluct)]
    if fitted.size:
        ax_dfa.set_xlim(fitted.min() / 1.3, fitted.max() * 1.3)
    artist(ax_dfa, "dfa").set_text(
        rf"{layer}: $\alpha$ = {alpha:.2f}" if np.isfinite(alpha) else
        f"{layer}: no DFA exponent\n{reasons.get('dfa', 'not finite at this epoch')}")
    x, y = d["integration"].values, d["metastability"].values
    artist(ax_pl, "trajectory").set_data(x[:k + 1], y[:k + 1])
    artist(ax_pl, "current").set_data(x[k:k + 1], y[k:k + 1])
    missing = [reasons[n] for n in ("integration", "metastability") if n in reasons]
    artist(ax_pl, "plane-note").set_text(
        "" if np.isfinite(x[k]) and np.isfinite(y[k]) else
        f"no point at epoch {int(at[EPOCH])}" + (f":\n{missing[0]}" if missing else ""))
    e = float(at[EPOCH])
    artist(ax_st, SELECTION_GID).set_xdata([e, e])
    early = float(at["early_convergence_epoch"])
    artist(ax_st, "early").set_xdata([early, early])


__all__ = ["draw", "update"]
