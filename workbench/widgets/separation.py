"""The separation view: the load curve over depth at the selected epoch, with the linear law."""

from __future__ import annotations

import html

import xarray as xr

from .. import plots
from ..dims import EPOCH, LAYER
from .state import Selection, controls_for
from .view import View, check_analysis

NEEDS = ("fuzziness", "log_fuzziness", "load", "cumulative_load", "linear_law",
         "linear_law_deviation", "depth")


class SeparationView(View):
    """Cumulative load per layer against depth at the selected epoch, with its fitted linear
    law (He & Su's law of data separation), beside the deviation from the law over epochs.

    Parameters
    ----------
    separation : Dataset (epoch, layer)
        ``run.analysis("separation")`` (coord ``depth(layer)``).
    state : Selection, optional
    """

    observes = (EPOCH,)
    figsize = (10, 3.2)

    def __init__(self, separation: xr.Dataset, state: Selection | None = None):
        super().__init__(state)
        check_analysis(separation, "SeparationView", NEEDS, [EPOCH, LAYER])
        self.data = separation.load()
        self.controls = controls_for(self.data["linear_law_deviation"], self.state, [EPOCH])
        self._start()

    def _at(self):
        return self.data.sel(epoch=self.state.epoch, method="nearest")

    def draw(self, fig):
        self.handles = plots.separation.draw(
            self.data, fig.subplots(1, 2, width_ratios=[1.4, 1.0]), epoch=self.state.epoch)
        self.caption.value = self._caption(self._at())
        return self.handles["axes"]

    def _caption(self, at) -> str:
        fuzz = zip(at[LAYER].values, at["log_fuzziness"].values, strict=True)
        return (f"<span class='wb-caption'><b>epoch {int(at[EPOCH])}</b> · deviation from the "
                f"linear law {float(at['linear_law_deviation']):.3g}; log fuzziness "
                + ", ".join(f"{html.escape(str(k))} {float(v):.2f}" for k, v in fuzz)
                + "</span>")

    def dynamic(self) -> list:
        return [self.handles[k] for k in ("load", "law", "selection")]

    def update(self) -> None:
        at = self._at()
        plots.separation.update(self.handles, at)
        self.caption.value = self._caption(at)


__all__ = ["SeparationView"]
