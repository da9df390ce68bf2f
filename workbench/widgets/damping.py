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
        zeta, curv = self.data["damping_ratio"], self.data["curvature"]
        self._zlim = plots.padded_limits(zeta.values, log=True, include=[1.0])
        self._clim = plots.padded_limits(curv.values, log=True)
        self.controls = controls_for(self.data["lr"], self.state, [EPOCH])
        self._start()

    def _at(self):
        return self.data.sel(epoch=self.state.epoch, method="nearest")

    def draw(self, fig):
        d = self.data
        ax_s, ax_z, ax_m = fig.subplots(1, 3, width_ratios=[1.1, 1.0, 1.1])
        plots.regime_strip(d["regime"], epoch=self.state.epoch, ax=ax_s)
        ax_s.set_title("regime from curvature", fontsize="medium", loc="left", y=1.12)
        at = self._at()
        plots.layer_bars(at["damping_ratio"], limits=self._zlim, log=True, ref=1.0, ax=ax_z)
        ax_c = ax_z.twinx()
        ax_c.plot(range(at.sizes[LAYER]), at["curvature"].values, "o", color="C1",
                  gid="curvature", label=r"curvature $\lambda$")
        ax_c.set_yscale("log")
        ax_c.set_ylim(*self._clim)
        ax_c.set_ylabel(plots.label_of(d["curvature"]), color="C1")
        ax_z.tick_params(axis="x", labelrotation=30)
        ax_z.set_title(f"ζ and λ per layer · epoch {int(at[EPOCH])}", fontsize="medium")
        ax_m.plot(d[EPOCH].values, d["momentum"].values, "o-", color="C0",
                  label=plots.label_of(d["momentum"]))
        ax_m.plot(d[EPOCH].values, d["critical_momentum"].values, "s--", color="k",
                  label=plots.label_of(d["critical_momentum"]))
        ax_m.set_ylabel("momentum")
        ax_l = ax_m.twinx()
        ax_l.plot(d[EPOCH].values, d["lr"].values, ".:", color="C2")
        ax_l.set_ylabel(plots.label_of(d["lr"]), color="C2")
        if plots.spans_decades(d["lr"].values, 1.0):
            ax_l.set_yscale("log")
        plots.epoch_axis(ax_m, d[EPOCH].values)
        plots.epoch_marker(ax_m, self.state.epoch)
        ax_m.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=1,
                    frameon=False, borderaxespad=0.2)
        self.caption.value = self._title(at)
        self._twins = (ax_c, ax_l)
        return ax_s, ax_z, ax_m

    def _title(self, at) -> str:
        """The caption: the paper's network-wide verdict, and where the signals disagree."""
        disagree = [html.escape(str(v))
                    for v in at[LAYER].values[~at["agrees"].values.astype(bool)]]
        text = (f"<b>epoch {int(at[EPOCH])}</b> · network-wide verdict (the paper's, λ = 1): "
                f"ζ = {float(at['network_damping_ratio']):.3g}, "
                f"<b>{html.escape(_text(at['network_regime']))}</b>"
                f" (lr {float(at['lr']):.3g}, momentum {float(at['momentum']):.3g})")
        if disagree:
            text += ("<br>the update-cosine signal disagrees with the curvature regime in "
                     + ", ".join(disagree) + ": the curvature is measured at the epoch's end, "
                     "the cosines over its steps")
        return f"<span class='wb-caption'>{text}</span>"

    def dynamic(self) -> list:
        ax_s, ax_z, ax_m = self.axes
        return [plots.artist(ax_s, plots.SELECTION_GID), plots.artist(ax_m, plots.SELECTION_GID),
                *[p for p in ax_z.patches if p.get_gid() == "bars"],
                plots.artist(self._twins[0], "curvature"), ax_z.title]

    def update(self) -> None:
        ax_s, ax_z, _ = self.axes
        at = self._at()
        e = float(at[EPOCH])
        for ax in (ax_s, self.axes[2]):
            plots.artist(ax, plots.SELECTION_GID).set_xdata([e, e])
        plots.set_bars(ax_z, at["damping_ratio"].values)
        plots.artist(self._twins[0], "curvature").set_ydata(at["curvature"].values)
        ax_z.set_title(f"ζ and λ per layer · epoch {int(e)}", fontsize="medium")
        self.caption.value = self._title(at)


__all__ = ["DampingView"]
