"""The grokking phases shaded behind every epoch (and step) axis of the Explorer."""

import io

import numpy as np
from numpy.testing import assert_allclose
from PIL import Image

from workbench.plots.phases import PHASE_GID
from workbench.widgets import Explorer
from workbench.widgets.damping import DampingView

from .synthetic import tree

# memorising (0, 1), plateau (2, 3, 4), transition (5), generalising (6, 7)
TRAIN = [0.2, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
TEST = [0.02, 0.03, 0.04, 0.05, 0.3, 0.7, 0.97, 0.99]
#: each run of points spans halfway to its neighbours; the transition point stays clear
EPOCH_SPANS = [("memorising", -0.5, 1.5), ("plateau", 1.5, 4.5), ("generalising", 5.5, 7.5)]
#: 10 steps per epoch: epoch e holds steps 10e .. 10e + 9
STEP_SPANS = [("memorising", -0.5, 19.5), ("plateau", 19.5, 49.5),
              ("generalising", 59.5, 79.5)]


def _tree(train=TRAIN, test=TEST, *, drop=()):
    t = tree(n_epochs=len(train), analysis=True)
    ep = t["epochs"].to_dataset()
    ep["train_acc"] = ("epoch", np.asarray(train, float))
    ep["test_acc"] = ("epoch", np.asarray(test, float))
    t["epochs"] = ep.drop_vars(list(drop))
    return t


def _spans(ax):
    out = []
    for p in ax.patches:
        if p.get_gid() == PHASE_GID:
            x = p.get_patch_transform().transform(p.get_path().vertices)[:, 0]
            out.append((p.get_label().lstrip("_"), round(float(x.min()), 9),
                        round(float(x.max()), 9)))
    return sorted(out, key=lambda s: s[1])


def _shown(app, tab):
    app.tabs.selected_index = list(app.views).index(tab)
    return app.views[tab]


def test_every_epoch_axis_shades_the_phases_of_the_accuracies():
    app = Explorer(_tree())
    assert app.phases is not None and app.phases_note.value == ""
    assert {"damping", "dynamics", "separation", "spectra"} <= set(app.views)
    shaded = 0
    for tab in app.views:
        view = _shown(app, tab)
        for ax in view.fig.axes:
            label = ax.get_xlabel()
            if label == "epoch":
                assert _spans(ax) == EPOCH_SPANS, f"{tab}: {label}"
                shaded += 1
            elif label == "step":
                assert _spans(ax) == STEP_SPANS, f"{tab}: {label}"
                shaded += 1
            else:
                assert _spans(ax) == [], f"{tab}: {label!r} is not an epoch axis"
    # training (loss over steps, accuracy over epochs), layers, and each analysis' epoch axis
    assert shaded >= 6
    # the shading is static: a slider move keeps the same patches and adds none
    view = _shown(app, "training")
    before = _spans(view.axes[1])
    app.state.epoch = 3
    assert _spans(view.axes[1]) == before
    assert_allclose(view.axes[1].get_xlim(), (-0.5, 7.5), atol=0.3)


def test_probe_accuracy_stands_in_for_a_missing_test_accuracy():
    t = _tree()
    ep = t["epochs"].to_dataset().rename_vars(test_acc="probe_acc")
    t["epochs"] = ep
    app = Explorer(t)
    assert _spans(_shown(app, "training").axes[1]) == EPOCH_SPANS


def test_a_run_that_never_groks_shades_nothing_and_says_why():
    app = Explorer(_tree(test=[0.02, 0.03, 0.04, 0.05, 0.1, 0.2, 0.3, 0.4]))
    assert app.phases is None
    for tab in app.views:
        assert all(_spans(ax) == [] for ax in _shown(app, tab).fig.axes)
    assert "no grokking phases" in app.phases_note.value
    assert "did not generalise" in app.phases_note.value and "0.400" in app.phases_note.value


def _png(view):
    return np.asarray(Image.open(io.BytesIO(view.png)), dtype=int)


def test_a_run_without_accuracies_draws_what_a_bare_view_draws():
    t = _tree(drop=("train_acc", "test_acc"))
    app = Explorer(t)
    assert app.phases is None and app.phases_note.value == ""
    shown = _shown(app, "damping")
    bare = DampingView(t["analysis"]["damping"].to_dataset())
    assert shown.phases is None
    assert np.array_equal(_png(shown), _png(bare))
    # and the same view of a grokking run differs: the shading is visible
    grok = _shown(Explorer(_tree()), "damping")
    assert _png(grok).shape == _png(bare).shape and not np.array_equal(_png(grok), _png(bare))
