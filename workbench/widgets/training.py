"""Training overview: loss over steps and accuracy over epochs, the selection marked."""

from __future__ import annotations

import xarray as xr

from .. import plots
from ..dims import EPOCH, STEP, require
from .state import Selection, controls_for
from .view import View


class TrainingView(View):
    """Loss (step slider) beside train/test accuracy (epoch slider).

    Parameters
    ----------
    loss : DataArray (step)
        E.g. ``tree["steps"].loss``.
    epochs : Dataset (epoch)
        ``tree["epochs"]`` with ``train_acc`` / ``test_acc``.
    state : Selection, optional
    """

    observes = (STEP, EPOCH)
    figsize = (9, 3.0)

    def __init__(self, loss: xr.DataArray, epochs: xr.Dataset, state: Selection | None = None,
                 *, smooth: int = 9):
        super().__init__(state)
        require(loss, "TrainingView", [STEP], name="loss")
        self.loss, self.epochs, self.smooth = loss, epochs, smooth
        self.controls = {**controls_for(loss, self.state, [STEP]),
                         **controls_for(epochs["test_acc"], self.state, [EPOCH])}
        self._start()

    def draw(self, fig):
        return plots.training_curves(self.loss, self.epochs, step=self.state.step,
                                     epoch=self.state.epoch, smooth=self.smooth,
                                     ax=fig.subplots(1, 2))


__all__ = ["TrainingView"]
