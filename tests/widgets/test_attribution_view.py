
import numpy as np
import pytest
import xarray as xr
from matplotlib.colors import to_rgba
from numpy.testing import assert_allclose

from workbench.plots import VERDICT_COLORS, style
from workbench.run import Run
from workbench.widgets import Selection
from workbench.widgets.attribution import AttributionView, FixComparison, stored_problematic_groups

from .synthetic import tree
from .synthetic_analyses2 import CLASSES, VERDICTS, attribution_epoch, store_analyses


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("run_attr")
    tree().to_zarr(str(path / "record.zarr"))
    store_analyses(path)
    return Run(path)


def test_selecting_an_epoch_shows_its_stored_ratios_verdicts_and_frequencies(run):
    stored = run.analysis("attribution")
    assert stored is not None and stored.sizes["epoch"] == 3
    state = Selection()
    view = AttributionView(stored, state, classes=CLASSES)
    for epoch in (2, 0, 1):
        state.epoch = epoch
        want = attribution_epoch(epoch)             # what the analysis returned for it
        h = view.handles["groups"]
        assert_allclose([b.get_height() for b in h["bars"]], want.log_ratio.values)
        with style.context():                       # the views' palette
            assert [b.get_facecolor() for b in h["bars"]] == \
                [to_rgba(VERDICT_COLORS[v]) for v in VERDICTS[epoch]]
        texts = [t.get_text() for t in h["texts"]]
        for text, f in zip(texts, want.flag_frequency.values, strict=True):
            assert text == f"{f:.0%}"
        assert f"{int(want.n_misclassified)} misclassified" in h["ax"].get_title()


def test_gallery_holds_that_epochs_images_and_ig_maps_centred_at_zero(run):
    view = AttributionView(run.analysis("attribution"), classes=CLASSES)
    g = view.handles["gallery"]
    for epoch in (1, 0, 2):
        view.controls["epoch"].value = epoch
        want = attribution_epoch(epoch)
        for r in range(want.sizes["rank"]):
            valid = int(want.sample[r]) >= 0
            assert g["images"][r].get_visible() == valid
            assert g["maps"][r].get_visible() == valid
            if not valid:                      # padding (-1) is not drawn
                continue
            assert_allclose(g["images"][r].get_array(), want.image.isel(rank=r).values)
            ig = want.ig.isel(rank=r).values
            assert_allclose(g["maps"][r].get_array(), ig)
            lim = np.abs(ig).max()
            assert_allclose(g["maps"][r].get_clim(), (-lim, lim))
            assert g["maps"][r].get_cmap().name == "RdBu_r"
            title = g["axes"][0, r].get_title()
            true, pred = CLASSES[int(want.target[r])], CLASSES[int(want.predicted[r])]
            assert title == f"{int(want.sample[r])}\n{true}\n→ {pred}"


def test_updates_in_place_and_repaints(run):
    view = AttributionView(run.analysis("attribution"))
    bars = list(view.handles["groups"]["bars"])
    pngs = {view.epoch: view.png}
    for epoch in (1, 2):
        view.state.epoch = epoch
        pngs[epoch] = view.png
    assert view.handles["groups"]["bars"] == bars            # same artists, new values
    assert len({*pngs.values()}) == 3
    assert view.draws == 3
    view.state.epoch = 1                          # back to epoch 1: the very same picture
    assert view.png == pngs[1]


def test_problematic_groups_are_the_stored_verdicts(run):
    stored = run.analysis("attribution")
    assert stored_problematic_groups(stored, 0) == ["fc"]
    assert stored_problematic_groups(stored, 1) == ["conv2"]
    with pytest.raises(ValueError, match="epoch 7.*analysed epochs: \\[0, 1, 2\\]"):
        stored_problematic_groups(stored, 7)
    view = AttributionView(stored)
    view.state.epoch = 1
    assert view.groups() == ["conv2"]


def test_bad_input_names_what_is_missing(run):
    stored = run.analysis("attribution")
    with pytest.raises(ValueError, match="missing \\['verdict'\\]"):
        AttributionView(stored.drop_vars("verdict"))
    with pytest.raises(TypeError, match="xarray.Dataset .*; got DataArray"):
        AttributionView(stored["log_ratio"])


# -- the Fix button, on a real recorded run -----------------------------------------------

@pytest.fixture(scope="module")
def fix_run(tiny_run, tmp_path_factory):
    """A copy of the tiny run with a stored attribution whose verdict flags one group."""
    from conftest import copy_run

    from workbench.analysis.registry import _storable
    from workbench.models import layer_groups
    from workbench.record.store import RunStore

    path = tmp_path_factory.mktemp("fix") / "run"
    run = copy_run(tiny_run, path)
    groups = list(layer_groups(run.model()))
    for epoch in run.epochs:
        ds = attribution_epoch(0).isel(layer=[0] * len(groups)).assign_coords(layer=groups)
        verdict = ["healthy"] * len(groups)
        verdict[epoch % len(groups)] = "problematic"
        ds["verdict"] = ("layer", np.array(verdict))
        RunStore(path).append_analysis("attribution", _storable(ds, "attribution", epoch))
    return run.refresh()


@pytest.mark.slow
def test_fix_trains_the_problematic_groups_of_that_epochs_model(fix_run, capsys):
    import torch

    from workbench.models import group_parameters

    run = fix_run
    stored = run.analysis("attribution")
    view = AttributionView(stored, run=run, classes=list(run.classes),
                           fix_options={"max_steps": 4, "progress": False})
    epoch = run.epochs[0]
    view.state.epoch = epoch
    want = stored_problematic_groups(stored, epoch)
    assert len(want) == 1
    view.fix.click()
    result = view.fix.result
    assert isinstance(result, FixComparison) and result.epoch == epoch
    assert result.groups == want
    layer, param = result.reports["layer"], result.reports["parameter"]
    model = run.model(epoch)
    n_group = sum(p.numel() for p in group_parameters(model, want)[want[0]])
    assert layer.n_params_trained == param.n_params_trained == n_group
    # the model fine-tuned is that epoch's checkpoint, counted on the run's test data
    test = run.test_data()
    with torch.no_grad():
        pred = model(test.images).argmax(1)
    assert layer.errors_before == int((pred != test.targets).sum())
    assert layer.n_test == len(test)
    for r in (layer, param):
        assert r.errors_after == r.errors_before - r.fixed + r.broken
    # parameters outside the problematic group are untouched at the layer level
    after = dict(layer.model.named_parameters())
    for name, p in model.named_parameters():
        same = torch.equal(p, after[name])
        assert same == (not name.startswith(want[0] + ".")), name
    # shown under the button: both galleries side by side, then both reports side by side
    # (outside a kernel an Output does not capture; the notebook test runs it in one)
    pictures = view.fix_panel.children
    assert len(pictures) == 2 and all(p.value[:4] == b"\x89PNG" for p in pictures)
    text = capsys.readouterr().out
    assert str(result) in text
    lines = text.splitlines()
    assert any("(layer level)" in ln and "(parameter level)" in ln for ln in lines), text
    assert f"errors fixed (wrong -> right)  {layer.fixed}" in text


@pytest.mark.slow
def test_fix_with_no_problematic_group_trains_what_fix_auto_would_and_says_why(fix_run):
    from workbench.probes.attribution import chosen_groups

    stored = fix_run.analysis("attribution").copy()
    stored["verdict"] = xr.full_like(stored["verdict"], "inconclusive")
    view = AttributionView(stored, run=fix_run, fix_options={"max_steps": 2, "progress": False})
    view.fix.click()
    result = view.fix.result
    want, why = chosen_groups(stored.sel(epoch=view.epoch))
    assert result.groups == want and result.why == why
    assert "no conclusive problematic group" in why and why in str(result)
    assert view.fix.runs == 1
