"""The damping view: regime per (epoch, layer), ζ and curvature per layer, lr and momentum."""

from __future__ import annotations

import html

import numpy as np
import xarray as xr

from .. import plots
from ..diagnostics.damping import expected_update_cos, measured_verdict
from ..dims import EPOCH, LAYER
from .state import Selection, controls_for
from .view import View, check_analysis

#: What /analysis/damping must hold (schema in DESIGN.md / the analysis module).
NEEDS = ("lr", "momentum", "critical_momentum", "network_damping_ratio", "network_regime",
         "curvature", "damping_ratio", "regime")


def _text(v) -> str:
    return str(np.asarray(v).item()).strip()


class DampingView(View):
    """The damping verdicts of /analysis/damping at the selected epoch.

    Three panels: the per-(epoch, layer) regime strip from the measured curvature with the
    selected epoch marked; at that epoch, ζ per layer (bars, log axis, ζ = 1 dotted) and the
    curvature λ per layer (dots); and lr and momentum over epochs against the critical
    momentum 1 − 2√lr (the paper's λ = 1). The caption leads with the answer,
    :func:`~workbench.diagnostics.damping.measured_verdict`: the epoch's regime (its stiffest
    group) and each group's; then the update cosine as a measured quantity against its
    expected value; then the paper's convention (λ = 1), labelled as such.

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
        self.answer = measured_verdict(self.data)
        # the strip shows the answer's words (the same function as every other surface)
        self.data["regime"] = self.answer["word"].assign_attrs(self.data["regime"].attrs)
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
        """The caption: the answer first, the update cosine measured, the paper's second."""
        e = int(at[EPOCH])
        ans = self.answer.sel({EPOCH: e})
        esc = html.escape
        word = _text(ans["epoch_word"])
        if ans["epoch_layer"].item():
            head = (f"<b>{esc(word)}</b>: its stiffest group, {esc(_text(ans['epoch_layer']))}, "
                    f"has ζ = {float(ans['epoch_damping_ratio']):.3g} (λ_max = "
                    f"{float(ans['epoch_curvature']):.3g}, the largest top Hessian eigenvalue "
                    f"over the groups)")
        else:
            head = f"<b>{esc(word)}</b>: no curvature measured at this epoch"
        text = (f"<b>epoch {e}</b> · damping regime from the measured curvature: {head}; lr "
                f"{float(at['lr']):.3g}, momentum {float(at['momentum']):.3g}<br>per group: "
                + ", ".join(f"{esc(str(n))} <b>{esc(_text(w))}</b>"
                            for n, w in zip(ans[LAYER].values, ans["word"].values,
                                            strict=True)))
        if self.data.attrs.get("optimizer_kind") == "adam":
            text += ("<br><b>Adam-type optimizer: the heavy-ball analogy.</b> β₁ plays the "
                     "momentum and each group's effective step size (1 − β₁)·‖Δθ‖/‖g‖ plays "
                     "the lr in the per-layer regime; the λ = 1 verdict below uses the "
                     "optimizer's lr")
        if "update_cos_mean" in at:
            alpha = at["step_size"] if "step_size" in at else at["lr"]
            exp = expected_update_cos(alpha, at["momentum"], curvature=at["curvature"])
            mu = float(at["momentum"])
            text += ("<br>update cosine (measured, not a verdict; expected from a noise-driven "
                     "heavy ball, stiffest to flat direction): " + ", ".join(
                         f"{esc(str(n))} {float(c):.2f} ({float(x):.2f} to {mu:.2f})"
                         for n, c, x in zip(at[LAYER].values, at["update_cos_mean"].values,
                                            exp.values, strict=True))
                     + "; μ − αλ/2 per direction under noise in every regime, nearer +1 "
                       "where the gradient's signal persists")
        text += (f"<br>the paper's convention (λ = 1 for the whole network), for reference: "
                 f"ζ = {float(at['network_damping_ratio']):.3g}, "
                 f"{esc(_text(at['network_regime']))}")
        return f"<span class='wb-caption'>{text}</span>"

    def dynamic(self) -> list:
        h = self.handles
        return [h["markers"][0], h["markers"][1], *h["bars"], h["curvature"], h["zeta"].title]

    def update(self) -> None:
        at = self._at()
        plots.damping.update(self.handles, at)
        self.caption.value = self._title(at)


__all__ = ["DampingView"]
