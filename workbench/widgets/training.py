"""Training overview: loss over steps and accuracy over epochs, the selection marked."""

from __future__ import annotations

import xarray as xr

from .. import plots
from ..dims import EPOCH, STEP, require
from .state import Selection, controls_for, tie_step_to_epoch
from .view import View


class TrainingView(View):
    """Loss (step slider) beside train/test accuracy (epoch slider).

    When ``loss`` has the coord ``epoch(step)`` (as /steps does), selecting a step selects
    its epoch and selecting an epoch moves the step into it (:func:`tie_step_to_epoch`); a
    key press on the step slider moves it by about 1% of the run.

    Parameters
    ----------
    loss : DataArray (step)
        E.g. ``tree["steps"].loss``.
    epochs : Dataset (epoch)
        ``tree["epochs"]`` with ``train_acc`` / ``test_acc``.
    state : Selection, optional
    tie : bool
        Tie the step to its epoch (needs the ``epoch(step)`` coord).
    """

    observes = (STEP, EPOCH)
    figsize = (9, 3.0)

    def __init__(self, loss: xr.DataArray, epochs: xr.Dataset, state: Selection | None = None,
                 *, smooth: int = 9, tie: bool = True):
        super().__init__(state)
        require(loss, "TrainingView", [STEP], name="loss")
        self.loss, self.epochs, self.smooth = loss, epochs, smooth
        if tie and EPOCH in loss.coords:
            tie_step_to_epoch(self.state, loss[EPOCH])
        acc = next((n for n in ("test_acc", "probe_acc", "train_acc") if n in epochs),
                   None)
        self.controls = {**controls_for(loss, self.state, [STEP]),
                         **(controls_for(epochs[acc], self.state, [EPOCH]) if acc else {})}
        self._start()

    def draw(self, fig):
        return plots.training_curves(self.loss, self.epochs, step=self.state.step,
                                     epoch=self.state.epoch, smooth=self.smooth,
                                     ax=fig.subplots(1, 2))

    def dynamic(self) -> list:
        return [plots.artist(ax, plots.SELECTION_GID) for ax in self.axes]

    def update(self) -> None:
        for ax, value in zip(self.axes, (self.state.step, self.state.epoch), strict=True):
            if value is not None:
                plots.artist(ax, plots.SELECTION_GID).set_xdata([value, value])


__all__ = ["TrainingView"]
