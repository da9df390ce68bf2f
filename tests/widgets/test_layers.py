
import numpy as np
import xarray as xr
from numpy.testing import assert_allclose

from workbench.widgets import LayersView, Selection

from .synthetic import layers_ds, line_by_gid


def test_initial_draw_shows_first_layer_and_step():
    ds = layers_ds()
    view = LayersView(ds, stat="grad_norm")
    ax = view.axes
    assert_allclose(line_by_gid(ax, "selected").get_ydata(), ds.grad_norm.sel(layer="conv1"))
    assert_allclose(line_by_gid(ax, "selection").get_xdata(), [0, 0])
    assert len(ax.lines) == 3 + 1                   # every layer + the step marker
    assert view.output.value == view.png and view.output.format == "png"


def test_step_slider_moves_the_marker_and_redraws():
    ds = layers_ds()
    view = LayersView(ds)
    before, png = view.draws, view.png
    view.controls["step"].value = 13
    assert view.state.step == 13
    assert view.draws == before + 1
    assert_allclose(line_by_gid(view.axes, "selection").get_xdata(), [13, 13])
    assert view.png != png


def test_layer_dropdown_and_stat_change_the_bold_line():
    ds = layers_ds()
    view = LayersView(ds, stat="grad_norm")
    assert list(view.controls["layer"].options) == list(ds.layer.values)
    view.controls["layer"].value = "fc"
    assert view.state.layer == "fc"
    assert_allclose(line_by_gid(view.axes, "selected").get_ydata(), ds.grad_norm.sel(layer="fc"))
    view.controls["stat"].value = "update_cos"
    assert_allclose(line_by_gid(view.axes, "selected").get_ydata(),
                    ds.update_cos.sel(layer="fc"))


def test_state_change_from_elsewhere_redraws():
    state = Selection()
    view = LayersView(layers_ds(), state)
    state.step = 5
    state.layer = "conv2"
    assert view.controls["step"].value == 5
    assert view.controls["layer"].value == "conv2"
    assert_allclose(line_by_gid(view.axes, "selection").get_xdata(), [5, 5])


def test_smoothing_is_a_centred_rolling_mean():
    ds = layers_ds()
    view = LayersView(ds, smooth=3)
    y = ds.grad_norm.sel(layer="conv1").values
    ref = np.array([y[max(0, i - 1):i + 2].mean() for i in range(len(y))])
    assert_allclose(line_by_gid(view.axes, "selected").get_ydata(), ref)


def test_nan_steps_are_dropped():
    ds = layers_ds()
    ds["signal"] = ds.grad_norm.where(ds.step % 4 == 0)
    view = LayersView(ds, stat="signal")
    assert_allclose(line_by_gid(view.axes, "selected").get_xdata(), [0, 4, 8, 12, 16])


def test_other_layers_are_labelled_and_a_stat_spanning_decades_is_on_a_log_axis():
    ds = layers_ds()
    ds["wide"] = 10.0 ** (ds.grad_norm * 0 + xr.DataArray([0.0, 2.0, 4.0], dims="layer"))
    view = LayersView(ds, stat="grad_norm")
    labels = {t.get_gid(): t for t in view.axes.texts}
    assert set(labels) == {f"label:{k}" for k in ds.layer.values}
    assert view.axes.get_yscale() == "linear"
    view.state.layer = "conv2"
    assert labels["label:conv2"].get_fontweight() == "bold"
    assert labels["label:conv1"].get_fontweight() == "normal"
    fig = view.fig
    view.controls["stat"].value = "wide"
    assert view.fig is fig and view.axes.get_yscale() == "log"
    assert_allclose(line_by_gid(view.axes, "selected").get_ydata(), 100.0)


def test_a_step_move_updates_in_place():
    view = LayersView(layers_ds())
    ax, draws = view.axes, view.draws
    view.state.step = 7
    view.state.step = 7                             # unchanged: no repaint
    assert view.axes is ax and view.draws == draws + 1
    assert "step 7" in ax.get_title()
