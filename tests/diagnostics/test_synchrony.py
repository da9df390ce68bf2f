import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.synchrony import kuramoto_order, metastability, phases, synchrony
from workbench.dims import DimsError


def _kuramoto_phases(coupling, *, gamma=0.5, n=1500, dt=0.05, steps=3000, seed=0):
    """Euler integration of d theta_i/dt = w_i + (K/N) sum_j sin(theta_j - theta_i).

    Lorentzian frequencies of half-width gamma; returns phases (layer, step) of the last half.
    """
    rng = np.random.default_rng(seed)
    omega = gamma * np.tan(np.pi * (rng.random(n) - 0.5))
    theta = rng.uniform(-np.pi, np.pi, n)
    keep = []
    for t in range(steps):
        z = np.exp(1j * theta).mean()
        theta = theta + dt * (omega + coupling * np.abs(z) * np.sin(np.angle(z) - theta))
        if t >= steps // 2 and t % 10 == 0:
            keep.append(theta.copy())
    return xr.DataArray(np.array(keep).T, dims=("layer", "step"))


def test_identical_phases_give_one_and_uniform_spread_gives_zero():
    ph = xr.DataArray(np.tile(np.linspace(-3, 3, 7), (5, 1)), dims=("layer", "step"))
    assert_allclose(kuramoto_order(ph), 1.0, rtol=1e-12)
    spread = xr.DataArray(2 * np.pi * np.arange(8)[:, None] / 8 + np.linspace(0, 1, 4),
                          dims=("layer", "step"))
    assert_allclose(kuramoto_order(spread), 0.0, atol=1e-12)


def test_order_matches_plain_loop_and_keeps_other_dims():
    rng = np.random.default_rng(1)
    ph = xr.DataArray(rng.uniform(-np.pi, np.pi, (3, 5, 20)), dims=("seed", "layer", "step"))
    r = kuramoto_order(ph)
    assert r.dims == ("seed", "step")
    for s in range(3):
        for t in range(20):
            ref = abs(sum(np.exp(1j * ph.values[s, l, t]) for l in range(5)) / 5)
            assert_allclose(float(r[s, t]), ref, rtol=1e-12)
    assert float(r.min()) >= 0 and float(r.max()) <= 1


@pytest.mark.parametrize("coupling", [1.5, 2.0, 3.0])
def test_simulated_kuramoto_above_threshold(coupling):
    gamma = 0.5
    r = float(kuramoto_order(_kuramoto_phases(coupling, gamma=gamma)).mean())
    assert abs(r - np.sqrt(1 - 2 * gamma / coupling)) < 0.06


def test_simulated_kuramoto_below_threshold_is_incoherent():
    r = float(kuramoto_order(_kuramoto_phases(0.5, gamma=0.5)).mean())
    assert r < 0.1


def test_phases_of_sinusoids_recover_their_phase():
    t = np.arange(1000)
    true = 2 * np.pi * t / 50 + np.array([0.0, 1.0])[:, None]
    x = xr.DataArray(np.cos(true), dims=("layer", "step"))
    ph = phases(x, detrend="none")
    err = np.angle(np.exp(1j * (ph.values - true)))
    assert np.abs(err).max() < 1e-6
    assert ph.attrs["units"] == "rad" and ph.dims == ("layer", "step")


def test_band_pass_isolates_the_slow_rhythm():
    t = np.arange(2000)
    slow = 2 * np.pi * t / 50
    x = xr.DataArray(np.cos(slow) + 2 * np.cos(2 * np.pi * t / 5) + 0.01 * t, dims="step")
    err_band = np.angle(np.exp(1j * (phases(x, band=(0.01, 0.04)).values - slow)))[200:-200]
    err_raw = np.angle(np.exp(1j * (phases(x).values - slow)))[200:-200]
    assert np.abs(err_band).max() < 0.1
    assert np.abs(err_raw).max() > 0.5


def test_metastability_zero_for_locked_and_analytic_for_two_drifting_groups():
    t = np.arange(4000)
    offsets = np.array([0.0, 0.3, -0.2, 0.5])[:, None]
    locked = xr.DataArray(np.sin(2 * np.pi * t / 40 + offsets), dims=("layer", "step"))
    assert float(metastability(locked, detrend="none")) < 1e-6
    assert float(metastability(locked)) < 0.02
    # two groups at frequencies 1/40 and 1/50: R(t) = |cos(pi (1/40 - 1/50) t)|
    freqs = np.array([1 / 40, 1 / 40, 1 / 50, 1 / 50])[:, None]
    drifting = xr.DataArray(np.sin(2 * np.pi * freqs * t), dims=("layer", "step"))
    assert_allclose(float(metastability(drifting)), np.sqrt(0.5 - 4 / np.pi**2), atol=0.02)
    assert_allclose(float(synchrony(drifting)), 2 / np.pi, atol=0.02)
    assert_allclose(float(synchrony(locked)), float(kuramoto_order(
        xr.DataArray(offsets[:, 0], dims="layer"))), atol=0.02)


@pytest.mark.parametrize("call, message", [
    (lambda x: kuramoto_order(x, dim="unit"), "kuramoto_order() needs a 'unit' dim"),
    (lambda x: metastability(x, channel_dim="channel"), "metastability() needs a 'channel'"),
    (lambda x: synchrony(x.isel(layer=[0])), "synchrony() needs a 'layer' dim with at least 2"),
    (lambda x: phases(x, dim="epoch"), "phases() needs a 'epoch' dim"),
])
def test_bad_dims_name_expected_and_found(call, message):
    x = xr.DataArray(np.zeros((3, 32)), dims=("layer", "step"))
    with pytest.raises(DimsError) as err:
        call(x)
    assert message in str(err.value) and "got dims ('layer', 'step')" in str(err.value)


def test_bad_options():
    x = xr.DataArray(np.zeros((3, 32)), dims=("layer", "step"))
    with pytest.raises(ValueError, match="expected one of: linear, constant, none"):
        phases(x, detrend="quadratic")
    with pytest.raises(ValueError, match="0 < lo < hi < 0.5"):
        phases(x, band=(0.2, 0.6))


@pytest.mark.parametrize("n", [101, 128])
def test_numpy_detrend_and_hilbert_equal_scipy(n):
    from scipy import signal

    from workbench.diagnostics.synchrony import _analytic, _detrend

    x = np.random.default_rng(n).normal(size=(3, n)).cumsum(-1)
    for kind in ("linear", "constant"):
        np.testing.assert_allclose(_detrend(x, kind), signal.detrend(x, type=kind), atol=1e-10)
    np.testing.assert_allclose(_analytic(x), signal.hilbert(x), atol=1e-10)


def test_kuramoto_order_over_many_lazy_chunks_equals_eager():
    """The running sum over chunks of the channel dim (kept bounded in memory) is the mean."""
    rng = np.random.default_rng(3)
    ph = xr.DataArray(rng.uniform(-np.pi, np.pi, (7, 50)), dims=("layer", "step"))
    ph[2, 5] = np.nan  # skipped, like the eager mean
    lazy = kuramoto_order(ph.chunk({"layer": 2}))
    assert lazy.chunks is not None
    assert_allclose(lazy.compute().values, kuramoto_order(ph).values, rtol=1e-12)
    brute = np.abs(np.nanmean(np.exp(1j * ph.values), axis=0))
    assert_allclose(lazy.compute().values, brute, rtol=1e-12)
