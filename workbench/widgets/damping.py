"""The damping view: regime per (epoch, layer), ζ and curvature per layer, lr and momentum."""

from __future__ import annotations

import html

import numpy as np
import xarray as xr

from .. import plots
from ..dims import EPOCH, LAYER
from .state import Selection, controls_for
from .view import View, check_analysis

#: What /analysis/damping must hold (schema in DESIGN.md / the analysis module).
NEEDS = ("lr", "momentum", "critical_momentum", "network_damping_ratio", "network_regime",
         "curvature", "damping_ratio", "regime", "update_cos_mean", "update_cos_regime",
         "agrees")


def _text(v) -> str:
    return str(np.asarray(v).item()).strip()


class DampingView(View):
    """The damping verdicts of /analysis/damping at the selected epoch.

    Three panels: the per-(epoch, layer) regime strip from the measured curvature with the
    selected epoch marked; at that epoch, ζ per layer (bars, log axis, ζ = 1 dotted) and the
    curvature λ per layer (dots); and lr and momentum over epochs against the critical
    momentum 1 − 2√lr (the paper's λ = 1). The title says the paper's network-wide verdict
    and where the update-cosine signal disagrees with the curvature-based regime.

    Parameters
    ----------
    damping : Dataset (epoch, layer)
        ``run.analysis("damping")``.
    state : Selection, optional
    """

    observes = (EPOCH,)
    figsize = (11, 3.3)

    def __init__(self, damping: xr.Dataset, state: Selection | None = None):
        super().__init__(state)
        check_analysis(damping, "DampingView", NEEDS, [EPOCH, LAYER])
        self.data = damping.load()
        self.controls = controls_for(self.data["lr"], self.state, [EPOCH])
        self._start()

    def _at(self):
        return self.data.sel(epoch=self.state.epoch, method="nearest")

    def draw(self, fig):
        self.handles = plots.damping.draw(
            self.data, fig.subplots(1, 3, width_ratios=[1.1, 1.0, 1.1]), epoch=self.state.epoch)
        self.caption.value = self._title(self._at())
        self._twins = self.handles["twins"]
        return self.handles["axes"]

    def _title(self, at) -> str:
        """The caption: the paper's network-wide verdict, and where the signals disagree."""
        disagree = [html.escape(str(v))
                    for v in at[LAYER].values[~at["agrees"].values.astype(bool)]]
        text = (f"<b>epoch {int(at[EPOCH])}</b> · network-wide verdict (the paper's, λ = 1): "
                f"ζ = {float(at['network_damping_ratio']):.3g}, "
                f"<b>{html.escape(_text(at['network_regime']))}</b>"
                f" (lr {float(at['lr']):.3g}, momentum {float(at['momentum']):.3g})")
        if self.data.attrs.get("optimizer_kind") == "adam":
            text += ("<br><b>Adam-type optimizer: the heavy-ball analogy.</b> β₁ plays the "
                     "momentum and each group's effective step size (1 − β₁)·‖Δθ‖/‖g‖ plays "
                     "the lr in the per-layer regime; the network-wide verdict uses the "
                     "optimizer's lr")
        if disagree:
            text += ("<br>the update-cosine signal disagrees with the curvature regime in "
                     + ", ".join(disagree) + ": the curvature is measured at the epoch's end, "
                     "the cosines over its steps")
        return f"<span class='wb-caption'>{text}</span>"

    def dynamic(self) -> list:
        h = self.handles
        return [h["markers"][0], h["markers"][1], *h["bars"], h["curvature"], h["zeta"].title]

    def update(self) -> None:
        at = self._at()
        plots.damping.update(self.handles, at)
        self.caption.value = self._title(at)


__all__ = ["DampingView"]
