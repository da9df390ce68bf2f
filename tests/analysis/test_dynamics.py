"""The ``dynamics`` analysis against the diagnostics applied by hand, numpy and analytic cases."""

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose
from scipy import signal as sps

from workbench import Run
from workbench.analysis import dynamics as dyn
from workbench.diagnostics import (
    dfa,
    early_convergence_lead,
    integration,
    metastability,
    stability,
    synchrony,
)
from workbench.diagnostics.dfa import default_scales
from workbench.record.store import signals


@pytest.fixture(scope="module")
def run(tiny_run):
    return Run(tiny_run)


@pytest.fixture(scope="module")
def last(run):
    return dyn.dynamics(run, run.epochs[-1])


def _window_by_hand(run, epoch):
    """Signals up to the epoch's last step, from /steps' epoch coord, in plain numpy."""
    steps = run.tree["steps"]
    end = int(steps.step.values[steps.epoch.values == epoch].max())
    sig = signals(run.tree).load()
    return sig.sel(step=sig.step <= end).transpose("step", "layer")


def test_window_ends_at_the_epoch_and_is_padded(run, last):
    x = _window_by_hand(run, run.epochs[-1])
    n = x.sizes["step"]
    assert int(last.n_points) == n == 94  # every step of 2 epochs of 47 steps
    assert last.R.sizes["t"] == dyn.SETTINGS.window
    assert np.array_equal(last.signal_step.values[:n], x.step.values)
    assert (last.signal_step.values[n:] == -1).all() and np.isnan(last.R.values[n:]).all()


def test_dfa_and_integration_equal_the_diagnostics_on_that_window(run, last):
    x = _window_by_hand(run, run.epochs[-1])
    grid = default_scales(dyn.SETTINGS.window)
    used = grid[grid <= x.sizes["step"] // 4]
    ref = dfa(x, dim="step", scales=used, return_fluctuation=True)
    assert_allclose(last.dfa.sel(layer=ref.layer).values, ref.exponent.values, rtol=1e-12)
    assert_allclose(last.fluctuation.sel(scale=used).values, ref.fluctuation.values, rtol=1e-12)
    assert np.isnan(last.fluctuation.sel(scale=grid[grid > used.max()]).values).all()
    assert_allclose(float(last.integration), float(integration(x, scales=used)), rtol=1e-12)
    # brute force: the intercept and slope of a least-squares line through log F vs log n
    for layer in x.layer.values:
        slope, icpt = np.polyfit(np.log(used), np.log(ref.fluctuation.sel(layer=layer)), 1)
        assert_allclose(float(last.dfa.sel(layer=layer)), slope, rtol=1e-10)
        assert_allclose(float(last.dfa_intercept.sel(layer=layer)), icpt, rtol=1e-10)


def test_kuramoto_r_matches_numpy_hilbert_and_the_diagnostics(run, last):
    x = _window_by_hand(run, run.epochs[-1])
    n = x.sizes["step"]
    ph = np.angle(sps.hilbert(sps.detrend(x.values, axis=0, type="linear"), axis=0))
    r = np.abs(np.exp(1j * ph).mean(axis=1))
    assert_allclose(last.R.values[:n], r, rtol=1e-10)
    assert_allclose(float(last.synchrony), float(synchrony(x)), rtol=1e-12)
    assert_allclose(float(last.metastability), float(metastability(x)), rtol=1e-12)
    assert_allclose(float(last.metastability), r.std(), rtol=1e-10)


def test_stability_volatility_and_marker_equal_the_diagnostics(run, last):
    s = dyn.SETTINGS
    x = _window_by_hand(run, run.epochs[-1])
    n = x.sizes["step"]
    h = x.isel(step=slice((n - s.stability_window) % s.stride, None))
    st = stability(h, window=s.stability_window, stride=s.stride,
                   volatility_window=s.volatility_window)
    assert int(st.step[-1]) == int(x.step[-1])  # the last window ends at the epoch's end
    assert_allclose(float(last.stability), float(st.stability[-1]), rtol=1e-12)
    assert_allclose(float(last.volatility), float(st.volatility[-1]), rtol=1e-12)
    assert np.isfinite(float(last.volatility))
    spe = int(run.tree.attrs["steps_per_epoch"])
    v = st.volatility.assign_coords(epoch=("step", (st.step.values + 1) / spe))
    v = v.swap_dims(step="epoch").drop_vars("step")
    acc = run.tree["epochs"]["test_acc"].load()
    acc = acc.assign_coords(epoch=acc.epoch.values + 1.0)
    want = float(early_convergence_lead(v, acc).volatility_settled)
    got = float(last.early_convergence_epoch)
    assert (np.isnan(want) and np.isnan(got)) or got == want


def test_too_few_points_give_nan_with_the_reason(run):
    first = dyn.dynamics(run, run.epochs[0])  # 47 points: below DFA's 64
    assert int(first.n_points) == 47
    assert np.isnan(first.dfa.values).all() and np.isnan(float(first.integration))
    assert "fewer than 64" in first.dfa.attrs["nan_when"] and int(first.n_history) == 47
    assert "fewer than 64" in first.stability.attrs["nan_when"]
    assert np.isnan(float(first.stability)) and np.isnan(float(first.early_convergence_epoch))
    x = _window_by_hand(run, run.epochs[0])
    assert_allclose(float(first.synchrony), float(synchrony(x)), rtol=1e-12)


def test_too_few_points_names_each_nan_with_its_counts(run, last):
    first = dyn.dynamics(run, run.epochs[0])            # 47 points, 47 of history
    s = dyn.SETTINGS
    vol = s.stability_window + (s.volatility_window - 1) * s.stride
    assert dyn.too_few_points(first) == {
        "dfa": "too few signal points: 47 of 64",
        "integration": "too few signal points: 47 of 64",
        "stability": f"too few points of signal history: 47 of {s.stability_window}",
        "volatility": f"too few points of signal history: 47 of {vol}"}
    assert dyn.too_few_points(last) == {}                # 94 points: every quantity finite
    # the counts are counted from the window when a store lacks n_points
    no_counts = first.drop_vars(["n_points", "n_history"])
    assert dyn.too_few_points(no_counts) == {k: v for k, v in dyn.too_few_points(first).items()
                                             if "history" not in v}


def test_dfa_from_code_on_the_window_with_window_scales_is_the_stored_one(run, last):
    """What notebook 04 shows: the stored exponent, and why the whole run's differs."""
    epoch = run.epochs[-1]
    window = dyn.signal_window(run.tree, epoch, length=dyn.SETTINGS.window)
    n = window.sizes["step"]
    grid = default_scales(dyn.SETTINGS.window)
    assert dyn.window_scales(n).tolist() == grid[grid <= n // 4].tolist()
    here = dfa(window, scales=dyn.window_scales(n))
    assert_allclose(here.sel(layer=last.layer).values, last.dfa.values, rtol=1e-12)
    assert_allclose(float(metastability(window)), float(last.metastability), rtol=1e-12)
    # dfa's own default sizes stop at n // 10 (here 16 < 23): another fit
    assert default_scales(n).max() < dyn.window_scales(n).max()


def _layers(data):
    return xr.DataArray(data, dims=("step", "layer"),
                        coords={"step": np.arange(data.shape[0]),
                                "layer": [f"l{i}" for i in range(data.shape[1])]})


def test_analytic_phase_locked_layers_and_known_dfa_exponents():
    t = np.arange(512)
    wave = np.sin(2 * np.pi * t / 32)
    locked = _layers(np.stack([wave, 2 * wave, 0.5 * wave], 1))
    acc = xr.DataArray([0.5], dims="epoch", coords={"epoch": [0]})
    ds = dyn.dynamics_of(locked, locked, acc, steps_per_epoch=512)
    inner = ds.R.values[32:480]  # away from the Hilbert edges
    assert_allclose(inner, 1.0, atol=1e-9)  # identical phases: R = 1
    rng = np.random.default_rng(0)
    noise = _layers(rng.normal(size=(512, 3)))
    walk = _layers(np.cumsum(rng.normal(size=(512, 3)), 0))
    white = dyn.dynamics_of(noise, noise, acc, steps_per_epoch=512)
    brown = dyn.dynamics_of(walk, walk, acc, steps_per_epoch=512)
    assert_allclose(white.dfa.values, 0.5, atol=0.15)  # white noise: alpha = 0.5
    assert_allclose(brown.dfa.values, 1.5, atol=0.2)   # random walk: alpha = 1.5


def test_window_slides_when_full(run):
    small = dyn.DynamicsSettings(window=64)
    x = _window_by_hand(run, run.epochs[-1])
    win = dyn.signal_window(run.tree, run.epochs[-1], length=small.window)
    assert np.array_equal(win.step.values, x.step.values[-64:])
    acc = run.tree["epochs"]["test_acc"].load()
    ds = dyn.dynamics_of(win, x, acc, steps_per_epoch=47, settings=small)
    assert ds.R.sizes["t"] == 64 and np.isfinite(ds.R.values).all()
    assert ds.attrs["setting_window"] == 64


def test_a_layer_without_signal_is_left_out_and_the_rest_unchanged():
    """A group with no module of its own (a bare parameter, as a transformer's positional
    embedding) records no signal: its values are NaN and the others are those computed
    without it."""
    import numpy as np
    import xarray as xr

    from workbench.analysis.dynamics import dynamics_of

    rng = np.random.default_rng(0)
    x = xr.DataArray(rng.normal(size=(200, 3)), dims=("step", "layer"),
                     coords={"step": np.arange(200), "layer": ["a", "b", "c"]})
    with_nan = x.copy()
    with_nan.loc[{"layer": "b"}] = np.nan
    acc = xr.DataArray([0.5, 0.6], dims="epoch", coords={"epoch": [0, 1]})
    got = dynamics_of(with_nan, with_nan, acc, steps_per_epoch=100)
    ref = dynamics_of(x.sel(layer=["a", "c"]), x.sel(layer=["a", "c"]), acc,
                      steps_per_epoch=100)
    assert list(got.layer.values) == ["a", "b", "c"]
    assert np.isnan(float(got.dfa.sel(layer="b")))
    xr.testing.assert_allclose(got.dfa.sel(layer=["a", "c"]), ref.dfa)
    assert float(got.synchrony) == float(ref.synchrony)
    assert "b" in got.attrs["layers_left_out"]
