"""Which layer groups the errors come from, at the selected epoch, and the **Fix** button.

The view reads ``/analysis/attribution`` only (one row per analysed epoch): the per-group
log gradient ratios with their verdicts and bootstrap flag frequencies, and the worst
misclassified probe images with their Integrated Gradients maps. A slider move changes the
drawn artists in place; nothing is recomputed. The Fix button is the one action that computes:
it fine-tunes that epoch's model (``run.model(epoch)``) on the data as trained
(``run.train_data()``, label noise included), training only the groups whose stored verdict
is "problematic", at the layer and at the parameter level, and shows what each fixed and broke.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import plots
from ..dims import EPOCH, LAYER, require
from ..finetune.fix import FixResult
from ..verdicts import chosen_groups, problematic
from .fix import ActionButton
from .state import Selection, controls_for
from .view import View, check_analysis

#: What an /analysis/attribution Dataset must hold for the view (schema: DESIGN.md).
NEEDS = ("log_ratio", "verdict", "flag_frequency", "sample", "target", "predicted", "image",
         "ig")


def stored_problematic_groups(attribution: xr.Dataset, epoch: int) -> list[str]:
    """The groups whose stored verdict at ``epoch`` is "problematic":
    :func:`workbench.verdicts.problematic` (kept under this name for back-compatibility).

    Examples
    --------
    >>> ds = xr.Dataset({"verdict": (("epoch", "layer"), [["healthy", "problematic"]])},
    ...                 coords={"epoch": [3], "layer": ["conv1", "fc"]})
    >>> stored_problematic_groups(ds, 3)
    ['fc']
    """
    return problematic(attribution, epoch)


#: The Fix button's result: :class:`workbench.finetune.FixResult` (this name is kept).
FixComparison = FixResult


def verdict_reasons(at: xr.Dataset) -> str:
    """HTML: each group that is not healthy with the reason for its verdict
    (:func:`workbench.verdicts.verdict_reason`; an "inconclusive" one names its gap and the
    bootstrap spread). A store analysed before ``gap`` and ``spread`` were kept says so.

    Examples
    --------
    >>> at = xr.Dataset({"verdict": ("layer", ["healthy", "inconclusive"]),
    ...                  "flag_frequency": ("layer", [0.0, 1.0]), "gap": 0.1, "spread": 0.4},
    ...                 coords={"layer": ["fc1", "conv2"]})
    >>> "conv2</b> inconclusive: flagged in 100%" in verdict_reasons(at)
    True
    """
    import html

    from ..verdicts import texts, verdict_reason

    gap = float(at["gap"]) if "gap" in at else float("nan")
    spread = float(at["spread"]) if "spread" in at else float("nan")
    rows = []
    for layer, v, f in zip(texts(at[LAYER].values), texts(at["verdict"].values),
                           np.asarray(at["flag_frequency"].values, dtype=float), strict=True):
        if v == "healthy":
            continue
        why = verdict_reason(v, float(f), gap=gap, spread=spread)
        if "gap" not in at and v == "inconclusive":
            why += " (this run was analysed before the gap was stored: re-run analyze)"
        rows.append(f"<b>{html.escape(layer)}</b> {html.escape(why)}")
    return ("<span class='wb-caption'>" + "<br>".join(rows) + "</span>") if rows else ""


class AttributionView(View):
    """Group ratios and verdicts at the selected epoch, beside the worst errors' IG maps.

    Parameters
    ----------
    attribution : Dataset
        ``/analysis/attribution`` with dims ``epoch``, ``layer`` and ``rank``, ``row``,
        ``col`` (``Run.analysis("attribution")``).
    state : Selection, optional
    classes : sequence of str, optional
        Class names by label.
    run : Run, optional
        Gives the **Fix** button (``view.fix``), which fine-tunes ``run.model(epoch)``.
    fix_options : dict, optional
        Passed to :func:`~workbench.finetune.fix_run` (e.g. ``max_steps=100``,
        ``lr=0.01``, ``progress=False``).

    Attributes
    ----------
    data : Dataset
        The loaded analysis.
    handles : dict
        ``groups`` and ``gallery``: the artists :mod:`workbench.plots` drew.
    fix : ActionButton or None
        ``fix.result`` is a :class:`~workbench.finetune.FixResult` after a click.
    fix_result : FixResult or None
        The last fix.
    fix_panel : ipywidgets.HTML or None
        The last fix as one table, a column per level (:meth:`FixResult.to_html
        <workbench.finetune.FixResult.to_html>` with each level's gallery of the images it
        fixed and broke), marked stale while the selection is away from the fixed epoch.
    fix_stale : bool
        Whether the selection has moved away from the last fix's epoch.

    Examples
    --------
    >>> from workbench import Run                                         # doctest: +SKIP
    >>> run = Run("runs/demo")                                            # doctest: +SKIP
    >>> AttributionView(run.analysis("attribution"), run=run,
    ...                 classes=run.classes)                              # doctest: +SKIP
    """

    observes = (EPOCH,)
    figsize = (11.0, 3.0)
    #: The Fix galleries: images per row, size (inches), resolution and title size (points)
    #: of each PNG, and the fewest pixels the table shows it at (titles at least 10 px).
    FIX_IMAGES = 4
    FIX_FIGSIZE = (4.6, 3.9)
    FIX_DPI = 100
    FIX_FONTSIZE = 10.0
    FIX_MIN_WIDTH = 360

    def __init__(self, attribution: xr.Dataset, state: Selection | None = None, *,
                 classes=None, run=None, fix_options: dict | None = None):
        super().__init__(state)
        check_analysis(attribution, "AttributionView", NEEDS, [EPOCH, LAYER])
        require(attribution["log_ratio"], "AttributionView", [EPOCH, LAYER],
                min_size={EPOCH: 1}, name="log_ratio")
        require(attribution["ig"], "AttributionView", [EPOCH, "rank", "row", "col"],
                name="ig")
        self.data = attribution.load()
        self.classes = classes
        self.run = run
        self.fix_options = dict(fix_options or {})
        self.ylim = plots.ratio_limits(self.data["log_ratio"])   # over every epoch
        self.controls = controls_for(self.data["log_ratio"], self.state, [EPOCH])
        self.fix = (ActionButton(self.run_fix, description="Fix", icon="wrench", show=False)
                    if run is not None else None)
        self.fix_panel = self.fix_result = None
        self.fix_stale = False
        self.state.observe(self._mark_fix, names=EPOCH)
        self.handles: dict = {}
        self._start()

    @property
    def epoch(self) -> int:
        """The epoch shown: the selection's, or the nearest analysed one."""
        return int(self.controls[EPOCH].value)

    def at(self, epoch: int | None = None) -> xr.Dataset:
        """One analysed epoch of the data (the selected one by default)."""
        return self.data.sel({EPOCH: self.epoch if epoch is None else epoch})

    def draw(self, fig):
        left, right = fig.subfigures(1, 2, width_ratios=[1.2, 2.3])
        at = self.at()
        self.handles = {
            "groups": plots.attribution_groups(at, ax=left.subplots(), ylim=self.ylim),
            "gallery": plots.ig_gallery(at, fig=right, classes=self.classes),
        }
        right.suptitle("worst misclassified probe images and their Integrated Gradients",
                       fontsize="small")
        self.caption.value = verdict_reasons(at)
        return self.handles["groups"]["ax"], self.handles["gallery"]["axes"]

    def dynamic(self) -> list:
        """The artists a selection change alters (the rest is a cached background)."""
        groups, gallery = self.handles["groups"], self.handles["gallery"]
        return [*groups["bars"], *groups["texts"], groups["ax"].title, *gallery["images"],
                *gallery["maps"], *(ax.title for ax in gallery["axes"][0])]

    def update(self) -> None:
        at = self.at()
        plots.set_attribution_groups(self.handles["groups"], at)
        plots.set_ig_gallery(self.handles["gallery"], at)
        self.caption.value = verdict_reasons(at)

    # -- the Fix button --------------------------------------------------------------------
    def groups(self, epoch: int | None = None) -> list[str]:
        """The groups the Fix button trains at ``epoch`` (the selected one by default): the
        one choice of ``workbench fix --groups auto``
        (:func:`~workbench.verdicts.chosen_groups` on that epoch's stored verdicts)."""
        return self.choice(epoch)[0]

    def choice(self, epoch: int | None = None) -> tuple[list[str], str]:
        """``(groups, why)`` of :func:`~workbench.verdicts.chosen_groups` at ``epoch``."""
        return chosen_groups(self.at(epoch))

    def run_fix(self, epoch: int | None = None, *, levels=("layer", "parameter")):
        """Fine-tune ``run.model(epoch)``'s chosen groups (:meth:`choice`) with
        :func:`~workbench.finetune.fix_run`, the function of ``workbench fix``; show what
        it fixed and broke.

        Trains on ``run.train_data()`` (the labels the run trained on, noise included) and
        counts on ``run.test_data()``, once per level (the parameter level trains as many
        individual parameters as the layer level, picked by gradient magnitude). Nothing is
        saved. Shown under the button (:attr:`fix_panel`): ONE table with a column per
        level, the images each level fixed and broke over its numbers, and the wall-clock
        time of the whole press (galleries included) against the run's recorded training
        time. When the selection leaves the fixed epoch, the table is marked stale.

        Returns
        -------
        FixResult
        """
        import time

        from IPython.display import display

        from ..finetune import fix_run

        started = time.perf_counter()
        if self.run is None:
            raise ValueError("AttributionView.run_fix needs the view built with run=Run(...)")
        epoch = self.epoch if epoch is None else int(epoch)
        groups, why = self.choice(epoch)
        result = fix_run(self.run, epoch, groups, list(levels), why=why, save=False,
                         started=started, **self.fix_options)
        test = self.run.test_data()
        pngs = {lv: self._fix_png(r, test) for lv, r in result.reports.items()}
        result.press_time = time.perf_counter() - started  # the whole press, drawing included
        display(self.show_fix(result, images=pngs))
        return result

    def show_fix(self, result, *, images: dict | None = None):
        """Make :attr:`fix_panel` show ``result`` (a :class:`~workbench.finetune.FixResult`)
        as one table, with ``images`` (level → PNG) over each level's numbers; from then on
        the panel is marked stale while the selection is away from ``result.epoch``.

        Returns
        -------
        ipywidgets.HTML
            :attr:`fix_panel`.
        """
        import ipywidgets as w

        self.fix_result = result
        self._fix_html = result.to_html(images=images, min_width=self.FIX_MIN_WIDTH)
        if self.fix_panel is None:
            self.fix_panel = w.HTML()
            self.fix_panel.add_class("wb-fix-panel")
        self._mark_fix()
        return self.fix_panel

    def _mark_fix(self, change=None) -> None:
        """Show the last fix; marked stale while the selection is away from its epoch."""
        from html import escape

        if self.fix_panel is None:
            return
        fixed, now = self.fix_result.epoch, self.state.epoch
        self.fix_stale = now is not None and int(now) != fixed
        if not self.fix_stale:
            self.fix_panel.value = self._fix_html
            return
        note = (f"Stale: this fix fine-tuned the model of epoch {fixed}; the selection is now "
                f"epoch {now}. Press Fix again to fix epoch {now}'s model.")
        self.fix_panel.value = (
            "<div class='wb-stale' style='color:#b35900;font-weight:bold;margin:2px 0'>"
            f"⚠ {escape(note)}</div><div style='opacity:0.45'>{self._fix_html}</div>")

    def _fix_figure(self, report, test):
        """The gallery of the images one level fixed (top row) and broke (bottom row)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        status = report.to_dataset()
        pos = {int(s): i for i, s in enumerate(np.asarray(test.indices))}
        picked = [int(s) for s, k in zip(status["sample"].values,
                                         plots.as_texts(status["status"].values), strict=True)
                  if k in ("fixed", "broken")]
        pixels = test.images[[pos[s] for s in picked]].mean(1).numpy() if picked else \
            np.zeros((0, *test.images.shape[2:]))
        images = xr.DataArray(pixels, dims=("sample", "row", "col"), coords={"sample": picked})
        # drawn about the size it is shown (one of two table columns at notebook width, never
        # under FIX_MIN_WIDTH px): a title line stays at least 10 px tall on screen
        fig = Figure(figsize=self.FIX_FIGSIZE, dpi=self.FIX_DPI, layout="constrained")
        FigureCanvasAgg(fig)
        plots.fix_gallery(status["status"].sel(sample=picked), images, fig=fig,
                          pred_after=status["pred_after"], target=status["target"],
                          classes=self.classes, n=self.FIX_IMAGES, fontsize=self.FIX_FONTSIZE,
                          title=f"{report.level} level: net {report.net:+d}")
        return fig

    def _fix_png(self, report, test) -> bytes:
        import io

        buf = io.BytesIO()
        self._fix_figure(report, test).canvas.print_png(buf)
        return buf.getvalue()

    @property
    def widget(self):
        import ipywidgets as w

        if self._widget is None:
            extra = [self.fix.widget] if self.fix is not None else []
            self._widget = w.VBox([*self.controls.values(), self.output, *extra])
        return self._widget


def attribution_tab(tree, ds, state, *, classes=None, run=None, **_):
    """The Explorer's "attribution" tab (``ds`` = /analysis/attribution); Fix needs ``run``."""
    return AttributionView(ds, state, classes=classes, run=run)


__all__ = ["AttributionView", "FixComparison", "stored_problematic_groups", "attribution_tab"]
