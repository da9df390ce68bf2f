"""The spectra view: the selected layer's weight ESD with its power-law tail; α over epochs."""

from __future__ import annotations

import xarray as xr

from .. import plots
from ..dims import EPOCH, LAYER
from .state import Selection, controls_for
from .view import View, check_analysis

NEEDS = ("alpha", "xmin", "ks_distance", "n_tail", "eigenvalues")


class SpectraView(View):
    """The empirical spectral density (ESD) of the selected layer's weight matrix at the
    selected epoch on log-log axes, with its fitted power-law tail, beside the tail exponent
    α over epochs for every layer (the selected one bold).

    Notes
    -----
    The ESD is the density of the eigenvalues over log-spaced bins, fixed per layer across
    epochs; the tail drawn is :math:`\\rho(\\lambda) = f\\,(\\alpha-1)/x_{\\min}\\,
    (\\lambda/x_{\\min})^{-\\alpha}` for :math:`\\lambda \\ge x_{\\min}`, with
    :math:`f = n_{\\mathrm{tail}}/n` (see :func:`workbench.plots.powerlaw_tail`).

    Parameters
    ----------
    spectra : Dataset (epoch, layer, eigenvalue)
        ``run.analysis("spectra")``; ``eigenvalues`` NaN padded.
    state : Selection, optional
    """

    observes = (EPOCH, LAYER)
    figsize = (10, 3.3)
    n_bins = 30

    def __init__(self, spectra: xr.Dataset, state: Selection | None = None):
        super().__init__(state)
        check_analysis(spectra, "SpectraView", NEEDS, [EPOCH, LAYER, "eigenvalue"])
        self.data = spectra.load()
        self.bins = plots.spectra.layer_bins(self.data["eigenvalues"], self.n_bins)
        self.controls = controls_for(self.data["alpha"], self.state, [LAYER, EPOCH])
        self.handles: dict = {}
        self._start()

    def _layer(self) -> str:
        names = [str(v) for v in self.data[LAYER].values]
        return self.state.layer if self.state.layer in names else names[0]

    def _at(self):
        return self.data.sel(epoch=self.state.epoch, method="nearest").sel(layer=self._layer())

    def draw(self, fig):
        layer = self._layer()
        self.handles = plots.spectra.draw(
            self.data, fig.subplots(1, 2, width_ratios=[1.2, 1.0]), layer=layer,
            epoch=self.state.epoch, bins=self.bins[layer],
            ylim=plots.spectra.esd_limits(self.data["eigenvalues"].sel(layer=layer),
                                          self.bins[layer], self.data.sel(layer=layer)))
        self._layer_drawn = layer
        return self.handles["axes"]

    def dynamic(self) -> list:
        return [self.handles[g] for g in ("esd", "tail", "xmin", "fit", "selection")]

    def update(self) -> None:
        if self._layer() != self._layer_drawn:
            return self.rebuild()  # another layer: other bins and limits
        plots.spectra.update(self.handles, self._at())


__all__ = ["SpectraView"]
