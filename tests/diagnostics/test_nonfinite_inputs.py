"""Diagnostics name themselves when their input holds NaN (trial: SciPy's "array must not
contain infs or NaNs" and LinAlg's "Eigenvalues did not converge"), and epoch_damping rejects
wrong dims."""

import numpy as np
import pytest
import xarray as xr

from workbench.diagnostics.damping import epoch_damping
from workbench.diagnostics.separation import separation_fuzziness
from workbench.diagnostics.stability import stability
from workbench.diagnostics.synchrony import metastability, synchrony
from workbench.dims import DimsError, NonFiniteError


def _signal(n=300, hole=True):
    rng = np.random.default_rng(0)
    x = xr.DataArray(rng.standard_normal((3, n)), dims=("layer", "step"),
                     coords={"layer": ["a", "b", "c"], "step": np.arange(n)})
    if hole:
        x[1, 50] = np.nan
    return x


@pytest.mark.parametrize("func, kw", [(synchrony, {}), (metastability, {}),
                                      (stability, {"window": 128, "stride": 64})])
def test_signal_diagnostics_name_themselves_on_nan(func, kw):
    with pytest.raises(NonFiniteError, match=rf"^{func.__name__}\(\) needs finite values.*"
                                             r"found 1 NaN/inf"):
        func(_signal(), **kw)
    # the same data without the hole works, eagerly and lazily (the check runs per block)
    clean = _signal(hole=False)
    eager = func(clean, **kw)
    lazy = func(clean.chunk({"layer": 1}), **kw)
    xr.testing.assert_allclose(eager.compute() if hasattr(eager, "compute") else eager,
                               lazy.compute())
    with pytest.raises(NonFiniteError, match=func.__name__):
        func(_signal().chunk({"layer": 1}), **kw).compute()


def test_separation_names_itself_on_nan():
    rng = np.random.default_rng(1)
    f = xr.DataArray(rng.standard_normal((40, 5)), dims=("sample", "unit"))
    labels = np.arange(40) % 4
    assert np.isfinite(float(separation_fuzziness(f, labels)))
    f[3, 2] = np.inf
    with pytest.raises(NonFiniteError, match=r"^separation_fuzziness\(\) needs finite values "
                                             r"in features"):
        separation_fuzziness(f, labels)


def test_epoch_damping_rejects_curvature_with_wrong_dims():
    steps = xr.Dataset({"lr": ("step", [0.01, 0.01]), "momentum": ("step", [0.8, 0.8])},
                       coords={"step": [0, 1], "epoch": ("step", [0, 0])})
    ok = xr.DataArray([[1.0, 4.0]], dims=("epoch", "layer"), coords={"epoch": [0]})
    assert epoch_damping(steps, curvature=ok)["damping_ratio"].dims == ("epoch", "layer")
    for bad in (xr.DataArray(np.ones((3, 2)), dims=("layer", "sample")),
                xr.DataArray(np.ones(3), dims=("unit",))):
        with pytest.raises(DimsError, match=r"epoch_damping\(\) needs .*'layer'.*got dims"):
            epoch_damping(steps, curvature=bad)
