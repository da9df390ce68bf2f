"""The probe set: one sample's image and predicted probabilities across epochs."""

from __future__ import annotations

import xarray as xr

from .. import plots
from ..dims import EPOCH, LABEL, SAMPLE, require
from .state import Selection, controls_for
from .view import View


class ProbeView(View):
    """Predicted probabilities of the selected probe sample over epochs, beside its image.

    An epoch change moves the marker and the image's caption (the prediction at that epoch)
    in place; another sample redraws the figure.

    Parameters
    ----------
    probs : DataArray (epoch, sample, label)
        Probabilities (e.g. ``workbench.diagnostics.probabilities.softmax`` of the /probe
        logits), with coord ``target(sample)``.
    images : DataArray (sample, row, col[, channel]), optional
        The probe samples' images, indexed by the same ``sample`` coord.
    classes : sequence of str, optional
    state : Selection, optional
    """

    observes = (EPOCH, SAMPLE)
    figsize = (8.5, 3.0)

    def __init__(self, probs: xr.DataArray, images: xr.DataArray | None = None,
                 state: Selection | None = None, *, classes=None):
        super().__init__(state)
        require(probs, "ProbeView", [EPOCH, SAMPLE, LABEL], name="probs")
        if images is not None:
            require(images, "ProbeView", [SAMPLE], name="images")
        self.probs, self.images, self.classes = probs, images, classes
        self.controls = controls_for(probs, self.state, [SAMPLE, EPOCH],
                                     sample="sample (test-set index)")
        self._start()

    def draw(self, fig):
        self._sample_drawn = self.state.sample
        image = None if self.images is None else self.images.sel(sample=self.state.sample)
        ax = (fig.subplots(1, 2, width_ratios=[1, 3]) if image is not None
              else fig.subplots())
        return plots.probe_sample(self.probs.sel(sample=self.state.sample), image=image,
                                  epoch=self.state.epoch, classes=self.classes, ax=ax)

    def _prob_axes(self):
        return self.axes[1] if isinstance(self.axes, tuple) else self.axes

    def dynamic(self) -> list:
        arts = [plots.artist(self._prob_axes(), plots.SELECTION_GID)]
        if isinstance(self.axes, tuple):
            arts.append(self.axes[0].title)
        return arts

    def update(self) -> None:
        if self.state.sample != self._sample_drawn or self.state.epoch is None:
            return self.rebuild()
        e = self.state.epoch
        plots.artist(self._prob_axes(), plots.SELECTION_GID).set_xdata([e, e])
        if isinstance(self.axes, tuple):
            self.axes[0].set_title(plots.probe_title(
                self.probs.sel(sample=self.state.sample), epoch=e, classes=self.classes),
                fontsize="small")


__all__ = ["ProbeView"]
