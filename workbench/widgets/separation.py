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
        d, at = self.data, self._at()
        ax_l, ax_d = fig.subplots(1, 2, width_ratios=[1.4, 1.0])
        depth = d["depth"].values
        ax_l.plot(depth, at["cumulative_load"].values, "o-", color="C0", lw=2,
                  label=plots.label_of(d["cumulative_load"]), gid="load")
        ax_l.plot(depth, at["linear_law"].values, "--", color="k", lw=1.2,
                  label=plots.label_of(d["linear_law"]), gid="law")
        ax_l.set_xticks(depth, [str(v) for v in d[LAYER].values])
        ax_l.set_xlabel("layer (by depth)")
        ax_l.set_ylabel(plots.label_of(d["cumulative_load"]))
        both = xr.concat([d["cumulative_load"], d["linear_law"]], "which")
        ax_l.set_ylim(*plots.padded_limits(both.values))
        ax_l.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                    frameon=False, borderaxespad=0.2)
        dev = d["linear_law_deviation"]
        ax_d.plot(d[EPOCH].values, dev.values, "o-", color="C2")
        ax_d.set_ylabel(plots.label_of(dev))
        plots.epoch_axis(ax_d, d[EPOCH].values)
        plots.epoch_marker(ax_d, self.state.epoch)
        self.caption.value = self._caption(at)
        return ax_l, ax_d

    def _caption(self, at) -> str:
        fuzz = zip(at[LAYER].values, at["log_fuzziness"].values, strict=True)
        return (f"<span class='wb-caption'><b>epoch {int(at[EPOCH])}</b> · deviation from the "
                f"linear law {float(at['linear_law_deviation']):.3g}; log fuzziness "
                + ", ".join(f"{html.escape(str(k))} {float(v):.2f}" for k, v in fuzz)
                + "</span>")

    def dynamic(self) -> list:
        ax_l, ax_d = self.axes
        return [plots.artist(ax_l, "load"), plots.artist(ax_l, "law"),
                plots.artist(ax_d, plots.SELECTION_GID)]

    def update(self) -> None:
        ax_l, ax_d = self.axes
        at = self._at()
        plots.artist(ax_l, "load").set_ydata(at["cumulative_load"].values)
        plots.artist(ax_l, "law").set_ydata(at["linear_law"].values)
        e = float(at[EPOCH])
        plots.artist(ax_d, plots.SELECTION_GID).set_xdata([e, e])
        self.caption.value = self._caption(at)


__all__ = ["SeparationView"]
