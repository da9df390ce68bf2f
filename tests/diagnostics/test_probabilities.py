import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.probabilities import softmax
from workbench.dims import DimsError


@pytest.mark.parametrize("z, expected", [
    ([0.0, 0.0, 0.0, 0.0], [0.25] * 4),
    ([0.0, np.log(2.0)], [1 / 3, 2 / 3]),
    ([1000.0, 1000.0], [0.5, 0.5]),                 # no overflow
    ([5.0], [1.0]),
])
def test_analytic(z, expected):
    out = softmax(xr.DataArray(z, dims="label"))
    assert_allclose(out.values, expected)
    assert out.attrs["long_name"] == "predicted probability"


def test_matches_loop_reference_and_keeps_dim_order():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 10, 5)) * 4
    da = xr.DataArray(z, dims=("label", "epoch", "sample"))
    ref = np.empty_like(z)
    for e in range(10):
        for s in range(5):
            col = np.exp(z[:, e, s])
            ref[:, e, s] = col / col.sum()
    out = softmax(da)
    assert out.dims == da.dims
    assert_allclose(out.values, ref)


def test_lazy_equals_eager():
    da = xr.DataArray(np.random.default_rng(2).normal(size=(4, 6, 3)),
                      dims=("epoch", "sample", "label"))
    lazy = softmax(da.chunk({"epoch": 1, "sample": 2}))
    assert lazy.chunks is not None
    assert_allclose(lazy.compute().values, softmax(da).values)


def test_missing_dim_is_a_clear_error():
    with pytest.raises(DimsError, match="label"):
        softmax(xr.DataArray(np.zeros(3), dims="unit"))
