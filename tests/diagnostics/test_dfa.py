import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.dfa import default_scales, dfa
from workbench.dims import DimsError

N = 2**14


def _pink(rng, n):
    """1/f noise: white Gaussian spectrum shaped by f^(-1/2) in amplitude."""
    f = np.fft.rfftfreq(n)
    amp = np.zeros_like(f)
    amp[1:] = f[1:] ** -0.5
    z = (rng.normal(size=f.size) + 1j * rng.normal(size=f.size)) * amp
    return np.fft.irfft(z, n)


def _noise(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "white":
        return rng.normal(size=N)
    if kind == "pink":
        return _pink(rng, N)
    return np.cumsum(rng.normal(size=N))


def _reference_fluctuation(x, scales, order):
    """Plain loops: one series, one window at a time, np.polyfit."""
    y = np.cumsum(x - np.mean(x))
    n_total = len(y)
    out = []
    for n in scales:
        m = n_total // n
        sq = []
        for start in [i * n for i in range(m)] + [n_total - (i + 1) * n for i in range(m)]:
            seg = y[start:start + n]
            t = np.arange(n)
            fit = np.polyval(np.polyfit(t, seg, order), t)
            sq.extend((seg - fit) ** 2)
        out.append(np.sqrt(np.mean(sq)))
    return np.array(out)


@pytest.mark.parametrize("kind, expected", [("white", 0.5), ("pink", 1.0), ("brown", 1.5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_known_exponents(kind, expected, seed):
    x = xr.DataArray(_noise(kind, seed), dims="step")
    assert abs(float(dfa(x)) - expected) < 0.05


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("n_total", [300, 517])
def test_fluctuation_matches_loop_reference(order, n_total):
    rng = np.random.default_rng(order + n_total)
    x = np.cumsum(rng.normal(size=n_total)) + rng.normal(size=n_total)
    scales = [order + 2, 7, 13, 50, n_total // 3]
    ds = dfa(xr.DataArray(x, dims="step"), scales=scales, order=order,
             return_fluctuation=True)
    ref = _reference_fluctuation(x, sorted(set(scales)), order)
    assert_allclose(ds.fluctuation.values, ref, rtol=1e-10, atol=0)
    slope = np.polyfit(np.log(ds.scale.values), np.log(ref), 1)[0]
    assert_allclose(float(ds.exponent), slope, rtol=1e-10)


def test_vectorised_equals_per_series():
    rng = np.random.default_rng(5)
    x = xr.DataArray(np.cumsum(rng.normal(size=(2, 3, 400)), axis=-1) * 0.1
                     + rng.normal(size=(2, 3, 400)),
                     dims=("seed", "layer", "step"), coords={"layer": ["a", "b", "c"]})
    ds = dfa(x, return_fluctuation=True)
    assert ds.exponent.dims == ("seed", "layer")
    assert ds.fluctuation.dims == ("seed", "layer", "scale")
    for s in range(2):
        for lay in "abc":
            one = dfa(x.isel(seed=s).sel(layer=lay), return_fluctuation=True)
            assert_allclose(ds.fluctuation.isel(seed=s).sel(layer=lay), one.fluctuation,
                            rtol=1e-12)
            assert_allclose(float(ds.exponent.isel(seed=s).sel(layer=lay)),
                            float(one.exponent), rtol=1e-12)
    assert list(ds.layer.values) == ["a", "b", "c"]


def test_dim_is_a_name_not_a_position():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 256))
    by_step = dfa(xr.DataArray(a, dims=("layer", "step")))
    by_epoch = dfa(xr.DataArray(a.T, dims=("epoch", "layer")), dim="epoch")
    assert_allclose(by_step, by_epoch, rtol=1e-12)


def test_confidence_interval_brackets_exponent_and_shrinks_with_level():
    x = xr.DataArray(_noise("pink", 3), dims="step")
    wide = dfa(x, return_fluctuation=True, ci=0.99)
    narrow = dfa(x, return_fluctuation=True, ci=0.5)
    assert wide.ci_low < wide.exponent < wide.ci_high
    assert (narrow.ci_high - narrow.ci_low) < (wide.ci_high - wide.ci_low)
    assert wide.exponent.attrs["long_name"] == "DFA1 exponent"
    assert list(wide.scale.values) == list(default_scales(N))


def test_default_scales_rule():
    s = default_scales(4096)
    assert s[0] == 4 and s[-1] == 409 and np.all(np.diff(s) > 0)
    assert default_scales(64)[-1] == 16
    assert default_scales(1000, order=3)[0] == 6


@pytest.mark.parametrize("dims, shape, message", [
    (("epoch",), (12,), "dfa() needs a 'step' dim with at least 64 points; got dims ('epoch',)"),
    (("step",), (40,), "dfa() needs a 'step' dim with at least 64 points; got dims ('step',)"),
])
def test_bad_input_names_expected_and_found(dims, shape, message):
    with pytest.raises(DimsError) as err:
        dfa(xr.DataArray(np.zeros(shape), dims=dims))
    assert message in str(err.value)


def test_bad_scales_and_type():
    x = xr.DataArray(np.random.default_rng(0).normal(size=128), dims="step")
    with pytest.raises(ValueError, match="at least 2 scales"):
        dfa(x, scales=[2, 8])
    with pytest.raises(TypeError, match="DataArray"):
        dfa(np.zeros(128))


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_prefix_sums_match_window_projection(kind):
    """Linear DFA from prefix sums equals the per-window projection (the former method)."""
    from workbench.diagnostics.dfa import _exponent, _fluctuation_prefix, _fluctuation_projection

    x = np.stack([_noise(kind, seed) for seed in range(3)])
    scales = default_scales(N)
    fast = _fluctuation_prefix(x, scales)
    slow = _fluctuation_projection(x, scales, 1)
    assert fast.shape == (3, len(scales))
    assert_allclose(fast, slow, rtol=1e-10, atol=0)
    assert_allclose(_exponent(fast, scales, 0.95)[0], _exponent(slow, scales, 0.95)[0],
                    rtol=0, atol=1e-10)


def test_prefix_sums_survive_a_large_level():
    """A Brownian profile with a large offset and drift: level >> local spread, the case where
    plain float64 prefix sums lose about 6 digits."""
    rng = np.random.default_rng(11)
    x = 1e4 + np.cumsum(rng.normal(size=3000)) + 50 * np.sin(np.arange(3000) / 300)
    scales = [3, 4, 7, 16, 61, 300, 1000]
    ds = dfa(xr.DataArray(x, dims="step"), scales=scales, return_fluctuation=True)
    assert_allclose(ds.fluctuation.values, _reference_fluctuation(x, scales, 1), rtol=1e-10)
