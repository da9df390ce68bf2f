"""Theory widgets: move a slider, then read the drawn artists back and compare with the physics."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench.diagnostics.damping import damping_ratio, damping_regime
from workbench.diagnostics.separation import linear_law_deviation
from workbench.theory import (
    chain_fuzziness,
    chain_load_curve,
    heavy_ball,
    kuramoto,
    spring_block_chain,
)
from workbench.widgets.theory import HeavyBallWidget, KuramotoWidget, SpringBlockWidget


def _count_full_draws(w):
    calls = []
    draw = w.fig.canvas.draw
    w.fig.canvas.draw = lambda *a, **k: (calls.append(1), draw(*a, **k))[1]
    return calls


def test_heavy_ball_slider_redraws_the_simulated_values():
    w = HeavyBallWidget(lr=0.01, momentum=0.9, curvature=1.0, condition=10.0, steps=120)
    png = w.png
    full = _count_full_draws(w)
    w.controls["momentum"].value = 0.7
    w.controls["curvature"].value = 2.0
    lr, mu, lam = w.controls["lr"].value, 0.7, w.controls["curvature"].value
    ref = heavy_ball(lr, mu, curvature=[lam, lam / 10.0], steps=120)
    x, y = w.path.get_data()
    assert_allclose(x, ref.theta.sel(dim=0), rtol=1e-12)
    assert_allclose(y, ref.theta.sel(dim=1), rtol=1e-12)
    assert_allclose(w.loss.get_ydata(), ref.loss / ref.loss[0], rtol=1e-12)
    # zeta dots and curve: the damping diagnostics and the formula (1 - mu) / (2 sqrt(lr lam))
    assert_allclose(w.mu_dots.get_ydata(), [(1 - mu) / (2 * np.sqrt(lr * lam)),
                                            (1 - mu) / (2 * np.sqrt(lr * lam / 10))])
    assert_allclose(w.mu_dots.get_xdata(), [mu, mu])
    grid, zeta = w.zeta_steep.get_data()
    assert_allclose(zeta, (1 - grid) / (2 * np.sqrt(lr * lam)), rtol=1e-12)
    assert_allclose(w.physics.get_xdata(), [1 - 2 * np.sqrt(lr)] * 2)
    regime = damping_regime(lr, mu, curvature=lam)
    assert f"ζ = {damping_ratio(lr, mu, curvature=lam):.2f} · {regime}" in w.title.value
    assert w.png != png and w.png.startswith(b"\x89PNG")
    assert full == []                       # the figure was built once: only blits since
    assert len(w.timings) == 3


def test_heavy_ball_set_moves_three_sliders_with_one_repaint_and_widens_ranges():
    w = HeavyBallWidget()
    n = len(w.timings)
    w.set(lr=0.003, momentum=0.8, curvature=5000.0)
    assert len(w.timings) == n + 1
    assert w.controls["curvature"].max >= np.log10(5000.0)
    assert w.ds.curvature.values[0] == pytest.approx(5000.0, rel=1e-6)
    assert "DIVERGES" in w.title.value
    assert w.ds.attrs["diverges"] == 1
    w.set(momentum=0.999)
    assert w.ds.attrs["momentum"] == 0.999 and w.controls["momentum"].max >= 0.999


def test_kuramoto_sliders_redraw_R_and_its_theory():
    w = KuramotoWidget(coupling=2.0, gamma=0.5, n=100, steps=1200, record_every=4)
    w.controls["coupling"].value = 3.0
    w.controls["n"].value = 150
    ref = kuramoto(150, coupling=3.0, gamma=0.5, steps=1200, record_every=4)
    t, r = w.r_line.get_data()
    assert_allclose(r, ref.R, rtol=1e-12)
    assert_allclose(t, ref.step * 0.05)
    assert_allclose(w.r_theory.get_ydata(), [np.sqrt(1 - 2 * 0.5 / 3.0)] * 2)
    assert_allclose(w.k_dot.get_ydata(), [float(ref.R_mean)])
    offsets = w.dots.get_offsets()
    assert offsets.shape == (150, 2)
    last = ref.phase.isel(step=-1).values
    assert_allclose(offsets, np.column_stack([np.cos(last), np.sin(last)]), atol=1e-12)
    assert f"metastability = {float(ref.metastability):.3f}" in w.title.value
    k, theory = w.k_theory.get_data()
    assert_allclose(theory, np.sqrt(np.clip(1 - 2 * 0.5 / np.where(k > 0, k, 1), 0, None))
                    * (k > 0))
    w.controls["gamma"].value = 1.0
    assert_allclose(w.k_crit.get_xdata(), [2.0, 2.0])


def test_spring_block_sliders_redraw_the_chain():
    w = SpringBlockWidget(friction=0.1, noise=0.0, n_blocks=5)
    w.controls["friction"].value = 0.15
    ref = spring_block_chain(5, friction=0.15, noise=0.0, steps=600, dt=0.2, replicas=64,
                             record_every=10)
    assert_allclose(w.curve.get_ydata(), chain_load_curve(ref), rtol=1e-12)
    # noiseless: the simulated loads are the analytic rest state F - (L - l + 1) mu
    rest = np.maximum(1.0 - 0.15 * np.arange(5, 0, -1), 0.0)
    assert_allclose(w.rest.get_ydata(), rest, atol=1e-12)
    assert_allclose(w.loads.get_ydata(), rest, atol=2e-3)
    dev = float(linear_law_deviation(chain_fuzziness(ref)))
    assert f"linear law {dev:.3f}" in w.title.value
    assert dev > 0.05
    w.controls["noise"].value = 0.5                 # lubrication evens the load out
    assert w.deviation < dev / 5


def test_spring_block_beside_a_measured_curve():
    import xarray as xr

    measured = xr.DataArray([0.0, 0.5, 0.7, 1.0], dims="layer",
                            coords={"layer": ["conv1", "conv2", "fc1", "fc2"]})
    w = SpringBlockWidget(measured=measured)
    assert w.n_blocks == 3
    assert_allclose(w.measured_line.get_ydata(), measured.values)
    assert w.curve.get_xdata().tolist() == [0, 1, 2, 3]
    labels = [t.get_text() for t in w.ax_curve.get_xticklabels()]
    assert labels == ["conv1", "conv2", "fc1", "fc2"]
    rms = np.sqrt(np.mean((measured.values - np.linspace(0, 1, 4)) ** 2))
    assert f"(measured {rms:.3f})" in w.title.value


def test_hidden_widget_defers_the_simulation_until_shown():
    w = SpringBlockWidget(friction=0.1)
    w.show(False)
    n = len(w.timings)
    w.controls["friction"].value = 0.2
    assert len(w.timings) == n and w.stale
    w.show()
    assert len(w.timings) == n + 1 and not w.stale
    assert_allclose(w.rest.get_ydata(), np.maximum(1 - 0.2 * np.arange(6, 0, -1), 0))


def test_widgets_embed():
    import ipywidgets

    for w in (HeavyBallWidget(), KuramotoWidget(n=50, steps=400), SpringBlockWidget()):
        assert isinstance(w.widget, ipywidgets.VBox)
        assert w.image in w.widget.children
        assert w.image.value == w.png


# ----------------------------------------------------------------------------- from a run
def _expected(run, epoch, layer, curvature):
    steps = run.tree["steps"]
    sel = steps["epoch"].values == epoch
    return (float(np.median(steps["lr"].values[sel])),
            float(np.median(steps["momentum"].values[sel])),
            float(curvature.sel(epoch=epoch, layer=layer)))


def test_heavy_ball_from_run_takes_lr_momentum_and_the_layer_curvature(tiny_run, tmp_path):
    from conftest import copy_run

    from workbench import analyze
    from workbench.widgets import Selection

    run = copy_run(tiny_run, tmp_path / "run")
    analyze(run, only="damping", progress=False)   # curvature is the damping analysis's
    curv = run.refresh().analysis("damping")["curvature"]
    layers = [str(x) for x in curv.layer.values]
    state = Selection()
    w = HeavyBallWidget(run=run, state=state)
    hp = w.take_run(epoch=1, layer=layers[-1])
    lr, mu, lam = _expected(run, 1, layers[-1], curv)
    assert (hp["lr"], hp["momentum"], hp["curvature"]) == (lr, mu, lam)
    assert hp["source"] == "analysis/damping"
    assert w.controls["lr"].value == pytest.approx(lr, rel=1e-9)
    assert w.controls["momentum"].value == pytest.approx(mu, abs=1e-9)
    assert w.ds.curvature.values[0] == pytest.approx(lam, rel=1e-9)
    assert w.ds.attrs["lr"] == pytest.approx(lr, rel=1e-9)
    # the button reads the Explorer's selection
    state.epoch, state.layer = 0, layers[0]
    w.button.click()
    lr0, mu0, lam0 = _expected(run, 0, layers[0], curv)
    assert w.ds.curvature.values[0] == pytest.approx(lam0, rel=1e-9)
    assert w.ds.attrs["lr"] == pytest.approx(lr0, rel=1e-9)
    assert f"layer {layers[0]}" in w.status.value
    state.layer = "no_such_layer"
    w.button.click()
    assert "no_such_layer" in w.status.value and "got layers" in w.status.value


def test_heavy_ball_prefers_the_damping_analysis_curvature(tiny_run, tmp_path):

    import xarray as xr
    from conftest import copy_run


    run = copy_run(tiny_run, tmp_path / "run")
    layers = [str(v) for v in run.tree["layers"]["layer"].values]
    recorded = xr.DataArray(np.arange(1.0, len(layers) + 1), dims="layer",
                            coords={"layer": layers}).expand_dims(epoch=run.epochs)
    for e in run.epochs:
        scale = 3.0 if e > 0 else -1.0          # epoch 0: a saddle, refused with a reason
        ds = xr.Dataset({"curvature": scale * recorded.sel(epoch=e, drop=True)})
        run.store.append_analysis("damping", ds.expand_dims(epoch=[e]))
    run.refresh()
    layer = str(recorded.layer.values[0])
    hp = HeavyBallWidget(run=run).take_run(epoch=1, layer=layer)
    assert hp["source"] == "analysis/damping"
    assert hp["curvature"] == pytest.approx(3.0 * float(recorded.sel(epoch=1, layer=layer)))
    with pytest.raises(ValueError, match="curvature > 0.*saddle"):
        HeavyBallWidget(run=run).take_run(epoch=0, layer=layer)


def test_from_run_makes_a_second_widget_and_the_lessons_toy_keeps_its_values(tiny_run,
                                                                             tmp_path):
    """Notebook 07: exercises 1-3 use the lesson's toy; the run's values go to a new one."""
    from conftest import copy_run

    from workbench import analyze

    run = copy_run(tiny_run, tmp_path / "run")
    analyze(run, only="damping", progress=False)
    curv = run.refresh().analysis("damping")["curvature"]
    layer = str(curv.layer.values[1])
    toy = HeavyBallWidget(lr=0.05, momentum=0.9, curvature=1.0)
    lesson, png = dict(toy.values), toy.png
    mine = toy.from_run(run, epoch=-1, layer=layer)        # called on the toy, as a student may
    assert mine is not toy and isinstance(mine, HeavyBallWidget)
    assert toy.values == lesson and toy.png == png
    assert toy.ds.attrs["lr"] == 0.05 and toy.ds.attrs["momentum"] == 0.9
    last = run.epochs[-1]
    lr, mu, lam = _expected(run, last, layer, curv)
    assert mine.taken["epoch"] == last and mine.taken["layer"] == layer
    assert mine.ds.attrs["lr"] == pytest.approx(lr, rel=1e-9)
    assert mine.ds.attrs["momentum"] == pytest.approx(mu, abs=1e-9)
    assert mine.ds.curvature.values[0] == pytest.approx(lam, rel=1e-9)
    assert f"layer {layer}" in mine.status.value and mine.run is run
    assert HeavyBallWidget.from_run(run, layer=layer).values == mine.values


@pytest.mark.parametrize("values", [dict(lr=0.05, momentum=0.9, curvature=1.0),
                                    dict(lr=0.0069, momentum=0.834, curvature=1.0),
                                    dict(lr=1e-4, momentum=0.99, curvature=1000.0),
                                    dict(lr=0.5, momentum=0.0, curvature=0.01)])
def test_heavy_ball_legend_sits_under_no_data_line(values):
    """The ζ panel's legend lies outside every axes (lines are clipped to their axes, so
    none can run under it) and inside the figure; κ is named in it."""
    w = HeavyBallWidget()
    w.set(**values)
    legend = w.ax_zeta.get_legend()
    box = legend.get_window_extent(w.fig.canvas.get_renderer())
    for ax in w.fig.axes:
        assert not box.overlaps(ax.get_window_extent()), ax.get_title()
    assert w.fig.bbox.contains(box.x0, box.y0) and w.fig.bbox.contains(box.x1, box.y1)
    texts = [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    assert "κ = 10 (condition number)" in texts and "shallow direction, λ/κ" in texts


def test_spring_block_from_run_shows_the_measured_separation(tiny_run):
    import xarray as xr

    from workbench import Run
    from workbench.analysis.separation import feature_layers, separation
    from workbench.diagnostics.separation import load_curve, separation_fuzziness

    run = Run(tiny_run)
    w = SpringBlockWidget()
    curve = w.from_run(run, epoch=-1)
    names = feature_layers(run)               # the separation analysis' order, shallow to deep
    last = int(run.tree["features"][names[0]]["features"].epoch.values[-1])
    fz = [float(separation_fuzziness(run.tree["features"][n]["features"].sel(epoch=last),
                                     run.tree["features"][n]["target"])) for n in names]
    ref = load_curve(xr.DataArray(fz, dims="layer", coords={"layer": names}))
    assert_allclose(curve, ref, rtol=1e-9)
    assert list(curve.layer.values) == names
    assert_allclose(curve, separation(run, last)["cumulative_load"], rtol=1e-9)
    assert_allclose(w.measured_line.get_ydata(), ref.values, rtol=1e-9)
    assert w.n_blocks == len(names) - 1
    assert len(w.curve.get_ydata()) == len(names)
