import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench.diagnostics.separation import linear_law_deviation, load, load_curve
from workbench.theory.spring_block import (
    chain_fuzziness,
    chain_load_curve,
    spring_block_chain,
    spring_block_steady_state,
)


def test_frictionless_chain_stretches_every_spring_equally():
    ds = spring_block_chain(6, friction=0.0, noise=0.0, load=2.0, stiffness=4.0,
                            steps=4000, dt=0.05)
    assert_allclose(ds.extension_mean, 2.0 / 4.0, rtol=1e-6)
    assert_allclose(ds.position_mean, 0.5 * np.arange(1, 7), rtol=1e-6)
    d = np.exp(-ds.position_mean)  # positions play -log D
    assert_allclose(load(d), 0.5, rtol=1e-6)
    assert_allclose(load_curve(d), np.arange(6) / 5, atol=1e-6)


@pytest.mark.parametrize("friction", [0.05, 0.15, [0.3, 0.0, 0.1, 0.2, 0.05, 0.1]])
def test_friction_matches_analytic_rest_state(friction):
    ds = spring_block_chain(6, friction=friction, noise=0.0, load=1.0, steps=6000, dt=0.1)
    expected = spring_block_steady_state(6, friction=friction, load=1.0)
    assert_allclose(ds.extension.isel(step=-1), expected, atol=1e-4)


def test_analytic_rest_state_by_hand():
    # L = 5, F = 1, mu = 0.3: tensions 0.7, 0.4, 0.1 at the pulled end, then 0
    assert_allclose(spring_block_steady_state(5, friction=0.3, load=1.0, stiffness=2.0),
                    [0, 0, 0.05, 0.2, 0.35], atol=1e-12)


def test_friction_concentrates_load_at_the_pulled_end_and_noise_evens_it():
    stuck = spring_block_chain(8, friction=0.1, noise=0.0, steps=6000, dt=0.1)
    ext = stuck.extension_mean.values
    assert np.all(np.diff(ext) > 0)  # deeper blocks carry more
    lubricated = spring_block_chain(8, friction=0.1, noise=1.0, steps=20000, dt=0.05, seed=1)
    dev_stuck = float(linear_law_deviation(np.exp(-stuck.position_mean)))
    dev_lub = float(linear_law_deviation(np.exp(-lubricated.position_mean)))
    assert dev_stuck > 0.05
    assert dev_lub < dev_stuck / 5
    assert_allclose(lubricated.extension_mean, 1.0, atol=0.1)


def test_seeded_noise_is_reproducible():
    a = spring_block_chain(4, friction=0.1, noise=0.5, steps=500, seed=3)
    b = spring_block_chain(4, friction=0.1, noise=0.5, steps=500, seed=3)
    c = spring_block_chain(4, friction=0.1, noise=0.5, steps=500, seed=4)
    assert_allclose(a.position, b.position, rtol=0)
    assert not np.allclose(a.position, c.position)
    assert a.position.dims == ("step", "layer") and a.sizes["step"] == 5


def _plain_chain(n, friction, noise, load, steps, dt, seed, replicas):
    """Brute force: scalar loops over replicas and blocks, the force of each block by hand."""
    rng = np.random.default_rng(seed)
    x = np.zeros((replicas, n))
    for _ in range(steps):
        push = rng.standard_normal((replicas, n)) * noise if noise else np.zeros((replicas, n))
        new = x.copy()
        for r in range(replicas):
            for b in range(n):
                left = x[r, b - 1] if b > 0 else 0.0
                tension_here = x[r, b] - left
                tension_next = x[r, b + 1] - x[r, b] if b < n - 1 else load
                f = tension_next - tension_here + push[r, b]
                new[r, b] = x[r, b] + dt * np.sign(f) * max(abs(f) - friction, 0.0)
        x = new
    return x


@pytest.mark.parametrize(("noise", "replicas"), [(0.0, 1), (0.4, 1), (0.4, 3)])
def test_vectorised_chain_matches_the_plain_loop(noise, replicas):
    ds = spring_block_chain(4, friction=0.1, noise=noise, load=1.0, steps=300, dt=0.1, seed=7,
                            record_every=300, replicas=replicas)
    ref = _plain_chain(4, 0.1, noise, 1.0, 300, 0.1, 7, replicas)
    assert_allclose(ds.position.isel(step=-1), ref.mean(axis=0), atol=1e-12)


def test_chain_load_curve_includes_the_wall_as_the_input():
    ds = spring_block_chain(5, friction=0.0, steps=3000, dt=0.1)
    curve = chain_load_curve(ds)
    assert curve.layer.values.tolist() == [0, 1, 2, 3, 4, 5]
    assert_allclose(curve, np.arange(6) / 5, atol=1e-6)
    assert_allclose(chain_fuzziness(ds).isel(layer=0), 1.0)
    assert_allclose(load(chain_fuzziness(ds)), ds.extension_mean, rtol=1e-12)


@pytest.mark.parametrize("n_blocks, friction, load", [(5, 0.1, 1.0), (8, 0.02, 0.5)])
def test_deviation_of_the_rest_state_equals_its_closed_form(n_blocks, friction, load):
    """Rest extensions e_l = F - (L - l + 1) mu are linear in l (every block moves when
    mu <= F / L), so positions s_l = sum e depart from the line s_L l / L by mu l (l - L) / 2:
    Delta = (mu / 2) sqrt(sum_l l^2 (L - l)^2 / (L + 1)) / s_L, sum_l l^2 (L-l)^2 = (L^5-L)/30,
    s_L = L F - mu L (L + 1) / 2."""
    big_l = n_blocks
    rest = spring_block_steady_state(big_l, friction=friction, load=load)
    dev = float(linear_law_deviation(chain_fuzziness(rest.cumsum("layer"))))
    s_end = big_l * load - friction * big_l * (big_l + 1) / 2
    want = friction / 2 * np.sqrt((big_l**5 - big_l) / 30 / (big_l + 1)) / s_end
    assert_allclose(dev, want, rtol=1e-12)
    no_friction = spring_block_steady_state(big_l, friction=0.0, load=load)
    assert_allclose(float(linear_law_deviation(
        chain_fuzziness(no_friction.cumsum("layer")))), 0.0, atol=1e-12)


def test_deviation_of_a_barely_moving_chain_is_finite_and_stable():
    """Friction just below F / 1: only the pulled block moves, by 1e-9 or 2e-9 (a nearly
    flat curve): the deviation is that of the curve 0, ..., 0, 1 either way."""
    devs = []
    for excess in (1e-9, 2e-9):
        rest = spring_block_steady_state(5, friction=0.3, load=0.3 + excess)
        devs.append(float(linear_law_deviation(chain_fuzziness(rest.cumsum("layer")))))
    step = np.r_[np.zeros(5), 1.0]
    want = np.sqrt(np.mean((step - np.linspace(0, 1, 6)) ** 2))
    assert_allclose(devs, want, rtol=1e-5)
