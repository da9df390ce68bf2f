"""The ``separation`` analysis vs the diagnostics by hand, explicit matrices, an analytic case."""

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench import Run
from workbench.analysis import ANALYSES, load_all
from workbench.analysis import separation as sa
from workbench.diagnostics.separation import linear_law_deviation, separation_fuzziness


@pytest.fixture(scope="module")
def run(tiny_run):
    return Run(tiny_run)


@pytest.fixture(scope="module")
def ds(run):
    return sa.separation(run, run.epochs[-1])


def _features(run, layer, epoch):
    return run.tree["features"][layer]["features"].sel(epoch=epoch).load()


def test_layers_in_recorded_depth_order(run, ds):
    assert list(ds.layer.values) == ["conv1", "conv2", "fc1", "fc2"]
    assert ds.depth.values.tolist() == [0, 1, 2, 3]
    assert_allclose(ds.linear_law.values, [0, 1 / 3, 2 / 3, 1])


def test_fuzziness_equals_the_diagnostic_and_explicit_matrices(run, ds):
    epoch = run.epochs[-1]
    for layer in ds.layer.values:
        f = _features(run, layer, epoch)
        want = separation_fuzziness(f.astype(float), f.target.values)
        assert_allclose(float(ds.fuzziness.sel(layer=layer)), float(want), rtol=1e-10)
    for layer in ("fc1", "fc2"):  # brute force: D = Tr(S_W (S_B + eps)^+) with p x p matrices
        f = _features(run, layer, epoch)
        x, y = f.values.astype(float), f.target.values
        classes = np.unique(y)
        mu = x.mean(0)
        means = np.stack([x[y == c].mean(0) for c in classes])
        xc = x - means[np.searchsorted(classes, y)]
        s_w = xc.T @ xc / len(x)
        s_b = (means - mu).T @ (means - mu) / len(classes)
        lam, vec = np.linalg.eigh(s_b)
        keep = lam > lam.max() * 1e-12   # the range of S_B (rank <= K)
        eps = 1e-8 * np.trace(s_b)       # the diagnostic's default ridge
        lam, vec = lam[keep], vec[:, keep]
        want = np.sum(np.einsum("pi,pq,qi->i", vec, s_w, vec) / (lam + eps))
        assert_allclose(float(ds.fuzziness.sel(layer=layer)), want, rtol=1e-5)


def test_load_curve_and_deviation_by_hand(ds):
    logd = np.log(ds.fuzziness.values)
    assert_allclose(ds.log_fuzziness.values, logd)
    assert np.isnan(ds["load"].values[0])
    assert_allclose(ds["load"].values[1:], -np.diff(logd), rtol=1e-12)
    curve = (logd[0] - logd) / (logd[0] - logd[-1])
    assert_allclose(ds.cumulative_load.values, curve, rtol=1e-12, atol=1e-15)
    dev = np.sqrt(np.mean((curve - np.linspace(0, 1, 4)) ** 2))
    assert_allclose(float(ds.linear_law_deviation), dev, rtol=1e-12)
    assert_allclose(float(ds.linear_law_deviation), float(linear_law_deviation(ds.fuzziness)))


def test_analytic_two_classes_with_known_fuzziness():
    # one unit; class means +-m, within-class values +-s: S_B = m^2, S_W = s^2, D = s^2 / m^2
    y = np.repeat([0, 1], 4)
    feats = {}
    for layer, m in zip("abc", (1.0, np.exp(0.5), np.exp(1.0)), strict=True):
        s = 1.0
        x = np.where(y == 0, -m, m) + np.tile([-s, s], 4)
        feats[layer] = xr.DataArray(x[:, None], dims=("sample", "unit"))
    out = sa.separation_of(feats, y)
    assert_allclose(out.fuzziness.values, [1.0, np.exp(-1.0), np.exp(-2.0)], rtol=1e-6)
    assert_allclose(out["load"].values[1:], [1.0, 1.0], rtol=1e-6)   # equal load per layer
    assert_allclose(out.cumulative_load.values, [0, 0.5, 1], atol=1e-6)
    assert float(out.linear_law_deviation) < 1e-6                 # exactly the linear law


def test_run_without_features_is_skipped_with_a_reason(noisy_run):
    load_all()
    reason = ANALYSES["separation"].reason_not(Run(noisy_run))
    assert "--features" in reason and "none" in reason
