import warnings

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics import powerlaw_alpha
from workbench.dims import DimsError


def pareto(alpha, n, seed, xmin=1.0):
    """Continuous Pareto samples with density ~ x^-alpha for x >= xmin (inverse CDF)."""
    u = np.random.default_rng(seed).uniform(size=n)
    return xmin * (1 - u) ** (-1 / (alpha - 1))


def loop_fit(x, min_tail=2, ks="left"):
    """Plain-loop reference of the same definition: one candidate, one tail point at a time."""
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    best = (np.inf, np.nan, np.nan, 0)
    for k in range(len(x)):
        if k and x[k] == x[k - 1]:
            continue
        tail = x[k:]
        n = len(tail)
        log_sum = sum(np.log(v / x[k]) for v in tail)
        if n < min_tail or log_sum <= 0:
            continue
        alpha = 1 + n / log_sum
        dist = 0.0
        for j, v in enumerate(tail):
            model = 1 - (v / x[k]) ** (1 - alpha)
            dist = max(dist, abs(model - j / n))
            if ks == "sup":
                dist = max(dist, abs(model - (j + 1) / n))
        if dist < best[0]:
            best = (dist, alpha, x[k], n)
    return best


def test_two_points_analytic():
    """Tail {1, e}: alpha = 1 + 2 / ln(e) = 3; P(e) = 1 - e^-2 against S = 1/2."""
    fit = powerlaw_alpha(xr.DataArray([np.e, 1.0, np.nan], dims="eigenvalue"))
    assert_allclose(float(fit.alpha), 3.0, rtol=1e-14)
    assert float(fit.xmin) == 1.0 and int(fit.n_tail) == 2
    assert_allclose(float(fit.ks_distance), 0.5 - np.exp(-2), rtol=1e-12)
    sup = powerlaw_alpha(xr.DataArray([1.0, np.e], dims="eigenvalue"), ks="sup")
    assert_allclose(float(sup.ks_distance), 0.5, rtol=1e-12)  # the ECDF's jump at x_min


def test_recovers_known_alpha_on_pareto_samples():
    alphas = [2.5, 3.5, 4.5]
    x = xr.DataArray(np.stack([pareto(a, 3000, seed) for seed, a in enumerate(alphas)]),
                     dims=("layer", "eigenvalue"), coords={"layer": ["a", "b", "c"]})
    fit = powerlaw_alpha(x)
    assert fit.alpha.dims == ("layer",) and list(fit.layer.values) == ["a", "b", "c"]
    assert np.all(np.abs(fit.alpha.values - alphas) < 0.15), fit.alpha.values
    assert np.all(fit.n_tail.values > 100) and fit.n_tail.dtype == np.int64


@pytest.mark.parametrize("ks", ["left", "sup"])
def test_matches_plain_loop_with_nan_padding(ks):
    rng = np.random.default_rng(3)
    rows = []
    for seed, (a, n) in enumerate([(2.2, 200), (3.0, 150), (5.0, 90), (2.8, 60)]):
        body = np.concatenate([rng.lognormal(0, 0.3, size=n // 2), pareto(a, n, seed, 2.0)])
        rows.append(np.concatenate([body, np.full(300 - body.size, np.nan)]))
    data = np.stack(rows).reshape(2, 2, 300)
    fit = powerlaw_alpha(xr.DataArray(data, dims=("epoch", "layer", "eigenvalue")), ks=ks,
                         min_tail=5)
    assert fit.alpha.dims == ("epoch", "layer")
    for i in range(2):
        for j in range(2):
            d, a, xm, n = loop_fit(data[i, j], min_tail=5, ks=ks)
            one = fit.isel(epoch=i, layer=j)
            assert_allclose(float(one.alpha), a, rtol=1e-12)
            assert float(one.xmin) == xm and int(one.n_tail) == n
            assert_allclose(float(one.ks_distance), d, rtol=1e-10)


def test_nan_and_nonpositive_are_ignored_and_empty_rows_give_nan():
    x = pareto(3.0, 400, 7)
    padded = np.concatenate([x, [np.nan, 0.0, -1.0, np.nan]])
    empty = np.full(404, np.nan)
    one = np.r_[5.0, np.full(403, np.nan)]
    fit = powerlaw_alpha(xr.DataArray(np.stack([padded, empty, one]), dims=("s", "eigenvalue")))
    ref = powerlaw_alpha(xr.DataArray(x, dims="eigenvalue"))
    assert_allclose(float(fit.alpha[0]), float(ref.alpha), rtol=1e-13)
    assert np.isnan(fit.alpha[1:]).all() and np.isnan(fit.xmin[1:]).all()
    assert fit.n_tail.values.tolist()[1:] == [0, 0]


def test_matches_powerlaw_package_where_it_is_not_capped():
    powerlaw = pytest.importorskip("powerlaw")
    x = pareto(2.5, 1000, 11)
    ours = powerlaw_alpha(xr.DataArray(x, dims="eigenvalue"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = powerlaw.Fit(x, verbose=False)
    assert theirs.alpha < 3  # inside the package's default range: not capped
    assert_allclose(float(ours.alpha), theirs.alpha, rtol=1e-10)
    assert float(ours.xmin) == theirs.xmin
    assert_allclose(float(ours.ks_distance), theirs.D, rtol=1e-10)


def test_lazy_on_dask():
    x = xr.DataArray(np.stack([pareto(3.0, 200, s) for s in range(4)]),
                     dims=("layer", "eigenvalue")).chunk({"layer": 2, "eigenvalue": 50})
    fit = powerlaw_alpha(x)
    assert fit.alpha.chunks is not None
    assert_allclose(fit.alpha.compute(), powerlaw_alpha(x.compute()).alpha, rtol=1e-14)


def test_bad_input_names_expected_and_found():
    with pytest.raises(DimsError, match="powerlaw_alpha\\(\\) needs a 'eigenvalue' dim; "
                                        "got dims \\('sample',\\)"):
        powerlaw_alpha(xr.DataArray(np.ones(5), dims="sample"))
    with pytest.raises(TypeError, match="DataArray"):
        powerlaw_alpha(np.ones(5))
    x = xr.DataArray(np.ones(5), dims="eigenvalue")
    with pytest.raises(ValueError, match="ks in .*got 'two'"):
        powerlaw_alpha(x, ks="two")
    with pytest.raises(ValueError, match="min_tail >= 2; got 1"):
        powerlaw_alpha(x, min_tail=1)
