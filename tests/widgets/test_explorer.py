import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench.data import load_dataset
from workbench.widgets import Explorer, explore

from .synthetic import SAMPLES, line_by_gid, tree


def test_every_view_observes_the_same_state():
    app = Explorer(tree())
    assert set(app.views) == {"training", "layers", "probe"}
    assert all(v.state is app.state for v in app.views.values())
    draws = {k: v.draws for k, v in app.views.items()}
    app.views["layers"].controls["step"].value = 17
    assert app.views["training"].controls["step"].value == 17
    assert_allclose(line_by_gid(app.views["training"].axes[0], "selection").get_xdata(), [17, 17])
    # only the shown tab repaints; a hidden one is marked stale and repaints when shown
    assert {k: v.draws - draws[k] for k, v in app.views.items()} == \
        {"training": 1, "layers": 0, "probe": 0}
    # step 17 lies in epoch 1 (10 steps per epoch): the tie selected that epoch too, so the
    # hidden probe view (which observes the epoch) went stale as well
    assert app.state.epoch == 1
    assert app.views["layers"].stale and app.views["probe"].stale
    app.tabs.selected_index = 1
    assert app.views["layers"].draws - draws["layers"] == 1 and not app.views["layers"].stale
    assert not app.views["training"].visible
    app.tabs.selected_index = 0
    app.views["probe"].controls["epoch"].value = 2
    assert app.views["training"].controls["epoch"].value == 2
    assert_allclose(line_by_gid(app.views["training"].axes[1], "selection").get_xdata(), [2, 2])
    # epoch 2 moved the step into it (its last step, 29), and the training view shows both
    assert "step <b>29</b>" in app.status.value and "epoch <b>2</b>" in app.status.value
    assert_allclose(line_by_gid(app.views["training"].axes[0], "selection").get_xdata(), [29, 29])


def test_probe_view_shows_softmax_of_the_logits():
    t = tree()
    app = Explorer(t)
    app.tabs.selected_index = list(app.views).index("probe")
    app.state.sample = 42                           # target 3
    z = t["probe"]["logits"].sel(sample=42).values
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    assert_allclose(line_by_gid(app.views["probe"].axes, "selected").get_ydata(), p[:, 3])


def test_tabs_hold_each_views_widget():
    app = Explorer(tree())
    assert list(app.tabs.titles) == list(app.views)
    assert list(app.tabs.children) == [v.widget for v in app.views.values()]
    assert "application/vnd.jupyter.widget-view+json" in app._repr_mimebundle_()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    tree().to_zarr(str(path / "record.zarr"))
    return path


def test_explore_opens_a_run_and_traces_probe_images_to_the_test_set(run_dir):
    app = explore(run_dir)
    images = app.views["probe"].images
    test = load_dataset("fashion-mnist", train=False)
    assert list(images.sample.values) == SAMPLES
    assert_allclose(images.sel(sample=20).values, test.images[20].permute(1, 2, 0).numpy())
    app.tabs.selected_index = list(app.views).index("probe")
    app.state.sample = 11
    assert_allclose(app.views["probe"].axes[0].images[0].get_array(),
                    test.images[11, 0].numpy(), rtol=1e-6)


def test_explore_on_a_tab_whose_analysis_is_stored(tmp_path):
    path = tmp_path / "run"
    tree(analysis=True).to_zarr(str(path / "record.zarr"))
    app = explore(path, tab="spectra", images=False)
    assert list(app.views)[app.tabs.selected_index] == "spectra"
    assert app.views["spectra"].draws == 1 and app.note.value == ""


@pytest.mark.slow
def test_explore_on_a_tab_it_cannot_show_says_why(noisy_run):
    """A run recorded without --features cannot have the separation analysis: the explorer
    opens on its first tab, and its note gives the analysis's reason; nothing is stored."""
    from workbench.run import Run

    app = explore(noisy_run, tab="separation", images=False)
    assert app.tabs.selected_index == 0 and "separation" not in app.views
    assert "needs recorded probe-set features (/features)" in app.note.value
    assert "train --features" in app.note.value  # and how to get them
    assert Run(noisy_run).analysis("separation") is None


def test_hidden_tabs_sliders_catch_up_when_shown():
    """A hidden tab's sliders do not follow each move (one browser update each); shown,
    they hold the selection."""
    app = Explorer(tree())
    probe = app.views["probe"].controls["epoch"]
    before = probe.value
    app.views["training"].controls["epoch"].value = 2 if before != 2 else 1
    assert probe.value == before                       # hidden: left as it was
    app.tabs.selected_index = list(app.views).index("probe")
    assert probe.value == app.state.epoch != before    # shown: caught up
    # and the training tab, hidden now, keeps the value it showed
    shown = app.views["training"].controls["epoch"].value
    probe.value = 0 if shown != 0 else 1
    assert app.views["training"].controls["epoch"].value == shown
