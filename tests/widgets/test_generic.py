"""The generic view: any /analysis group with an epoch dim gets a tab, no view code needed."""

import io

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose
from PIL import Image

from workbench.widgets import Explorer, GenericView, Selection
from workbench.widgets.generic import displayable

from .synthetic import LAYERS, tree

EPOCHS = np.arange(4)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)


def custom_groups() -> dict:
    """One /analysis group per shape, values known in closed form: v(e, l, x) = (e+1)·(l+1)
    + x/10, with a text variable the view must leave out."""
    e = EPOCHS[:, None, None].astype(float)
    layer = np.arange(len(LAYERS))[None, :, None]
    x = np.arange(5)[None, None, :]
    cube = (e + 1) * (layer + 1) + x / 10
    coords = {"epoch": EPOCHS, "layer": LAYERS}
    return {
        "noise_scale": xr.Dataset({"noise_scale": ("epoch", cube[:, 0, 0] ** 2)},
                                  coords={"epoch": EPOCHS}),
        "sharpness": xr.Dataset({"sharpness": (("epoch", "layer"), cube[..., 0]),
                                 "rank": (("epoch", "layer"), -cube[..., 1]),
                                 "verdict": (("epoch", "layer"),
                                             np.full(cube.shape[:2], "fine"))}, coords=coords),
        "profile": xr.Dataset({"profile": (("epoch", "layer", "bin"), cube)},
                              coords={**coords, "bin": np.linspace(0.5, 2.5, 5)}),
        "curve": xr.Dataset({"curve": (("epoch", "bin"), cube[:, 1, :])},
                            coords={"epoch": EPOCHS, "bin": np.arange(5)}),
    }


def explorer() -> Explorer:
    t = tree(n_epochs=len(EPOCHS))
    for name, ds in custom_groups().items():
        t[f"analysis/{name}"] = xr.DataTree(ds)
    return Explorer(t)


def show(app, name):
    app.tabs.selected_index = list(app.views).index(name)
    return app.views[name]


def test_each_shape_gets_a_tab_drawn_by_the_generic_view():
    app = explorer()
    for name in custom_groups():
        assert isinstance(app.views[name], GenericView), name
        assert app.views[name].state is app.state
    assert list(app.tabs.titles)[-4:] == list(custom_groups())


@pytest.mark.parametrize("epoch", [3, 1, 0, 2])
def test_moving_the_epoch_draws_that_epochs_values(epoch):
    app = explorer()
    groups = custom_groups()
    app.state.layer = LAYERS[1]
    for name, ds in groups.items():
        view = show(app, name)
        view.controls["epoch"].value = epoch        # the slider moves the shared epoch
        assert app.state.epoch == epoch and not view.stale
        want = ds[name].sel(epoch=epoch)
        if name == "noise_scale":
            assert_allclose(view.values(), [float(want)])
            assert_allclose(view.handles["marker"].get_xdata(), [epoch, epoch])
        elif name == "sharpness":
            assert_allclose(view.values(), want.values)
            # the selected layer's bar is the highlighted one
            colors = [b.get_facecolor()[:3] for b in view.handles["bars"]]
            assert colors[1] != colors[0] and colors[0] == colors[2]
        elif name == "profile":
            assert_allclose(view.values(), want.transpose("layer", "bin").values)
            assert_allclose(view.handles["profile"].get_xdata(), ds["bin"].values)
            assert_allclose(view.handles["profile"].get_ydata(), want.sel(layer=LAYERS[1]))
        else:
            assert_allclose(view.values(), want.values)


def test_a_variable_chooser_when_there_are_several():
    app = explorer()
    view = show(app, "sharpness")
    assert list(view.variable.options) == ["sharpness", "rank"]   # the text one left out
    assert "variable" in view.controls and "variable" not in app.views["profile"].controls
    app.state.epoch = 2
    view.variable.value = "rank"
    assert_allclose(view.values(), custom_groups()["sharpness"]["rank"].sel(epoch=2).values)


@pytest.mark.parametrize("name", ["noise_scale", "sharpness", "profile", "curve"])
def test_in_place_render_equals_a_fresh_render(name):
    """The blitted picture after moves equals the picture drawn from scratch at that
    selection, and another epoch changes the pixels."""
    ds = custom_groups()[name]
    moving = GenericView(ds, Selection(layer=LAYERS[2]))
    first = moving.png
    for e in (3, 1, 2):
        moving.state.epoch = e
    moving.state.layer = LAYERS[0]
    fresh = GenericView(ds, Selection(epoch=2, layer=LAYERS[0]))
    a, b = pixels(moving.png), pixels(fresh.png)
    assert a.shape == b.shape
    assert (np.abs(a - b).max(-1) > 40).mean() < 0.002
    assert moving.png != first


def test_unregistered_and_viewless_groups_both_get_tabs_and_registered_ones_keep_theirs():
    from workbench.analysis import registry
    from workbench.widgets import DampingView
    from workbench.widgets.explorer import tabs_for
    from workbench.widgets.generic import generic_tab

    from .synthetic import damping_ds

    registry.load_all()
    registry.register("sharpness", compute=lambda run, epoch: None, description="test",
                      requires=())
    try:
        groups = {**custom_groups(), "damping": damping_ds(len(EPOCHS)),
                  "empty": xr.Dataset({"v": ("epoch", np.zeros(0))}),
                  "text_only": xr.Dataset({"v": ("epoch", np.array(["a"] * 4))})}
        tabs = tabs_for(groups)
        assert tabs["sharpness"] is generic_tab and tabs["noise_scale"] is generic_tab
        assert "empty" not in tabs and "text_only" not in tabs
        assert isinstance(tabs["damping"](None, groups["damping"], Selection()), DampingView)
    finally:
        del registry.ANALYSES["sharpness"]


def test_displayable_and_a_clear_error():
    ds = xr.Dataset({"a": (("epoch", "layer"), np.zeros((2, 2))),
                     "b": (("epoch", "i", "j"), np.zeros((2, 1, 1))),
                     "c": ("i", np.zeros(1))},
                    coords={"layer": ["x", "y"]})
    assert displayable(ds) == ["a"]
    with pytest.raises(ValueError, match="GenericView needs a numeric variable"):
        GenericView(ds[["b", "c"]])
    with pytest.raises(ValueError, match="no variable 'b'"):
        GenericView(ds, variable="b")
