import itertools

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.damping import (
    critical_momentum,
    damping_ratio,
    damping_regime,
    epoch_regime,
    layer_damping,
    update_cos_summary,
)
from workbench.dims import DimsError


def heavy_ball_sign_changes(lr, mu, lam, steps=3000):
    """Brute force: run heavy ball on f = lam*x^2/2 from rest at x=1; count sign changes.

    The pair (x_t, x_{t-1}) is rescaled by a positive factor when it gets small, which keeps
    the (linear) recurrence and every sign, so slow decay never underflows.
    """
    x_prev, x = 1.0, 1.0  # v0 = 0
    changes = 0
    for _ in range(steps):
        v = mu * (x - x_prev) - lr * lam * x
        x_prev, x = x, x + v
        if x * x_prev < 0:
            changes += 1
        m = max(abs(x), abs(x_prev))
        if m < 1e-100:
            x, x_prev = x / m, x_prev / m
    return changes


LRS = [0.001, 0.01, 0.03, 0.1, 0.2]
MUS = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99]
LAMS = [0.5, 1.0, 2.0]
TABLE = list(itertools.product(LRS, MUS, LAMS))


@pytest.mark.parametrize("lr,mu,lam", TABLE)
def test_regime_matches_simulated_heavy_ball(lr, mu, lam):
    regime = damping_regime(lr, mu, curvature=lam)
    exact = damping_regime(lr, mu, curvature=lam, exact=True)
    zeta = damping_ratio(lr, mu, curvature=lam)
    changes = heavy_ball_sign_changes(lr, mu, lam)
    s = np.sqrt(lr * lam)
    if regime == "overdamped":
        assert changes == 0
    if regime == "underdamped" and zeta < 1 - s / 2 - 0.05:  # beyond the first-order gap
        assert changes > 0
    # the exact regime is the heavy ball's behaviour outside the critical band
    if exact == "underdamped":
        assert changes > 0
    if exact == "overdamped":
        assert changes == 0
    # brute-force discriminant agrees with the exact regime
    disc = (1 + mu - lr * lam) ** 2 - 4 * mu
    if exact != "critical":
        assert (disc < 0) == (exact == "underdamped")


@pytest.mark.parametrize("lr,lam", list(itertools.product([0.001, 0.01, 0.05, 0.2, 0.6], LAMS)))
def test_exact_critical_momentum_gives_double_root(lr, lam):
    mu = critical_momentum(lr, curvature=lam, exact=True)
    roots = np.roots([1.0, -(1 + mu - lr * lam), mu])
    assert_allclose(roots[0], roots[1], atol=1e-6)
    assert_allclose((1 + mu - lr * lam) ** 2 - 4 * mu, 0.0, atol=1e-12)
    if lr * lam < 1:
        assert_allclose(damping_ratio(lr, mu, curvature=lam, exact=True), 1.0)
        assert damping_regime(lr, mu, curvature=lam, exact=True) == "critical"


def test_first_order_values_and_paper_formula():
    assert_allclose(critical_momentum(0.01), 0.8)
    assert_allclose(critical_momentum(0.04, curvature=4.0), 1 - 2 * 0.4)
    assert_allclose(damping_ratio(0.01, 0.8), 1.0)
    assert_allclose(damping_ratio(0.01, 0.9), 0.5)
    # zeta == 1 exactly at the first-order critical momentum
    lr = np.array([0.001, 0.01, 0.1])
    assert_allclose(damping_ratio(lr, critical_momentum(lr)), 1.0)
    assert np.isinf(damping_ratio(0.0, 0.9))
    assert damping_regime(0.0, 0.9) == "overdamped"


@pytest.mark.parametrize("zeta,expected", [(0.5, "underdamped"), (0.951, "critical"),
                                           (1.0, "critical"), (1.049, "critical"),
                                           (1.2, "overdamped")])
def test_tolerance_band(zeta, expected):
    lr = 0.01  # 2*sqrt(lr) = 0.2
    mu = 1 - 0.2 * zeta
    assert damping_regime(lr, mu) == expected
    if zeta != 1.0:  # exactly 1 is not representable after rounding
        assert damping_regime(lr, mu, tol=0.0) == ("underdamped" if zeta < 1 else "overdamped")


def test_kinds_in_kinds_out():
    assert isinstance(damping_ratio(0.01, 0.9), float)
    assert isinstance(damping_regime(0.01, 0.9), str)
    assert isinstance(critical_momentum(0.01), float)
    a = np.array([0.01, 0.04])
    out = damping_regime(a, 0.8)
    assert isinstance(out, np.ndarray) and out.tolist() == ["critical", "underdamped"]
    da = xr.DataArray(a, dims="epoch")
    assert isinstance(critical_momentum(da), xr.DataArray)
    assert damping_regime(da, 0.8).values.tolist() == ["critical", "underdamped"]
    assert damping_regime(0.01, 0.9, curvature=-1.0) == "undefined"


def test_lazy_equals_eager():
    rng = np.random.default_rng(0)
    lr = xr.DataArray(rng.uniform(1e-3, 0.2, (6, 4)), dims=("epoch", "layer"))
    mu = xr.DataArray(rng.uniform(0, 0.99, (6, 4)), dims=("epoch", "layer"))
    lam = xr.DataArray(rng.uniform(0.1, 5, 4), dims="layer")
    lazy_lr, lazy_mu = lr.chunk({"epoch": 2}), mu.chunk({"epoch": 3})
    for f in (damping_ratio, damping_regime):
        lazy = f(lazy_lr, lazy_mu, curvature=lam)
        assert lazy.chunks is not None
        eager = f(lr, mu, curvature=lam)
        xr.testing.assert_equal(lazy.compute(), eager)
    z = critical_momentum(lazy_lr, curvature=lam)
    assert z.chunks is not None
    assert_allclose(z.values, 1 - 2 * np.sqrt(lr.values * lam.values))


def _cos_data(chunk=False):
    rng = np.random.default_rng(1)
    vals = rng.uniform(-1, 1, (12, 3))
    vals[0] = np.nan
    da = xr.DataArray(vals, dims=("step", "layer"),
                      coords={"epoch": ("step", np.repeat([0, 1, 2], 4)),
                              "layer": ["a", "b", "c"]})
    return da.chunk({"step": 5}) if chunk else da


def test_update_cos_summary_against_loops():
    da = _cos_data()
    out = update_cos_summary(da)
    assert out["mean"].dims == ("epoch", "layer")
    v = da.values
    for e in range(3):
        for j in range(3):
            seg = v[4 * e:4 * e + 4, j]
            seg = seg[~np.isnan(seg)]
            assert_allclose(out["mean"].values[e, j], seg.mean())
            assert_allclose(out["frac_negative"].values[e, j], (seg < 0).mean())
    lazy = update_cos_summary(_cos_data(chunk=True))
    xr.testing.assert_allclose(lazy.compute(), out)


def test_update_cos_summary_needs_coord():
    with pytest.raises(DimsError, match="'step'"):
        update_cos_summary(xr.DataArray(np.zeros(3), dims="epoch"))
    with pytest.raises(ValueError, match="epoch"):
        update_cos_summary(xr.DataArray(np.zeros(3), dims="step"))


def test_epoch_regime():
    lr = [0.01] * 6
    mu = [0.9, 0.9, 0.8, 0.8, 0.0, 0.9]
    s = xr.Dataset({"lr": ("step", lr), "momentum": ("step", mu)},
                   coords={"epoch": ("step", [0, 0, 1, 1, 2, 2])})
    out = epoch_regime(s)
    # epoch 2: mean mu 0.45 -> zeta = 0.55 / 0.2 = 2.75
    assert out["regime"].values.tolist() == ["underdamped", "critical", "overdamped"]
    assert_allclose(out["frac_underdamped"].values, [1.0, 0.0, 0.5])
    assert_allclose(out["momentum"].values, [0.9, 0.8, 0.45])
    lazy = epoch_regime(s.chunk({"step": 4}))
    xr.testing.assert_equal(lazy.compute(), out)
    with pytest.raises(ValueError, match="momentum"):
        epoch_regime(s.drop_vars("momentum"))


def test_layer_damping():
    lam = xr.DataArray([[1.0, 4.0, -1.0], [0.25, 1.0, 1.0]], dims=("epoch", "layer"),
                       coords={"layer": ["a", "b", "c"]})
    lr = xr.DataArray([0.01, 0.04], dims="epoch")
    out = layer_damping(lam, lr, 0.8)
    assert out["damping_ratio"].dims == ("epoch", "layer")
    expected = 0.2 / (2 * np.sqrt(lr.values[:, None] * np.where(lam.values > 0, lam.values, 1)))
    expected[0, 2] = np.nan  # negative curvature: undefined
    assert_allclose(out["damping_ratio"].values, expected)
    assert out["regime"].values.tolist() == [["critical", "underdamped", "undefined"],
                                             ["critical", "underdamped", "underdamped"]]
    with pytest.raises(DimsError):
        layer_damping(xr.DataArray([1.0], dims="epoch"), 0.01, 0.9)
