"""The spectra view: the selected layer's weight ESD with its power-law tail; α over epochs."""

from __future__ import annotations

import numpy as np
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
        ev = self.data["eigenvalues"]
        self.bins = {str(k): plots.log_bins(ev.sel(layer=k).values, self.n_bins)
                     for k in self.data[LAYER].values}
        self.controls = controls_for(self.data["alpha"], self.state, [LAYER, EPOCH])
        self._start()

    def _layer(self) -> str:
        names = [str(v) for v in self.data[LAYER].values]
        return self.state.layer if self.state.layer in names else names[0]

    def _at(self):
        return self.data.sel(epoch=self.state.epoch, method="nearest").sel(layer=self._layer())

    def esd(self, at):
        """(bin centres, density, tail density) of one (epoch, layer)."""
        bins = self.bins[str(at[LAYER].values)]
        ev = at["eigenvalues"].values
        n = np.isfinite(ev).sum()
        centres = np.sqrt(bins[1:] * bins[:-1])
        dens = plots.esd_density(ev, bins)
        tail = plots.powerlaw_tail(centres, alpha=float(at["alpha"]), xmin=float(at["xmin"]),
                                   fraction=float(at["n_tail"]) / max(n, 1))
        return bins, dens, centres, tail

    def _limits(self):
        """y-limits of the selected layer's ESD over every epoch."""
        layer = self._layer()
        vals = [plots.esd_density(self.data["eigenvalues"].sel(layer=layer, epoch=e).values,
                                  self.bins[layer]) for e in self.data[EPOCH].values]
        return plots.padded_limits(np.concatenate(vals), log=True)

    def draw(self, fig):
        d = self.data
        ax_e, ax_a = fig.subplots(1, 2, width_ratios=[1.2, 1.0])
        at = self._at()
        bins, dens, centres, tail = self.esd(at)
        ax_e.stairs(np.where(dens > 0, dens, np.nan), bins, color="C0", lw=1.8, gid="esd",
                    label="ESD")
        ax_e.plot(centres, tail, "--", color="C3", lw=1.5, gid="tail", label="power-law tail")
        ax_e.axvline(float(at["xmin"]), color="0.5", lw=0.8, ls=":", gid="xmin")
        ax_e.set_xscale("log")
        ax_e.set_yscale("log")
        ax_e.xaxis.set_minor_formatter("")
        ax_e.yaxis.set_minor_formatter("")
        ax_e.set_xlim(bins[0], bins[-1])
        ax_e.set_ylim(*self._limits())
        ax_e.set_xlabel(plots.label_of(d["eigenvalues"]))
        ax_e.set_ylabel(r"density $\rho(\lambda)$")
        ax_e.set_title(f"ESD · {self._layer()}", fontsize="medium", loc="right")
        ax_e.text(0.98, 0.96, "", transform=ax_e.transAxes, fontsize="small", gid="fit",
                  ha="right", va="top")
        ax_e.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                    frameon=False, borderaxespad=0.2)
        for k in d[LAYER].values:
            a = d["alpha"].sel(layer=k)
            bold = str(k) == self._layer()
            ax_a.plot(d[EPOCH].values, a.values, "o-" if bold else ".-",
                      color="C0" if bold else "0.7", lw=2 if bold else 0.8,
                      zorder=3 if bold else 1, gid=plots.SELECTED_GID if bold else None)
            ax_a.annotate(str(k), (d[EPOCH].values[-1], float(a.values[-1])),
                          xytext=(4, 0), textcoords="offset points", fontsize="x-small",
                          color="C0" if bold else "0.4", va="center")
        ax_a.set_ylabel(plots.label_of(d["alpha"]))
        plots.epoch_axis(ax_a, d[EPOCH].values)
        plots.epoch_marker(ax_a, self.state.epoch)
        self._layer_drawn = self._layer()
        self._set(at)
        return ax_e, ax_a

    def _set(self, at) -> None:
        ax_e = self.fig.axes[0]
        plots.artist(ax_e, "fit").set_text(
            rf"epoch {int(at[EPOCH])}: $\alpha$ = {float(at['alpha']):.2f}, "
            f"KS {float(at['ks_distance']):.3f}, tail {int(at['n_tail'])}")

    def dynamic(self) -> list:
        ax_e, ax_a = self.axes
        return [plots.artist(ax_e, g) for g in ("esd", "tail", "xmin", "fit")] + [
            plots.artist(ax_a, plots.SELECTION_GID)]

    def update(self) -> None:
        if self._layer() != self._layer_drawn:
            return self.rebuild()  # another layer: other bins and limits
        ax_e, ax_a = self.axes
        at = self._at()
        bins, dens, centres, tail = self.esd(at)
        plots.artist(ax_e, "esd").set_data(np.where(dens > 0, dens, np.nan), bins)
        plots.artist(ax_e, "tail").set_ydata(tail)
        x = float(at["xmin"])
        plots.artist(ax_e, "xmin").set_xdata([x, x])
        e = float(at[EPOCH])
        plots.artist(ax_a, plots.SELECTION_GID).set_xdata([e, e])
        self._set(at)


__all__ = ["SpectraView"]
