import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.separation import (
    linear_law_deviation,
    load,
    load_curve,
    separation_by_layer,
    separation_fuzziness,
)
from workbench.dims import DimsError


def _reference(x, y, ridge=0.0):
    """He & Su with explicit loops over classes and samples; full p x p matrices."""
    classes = np.unique(y)
    n, p = x.shape
    mu = x.mean(0)
    sw = np.zeros((p, p))
    sb = np.zeros((p, p))
    for c in classes:
        xc = x[y == c]
        mc = xc.mean(0)
        for row in xc:
            sw += np.outer(row - mc, row - mc) / n
        sb += np.outer(mc - mu, mc - mu) / len(classes)
    if ridge == 0:
        return np.trace(sw @ np.linalg.pinv(sb, hermitian=True))
    lam, u = np.linalg.eigh(sb)
    keep = lam > lam.max() * max(len(classes), p) * np.finfo(float).eps
    lam, u = lam[keep], u[:, keep]
    return np.trace(sw @ (u / (lam + ridge * np.trace(sb))) @ u.T)


def _clusters(rng, n, p, k, spread, balanced=True):
    y = np.arange(n) % k if balanced else rng.integers(0, k, n)
    centres = rng.normal(size=(k, p)) * 3
    return centres[y] + spread * rng.normal(size=(n, p)), y


@pytest.mark.parametrize("n, p, k, balanced, ridge", [
    (60, 5, 3, True, 0.0),
    (60, 5, 3, False, 0.0),
    (40, 120, 4, True, 0.0),    # more units than samples
    (50, 8, 10, True, 0.0),     # more classes than units: Sigma_B full rank
    (60, 20, 5, False, 1e-2),   # ridge relative to Tr(Sigma_B)
])
def test_matches_plain_reference(n, p, k, balanced, ridge):
    rng = np.random.default_rng(n + p + k)
    x, y = _clusters(rng, n, p, k, 1.0, balanced)
    got = separation_fuzziness(xr.DataArray(x, dims=("sample", "unit")), y, ridge=ridge)
    assert_allclose(float(got), _reference(x, y, ridge), rtol=1e-8)


def test_tight_clusters_are_less_fuzzy_than_loose_ones():
    rng = np.random.default_rng(0)
    values = []
    for spread in (0.1, 1.0, 5.0):
        x, y = _clusters(np.random.default_rng(1), 90, 6, 3, spread)
        values.append(float(separation_fuzziness(xr.DataArray(x, dims=("sample", "unit")), y)))
    assert values[0] < values[1] < values[2]
    assert values[0] < 0.01  # well-separated clusters give small D
    del rng


def test_other_dims_kept_and_labels_as_dataarray():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 2, 30, 4))
    y = xr.DataArray(np.arange(30) % 3, dims="sample")
    f = xr.DataArray(x, dims=("epoch", "layer", "sample", "unit"),
                     coords={"layer": ["a", "b"]})
    d = separation_fuzziness(f, y)
    assert d.dims == ("epoch", "layer") and list(d.layer.values) == ["a", "b"]
    for e in range(3):
        for l in range(2):
            assert_allclose(float(d[e, l]), _reference(x[e, l], y.values, 1e-8), rtol=1e-10)


def test_many_units_give_the_d_of_their_subspace():
    # 20-dim clusters embedded isometrically in 12 000 units: D must equal D of the 20-dim data
    # (its time, no p x p matrix formed, is measured by bench/separation_time.py, not here)
    rng = np.random.default_rng(3)
    z, y = _clusters(rng, 128, 20, 10, 1.0)
    basis, _ = np.linalg.qr(rng.normal(size=(12_000, 20)))  # orthonormal columns
    x = z @ basis.T
    d = float(separation_fuzziness(xr.DataArray(x, dims=("sample", "unit")), y))
    assert_allclose(d, _reference(z, y, 1e-8), rtol=1e-8)


def test_separation_by_layer_handles_different_widths():
    rng = np.random.default_rng(4)
    y = np.arange(40) % 4
    feats = {name: xr.DataArray(_clusters(rng, 40, u, 4, s)[0], dims=("sample", "unit"))
             for name, u, s in [("l1", 12, 3.0), ("l2", 6, 1.0), ("l3", 3, 0.3)]}
    d = separation_by_layer(feats, y)
    assert d.dims == ("layer",) and list(d.layer.values) == ["l1", "l2", "l3"]
    for name in feats:
        assert_allclose(float(d.sel(layer=name)), _reference(feats[name].values, y, 1e-8),
                        rtol=1e-10)


def test_bad_inputs():
    f = xr.DataArray(np.zeros((10, 3)), dims=("sample", "channel"))
    with pytest.raises(DimsError, match="needs a 'unit' dim; got dims \\('sample', 'channel'\\)"):
        separation_fuzziness(f, np.arange(10) % 2)
    f = f.rename(channel="unit")
    with pytest.raises(ValueError, match="one label per 'sample' \\(10\\); got labels of shape"):
        separation_fuzziness(f, np.arange(9) % 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        separation_fuzziness(f, np.zeros(10))


def test_load_and_curve_of_the_linear_law():
    d = xr.DataArray(3.0 * np.exp(-0.7 * np.arange(6)), dims="layer",
                     coords={"layer": [f"layer{i}" for i in range(6)]})
    assert_allclose(load(d).values, 0.7, rtol=1e-12)
    assert load(d).layer.values.tolist() == [f"layer{i}" for i in range(1, 6)]
    assert_allclose(load_curve(d).values, np.linspace(0, 1, 6), atol=1e-12)
    assert_allclose(float(linear_law_deviation(d)), 0.0, atol=1e-12)


def _deviation_loops(logd):
    """Brute force of the relative deviation, one curve, plain loops over the layers."""
    n = len(logd)
    s = [logd[0] - v for v in logd]
    sq = 0.0
    for k in range(n):
        sq += (s[k] - s[-1] * k / (n - 1)) ** 2
    variation = 0.0
    for k in range(1, n):
        variation += abs(s[k] - s[k - 1])
    return np.sqrt(sq / n) / variation


def test_relative_deviation_matches_loops_on_curves_of_any_shape():
    rng = np.random.default_rng(7)
    logd = rng.normal(size=(3, 4, 6)).cumsum(-1)       # not monotone
    d = xr.DataArray(np.exp(logd), dims=("seed", "epoch", "layer"),
                     coords={"layer": list("abcdef"), "epoch": [1, 2, 3, 4]})
    dev = linear_law_deviation(d)
    assert dev.dims == ("seed", "epoch")
    assert dev.epoch.values.tolist() == [1, 2, 3, 4]
    want = np.array([[_deviation_loops(logd[i, j]) for j in range(4)] for i in range(3)])
    assert_allclose(dev.values, want, rtol=1e-12)
    assert np.all((dev.values > 0) & (dev.values <= 1))   # bounded by the total variation
    # the dim may come in any position
    assert_allclose(linear_law_deviation(d.transpose("layer", "seed", "epoch")), want,
                    rtol=1e-12)


def test_relative_deviation_is_finite_and_stable_when_the_curve_is_nearly_flat():
    """Layers that separate and then undo it: total separation near 0 (or crossing it)."""
    def dev(eps):
        logd = -np.array([0.0, 1.0, 2.0, 1.0, eps])
        return float(linear_law_deviation(xr.DataArray(np.exp(logd), dims="layer")))

    values = [dev(e) for e in (-1e-9, 0.0, 1e-9)]
    assert np.all(np.isfinite(values)) and 0 < values[1] <= 1
    assert max(values) - min(values) < 1e-8          # continuous through a zero total
    assert_allclose(values[1], _deviation_loops(-np.array([0.0, 1.0, 2.0, 1.0, 0.0])),
                    rtol=1e-12)
    # the normalised curve itself blows up there: why the RMS of it was no measure
    curve = load_curve(xr.DataArray(np.exp(-np.array([0.0, 1.0, 2.0, 1.0, 1e-9])),
                                    dims="layer"))
    assert float(abs(curve).max()) > 1e8


def test_relative_deviation_of_a_tiny_curve_does_not_depend_on_its_scale():
    base = -np.array([0.0, 0.1, 0.15, 0.5, 1.0])
    ref = float(linear_law_deviation(xr.DataArray(np.exp(base), dims="layer")))
    tiny = float(linear_law_deviation(xr.DataArray(np.exp(1e-10 * base), dims="layer")))
    assert_allclose(tiny, ref, rtol=1e-5)             # log of values near 1: float rounding
    bumped = base + 1e-7 * np.random.default_rng(0).normal(size=5)
    moved = float(linear_law_deviation(xr.DataArray(np.exp(bumped), dims="layer")))
    assert abs(moved - ref) < 1e-5
    # monotone: the RMS of the load curve minus the law (the former definition)
    curve = load_curve(xr.DataArray(np.exp(base), dims="layer")).values
    assert_allclose(ref, np.sqrt(np.mean((curve - np.linspace(0, 1, 5)) ** 2)), rtol=1e-12)


def test_deviation_of_a_lazy_start_and_other_dims():
    logd = np.array([[0.0, -0.1, -0.2, -3.0], [0.0, -1.0, -2.0, -3.0]])
    d = xr.DataArray(np.exp(logd), dims=("epoch", "layer"))
    curve = load_curve(d)
    assert_allclose(curve[0], [0, 1 / 30, 2 / 30, 1], rtol=1e-12)
    ref = np.sqrt(np.mean((np.array([0, 1 / 30, 2 / 30, 1]) - np.linspace(0, 1, 4)) ** 2))
    assert_allclose(linear_law_deviation(d).values, [ref, 0.0], atol=1e-12)
    flat = xr.DataArray(np.ones(4), dims="layer")
    assert np.isnan(linear_law_deviation(flat))  # no layer moves at all: undefined
