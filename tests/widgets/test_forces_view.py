import numpy as np
import pytest
from matplotlib.colors import to_rgba
from numpy.testing import assert_allclose

from workbench.plots import style
from workbench.plots.placement import collisions
from workbench.run import Run
from workbench.widgets import Selection
from workbench.widgets.forces import ForcesView

from .synthetic import tree
from .synthetic_analyses2 import CLASSES, FLIPPED, OBSERVED, UPDATE, forces_epoch, store_analyses


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("run_forces")
    tree().to_zarr(str(path / "record.zarr"))
    store_analyses(path, names=("forces",))
    ds = Run(path).analysis("forces")
    assert ds is not None and ds.sizes["epoch"] == 3
    return ds


def test_each_epoch_and_sample_shows_its_stored_pulls_and_delta(stored):
    state = Selection()
    view = ForcesView(stored, state, classes=CLASSES)
    for epoch, sample in [(2, OBSERVED[1]), (0, OBSERVED[0]), (1, OBSERVED[2])]:
        state.epoch, state.sample = epoch, sample
        want = forces_epoch(epoch).sel(sample_o=sample)      # what the analysis returned
        target = int(want.target)
        bars = view.handles["pull"]["bars"]
        assert_allclose([b.get_width() for b in bars], want.pull.sel(label=target).values)
        delta = view.handles["delta"]
        assert_allclose(delta["points"].get_xdata(), want.predicted.values)
        assert_allclose(delta["points"].get_ydata(), want.actual.values)
        assert_allclose(delta["true"].get_xydata(),
                        [[want.predicted.values[target], want.actual.values[target]]])
        assert f"log π({CLASSES[target]}) of sample {sample}" in \
            view.handles["pull"]["ax"].get_title()
        # the axis range is the sample's largest pull over every epoch (fixed across epochs)
        lim = 1.1 * max(abs(forces_epoch(e).pull.sel(sample_o=sample, label=target)).max()
                        for e in range(3))
        assert_allclose(view.handles["pull"]["ax"].get_xlim(), (-lim, lim))


def test_path_runs_up_to_the_selected_epoch(stored):
    view = ForcesView(stored, classes=CLASSES)
    sample = OBSERVED[2]
    view.state.sample = sample
    probs = np.stack([forces_epoch(e).prob.sel(sample_o=sample).values for e in range(3)])
    target = int(forces_epoch(0).target.sel(sample_o=sample))
    for epoch in (0, 2, 1):
        view.state.epoch = epoch
        h = view.handles["path"]
        true = [ln for ln in h["lines"] if ln.get_gid() == "selected"]
        assert len(true) == 1
        assert_allclose(true[0].get_xdata(), np.arange(epoch + 1))
        assert_allclose(true[0].get_ydata(), probs[:epoch + 1, target])
        assert true[0].get_label() == f"{CLASSES[target]} (true)"
        assert_allclose(h["cursor"].get_xdata(), [epoch, epoch])
        shown = [ln for ln in h["lines"] if ln.get_visible()]
        top = set(np.argsort(-probs.max(0))[:3]) | {target}
        assert {ln.get_label().replace(" (true)", "") for ln in shown} == \
            {CLASSES[k] for k in top}
        names = [t for t in h["names"] if t.get_visible()]    # each line named at its end
        assert [t.get_text() for t in names] == [ln.get_label() for ln in shown]
        # right of the ends, in the ends' vertical order, spread so that none overlaps
        # (was: exactly at each end's height, where close ends made the names collide)
        ends = [ln.get_ydata()[-1] for ln in shown]
        ys = [t.get_position()[1] for t in names]
        assert all(t.get_position()[0] > epoch for t in names)
        assert np.argsort(ys, kind="stable").tolist() == np.argsort(ends, kind="stable").tolist()
        with style.context():
            assert collisions(view.fig) == []


def test_flipped_update_examples_are_marked_and_classes_named(stored):
    view = ForcesView(stored, classes=CLASSES)
    h = view.handles["pull"]
    with style.context():                                   # the views' palette
        red, blue = to_rgba("C3"), to_rgba("C0")
    assert [b.get_facecolor() for b in h["bars"]] == [red if f else blue for f in FLIPPED]
    labels = [t.get_text() for t in h["ax"].get_yticklabels()]
    label_u = forces_epoch(0).label_u.values
    assert labels == [f"{u} · {CLASSES[k]}" + (" (flipped)" if f else "")
                      for u, k, f in zip(UPDATE, label_u, FLIPPED, strict=True)]
    names = [t.get_text() for t in view.handles["delta"]["texts"]]
    assert names == CLASSES


def test_dropdown_is_linked_to_the_selections_sample(stored):
    state = Selection()
    view = ForcesView(stored, state)
    assert list(view.pick.options) == OBSERVED
    view.pick.value = OBSERVED[2]
    assert state.sample == OBSERVED[2]
    draws, bars = view.draws, view.handles["pull"]["bars"]
    state.sample = OBSERVED[1]
    assert view.pick.value == OBSERVED[1] and view.draws == draws + 1
    assert view.handles["pull"]["bars"] is bars            # updated in place
    state.sample = 19                                       # a probe sample not observed
    assert view.pick.value == 20 and view.sample == 20      # the nearest observed one
    assert state.sample == 19


def test_opens_on_the_sample_still_being_learned(stored):
    """The sample with the lowest margin π_y − max_k≠y π_k at the last epoch (a
    misclassified one when there is one), computed here by hand from the stored prob."""
    last = stored["prob"].isel(epoch=-1)
    margins = {}
    for s in OBSERVED:
        p = last.sel(sample_o=s).values
        y = int(stored["target"].sel(sample_o=s))
        margins[s] = p[y] - np.delete(p, y).max()
    want = min(margins, key=margins.get)
    state = Selection()
    view = ForcesView(stored, state, classes=CLASSES)
    assert view.sample == want and state.sample == want
    if any(m < 0 for m in margins.values()):
        assert margins[want] < 0                             # misclassified


def test_opening_sample_is_the_misclassified_one():
    import xarray as xr

    from workbench.widgets.forces import still_learning

    # three observed samples of class 0: learned (π = 1), unsure, misclassified
    prob = xr.DataArray([[[0.2, 0.8], [0.5, 0.5], [0.6, 0.4]],
                         [[1.0, 0.0], [0.55, 0.45], [0.3, 0.7]]],
                        dims=("epoch", "sample_o", "label"),
                        coords={"epoch": [0, 1], "sample_o": [3, 5, 7], "label": [0, 1]})
    target = xr.DataArray([0, 0, 0], dims="sample_o", coords={"sample_o": [3, 5, 7]})
    assert still_learning(prob, target) == 7
    assert still_learning(prob.isel(epoch=[0]), target) == 3   # epoch 0: sample 3 is wrong
    assert still_learning(prob.where(prob.sample_o != 7, 0.5), target) == 7   # a tie: 0
    assert still_learning(prob.sel(sample_o=[3, 5]), target.sel(sample_o=[3, 5])) == 5


def test_bad_input_names_what_is_missing(stored):
    with pytest.raises(ValueError, match="missing \\['prob'\\]"):
        ForcesView(stored.drop_vars("prob"))
    with pytest.raises(Exception, match="sample_o"):
        ForcesView(stored.rename({"sample_o": "obs"}))
