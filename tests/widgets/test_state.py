import ipywidgets as w
import numpy as np
import pytest
import xarray as xr

from workbench.widgets.state import Selection, control_for, controls_for, link, options_of


def da_with(dim, values):
    return xr.DataArray(np.zeros(len(values)), dims=dim, coords={dim: values})


@pytest.mark.parametrize("dim, values, kind", [
    ("step", list(range(12)), w.IntSlider),
    ("step", [0, 4, 8, 12], w.SelectionSlider),
    ("epoch", [0, 1, 2], w.IntSlider),
    ("epoch", [3, 4, 5], w.IntSlider),
    ("sample", [35, 63, 71, 96], w.SelectionSlider),
    ("layer", ["conv1", "conv2", "fc1"], w.Dropdown),
])
def test_control_options_equal_coords(dim, values, kind):
    control = control_for(da_with(dim, values), dim)
    assert type(control) is kind
    assert options_of(control) == values
    assert control.value == values[0]


def test_controls_for_takes_selectable_dims_in_order():
    da = xr.DataArray(np.zeros((3, 2, 4)), dims=("step", "layer", "unit"),
                      coords={"step": [0, 4, 8], "layer": ["a", "b"]})
    controls = controls_for(da, Selection())
    assert list(controls) == ["step", "layer"]      # 'unit' is not a selection dim
    assert options_of(controls["step"]) == [0, 4, 8]
    assert options_of(controls["layer"]) == ["a", "b"]


def test_control_sets_state_and_state_sets_control():
    state = Selection()
    controls = controls_for(da_with("sample", [35, 63, 71]), state)
    assert state.sample == 35                      # an unset state takes the control's value
    controls["sample"].value = 71
    assert state.sample == 71
    state.sample = 63
    assert controls["sample"].value == 63


def test_existing_state_sets_the_new_control():
    state = Selection(step=8)
    controls = controls_for(da_with("step", [0, 4, 8, 12]), state)
    assert controls["step"].value == 8
    assert state.step == 8


def test_state_between_options_snaps_control_to_nearest_and_keeps_state():
    state = Selection()
    sparse = controls_for(da_with("step", [0, 4, 8, 12]), state)["step"]
    dense = controls_for(da_with("step", list(range(13))), state)["step"]
    dense.value = 7
    assert state.step == 7
    assert sparse.value == 8
    assert dense.value == 7                         # the snap did not feed back


def test_two_controls_on_one_dim_move_together():
    state = Selection()
    a = controls_for(da_with("layer", ["x", "y", "z"]), state)["layer"]
    b = controls_for(da_with("layer", ["x", "y", "z"]), state)["layer"]
    a.value = "z"
    assert (state.layer, b.value) == ("z", "z")


def test_unlink_stops_propagation():
    state = Selection()
    control = control_for(da_with("epoch", [0, 1, 2]), "epoch")
    unlink = link(control, state, "epoch")
    unlink()
    control.value = 2
    assert state.epoch == 0


@pytest.mark.parametrize("dim", ["unit", "label"])
def test_unknown_selection_dim_is_refused(dim):
    da = xr.DataArray(np.zeros(3), dims=dim, coords={dim: [0, 1, 2]})
    with pytest.raises(ValueError, match="selection dim"):
        controls_for(da, Selection(), [dim])


def test_missing_dim_names_what_was_found():
    with pytest.raises(ValueError, match=r"no dim 'step'.*\('epoch',\)"):
        control_for(da_with("epoch", [0, 1]), "step")


def test_selecting_a_step_selects_its_epoch_and_back():
    import xarray as xr

    from workbench.widgets import tie_step_to_epoch

    eos = xr.DataArray([0, 0, 0, 1, 1, 2], dims="step", coords={"step": [0, 2, 4, 6, 8, 10]})
    state = Selection(step=0, epoch=0)
    untie = tie_step_to_epoch(state, eos)
    state.step = 8
    assert state.epoch == 1
    state.step = 5                              # between recorded steps: the one before
    assert state.epoch == 0
    state.epoch = 2
    assert state.step == 10
    state.step = 6
    state.epoch = 1                             # already inside epoch 1: the step stays
    assert state.step == 6
    untie()
    state.step = 0
    assert state.epoch == 1


def test_a_key_press_on_a_long_step_slider_moves_a_visible_amount():
    import xarray as xr

    from workbench.widgets import control_for

    da = xr.DataArray(np.zeros(3001), dims="step", coords={"step": np.arange(3001)})
    assert control_for(da, "step").step == 30             # 1% of the run
    short = xr.DataArray(np.zeros(20), dims="step", coords={"step": np.arange(20)})
    assert control_for(short, "step").step == 1
    epochs = xr.DataArray(np.zeros(300), dims="epoch", coords={"epoch": np.arange(300)})
    assert control_for(epochs, "epoch").step == 1        # every epoch reachable
