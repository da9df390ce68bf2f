"""CompareView: runs side by side; the strips hold each run's stored verdicts at the epoch."""

import numpy as np
import pytest
import xarray as xr
from conftest import copy_run

from workbench import Run
from workbench.widgets.compare import VERDICTS, CompareView, _codes
from workbench.widgets.state import Selection

from . import synthetic


def _attribution(epochs, layers, seed):
    rng = np.random.default_rng(seed)
    verdict = rng.choice(VERDICTS, size=(len(epochs), len(layers)))
    return xr.Dataset({"verdict": (("epoch", "layer"), verdict.astype("<U32"))},
                      coords={"epoch": epochs, "layer": layers})


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("cmpview")
    out = []
    for i, name in enumerate(("a", "b")):
        r = copy_run(tiny_run, base / name)
        synthetic.fill_analysis(r, names=("damping",))
        layers = [str(v) for v in r.tree["layers"]["layer"].values]
        att = _attribution(r.epochs, layers, seed=i)
        for e in r.epochs:
            r.store.append_analysis("attribution", att.sel(epoch=[e]))
        out.append(r.refresh())
    return out


def test_strips_hold_each_runs_stored_values_at_the_selected_epoch(runs):
    view = CompareView(runs, Selection())
    for epoch in runs[0].epochs[::-1]:
        view.state.epoch = epoch
        for key, names, group in (("regime", None, "damping"),
                                  ("verdict", VERDICTS, "attribution")):
            from workbench import plots

            names = plots.REGIMES if key == "regime" else names
            shown = view.shown(key)
            for r in runs:
                stored = r.analysis(group)[key].sel(epoch=epoch)
                np.testing.assert_array_equal(shown.sel(run=r.path.name).values,
                                              _codes(stored.values, names))
        marker = view.axes[0].get_lines()[-1]
        assert list(marker.get_xdata()) == [epoch, epoch]
        assert f"epoch {epoch}" in view.caption.value
    acc = [ln for ln in view.axes[0].get_lines() if str(ln.get_gid()).startswith("acc:")]
    assert len(acc) == 2
    np.testing.assert_allclose(acc[0].get_ydata(), runs[0].tree["epochs"]["test_acc"].values)


def test_a_missing_analysis_is_said_and_one_run_is_refused(tiny_run, runs):
    bare = Run(tiny_run)
    if bare.analysis("attribution") is None:
        view = CompareView([runs[0], bare])
        assert view.attribution is None and view.shown("verdict") is None
        assert any("not analysed" in t.get_text() for t in view.axes[2].texts)
    with pytest.raises(ValueError, match="at least two runs"):
        CompareView([runs[0]])
