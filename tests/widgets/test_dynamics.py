"""The dynamics view on a real small run (2 epochs of 47 signal points: the first window is
below DFA's 64): where it opens, what it says at an epoch with too few points, and axes that
span the data."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench import analyze, plots
from workbench.analysis.dynamics import SETTINGS, window_scales
from workbench.record.store import signals
from workbench.widgets import DynamicsView, Selection, explore

from .synthetic import dynamics_ds
from .test_analysis_views import pixels


@pytest.fixture(scope="module")
def run(tiny_run, tmp_path_factory):
    from conftest import copy_run

    run = copy_run(tiny_run, tmp_path_factory.mktemp("dyn") / "run")
    analyze(run, only="dynamics", progress=False)
    return run.refresh()


def points(run, epoch) -> int:
    """Signal points recorded up to the end of ``epoch``, counted from the record."""
    steps = run.tree["steps"]
    end = int(steps.step.values[steps.epoch.values == epoch].max())
    sig = signals(run.tree)
    return int((sig.step.values <= end).sum())


def view_of(run, state=None):
    t = run.tree
    return DynamicsView(run.analysis("dynamics"), t["layers"]["signal"],
                        t["epochs"].to_dataset(), state)


def test_opens_on_the_last_epoch_with_enough_points_and_says_what_is_missing(run):
    assert [points(run, e) for e in run.epochs] == [47, 94]
    view = view_of(run)
    assert view.state.epoch == 1                      # 94 >= 64
    assert "94 signal points" in view.caption.value
    assert "too few" not in view.caption.value and "nan" not in view.caption.value
    dfa_text = plots.artist(view.axes[2], "dfa").get_text()
    assert "$\\alpha$ = " in dfa_text
    view.state.epoch = 0                               # 47 < 64: said, with both numbers
    assert "integration – (too few signal points: 47 of 64)" in view.caption.value
    assert "stability – (too few points of signal history: 47 of 64)" in view.caption.value
    assert "nan" not in view.caption.value
    assert "too few signal points: 47 of 64" in plots.artist(view.axes[2], "dfa").get_text()
    assert "too few signal points: 47 of 64" in plots.artist(view.axes[3], "plane-note").get_text()
    view.state.epoch = 1
    assert plots.artist(view.axes[3], "plane-note").get_text() == ""


def test_the_explorer_opened_on_the_tab_opens_there_too(run):
    app = explore(run, tab="dynamics", images=False)
    assert app.state.epoch == 1
    assert app.views["dynamics"].draws == 1 and app.views["training"].draws == 0


def test_axes_span_the_data_not_the_padded_window(run):
    view = view_of(run)
    ax_sig, ax_r, ax_dfa = view.axes[:3]
    for epoch in (0, 1, 0):
        view.state.epoch = epoch
        n = points(run, epoch)
        assert n < SETTINGS.window
        assert_allclose(ax_sig.get_xlim(), (0, n - 1))
        assert_allclose(ax_r.get_xlim(), (0, n - 1))
        x, r = plots.artist(ax_r, "R").get_data()
        assert np.isfinite(r[:n]).all() and np.isnan(r[n:]).all()  # the data fill the axes
    view.state.epoch = 1
    used = window_scales(points(run, 1))
    assert_allclose(ax_dfa.get_xlim(), (used.min() / 1.3, used.max() * 1.3))
    # the background was drawn again for the new ranges: a fresh view draws the same
    fresh = view_of(run, Selection(epoch=1))   # the view is back at epoch 1
    a, b = pixels(view.png), pixels(fresh.png)
    assert a.shape == b.shape and (np.abs(a - b).max(-1) > 40).mean() < 0.002


def test_dfa_tick_labels_do_not_run_together(run):
    view = view_of(run)
    ax = view.axes[2]
    view.fig.canvas.draw()
    renderer = view.fig.canvas.get_renderer()
    shown = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()
             and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]]
    assert 2 <= len(shown) <= 6
    boxes = [t.get_window_extent(renderer) for t in shown]
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert a.x1 + 2 < b.x0, [t.get_text() for t in shown]


def test_the_rule_picks_by_points_not_by_position():
    ds = dynamics_ds()
    ds["n_points"] = ("epoch", [80, 70, 20])           # say, a resumed run with fewer signals
    assert DynamicsView(ds).state.epoch == 1
    ds["n_points"] = ("epoch", [10, 20, 30])           # none has enough: the last epoch
    ds["dfa"] = ds["dfa"].where(ds.epoch < 2)           # and its exponent NaN, as stored
    view = DynamicsView(ds)
    assert view.state.epoch == 2
    assert "too few signal points: 30 of 64" in plots.artist(view.axes[2], "dfa").get_text()
