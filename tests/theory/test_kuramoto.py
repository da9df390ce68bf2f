import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.synchrony import kuramoto_order, metastability
from workbench.theory.kuramoto import kuramoto, kuramoto_theory, lorentzian_frequencies


def _pairwise(omega, theta0, coupling, dt, steps):
    """Brute force: Euler on d theta_i/dt = w_i + K/N sum_j sin(theta_j - theta_i), O(N^2)."""
    theta = theta0.copy()
    out = []
    for _ in range(steps):
        diff = theta[None, :] - theta[:, None]          # [i, j] = theta_j - theta_i
        theta = theta + dt * (omega + coupling * np.sin(diff).mean(axis=1))
        out.append(theta.copy())
    return np.array(out)


def test_matches_the_pairwise_sum_brute_force():
    n, k, g, dt, steps, carrier = 24, 1.7, 0.3, 0.05, 300, 0.8
    ds = kuramoto(n, coupling=k, gamma=g, steps=steps, dt=dt, carrier=carrier, seed=5)
    theta0 = np.random.default_rng(5).uniform(-np.pi, np.pi, n)
    ref = _pairwise(lorentzian_frequencies(n, g) + carrier, theta0, k, dt, steps)
    err = np.angle(np.exp(1j * (ds.phase.values - ref)))
    assert np.abs(err).max() < 2e-3          # the sines are float32
    r_ref = np.abs(np.exp(1j * ref).mean(axis=1))
    assert_allclose(ds.R, r_ref, atol=1e-4)
    assert_allclose(ds.R, kuramoto_order(ds.phase, dim="oscillator"), rtol=1e-12)


@pytest.mark.parametrize("coupling", [1.5, 2.0, 4.0])
def test_stationary_R_follows_the_kuramoto_theory(coupling):
    gamma = 0.5
    ds = kuramoto(200, coupling=coupling, gamma=gamma, steps=2000, record_every=2)
    theory = np.sqrt(1 - 2 * gamma / coupling)
    assert float(ds.R_theory) == pytest.approx(theory)
    assert abs(float(ds.R_mean) - theory) < 0.03


def test_below_critical_coupling_the_population_is_incoherent():
    n = 400
    ds = kuramoto(n, coupling=0.5, gamma=0.5, steps=2000, record_every=2)
    assert float(ds.R_theory) == 0.0
    assert float(ds.R_mean) < 2 / np.sqrt(n)


def test_identical_oscillators_lock_to_R_one():
    ds = kuramoto(50, coupling=2.0, gamma=1e-6, steps=2000, record_every=4)
    assert float(ds.R[-1]) > 0.999
    assert float(ds.metastability) < 0.01


@pytest.mark.parametrize("coupling", [1.2, 3.0])
def test_metastability_from_hilbert_phases_matches_the_true_R(coupling):
    ds = kuramoto(200, coupling=coupling, gamma=0.5, steps=2000, record_every=2)
    late = ds.R.isel(step=slice(ds.sizes["step"] // 2, None))
    assert abs(float(ds.metastability) - float(late.std())) < 0.01
    signal = ds.signal.dropna("step")
    same = metastability(signal, channel_dim="oscillator", dim="step", detrend="constant")
    assert float(ds.metastability) == float(same)


def test_theory_curve():
    k = np.array([0.0, 0.5, 1.0, 2.0, 8.0])
    assert_allclose(kuramoto_theory(k, 0.5), [0, 0, 0, np.sqrt(0.5), np.sqrt(1 - 1 / 8)])
    q = lorentzian_frequencies(10_000, 0.7)
    assert_allclose(np.median(q), 0.0, atol=1e-9)
    assert_allclose(np.percentile(q, 75) - np.percentile(q, 25), 2 * 0.7, rtol=1e-3)


def test_dims_and_bad_input():
    ds = kuramoto(10, steps=80, record_every=2)
    assert ds.phase.dims == ("step", "oscillator") and ds.sizes["step"] == 40
    assert isinstance(ds.R, xr.DataArray) and ds.R.dims == ("step",)
    assert float(ds.phase.min()) > -np.pi - 1e-12 and float(ds.phase.max()) <= np.pi + 1e-12
    with pytest.raises(ValueError, match="gamma > 0"):
        kuramoto(10, gamma=0.0)
    with pytest.raises(ValueError, match="kind in"):
        lorentzian_frequencies(10, 1.0, kind="gauss")
    with pytest.raises(ValueError, match="at least 16 recorded points after average_from"):
        kuramoto(10, steps=40, record_every=2)
