import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.dfa import dfa
from workbench.diagnostics.stability import (
    collective_signal,
    early_convergence_lead,
    integration,
    stability,
)
from workbench.diagnostics.synchrony import kuramoto_order, phases
from workbench.dims import DimsError


def _signals(seed=0, layers=3, steps=600):
    rng = np.random.default_rng(seed)
    common = np.cumsum(rng.normal(size=steps))
    x = common * rng.uniform(0.5, 2, (layers, 1)) + 3 * rng.normal(size=(layers, steps))
    x = x + 5 * np.arange(layers)[:, None]
    return xr.DataArray(x, dims=("layer", "step"), coords={"step": np.arange(steps) * 10})


def test_collective_signal_matches_plain_numpy():
    x = _signals()
    a = x.values
    ref = np.mean([(row - row.mean()) / row.std() for row in a], axis=0)
    assert_allclose(collective_signal(x).values, ref, rtol=1e-12)
    flat = x.copy()
    flat[0] = 7.0  # a constant layer contributes 0, not NaN
    ref_flat = np.mean([np.zeros(a.shape[1])]
                       + [(row - row.mean()) / row.std() for row in a[1:]], axis=0)
    assert_allclose(collective_signal(flat).values, ref_flat, rtol=1e-12)


@pytest.mark.parametrize("kind, expected", [("white", 0.5), ("brown", 1.5)])
def test_integration_of_a_shared_signal(kind, expected):
    rng = np.random.default_rng(3)
    s = rng.normal(size=8192)
    s = np.cumsum(s) if kind == "brown" else s
    x = xr.DataArray(np.stack([s, 2 * s + 1, 0.5 * s - 3]), dims=("layer", "step"))
    got = float(integration(x))
    assert_allclose(got, float(dfa(xr.DataArray(s, dims="step"))), rtol=1e-9)
    assert abs(got - expected) < 0.05


def test_stability_matches_plain_loop_reference():
    x = _signals(seed=1)
    w, stride, vw = 128, 40, 3
    ds = stability(x, window=w, stride=stride, volatility_window=vw)
    coll = collective_signal(x).values
    r = kuramoto_order(phases(x)).values
    ends = list(range(w - 1, x.sizes["step"], stride))
    integ, meta = [], []
    for e in ends:
        integ.append(float(dfa(xr.DataArray(coll[e - w + 1:e + 1], dims="step"))))
        meta.append(np.std(r[e - w + 1:e + 1]))
    integ, meta = np.array(integ), np.array(meta)
    s = integ * (1 - meta)
    vol = [np.nan] * (vw - 1) + [np.std(s[i - vw + 1:i + 1]) for i in range(vw - 1, len(s))]
    assert_allclose(ds.integration.values, integ, rtol=1e-10)
    assert_allclose(ds.metastability.values, meta, rtol=1e-10)
    assert_allclose(ds.stability.values, s, rtol=1e-10)
    assert_allclose(ds.volatility.values, vol, rtol=1e-8)
    assert ds.step.values.tolist() == [10 * e for e in ends]  # labelled by window end


def test_stability_keeps_other_dims():
    x = xr.concat([_signals(seed=s) for s in range(2)], dim="seed")
    ds = stability(x, window=100, stride=50)
    assert ds.stability.dims == ("seed", "step")
    one = stability(x.isel(seed=1), window=100, stride=50)
    assert_allclose(ds.stability.isel(seed=1), one.stability, rtol=1e-12)


def test_stability_refuses_bad_windows():
    x = _signals()
    with pytest.raises(ValueError, match="window >= 64"):
        stability(x, window=32)
    with pytest.raises(DimsError, match="'step' dim with at least 1000 points; got dims"):
        stability(x, window=1000)


def _da(values, coords, dim="epoch"):
    return xr.DataArray(np.asarray(values, float), dims=dim,
                        coords={dim: np.asarray(coords, float)})


@pytest.mark.parametrize("vol, acc, frac, band, expected", [
    # volatility under half its peak from epoch 2; accuracy within 0.01 of final from 5
    ([4, 3, 1, .5, .4, .3, .3, .2, .2, .2], [.5, .7, .8, .85, .88, .905, .91, .91, .91, .91],
     0.5, 0.01, (3.0, 2.0, 5.0)),
    # a late spike above the threshold moves the volatility rule ("and stays")
    ([4, 3, 1, .5, 3, .3, .3, .2, .2, .2], [.5, .7, .8, .85, .88, .905, .91, .91, .91, .91],
     0.5, 0.01, (0.0, 5.0, 5.0)),
    # wider band: accuracy settles earlier
    ([4, 3, 1, .5, .4, .3, .3, .2, .2, .2], [.5, .7, .8, .85, .88, .905, .91, .91, .91, .91],
     0.5, 0.05, (2.0, 2.0, 4.0)),
    # never under 10% of the peak: NaN
    ([4, 3, 1, .5, .5, .5, .5, .5, .5, .5], [.5] * 10, 0.1, 0.01, (np.nan, np.nan, 0.0)),
])
def test_lead_rules(vol, acc, frac, band, expected):
    e = np.arange(10)
    out = early_convergence_lead(_da(vol, e), _da(acc, e), frac=frac, band=band)
    got = (float(out.lead), float(out.volatility_settled), float(out.accuracy_settled))
    assert_allclose(got, expected)


def test_lead_reads_each_input_on_its_own_coordinate_and_keeps_other_dims():
    t_vol = np.arange(0, 10, 0.25)  # fractional epochs from a step-wise volatility
    vol = xr.DataArray(np.stack([np.exp(-t_vol), np.exp(-t_vol / 2)]), dims=("seed", "epoch"),
                       coords={"epoch": t_vol, "seed": [0, 1]})
    vol[:, :3] = np.nan  # leading NaNs of a rolling std are ignored
    acc = _da(1 - np.exp(-np.arange(10.0)), np.arange(10))
    out = early_convergence_lead(vol, acc, frac=0.5, band=0.01)
    assert out.lead.dims == ("seed",)
    # peaks at t=0.75: exp(-t) <= exp(-0.75)/2 from t > 0.75 + ln 2; exp(-t/2): 0.75 + 2 ln 2
    assert_allclose(out.volatility_settled, [1.5, 2.25])
    assert_allclose(out.accuracy_settled, [5.0, 5.0])


def test_lead_needs_coordinates():
    with pytest.raises(ValueError, match="numeric 'epoch' coordinate on volatility"):
        early_convergence_lead(xr.DataArray(np.ones(5), dims="epoch"), _da(np.ones(5), range(5)))
    with pytest.raises(DimsError, match="needs a 'epoch' dim; got dims \\('step',\\)"):
        early_convergence_lead(_da(np.ones(5), range(5), "step"), _da(np.ones(5), range(5)))
