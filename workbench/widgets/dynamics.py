"""The dynamics view: layer signals, synchrony R(t), DFA, the integration–metastability plane
and stability, each at the selected epoch's signal window."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import plots
from ..analysis.dynamics import too_few_points
from ..diagnostics.dfa import MIN_POINTS
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

    It opens on :meth:`opening_epoch` (the last epoch whose window holds enough points for
    the DFA) when the selection has no epoch yet; the Explorer opened on this tab moves its
    selection there. At an epoch with too few points, the panels and the caption say how
    many points the window holds and how many each quantity needs. The signal and R(t)
    panels span the window's points, the DFA panel the window sizes fitted.

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
        if self.state.epoch is None:
            self.state.epoch = self.opening_epoch()
        self.controls = controls_for(self.data["integration"], self.state, [EPOCH])
        self.controls.update(controls_for(self.data["dfa"], self.state, [LAYER]))
        self._start()

    def n_points(self) -> xr.DataArray:
        """Signal points in each epoch's window (``n_points``, else counted from
        ``signal_step``)."""
        if "n_points" in self.data:
            return self.data["n_points"]
        return (self.data["signal_step"] >= 0).sum("t")

    def opening_epoch(self) -> int:
        """The last epoch whose window holds enough points for the DFA (64,
        :data:`~workbench.diagnostics.dfa.MIN_POINTS`); the last epoch when none does."""
        n = self.n_points()
        enough = n[EPOCH].values[n.values >= MIN_POINTS]
        return int(enough[-1] if enough.size else self.data[EPOCH].values[-1])

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
        self.handles = plots.dynamics.draw(self.data, fig, epochs=self.epochs,
                                           has_signal=self.windows is not None,
                                           epoch=self.state.epoch)
        self._twin = self.handles["twin"]
        self.axes = self.handles["axes"]
        self.update()
        return self.axes

    def dynamic(self) -> list:
        return list(self.handles["dynamic"])

    def update(self) -> None:
        d, at = self.data, self._at()
        k = int(np.flatnonzero(d[EPOCH].values == int(at[EPOCH]))[0])
        reasons = too_few_points(at)
        # new axis ranges need no invalidate: the canvas keeps a background per set of ranges
        plots.dynamics.update(
            self.handles, d, at,
            window=None if self.windows is None else self.windows.isel(epoch=k),
            cursor=self._cursor(at), layer=self._layer(), reasons=reasons)
        e = float(at[EPOCH])
        early = float(at["early_convergence_epoch"])
        steps = at["signal_step"].values
        valid = steps[steps >= 0]

        def value(name):
            v = float(at[name])
            if np.isfinite(v):
                return f"{v:.3f}"
            return f"– ({reasons[name]})" if name in reasons else "–"

        self.caption.value = (
            f"<span class='wb-caption'><b>epoch {int(e)}</b> · window: "
            + (f"steps {int(valid.min())}–{int(valid.max())}, {valid.size} signal points"
               if valid.size else "no signal points")
            + f" · synchrony {value('synchrony')} · metastability {value('metastability')}"
            f" · integration {value('integration')} · stability {value('stability')} · "
            "early convergence "
            + (f"at epoch {int(early)}" if np.isfinite(early) else "not yet") + "</span>")


__all__ = ["DynamicsView", "window_signals"]
