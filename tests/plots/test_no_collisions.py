"""No label ever collides: every Explorer tab, every report figure, the spring-block widget
and the ``forces`` figure, built on a small real run at its first and last epoch, checked
with matplotlib's own text extents (:func:`workbench.plots.placement.collisions`)."""

import shutil

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from workbench.plots import style
from workbench.plots.placement import collisions, label_texts, lines_outside

matplotlib.use("Agg")


# -- the checker itself can fail ---------------------------------------------------------------

def test_checker_finds_two_overlapping_texts_and_not_two_apart():
    fig = Figure(figsize=(4, 3), dpi=100)
    ax = fig.subplots()
    bag = ax.text(0.3, 0.5, "Bag")
    sandal = ax.text(0.33, 0.5, "Sandal")          # "Bagdal"
    found = collisions(fig)
    assert [(a.get_text(), b.get_text()) for a, b, _ in found] == [("Bag", "Sandal")]
    # the depth is the overlap of the two extents, as matplotlib measures them
    renderer = fig.canvas.get_renderer()
    eb, es = bag.get_window_extent(renderer), sandal.get_window_extent(renderer)
    want = min(min(eb.x1, es.x1) - max(eb.x0, es.x0), min(eb.y1, es.y1) - max(eb.y0, es.y0))
    assert found[0][2] == pytest.approx(want)
    sandal.set_position((0.3, 0.2))
    assert collisions(fig) == []
    sandal.set_visible(False)                        # a hidden label collides with nothing
    sandal.set_position((0.3, 0.5))
    assert collisions(fig) == []


def test_checker_counts_tick_labels_legends_and_rotated_boxes():
    fig = Figure(figsize=(2, 2), dpi=100)
    ax = fig.subplots()
    ax.set_xticks(np.arange(10), [f"{v}{v}{v}" for v in range(10)])   # "000111222…"
    pairs = collisions(fig)
    ticks = {t for a, b, _ in pairs for t in (a, b)}
    assert len(pairs) >= 5 and ticks <= set(ax.get_xticklabels())
    ax.set_xticks([0, 9], ["000", "999"])
    assert collisions(fig) == []
    # two labels rotated 45°: their axis-aligned boxes overlap, the glyph boxes do not
    fig = Figure(figsize=(3, 3), dpi=100)
    ax = fig.subplots()
    for x in (0.3, 0.42):
        ax.text(x, 0.5, "a long label", rotation=45, ha="center", va="center")
    t1, t2 = ax.texts
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    assert t1.get_window_extent(renderer).overlaps(t2.get_window_extent(renderer))
    assert collisions(fig) == []
    t2.set_rotation(-45)                             # now they cross
    assert len(collisions(fig)) == 1
    # a legend's texts are labels too
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.legend(loc="center")
    assert "diagonal" in [t.get_text() for t in label_texts(fig)]


def test_lines_outside_counts_the_points_the_limits_cut():
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1, 2, 3], [0.5, 1.5, -1.0, 0.2])
    ax.axvline(2.0)                                  # axes coordinates in y: inside
    ax.set_ylim(0, 1)
    assert [n for _, _, n in lines_outside(fig)] == [2]
    ax.set_ylim(-1.1, 1.6)
    assert lines_outside(fig) == []


# -- every figure of a real run ----------------------------------------------------------------

@pytest.fixture(scope="module")
def analysed(analysed_tiny, tmp_path_factory):
    from workbench import Run

    path = tmp_path_factory.mktemp("labels") / "run"
    shutil.copytree(analysed_tiny, path)
    return Run(path)


def problems(where: str, fig) -> list[str]:
    """What a reader would trip on in ``fig``: overlapping labels, lines cut by their axes,
    epoch ticks that are not whole numbers."""
    with style.context():
        out = [f"{where}: {a.get_text()!r} overlaps {b.get_text()!r} by {d:.1f} px"
               for a, b, d in collisions(fig)]
        out += [f"{where}: line {line.get_label()!r} ({line.get_gid()}) has {n} points "
                f"outside the axes of {ax.get_xlabel()!r}" for ax, line, n in lines_outside(fig)]
        for ax in fig.axes:
            if ax.get_xlabel() == "epoch":
                lo, hi = sorted(ax.get_xlim())
                locs = [v for v in ax.get_xticks() if lo <= v <= hi]
                if any(abs(v - round(v)) > 1e-9 for v in locs):
                    out.append(f"{where}: epoch ticks {locs}")
    return out


def test_every_tab_at_the_first_and_last_epoch(analysed):
    from workbench.widgets import explore

    found = []
    epochs = analysed.epochs
    app = explore(analysed)
    # every registered analysis has its tab (none silently missing from the check)
    assert {"damping", "dynamics", "spectra", "forces", "attribution", "separation"} <= \
        set(app.views)
    for epoch in (epochs[0], epochs[-1]):
        app.state.epoch = epoch
        for i, (name, view) in enumerate(app.views.items()):
            app.tabs.selected_index = i
            assert view.fig is not None and not view.stale, name
            found += problems(f"{name} at epoch {epoch}", view.fig)
    assert found == []


def test_every_report_figure(analysed):
    from workbench.report import report_figures

    with style.context():
        figures = report_figures(analysed)
    assert set(figures) == {"training", "layers", "distributions"}
    found = [p for name, fig in figures.items() for p in problems(f"{name}.png", fig)]
    assert found == []
    # layers.png writes the update norm as mathtext, not raw underscores
    texts = [ax.get_ylabel() for ax in figures["layers"].axes]
    assert r"$\|\theta _t - \theta _{t-1}\|$" in " ".join(texts)
    assert not any("_{" in t and "$" not in t for t in texts)


def test_spring_block_and_forces_figures(analysed):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from workbench.commands.forces import _figure, stored
    from workbench.widgets.theory import SpringBlockWidget

    widget = SpringBlockWidget()
    curve = widget.from_run(analysed)
    assert f"epoch {analysed.epochs[-1]}" in widget.status.value and "-1" not in \
        widget.status.value
    assert curve.attrs["epoch"] == analysed.epochs[-1]
    found = problems("spring block", widget.fig)
    sample = int(analysed.analysis("forces")["sample_o"].values[0])
    pulls, info = stored(analysed, sample=sample)
    with style.context():
        fig = _figure(pulls, info["classes"], info["target"], plt, MaxNLocator)
    found += problems("forces figure", fig)
    plt.close(fig)
    assert found == []
