"""Label placement: spread against a brute-force least-squares twin; placed labels that
never overlap; ticks that thin themselves."""

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.optimize import minimize

from workbench.plots.base import log_ticks, mathtext
from workbench.plots.placement import collisions, place_labels, spread, stack_end_labels


@pytest.mark.parametrize("seed", range(6))
def test_spread_is_the_least_squares_solution(seed):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 10, 7)
    gap = 2.0
    z = spread(y, gap)
    s = np.sort(z)
    assert (np.diff(s) >= gap - 1e-9).all()
    assert (np.argsort(z) == np.argsort(y)).all()              # the order is kept
    # brute force: constrained least squares by SLSQP from the spread-out start
    order = np.argsort(y)
    cons = [{"type": "ineq", "fun": lambda w, i=i: w[i + 1] - w[i] - gap} for i in range(6)]
    ref = minimize(lambda w: ((w - y[order]) ** 2).sum(), y[order] + gap * np.arange(7),
                   constraints=cons, method="SLSQP", options={"ftol": 1e-12})
    assert ((z[order] - y[order]) ** 2).sum() == pytest.approx(ref.fun, rel=1e-6, abs=1e-9)


def test_stacked_end_labels_and_placed_point_labels_do_not_collide():
    fig = Figure(figsize=(4, 3), dpi=90)
    ax = fig.subplots()
    ends = [(1.0, 0.50), (1.0, 0.51), (1.0, 0.52), (1.0, 0.9)]
    texts = [ax.text(0, 0, f"class {i}") for i in range(4)]
    ax.set_xlim(0, 1.5)
    ax.set_ylim(0, 1)
    assert len(collisions(fig)) > 0                             # all at (0, 0)
    stack_end_labels(ax, texts, ends)
    assert collisions(fig) == [] and all(t.get_visible() for t in texts)
    assert [t.get_position()[0] > 1.0 for t in texts] == [True] * 4
    # a pile of points at (0, 0): a name is hidden rather than put on another
    names = [ax.text(0, 0, n) for n in ("Bag", "Sandal", "Shirt", "Coat", "Dress")]
    shown = place_labels(ax, names, [(0.3, 0.3)] * 5, avoid=[
        t.get_window_extent(fig.canvas.get_renderer()) for t in texts])
    assert collisions(fig) == []
    assert shown[0] and 1 <= sum(shown) < 5 + 4


def test_log_ticks_never_run_together():
    # the DFA scales of a short signal: 13, 16, 18, 22, 26, ... printed every one before
    scale = np.unique(np.round(np.geomspace(13, 90, 12)))
    fig = Figure(figsize=(3, 2.5), dpi=90)
    ax = fig.subplots()
    ax.plot(scale, scale ** 0.7, "o")
    ax.set_xscale("log")
    ax.set_xlim(scale.min() / 1.3, scale.max() * 1.3)
    ticks = log_ticks(ax.xaxis, scale.min() / 1.3, scale.max() * 1.3)
    assert 2 <= len(ticks) <= 6
    assert collisions(fig) == []
    ax.set_xticks(scale, [f"{v:g}" for v in scale])            # the old way collides
    assert collisions(fig) != []


def test_mathtext_renders_the_update_norm():
    label = mathtext("update norm ‖θ_t − θ_{t−1}‖")
    assert label == r"update norm $\|\theta _t - \theta _{t-1}\|$"
    fig = Figure()
    fig.subplots().set_ylabel(label)
    fig.canvas.draw()                                           # parses as mathtext
    assert mathtext(r"load $\log D_{l-1}$") == r"load $\log D_{l-1}$"
    assert mathtext("start of the tail x_min") == "start of the tail $x_{min}$"
