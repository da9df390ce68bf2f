"""Per-layer statistics over steps: a stat and a layer dropdown, a step slider."""

from __future__ import annotations

import xarray as xr

from .. import plots
from ..dims import LAYER, STEP, require
from .state import Selection, controls_for
from .view import View


class LayersView(View):
    """One per-layer statistic (grad_norm, update_cos…) over steps, the selected step marked.

    The selected layer is bold, the others faint and labelled at their ends; a statistic
    that spans more than two decades is drawn on a log axis. A step or layer change updates
    the marker and the line styles in place; another statistic redraws the figure.

    Parameters
    ----------
    layers : Dataset or DataArray with dims (step, layer)
        E.g. ``open_run(run)["layers"].to_dataset()``; a Dataset gets a "stat" dropdown over
        its (step, layer) variables.
    state : Selection, optional
        The shared selection (a new one by default).
    stat : str, optional
        The variable shown first.
    smooth : int
        Rolling mean over that many steps.
    """

    observes = (LAYER, STEP)

    def __init__(self, layers, state: Selection | None = None, *, stat: str | None = None,
                 smooth: int = 1):
        import ipywidgets as w

        super().__init__(state)
        if isinstance(layers, xr.DataArray):
            layers = layers.to_dataset(name=layers.name or "value")
        self.data = xr.Dataset({k: v for k, v in layers.data_vars.items()
                                if set(v.dims) == {STEP, LAYER}})
        if not self.data.data_vars:
            raise ValueError(f"LayersView needs variables with dims (step, layer); got "
                             f"{ {k: v.dims for k, v in layers.data_vars.items()} }")
        names = list(self.data.data_vars)
        first = self.data[names[0]]
        require(first, "LayersView", [STEP, LAYER], min_size={STEP: 1})
        self.smooth = smooth
        self.stat = w.Dropdown(options=names, value=stat or names[0], description="stat")
        self.stat.observe(self._changed, "value")
        self.controls = {"stat": self.stat,
                         **controls_for(first, self.state, [LAYER, STEP],
                                        step="step")}
        self._start()

    def key(self) -> tuple:
        return (*super().key(), self.stat.value)

    def draw(self, fig):
        self._drawn_stat = self.stat.value
        names = [str(v) for v in self.data[LAYER].values]
        self._layer_drawn = self.state.layer if self.state.layer in names else names[0]
        return plots.layer_stat(self.data[self.stat.value], layer=self.state.layer,
                                step=self.state.step, smooth=self.smooth, ax=fig.subplots())

    def laid_out(self) -> None:
        """Spread the layer names at the line ends again on the frozen layout."""
        plots.layers.place_end_labels(self.axes)

    def dynamic(self) -> list:
        return [plots.artist(self.axes, plots.SELECTION_GID), self.axes.title]

    def update(self) -> None:
        if self._drawn_stat != self.stat.value:
            return self.rebuild()
        ax = self.axes
        layers = [str(v) for v in self.data[LAYER].values]
        layer = self.state.layer if self.state.layer in layers else layers[0]
        if layer != self._layer_drawn:
            plots.style_layers(ax, layers, layer)
            self._layer_drawn = layer
            self.invalidate()       # the lines are in the cached background
        step = self.state.step
        if step is not None:
            plots.artist(ax, plots.SELECTION_GID).set_xdata([step, step])
        ax.set_title(f"{self.stat.value} · {layer}" + ("" if step is None else f" · step {step}"),
                     fontsize="medium")


__all__ = ["LayersView"]
