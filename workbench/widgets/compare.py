"""Runs side by side at the selected epoch: curves per run, regimes and verdicts per run.

The data come from :func:`workbench.compare.stack` (a ``run`` dim, runs aligned by epoch
with ``join="outer"``: a run that has no such epoch shows blank), read once; a slider move
only recolours the strips and moves the epoch marker.
"""

from __future__ import annotations

import html

import numpy as np
import xarray as xr

from .. import plots
from ..dims import EPOCH, LAYER
from ..verdicts import VERDICTS, overlap, overlap_text, problematic
from .state import Selection, controls_for
from .view import View

RUN = "run"
# Verdict codes in strip order (VERDICTS, in order of concern) and their colours (the
# attribution view's).


def _codes(values, names) -> np.ndarray:
    """Position of each text value in ``names`` (NaN for anything else)."""
    v = np.char.strip(np.asarray(values).astype(str))
    out = np.full(v.shape, np.nan)
    for i, name in enumerate(names):
        out[v == name] = i
    return out


class CompareView(View):
    """Several runs at the selected epoch.

    Panels: test accuracy over epochs, one line per run (the selected epoch marked); the
    damping regime from the measured curvature per (run, layer)
    (:func:`~workbench.diagnostics.damping.measured_verdict`, whose epoch word per run the
    caption gives); the problematic-group verdict per
    (run, layer). A panel whose analysis a run lacks says so. The caption gives each run's
    test accuracy and, when every run has an attribution analysis, the overlap of each
    pair's problematic groups at the selected epoch (:func:`workbench.verdicts.overlap`;
    ``-`` where a run has not analysed that epoch).

    Parameters
    ----------
    runs : sequence of Run or paths
        Two or more runs.
    state : Selection, optional

    Examples
    --------
    >>> CompareView(["runs/momentum/constant", "runs/momentum/physics"])   # doctest: +SKIP
    """

    observes = (EPOCH,)
    figsize = (11, 3.4)

    def __init__(self, runs, state: Selection | None = None):
        from ..compare import stack
        from ..run import Run

        super().__init__(state)
        self.runs = [r if isinstance(r, Run) else Run(r) for r in runs]
        if len(self.runs) < 2:
            raise ValueError(f"CompareView needs at least two runs; got {len(self.runs)}")
        self.epochs = stack(self.runs, "epochs", join="outer").load()
        self.damping = self.attribution = self.answer = None
        self._verdicts = []
        if all(r.analysis("damping") is not None for r in self.runs):
            from ..diagnostics.damping import measured_verdict

            self.damping = stack(self.runs, "analysis/damping", join="outer").load()
            # the strip and the caption show the answer's words (one function, every surface)
            self.answer = measured_verdict(self.damping)
            self.damping["regime"] = self.answer["word"]
        if all(r.analysis("attribution") is not None for r in self.runs):
            self.attribution = stack(self.runs, "analysis/attribution", join="outer").load()
            self._verdicts = [r.analysis("attribution")[["verdict"]].load() for r in self.runs]
        self.controls = controls_for(self.epochs["test_acc"], self.state, [EPOCH])
        self._start()

    def _strip(self, ax, ds, var, names, colors, title):
        from matplotlib.colors import ListedColormap

        if ds is None:
            ax.text(0.5, 0.5, f"{title}:\nnot analysed in every run\n(workbench analyze RUN)",
                    ha="center", va="center", transform=ax.transAxes, fontsize="small")
            ax.set_axis_off()
            return None
        at = ds[var].sel({EPOCH: self.state.epoch}, method="nearest")
        codes = _codes(at.transpose(RUN, LAYER).values, names)
        mesh = ax.pcolormesh(np.arange(ds.sizes[LAYER]), np.arange(ds.sizes[RUN]), codes,
                             shading="nearest", cmap=ListedColormap(colors), vmin=-0.5,
                             vmax=len(names) - 0.5, edgecolors="w", linewidth=0.8, gid=var)
        ax.set_xticks(range(ds.sizes[LAYER]), [str(v) for v in ds[LAYER].values],
                      rotation=30)
        ax.set_yticks(range(ds.sizes[RUN]), [str(v) for v in ds[RUN].values])
        ax.invert_yaxis()
        ax.set_title(title, fontsize="medium", loc="left")
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=c, label=n) for c, n in zip(colors, names,
                                                                     strict=True)],
                  fontsize="x-small", loc="upper left", bbox_to_anchor=(0.0, -0.3),
                  ncols=len(names), frameon=False)
        return mesh

    def draw(self, fig):
        ax_a, ax_r, ax_v = fig.subplots(1, 3, width_ratios=[1.2, 1.0, 1.0])
        acc = self.epochs["test_acc"]
        for i, name in enumerate(acc[RUN].values):
            ax_a.plot(acc[EPOCH].values, acc.sel({RUN: name}).values, "o-", color=f"C{i}",
                      label=str(name), gid=f"acc:{name}")
        ax_a.set_ylabel(plots.label_of(acc) if acc.attrs.get("long_name") else
                        "test accuracy")
        plots.epoch_axis(ax_a, acc[EPOCH].values)
        plots.epoch_marker(ax_a, self.state.epoch)
        ax_a.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0),
                    ncols=min(3, acc.sizes[RUN]), frameon=False, borderaxespad=0.2)
        self._mesh = {
            "regime": self._strip(ax_r, self.damping, "regime", plots.REGIMES,
                                  plots.REGIME_COLORS, "regime from measured curvature"),
            "verdict": self._strip(ax_v, self.attribution, "verdict", VERDICTS,
                                   [plots.VERDICT_COLORS[v] for v in VERDICTS],
                                   "problematic groups"),
        }
        self.caption.value = self._caption()
        return ax_a, ax_r, ax_v

    def _caption(self) -> str:
        e = self.state.epoch
        acc = self.epochs["test_acc"].sel({EPOCH: e}, method="nearest")
        parts = [f"{html.escape(str(n))} {float(v):.4f}" if np.isfinite(v) else
                 f"{html.escape(str(n))} -" for n, v in zip(acc[RUN].values, acc.values,
                                                             strict=True)]
        text = f"<b>epoch {e}</b> · test accuracy " + ", ".join(parts)
        if self.answer is not None:
            words = self.answer["epoch_word"].sel({EPOCH: e}, method="nearest")
            text += " · damping regime (measured curvature, stiffest group) " + ", ".join(
                f"{html.escape(str(n))} <b>{html.escape(str(w))}</b>"
                for n, w in zip(words[RUN].values, words.values, strict=True))
        if self.attribution is not None:
            text += " · problematic groups overlap " + "; ".join(
                f"{html.escape(a)} vs {html.escape(b)} {html.escape(v)}"
                for (a, b), v in self.overlaps().items())
        return f"<span class='wb-caption'>{text}</span>"

    def overlaps(self, epoch: int | None = None) -> dict:
        """``(run, run) -> text``: each pair's :func:`~workbench.verdicts.overlap` at
        ``epoch`` (the selected one by default), as :func:`~workbench.verdicts.overlap_text`
        writes it; ``"-"`` where a run has not analysed that epoch; empty when a run has no
        attribution analysis."""
        if self.attribution is None:
            return {}
        e = self.state.epoch if epoch is None else int(epoch)
        names = [str(n) for n in self.epochs[RUN].values]
        groups = []
        for ds in self._verdicts:
            try:
                groups.append(problematic(ds, e))
            except ValueError:
                groups.append(None)
        out = {}
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a, b = groups[i], groups[j]
                out[names[i], names[j]] = "-" if a is None or b is None else \
                    overlap_text(overlap(a, b))
        return out

    def dynamic(self) -> list:
        return [plots.artist(self.axes[0], plots.SELECTION_GID),
                *[m for m in self._mesh.values() if m is not None]]

    def update(self) -> None:
        e = float(self.state.epoch)
        plots.artist(self.axes[0], plots.SELECTION_GID).set_xdata([e, e])
        for (key, names, ds) in (("regime", plots.REGIMES, self.damping),
                                 ("verdict", VERDICTS, self.attribution)):
            mesh = self._mesh[key]
            if mesh is not None:
                at = ds[key].sel({EPOCH: self.state.epoch}, method="nearest")
                mesh.set_array(_codes(at.transpose(RUN, LAYER).values, names).ravel())
        self.caption.value = self._caption()

    def shown(self, key: str) -> xr.DataArray | None:
        """The codes drawn in strip ``key`` ("regime" or "verdict"), as (run, layer)."""
        mesh, ds = self._mesh[key], {"regime": self.damping,
                                     "verdict": self.attribution}[key]
        if mesh is None:
            return None
        return xr.DataArray(np.asarray(mesh.get_array()).reshape(ds.sizes[RUN],
                                                                 ds.sizes[LAYER]),
                            dims=(RUN, LAYER), coords={RUN: ds[RUN], LAYER: ds[LAYER]})


__all__ = ["CompareView"]
