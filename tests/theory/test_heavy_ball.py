import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench.diagnostics.damping import critical_momentum, damping_ratio, damping_regime
from workbench.theory.heavy_ball import characteristic_roots, heavy_ball

GRID = [(lr, mu, lam) for lr, mu, lam in itertools.product(
    [0.001, 0.01, 0.05, 0.2], [0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99], [0.1, 1.0, 4.0])
    if lr * lam < 1.0]


def _closed_form(lr, mu, lam, steps):
    """theta_t = c1 r1^t + c2 r2^t (or (c1 + c2 t) r^t at a double root), theta_0=1, v_0=0."""
    r1, r2 = np.roots([1.0, -(1.0 + mu - lr * lam), mu]).astype(complex)
    t = np.arange(steps + 1)
    theta1 = 1.0 - lr * lam
    if abs(r1 - r2) < 1e-7:
        r = (r1 + r2) / 2
        c2 = theta1 / r - 1.0
        return ((1.0 + c2 * t) * r ** t).real
    c1 = (theta1 - r2) / (r1 - r2)
    return (c1 * r1 ** t + (1.0 - c1) * r2 ** t).real


@pytest.mark.parametrize(("lr", "mu", "lam"), GRID[::3] + [(0.01, 0.81, 1.0), (0.04, 0.64, 1.0)])
def test_trajectory_is_the_closed_form_of_the_characteristic_roots(lr, mu, lam):
    ds = heavy_ball(lr, mu, curvature=lam, steps=200)
    assert_allclose(ds.theta.sel(dim=0), _closed_form(lr, mu, lam, 200), atol=1e-9)
    assert_allclose(ds.loss, 0.5 * lam * ds.theta.sel(dim=0) ** 2, rtol=1e-12)


def test_roots_match_numpy_roots():
    for lr, mu, lam in GRID:
        ref = np.roots([1.0, -(1.0 + mu - lr * lam), mu]).astype(complex)
        got = characteristic_roots(lr, mu, lam)
        assert_allclose(sorted(got, key=lambda z: (z.real, z.imag)),
                        sorted(ref, key=lambda z: (z.real, z.imag)), atol=1e-7)


def _sign_changes(x):
    x = x[np.abs(x) > 1e-250]
    return int(np.sum(np.sign(x[1:]) != np.sign(x[:-1])))


def test_exact_regimes_are_the_roots_of_the_characteristic_equation():
    seen = set()
    for lr, mu, lam in GRID:
        ds = heavy_ball(lr, mu, curvature=lam, steps=4000, exact=True)
        regime = str(ds.regime.sel(dim=0).values)
        r = characteristic_roots(lr, mu, lam)
        disc = (1.0 + mu - lr * lam) ** 2 - 4.0 * mu
        theta = ds.theta.sel(dim=0).values
        seen.add(regime)
        if regime == "overdamped":
            assert disc > 0 and np.all(r.real >= 0) and np.all(r.imag == 0), (lr, mu, lam)
            assert _sign_changes(theta) == 0
        elif regime == "underdamped":
            assert disc < 0 or np.any(r.real < 0), (lr, mu, lam)
            assert _sign_changes(theta) >= 1
    assert seen >= {"overdamped", "underdamped"}


def test_exact_critical_momentum_is_the_double_root():
    for lr, lam in [(0.01, 1.0), (0.05, 0.5), (0.1, 2.0)]:
        mu = critical_momentum(lr, curvature=lam, exact=True)
        ds = heavy_ball(lr, mu, curvature=lam, steps=10, exact=True)
        assert str(ds.regime.values[0]) == "critical"
        assert_allclose(float(ds.damping_ratio[0]), 1.0, rtol=1e-9)
        r = characteristic_roots(lr, mu, lam)
        assert_allclose(r[0], r[1], atol=1e-7)
        assert_allclose(float(ds.critical_momentum[0]), mu, rtol=1e-12)


def test_first_order_regime_overdamped_means_real_roots_and_names_the_gap():
    gap = 0
    for lr, mu, lam in GRID:
        regime = damping_regime(lr, mu, curvature=lam)
        disc = (1.0 + mu - lr * lam) ** 2 - 4.0 * mu
        if regime == "overdamped":
            assert disc > 0
        if regime == "underdamped" and disc >= 0:  # the documented first-order gap
            gap += 1
            assert damping_ratio(lr, mu, curvature=lam) > 1 - np.sqrt(lr * lam) / 2 - 0.05
    assert gap > 0


def test_dataset_uses_the_damping_diagnostics_per_dim():
    ds = heavy_ball(0.02, 0.85, curvature=[3.0, 0.3], steps=5)
    for d, lam in enumerate([3.0, 0.3]):
        assert float(ds.damping_ratio[d]) == damping_ratio(0.02, 0.85, curvature=lam)
        assert str(ds.regime.values[d]) == damping_regime(0.02, 0.85, curvature=lam)
    assert ds.attrs["physics_momentum"] == pytest.approx(1 - 2 * np.sqrt(0.02))
    assert ds.theta.dims == ("step", "dim") and ds.sizes["step"] == 6
    # coordinates are independent: each equals the 1-D run with its own curvature
    one = heavy_ball(0.02, 0.85, curvature=0.3, start=[-2.0], steps=5)
    two = heavy_ball(0.02, 0.85, curvature=[3.0, 0.3], start=[1.0, -2.0], steps=5)
    assert_allclose(two.theta.sel(dim=1), one.theta.sel(dim=0), rtol=1e-14)


def test_divergence_flag():
    assert heavy_ball(0.5, 0.5, curvature=10.0, steps=20).attrs["diverges"] == 1
    assert heavy_ball(0.01, 0.5, curvature=10.0, steps=20).attrs["diverges"] == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": 0.0, "momentum": 0.5}, "lr > 0"),
    ({"lr": 0.1, "momentum": 1.0}, "momentum < 1"),
    ({"lr": 0.1, "momentum": 0.5, "curvature": [1.0, -1.0]}, "positive curvature"),
    ({"lr": 0.1, "momentum": 0.5, "curvature": [1.0, 2.0], "start": [1.0]}, "one start value"),
])
def test_bad_input_names_expected_and_found(kwargs, message):
    with pytest.raises(ValueError, match=message):
        heavy_ball(**kwargs)
