
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


def test_a_fix_is_marked_stale_when_the_selection_leaves_its_epoch(run):
    from workbench.finetune import FixResult

    view = AttributionView(run.analysis("attribution"), Selection(epoch=1))
    result = FixResult(1, ["<b>fc</b>"], {}, why="given", press_time=3.0, full_train_time=30.0)
    panel = view.show_fix(result)
    fresh = panel.value
    assert fresh == result.to_html() and not view.fix_stale
    assert "<b>fc</b>" not in fresh and "&lt;b&gt;fc&lt;/b&gt;" in fresh
    view.state.epoch = 2
    assert view.fix_stale and panel.value.startswith("<div class='wb-stale'")
    assert "fine-tuned the model of epoch 1; the selection is now epoch 2" in panel.value
    assert "Press Fix again to fix epoch 2's model" in panel.value.replace("&#x27;", "'")
    view.state.epoch = 0
    assert "the selection is now epoch 0" in panel.value
    view.state.epoch = 1
    assert not view.fix_stale and panel.value == fresh
    view.show_fix(FixResult(0, ["fc"], {}))             # a new fix, of the selected epoch 1?
    assert view.fix_panel is panel and view.fix_stale   # no: of epoch 0, so stale at once


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
def test_fix_trains_the_problematic_groups_of_that_epochs_model(fix_run):
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
    # shown under the button: ONE table, a column per level, each level's gallery over its
    # numbers (the view displays it; the button shows nothing else)
    html = view.fix_panel.value
    assert html == result.to_html(images=pngs_of(html), min_width=view.FIX_MIN_WIDTH)
    assert html.count("<table") == 1 and f"min-width:{view.FIX_MIN_WIDTH}px" in html
    assert [p[:4] for p in pngs_of(html).values()] == [b"\x89PNG"] * 2
    assert f"<td style='padding:2px 10px;'>{layer.fixed}</td>" in html
    # each level's gallery is titled with its own level and net, not the other's
    for level, r in result.reports.items():
        title = view._fix_figure(r, test)._suptitle.get_text()
        assert title == f"{level} level: net {r.fixed - r.broken:+d}", title
    # the whole press, galleries included, against the run's recorded training time
    assert result.press_time > sum(r.wall_time for r in result.reports.values())
    full = float(run.tree["epochs"]["wall_time"].sum())
    assert_allclose(result.full_train_time, full)
    assert_allclose(result.time_saved, 1 - result.press_time / full)
    assert f"{result.press_time:.1f} s" in html and f"{full:.1f} s" in html
    # moving the selection away marks the result stale; coming back unmarks it
    assert not view.fix_stale and "wb-stale" not in html
    view.state.epoch = run.epochs[-1]
    assert view.fix_stale and "wb-stale" in view.fix_panel.value
    assert (f"this fix fine-tuned the model of epoch {epoch}; the selection is now epoch "
            f"{run.epochs[-1]}") in view.fix_panel.value
    view.state.epoch = epoch
    assert not view.fix_stale and view.fix_panel.value == html


def pngs_of(html: str) -> dict:
    """level → the PNG bytes embedded in the fix table's image row, in column order."""
    import base64
    import re

    found = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    return dict(zip(("layer", "parameter"), (base64.b64decode(f) for f in found),
                    strict=True))


def test_fix_gallery_titles_are_legible_at_the_size_shown():
    """The view's gallery of fixed and broken images, full with the longest class names:
    every title line at least 10 px tall at the narrowest width the table shows the PNG at
    (it is never shrunk under FIX_MIN_WIDTH px, nor shown wider than drawn), and no two
    titles overlap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from workbench import plots

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    n = 2 * AttributionView.FIX_IMAGES
    samples = np.arange(1000, 1000 + n)
    status = xr.DataArray(["fixed", "broken"] * AttributionView.FIX_IMAGES, dims="sample",
                          coords={"sample": samples})
    images = xr.DataArray(np.random.default_rng(0).random((n, 28, 28)),
                          dims=("sample", "row", "col"), coords={"sample": samples})
    target = xr.DataArray(np.zeros(n, int), dims="sample", coords={"sample": samples})
    fig = Figure(figsize=AttributionView.FIX_FIGSIZE, dpi=AttributionView.FIX_DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    plots.fix_gallery(status, images, pred_after=target + 9, target=target, classes=classes,
                      n=AttributionView.FIX_IMAGES, fig=fig, title="layer level: net +5",
                      fontsize=AttributionView.FIX_FONTSIZE)
    shown = AttributionView.FIX_MIN_WIDTH / (fig.get_figwidth() * fig.dpi)   # scale, <= 1
    assert shown <= 1
    fig.canvas.draw()
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert len(titles) == n
    assert "T-shirt/top" in titles[0].get_text() and "Ankle boot" in titles[0].get_text()
    boxes = []
    for t in titles:
        lines = t.get_text().count("\n") + 1
        box = t.get_window_extent()
        assert box.height / lines * shown >= 10, t.get_text()
        boxes.append(box)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two gallery titles overlap"


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
