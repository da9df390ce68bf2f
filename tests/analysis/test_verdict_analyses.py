"""The ``damping`` and ``attribution`` analyses against the diagnostic applied by hand."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.analysis import analyze
from workbench.run import Run

pytestmark = pytest.mark.slow  # analyses on the tiny run, then again by hand

DAMPING = ["lr", "momentum", "critical_momentum", "network_damping_ratio", "network_regime",
           "curvature", "damping_ratio", "regime", "update_cos_mean", "update_cos_expected",
           "epoch_regime", "epoch_damping_ratio", "epoch_curvature"]
ATTRIBUTION = ["grad_rms_misclassified", "grad_rms_correct", "log_ratio", "flag_frequency",
               "verdict", "attribution", "n_misclassified", "n_correct", "sample", "target",
               "predicted", "image", "ig"]


@pytest.fixture(scope="module")
def analysed(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("verdicts") / "run"
    shutil.copytree(tiny_run, path)
    run = Run(path)
    added = analyze(run, only=["damping", "attribution"], progress=False)
    assert added == {"damping": run.epochs, "attribution": run.epochs}
    return run.refresh()


def test_damping_schema_and_attrs(analysed):
    ds = analysed.analysis("damping")
    for v in DAMPING:
        assert v in ds, v
        assert "long_name" in ds[v].attrs and "units" in ds[v].attrs, v
    assert ds["regime"].dims == ("epoch", "layer")
    assert ds["lr"].dims == ("epoch",)
    assert ds["epoch_regime"].dims == ("epoch",)
    assert "agrees" not in ds and "update_cos_regime" not in ds  # no second verdict
    assert ds["epoch"].values.tolist() == analysed.epochs


def test_damping_matches_the_diagnostic_by_hand(analysed):
    from workbench.analysis.damping import curvature_batch
    from workbench.diagnostics.damping import epoch_damping
    from workbench.probes.curvature import layer_curvature

    stored = analysed.analysis("damping").compute()
    cfg = analysed.config
    steps = analysed.tree["steps"].to_dataset().compute()
    uc = analysed.tree["layers"]["update_cos"].compute()
    for epoch in analysed.epochs:
        x, y = curvature_batch(analysed)
        curv = layer_curvature(analysed.model(epoch), x, y, iters=cfg.curvature_iters,
                               seed=cfg.seed)
        hand = epoch_damping(steps, curvature=curv.expand_dims(epoch=[epoch]),
                             update_cos=uc).sel(epoch=epoch)
        got = stored.sel(epoch=epoch)
        for v in ("lr", "momentum", "network_damping_ratio", "curvature", "damping_ratio",
                  "update_cos_mean", "update_cos_expected", "epoch_damping_ratio",
                  "epoch_curvature"):
            assert_allclose(got[v].values, hand[v].values, rtol=1e-6, err_msg=v)
        for v in ("network_regime", "regime", "epoch_regime", "epoch_layer"):
            assert got[v].values.tolist() == hand[v].values.tolist(), v
        # the epoch's lr is the median of its own steps, not the last step's value
        lr_steps = steps["lr"].values[steps["epoch"].values == epoch]
        assert_allclose(float(got["lr"]), np.median(lr_steps))


def test_attribution_matches_the_rule_by_hand(analysed):
    from workbench.probes.attribution import misclassified_attribution, problematic_groups

    stored = analysed.analysis("attribution").compute()
    for v in ATTRIBUTION:
        assert v in stored, v
        assert "long_name" in stored[v].attrs and "units" in stored[v].attrs, v
    assert stored["ig"].dims == ("epoch", "rank", "row", "col")
    for epoch in analysed.epochs:
        model = analysed.model(epoch)
        hand = problematic_groups(model, analysed.test_data())
        got = stored.sel(epoch=epoch)
        assert_allclose(got["log_ratio"].values, hand["log_ratio"].values, rtol=1e-6)
        assert_allclose(got["flag_frequency"].values, hand["flag_frequency"].values)
        assert got["verdict"].values.tolist() == hand["verdict"].values.tolist()
        assert int(got["n_misclassified"]) == hand.attrs["n_misclassified"]
        # the worst misclassified probe samples and their IG maps
        probe = analysed.tree["probe"]
        samples = probe["sample"].values
        from workbench.analysis.attribution import probe_data
        x, y, _ = probe_data(analysed)
        maps = misclassified_attribution(model, (x, y), ig_top=8, n_boot=0)
        k = maps.sizes["sample"]
        assert got["sample"].values[:k].tolist() == samples[maps["sample"].values].tolist()
        assert (got["sample"].values[k:] == -1).all()
        assert_allclose(got["ig"].values[:k],
                        maps["integrated_gradients"].sum("channel").values, rtol=1e-5)
        pred = model(x[np.array(maps["sample"].values)]).argmax(1).detach().numpy()
        assert got["predicted"].values[:k].tolist() == pred.tolist()
        assert (pred != got["target"].values[:k]).all()


def test_analyses_are_incremental(analysed):
    assert analyze(analysed, only=["damping", "attribution"], progress=False) == {
        "damping": [], "attribution": []}
    assert isinstance(analysed.analysis("damping"), xr.Dataset)
