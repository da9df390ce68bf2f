"""The dynamics view: layer signals, synchrony R(t), DFA, the integration–metastability plane
and stability, each at the selected epoch's signal window."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import plots
from ..dims import EPOCH, LAYER, STEP
from .state import Selection, controls_for
from .view import View, check_analysis

NEEDS = ("dfa", "dfa_intercept", "fluctuation", "integration", "synchrony", "metastability",
         "stability", "volatility", "R", "signal_step", "early_convergence_epoch")


def window_signals(signal: xr.DataArray, signal_step: xr.DataArray) -> xr.DataArray:
    """Each epoch's window of the recorded layer signals, z-scored per layer in the window.

    Parameters
    ----------
    signal : DataArray (step, layer)
        ``tree["layers"]["signal"]`` (NaN at steps without a signal point).
    signal_step : DataArray (epoch, t)
        The step at each window position (−1 for padding), from /analysis/dynamics.

    Returns
    -------
    DataArray (epoch, layer, t)
        :math:`z = (x - \\bar x)/s` over the window's valid positions; NaN at padding.

    Examples
    --------
    >>> sig = xr.DataArray(np.arange(8.0)[:, None] * [1, 2], dims=("step", "layer"),
    ...                    coords={"step": np.arange(8), "layer": ["a", "b"]})
    >>> win = xr.DataArray([[2, 3, 4, -1]], dims=("epoch", "t"), coords={"epoch": [0]})
    >>> window_signals(sig, win).sel(layer="b").values.round(3).tolist()
    [[-1.225, 0.0, 1.225, nan]]
    """
    steps = signal_step.values.astype(int)
    src = signal.transpose(STEP, LAYER)
    index = {int(s): i for i, s in enumerate(src[STEP].values)}
    vals = src.values.astype(float)
    out = np.full((steps.shape[0], src.sizes[LAYER], steps.shape[1]), np.nan)
    for e, row in enumerate(steps):
        pos = [(t, index[s]) for t, s in enumerate(row) if s >= 0 and s in index]
        if not pos:
            continue
        ts, rows = zip(*pos, strict=True)
        x = vals[list(rows)].T                       # (layer, t)
        mu = np.nanmean(x, 1, keepdims=True)
        sd = np.nanstd(x, 1, keepdims=True)
        out[e][:, list(ts)] = (x - mu) / np.where(sd > 0, sd, 1.0)
    return xr.DataArray(out, dims=(EPOCH, LAYER, "t"),
                        coords={EPOCH: signal_step[EPOCH].values, LAYER: src[LAYER].values,
                                "t": np.arange(steps.shape[1])},
                        attrs={"long_name": "layer signal (z-score in the window)", "units": ""})


class DynamicsView(View):
    """The dynamics of /analysis/dynamics at the selected epoch, in five panels.

    Top: the layer signals in the window that ends at the selected epoch (z-scored, one row
    per layer) and the Kuramoto order R(t) over that window with a band of mean R ± its
    standard deviation (the metastability) and a cursor at the selected step. Bottom: the
    DFA fluctuation F(n) of the selected layer on log-log axes with its fit
    :math:`\\log F = c + \\alpha \\log n` (natural logs), the integration–metastability plane
    with the trajectory up to the selected epoch, and stability and volatility over the test
    accuracy, with the early-convergence marker as known at that epoch.

    Parameters
    ----------
    dynamics : Dataset (epoch, layer, scale, t)
        ``run.analysis("dynamics")``.
    signal : DataArray (step, layer), optional
        The recorded layer signals, ``tree["layers"]["signal"]``.
    epochs : Dataset (epoch), optional
        ``tree["epochs"]`` with ``test_acc``.
    state : Selection, optional
    """

    observes = (EPOCH, LAYER, STEP)
    figsize = (11, 5.4)

    def __init__(self, dynamics: xr.Dataset, signal: xr.DataArray | None = None,
                 epochs: xr.Dataset | None = None, state: Selection | None = None):
        super().__init__(state)
        check_analysis(dynamics, "DynamicsView", NEEDS, [EPOCH, LAYER, "scale", "t"])
        self.data = dynamics.load()
        self.epochs = epochs
        self.windows = (None if signal is None
                        else window_signals(signal.load(), self.data["signal_step"]))
        self.controls = controls_for(self.data["integration"], self.state, [EPOCH])
        self.controls.update(controls_for(self.data["dfa"], self.state, [LAYER]))
        self._start()

    def _layer(self) -> str:
        names = [str(v) for v in self.data[LAYER].values]
        return self.state.layer if self.state.layer in names else names[0]

    def _at(self):
        return self.data.sel(epoch=self.state.epoch, method="nearest")

    def _cursor(self, at) -> float:
        """Window position of the selected step (the window's end if it lies outside)."""
        steps = at["signal_step"].values
        valid = np.flatnonzero(steps >= 0)
        if not valid.size:
            return np.nan
        if self.state.step is not None and steps[valid[0]] <= self.state.step <= steps[valid[-1]]:
            return float(valid[np.argmin(np.abs(steps[valid] - self.state.step))])
        return float(valid[-1])

    def draw(self, fig):
        d = self.data
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
        if self.windows is None:
            ax_sig.text(0.5, 0.5, "no /layers signal recorded", transform=ax_sig.transAxes,
                        ha="center")
        # R(t) with a band
        ax_r.axhspan(0, 0, color="C0", alpha=0.15, gid="band", lw=0)
        ax_r.plot(t, np.full(len(t), np.nan), color="C0", lw=1.5, gid="R")
        ax_r.axvline(np.nan, color="C3", lw=1.2, ls="--", gid="cursor")
        ax_r.set_ylim(0, 1.02)
        ax_r.set_xlim(t[0], t[-1])
        ax_r.set_ylabel(plots.label_of(d["R"]))
        ax_r.set_xlabel("position in the window")
        ax_r.set_title(r"$R(t)$, band: mean $\pm$ metastability", fontsize="medium")
        # DFA log-log fit of the selected layer
        scale = d["scale"].values.astype(float)
        fl = d["fluctuation"]
        ax_dfa.plot(scale, np.full(len(scale), np.nan), "o", color="C0", gid="F")
        ax_dfa.plot(scale, np.full(len(scale), np.nan), "-", color="C3", gid="fit")
        ax_dfa.set_xscale("log")
        ax_dfa.set_yscale("log")
        ax_dfa.set_xlim(scale.min() / 1.3, scale.max() * 1.3)
        ax_dfa.set_xticks(scale, [f"{v:g}" for v in scale])
        ax_dfa.xaxis.set_minor_formatter("")
        ax_dfa.yaxis.set_minor_formatter("")
        ax_dfa.set_ylim(*plots.padded_limits(fl.values, log=True))
        ax_dfa.set_xlabel("window size $n$ (steps)")
        ax_dfa.set_ylabel(plots.label_of(fl))
        ax_dfa.text(0.03, 0.95, "", transform=ax_dfa.transAxes, va="top", fontsize="small",
                    gid="dfa")
        # integration–metastability plane
        x, y = d["integration"].values, d["metastability"].values
        ax_pl.plot(x, y, ".", color="0.8", zorder=1)
        ax_pl.plot(x[:1], y[:1], "-", color="C0", lw=1.5, zorder=2, gid="trajectory")
        ax_pl.plot(x[:1], y[:1], "o", color="C3", ms=7, zorder=3, gid="current")
        ax_pl.set_xlim(*plots.padded_limits(x))
        ax_pl.set_ylim(*plots.padded_limits(y))
        ax_pl.set_xlabel(plots.label_of(d["integration"]))
        ax_pl.set_ylabel(plots.label_of(d["metastability"]))
        # stability and volatility over the accuracy curve
        e = d[EPOCH].values
        if self.epochs is not None and "test_acc" in self.epochs:
            acc = self.epochs["test_acc"]
            ax_st.plot(acc[EPOCH].values, acc.values, "o-", color="0.4", label="test accuracy")
            ax_st.set_ylabel("test accuracy")
        ax_tw = ax_st.twinx()
        ax_tw.plot(e, d["stability"].values, "s-", color="C0", label=plots.label_of(d["stability"]))
        ax_tw.plot(e, d["volatility"].values, "^-", color="C1",
                   label=plots.label_of(d["volatility"]))
        ax_tw.set_ylabel("stability, volatility")
        ax_tw.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                     frameon=False, borderaxespad=0.2)
        plots.epoch_axis(ax_st, e)
        plots.epoch_marker(ax_st, self.state.epoch)
        ax_st.axvline(np.nan, color="k", lw=1.0, ls=":", gid="early")
        self._twin = ax_tw
        axes = ax_sig, ax_r, ax_dfa, ax_pl, ax_st
        self.axes = axes
        self.update()
        return axes

    def dynamic(self) -> list:
        ax_sig, ax_r, ax_dfa, ax_pl, ax_st = self.axes
        gids = [(ax_sig, f"signal:{k}") for k in self.data[LAYER].values] + [
            (ax_r, "band"), (ax_r, "R"), (ax_r, "cursor"), (ax_dfa, "F"), (ax_dfa, "fit"),
            (ax_dfa, "dfa"), (ax_pl, "trajectory"), (ax_pl, "current"),
            (ax_st, plots.SELECTION_GID), (ax_st, "early")]
        return [plots.artist(ax, g) for ax, g in gids]

    def update(self) -> None:
        ax_sig, ax_r, ax_dfa, ax_pl, ax_st = self.axes
        d, at = self.data, self._at()
        k = int(np.flatnonzero(d[EPOCH].values == int(at[EPOCH]))[0])
        if self.windows is not None:
            w = self.windows.isel(epoch=k)
            for i, name in enumerate(w[LAYER].values):
                plots.artist(ax_sig, f"signal:{name}").set_ydata(i - 0.3 * w.sel(layer=name).values)
        r = at["R"].values
        plots.artist(ax_r, "R").set_ydata(r)
        m, s = float(at["synchrony"]), float(at["metastability"])
        band = plots.artist(ax_r, "band")
        band.set_y(m - s)
        band.set_height(2 * s)
        c = self._cursor(at)
        plots.artist(ax_r, "cursor").set_xdata([c, c])
        layer = at.sel(layer=self._layer())
        scale = d["scale"].values.astype(float)
        plots.artist(ax_dfa, "F").set_ydata(layer["fluctuation"].values)
        alpha, icpt = float(layer["dfa"]), float(layer["dfa_intercept"])
        plots.artist(ax_dfa, "fit").set_ydata(np.exp(icpt + alpha * np.log(scale)))
        plots.artist(ax_dfa, "dfa").set_text(rf"{self._layer()}: $\alpha$ = {alpha:.2f}")
        x, y = d["integration"].values, d["metastability"].values
        plots.artist(ax_pl, "trajectory").set_data(x[:k + 1], y[:k + 1])
        plots.artist(ax_pl, "current").set_data(x[k:k + 1], y[k:k + 1])
        e = float(at[EPOCH])
        plots.artist(ax_st, plots.SELECTION_GID).set_xdata([e, e])
        early = float(at["early_convergence_epoch"])
        plots.artist(ax_st, "early").set_xdata([early, early])
        steps = at["signal_step"].values
        valid = steps[steps >= 0]
        self.caption.value = (
            f"<span class='wb-caption'><b>epoch {int(e)}</b> · window: steps "
            f"{int(valid.min()) if valid.size else '–'}–{int(valid.max()) if valid.size else '–'}"
            f" · synchrony {m:.3f} · metastability {s:.3f} · integration "
            f"{float(at['integration']):.3f} · stability {float(at['stability']):.3f} · "
            "early convergence "
            + (f"at epoch {int(early)}" if np.isfinite(early) else "not yet") + "</span>")


__all__ = ["DynamicsView", "window_signals"]
