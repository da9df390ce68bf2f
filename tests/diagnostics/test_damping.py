import itertools

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.damping import (
    critical_momentum,
    damping_ratio,
    damping_regime,
    damping_word,
    epoch_damping,
    expected_update_cos,
    measured_verdict,
    update_cos_summary,
    verdict_records,
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
    else:  # within 5% of the double root mu_c = (1 - sqrt(lr lam))^2: its side decides
        zeta_exact = damping_ratio(lr, mu, curvature=lam, exact=True)
        assert abs(zeta_exact - 1) <= 0.05
        assert (disc >= 0) == (mu <= (1 - s) ** 2) == (zeta_exact >= 1)  # real roots
        if disc >= 0:  # two positive real roots: the ball creeps in, never crossing 0
            assert changes == 0


@pytest.mark.parametrize("lr,lam", list(itertools.product([0.001, 0.01, 0.05, 0.2, 0.6], LAMS)))
def test_exact_critical_momentum_gives_double_root(lr, lam):
    mu = critical_momentum(lr, curvature=lam, exact=True)
    roots = np.roots([1.0, -(1 + mu - lr * lam), mu])
    assert_allclose(roots[0], roots[1], atol=1e-6)
    assert_allclose((1 + mu - lr * lam) ** 2 - 4 * mu, 0.0, atol=1e-12)
    if lr * lam < 1:
        assert_allclose(damping_ratio(lr, mu, curvature=lam, exact=True), 1.0)
        assert damping_regime(lr, mu, curvature=lam, exact=True) == "critical"


SUBCRITICAL = [(lr, lam) for lr, lam in itertools.product([0.001, 0.01, 0.05, 0.2, 0.6], LAMS)
               if lr * lam < 1]


@pytest.mark.parametrize("lr,lam", SUBCRITICAL)
def test_exactly_critical_heavy_ball_follows_the_double_root(lr, lam):
    """At mu = (1 - sqrt(lr lam))^2 the heavy ball from rest at x = 1 is, analytically,
    x_t = r^t (1 + (1 - r) t) with r = 1 - sqrt(lr lam) (double root r; x_-1 = x_0 = 1): it
    never crosses 0, zeta = 1 exactly, and the paper's first-order zeta is 1 - sqrt(lr lam)/2."""
    s = np.sqrt(lr * lam)
    mu = (1 - s) ** 2
    assert_allclose(critical_momentum(lr, curvature=lam, exact=True), mu, rtol=1e-14)
    r = 1 - s
    x_prev, x, traj = 1.0, 1.0, [1.0]
    for _ in range(300):
        x_prev, x = x, x + mu * (x - x_prev) - lr * lam * x
        traj.append(x)
    t = np.arange(301)
    assert_allclose(traj, r ** t * (1 + (1 - r) * t), rtol=1e-9, atol=1e-300)
    assert heavy_ball_sign_changes(lr, mu, lam) == 0
    assert_allclose(damping_ratio(lr, mu, curvature=lam, exact=True), 1.0, rtol=1e-12)
    assert damping_regime(lr, mu, curvature=lam, exact=True) == "critical"
    assert_allclose(damping_ratio(lr, mu, curvature=lam), 1 - s / 2, rtol=1e-12)
    if abs(s / 2 - 0.05) > 1e-9:  # first order: critical while within the 5% band
        assert damping_regime(lr, mu, curvature=lam) == ("critical" if s / 2 < 0.05
                                                         else "underdamped")


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


def _steps(lr, mu, epoch):
    return xr.Dataset({"lr": ("step", np.asarray(lr, float)),
                       "momentum": ("step", np.asarray(mu, float))},
                      coords={"epoch": ("step", np.asarray(epoch))})


def _brute_regime(zeta, tol=0.05):
    if not np.isfinite(zeta):
        return "undefined"
    return "underdamped" if zeta < 1 - tol else ("overdamped" if zeta > 1 + tol else "critical")


def test_epoch_damping_analytic():
    # epoch 0: lr 0.01, mu 0.9 -> zeta 0.5; epoch 1: lr 0.01, mu 0.8 -> zeta 1 exactly
    v = epoch_damping(_steps([0.01] * 4, [0.9, 0.9, 0.8, 0.8], [0, 0, 1, 1]))
    assert_allclose(v["network_damping_ratio"].values, [0.5, 1.0])
    assert v["network_regime"].values.tolist() == ["underdamped", "critical"]
    assert_allclose(v["critical_momentum"].values, [0.8, 0.8])
    assert "paper" in v["network_regime"].attrs["verdict"]
    # per layer: curvature 4 halves zeta, curvature 1/4 doubles it
    lam = xr.DataArray([[4.0, 0.25], [4.0, 0.25]], dims=("epoch", "layer"),
                       coords={"epoch": [0, 1], "layer": ["a", "b"]})
    v = epoch_damping(_steps([0.01] * 4, [0.9, 0.9, 0.8, 0.8], [0, 0, 1, 1]), curvature=lam)
    assert_allclose(v["damping_ratio"].values, [[0.25, 1.0], [0.5, 2.0]])
    assert v["regime"].values.tolist() == [["underdamped", "critical"],
                                           ["underdamped", "overdamped"]]
    assert v["damping_ratio"].dims == ("epoch", "layer")


def test_epoch_damping_uses_the_median_not_the_last_step():
    # a cosine-like decay inside the epoch: the last step's lr is ~0 (the bug of issue 10)
    lr = [0.04, 0.03, 0.02, 0.01, 1e-9]
    v = epoch_damping(_steps(lr, [0.9] * 5, [0] * 5))
    assert_allclose(v["lr"].values, [0.02])
    assert_allclose(v["network_damping_ratio"].values, [0.1 / (2 * np.sqrt(0.02))])


def test_epoch_damping_matches_brute_force():
    rng = np.random.default_rng(0)
    n, layers = 60, ["conv1", "fc"]
    epoch = np.repeat(np.arange(4), 15)
    lr = 10 ** rng.uniform(-4, -1, n)
    mu = rng.uniform(0.5, 0.99, n)
    lam = rng.uniform(0.1, 50, (4, 2))
    cos = rng.uniform(-1, 1, (n, 2))
    curv = xr.DataArray(lam, dims=("epoch", "layer"), coords={"epoch": np.arange(4),
                                                              "layer": layers})
    uc = xr.DataArray(cos, dims=("step", "layer"), coords={"layer": layers})
    v = epoch_damping(_steps(lr, mu, epoch), curvature=curv, update_cos=uc)
    for e in range(4):
        sel = epoch == e
        lr_e, mu_e = np.median(lr[sel]), np.median(mu[sel])
        assert_allclose(float(v["lr"][e]), lr_e)
        zeta = (1 - mu_e) / (2 * np.sqrt(lr_e))
        assert_allclose(float(v["network_damping_ratio"][e]), zeta)
        assert str(v["network_regime"].values[e]) == _brute_regime(zeta)
        for j, name in enumerate(layers):
            zl = (1 - mu_e) / (2 * np.sqrt(lr_e * lam[e, j]))
            assert_allclose(float(v["damping_ratio"].sel(epoch=e, layer=name)), zl)
            assert str(v["regime"].sel(epoch=e, layer=name).values) == _brute_regime(zl)
            c = cos[sel, j].mean()
            assert_allclose(float(v["update_cos_mean"].sel(epoch=e, layer=name)), c)
            h = lr_e * lam[e, j]
            assert_allclose(float(v["update_cos_expected"].sel(epoch=e, layer=name)),
                            mu_e - h / 2 if h < 2 * (1 + mu_e) else np.nan)
        # the epoch's answer: the regime of its stiffest group (largest curvature, one lr)
        j = int(np.argmax(lam[e]))
        zmin = (1 - mu_e) / (2 * np.sqrt(lr_e * lam[e, j]))
        assert str(v["epoch_regime"].values[e]) == _brute_regime(zmin)
        assert str(v["epoch_layer"].values[e]) == layers[j]
        assert_allclose(float(v["epoch_curvature"][e]), lam[e, j])
        assert damping_word(v, e) == _brute_regime(zmin)
    assert "agrees" not in v and "update_cos_regime" not in v  # the cosine is no verdict


def test_measured_verdict_is_the_one_word_everywhere():
    # two runs stacked along "run" (as CompareView does): words per run, epoch and layer
    zeta = xr.DataArray([[[0.5, 2.0], [1.02, 3.0]], [[np.nan, np.nan], [4.0, 1.5]]],
                        dims=("run", "epoch", "layer"),
                        coords={"run": ["a", "b"], "epoch": [0, 1], "layer": ["c", "f"]})
    ds = xr.Dataset({"damping_ratio": zeta, "curvature": 1.0 / zeta ** 2})
    v = measured_verdict(ds)
    for r in ("a", "b"):
        for e in (0, 1):
            z = zeta.sel(run=r, epoch=e).values
            assert v["word"].sel(run=r, epoch=e).values.tolist() == [_brute_regime(x)
                                                                     for x in z]
            want = _brute_regime(np.nanmin(z)) if np.isfinite(z).any() else "undefined"
            assert str(v["epoch_word"].sel(run=r, epoch=e).values) == want
    assert str(v["epoch_layer"].sel(run="b", epoch=0).values) == ""  # nothing measured
    assert str(v["epoch_layer"].sel(run="b", epoch=1).values) == "f"
    one = ds.sel(run="a")
    assert damping_word(one, 1, "c") == "critical" and damping_word(one, 1) == "critical"
    with pytest.raises(ValueError, match=r"analysed epochs: \[0, 1\]"):
        damping_word(one, 5)
    with pytest.raises(ValueError, match="'damping_ratio' and 'curvature'"):
        measured_verdict(ds[["curvature"]])


def test_expected_update_cos_is_the_noisy_heavy_ball():
    """The calibration: the mean update cosine of a simulated noisy heavy ball against
    mu - lr*lambda/2, in each regime; the regimes' values are too close to tell apart."""
    from workbench.theory import noisy_heavy_ball

    lr, mu = 0.02, 0.9
    for lam in (0.05, 0.125, 5.0, 60.0, 150.0):  # over, critical, under, deep under, cos < 0
        sim = noisy_heavy_ball(lr, mu, curvature=lam, noise=1.0, steps=60_000, seed=1)
        # one dimension: the cosine is the sign agreement of consecutive updates, whose
        # mean for a Gaussian pair of correlation rho is 1 - 2 acos(rho) / pi
        got = float(sim.update_cos.mean())
        rho = expected_update_cos(lr, mu, curvature=lam)
        assert_allclose(got, 1 - 2 * np.arccos(rho) / np.pi, atol=0.02)
    # a layer: many directions; the mean cosine is the noise-weighted mean of mu - h/2
    lam = np.r_[np.full(200, 0.01), np.full(20, 20.0)]
    sim = noisy_heavy_ball(lr, mu, curvature=lam, noise=1.0, steps=20_000, seed=2)
    w = 1 / (2 + 2 * mu - lr * lam)
    assert_allclose(float(sim.update_cos[1000:].mean()),
                    (w * expected_update_cos(lr, mu, curvature=lam)).sum() / w.sum(),
                    atol=0.01)
    # critical damping of the stiffest direction sits within (1-mu)^2/8 of mu: no verdict
    lam_c = ((1 - mu) / 2) ** 2 / lr
    assert damping_regime(lr, mu, curvature=lam_c) == "critical"
    assert_allclose(mu - expected_update_cos(lr, mu, curvature=lam_c), (1 - mu) ** 2 / 8)
    assert np.isnan(expected_update_cos(lr, mu, curvature=2 * (1 + mu) / lr))  # unstable


def test_epoch_damping_adam_and_errors_and_lazy():
    v = epoch_damping(_steps([0.001] * 2, [np.nan] * 2, [0, 0]))
    assert v["network_regime"].values.tolist() == ["undefined"]
    s = _steps([0.01] * 6, [0.9, 0.9, 0.8, 0.8, 0.0, 0.9], [0, 0, 1, 1, 2, 2])
    xr.testing.assert_allclose(epoch_damping(s.chunk({"step": 4})).compute(),
                               epoch_damping(s))
    with pytest.raises(ValueError, match="'lr' and 'momentum'.*got"):
        epoch_damping(s.drop_vars("momentum"))
    with pytest.raises(ValueError, match="epoch"):
        epoch_damping(s.drop_vars("epoch"))
    with pytest.raises(DimsError, match="layer"):
        epoch_damping(s, curvature=xr.DataArray([1.0], dims="epoch"))


def test_verdict_records_are_json_ready():
    import json

    curv = xr.DataArray([[4.0], [1.0]], dims=("epoch", "layer"), coords={"layer": ["a"]})
    v = epoch_damping(_steps([0.01] * 4, [0.9, 0.9, 0.8, np.nan], [0, 0, 1, 1]), curvature=curv)
    rec = verdict_records(v)
    assert [r["network_regime"] for r in rec["paper"]] == ["underdamped", "critical"]
    first = rec["layers"][0]
    assert_allclose(first.pop("damping_ratio"), 0.25)
    assert first == {"epoch": 0, "layer": "a", "curvature": 4.0, "regime": "underdamped"}
    assert [r["regime"] for r in rec["epochs"]] == ["underdamped", "critical"]
    assert rec["epochs"][0]["layer"] == "a"
    assert_allclose(rec["epochs"][1]["damping_ratio"], 1.0)  # the NaN step is skipped
    json.dumps(rec)
