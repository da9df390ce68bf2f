import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

import workbench.accessor  # noqa: F401  (registers .wb)
from workbench import diagnostics as dg


@pytest.fixture()
def signal():
    rng = np.random.default_rng(0)
    return xr.DataArray(np.cumsum(rng.normal(size=(3, 300)), axis=1), dims=("layer", "step"))


@pytest.mark.parametrize("name", ["dfa", "phases", "synchrony", "metastability", "integration"])
def test_dataarray_accessor_forwards(signal, name):
    assert_allclose(getattr(signal.wb, name)(), getattr(dg, name)(signal))
    ds = signal.to_dataset(name="signal")
    assert_allclose(getattr(ds.wb, name)("signal"), getattr(dg, name)(signal))
    assert_allclose(getattr(ds.wb, name)(), getattr(dg, name)(signal))  # single variable


def test_time_dim_default_falls_back_to_epoch_and_attrs(signal):
    per_epoch = signal.rename(step="epoch")
    assert_allclose(per_epoch.wb.dfa(), dg.dfa(per_epoch, dim="epoch"))
    tagged = signal.rename(step="t").assign_attrs(time_dim="t")
    assert_allclose(tagged.wb.dfa(), dg.dfa(tagged, dim="t"))


def test_stability_and_kuramoto_forward(signal):
    xr.testing.assert_allclose(signal.wb.stability(window=100, stride=50),
                               dg.stability(signal, window=100, stride=50))
    ph = dg.phases(signal)
    assert_allclose(ph.wb.kuramoto_order(), dg.kuramoto_order(ph))


def test_separation_labels_come_from_target_coord():
    rng = np.random.default_rng(1)
    y = np.arange(40) % 4
    f = xr.DataArray(rng.normal(size=(2, 40, 5)) + y[None, :, None],
                     dims=("epoch", "sample", "unit"), coords={"target": ("sample", y)})
    expected = dg.separation_fuzziness(f, y)
    assert_allclose(f.wb.separation_fuzziness(), expected)
    assert_allclose(f.to_dataset(name="feat").wb.separation_fuzziness("feat"), expected)
    with pytest.raises(ValueError, match="needs labels=...: no coordinate among"):
        f.drop_vars("target").wb.separation_fuzziness()


def test_load_curve_forwarders():
    d = xr.DataArray(np.exp(-np.arange(5.0)), dims="layer")
    assert_allclose(d.wb.load(), dg.load(d))
    assert_allclose(d.wb.load_curve(), dg.load_curve(d))
    assert_allclose(d.wb.linear_law_deviation(), dg.linear_law_deviation(d))


def test_dataset_accessor_errors_list_variables(signal):
    ds = xr.Dataset({"a": signal, "b": signal})
    with pytest.raises(ValueError, match="say which variable"):
        ds.wb.dfa()
    with pytest.raises(KeyError, match="no variable 'c'"):
        ds.wb.dfa("c")


def test_dataset_early_convergence_lead():
    e = np.arange(10.0)
    ds = xr.Dataset({"test_acc": ("epoch", [.5, .7, .8, .85, .88, .905, .91, .91, .91, .91])},
                    coords={"epoch": e})
    vol = xr.DataArray([4, 3, 1, .5, .4, .3, .3, .2, .2, .2], dims="epoch", coords={"epoch": e})
    assert float(ds.wb.early_convergence_lead(vol).lead) == 3.0


def test_powerlaw_alpha_forwards_from_a_weight_spectrum():
    from workbench.diagnostics import powerlaw_alpha
    from workbench.models import SmallCNN
    from workbench.probes import weight_spectrum

    ds = weight_spectrum(SmallCNN())
    via = ds.wb.powerlaw_alpha()
    direct = powerlaw_alpha(ds.eigenvalues)
    assert via.alpha.dims == ("layer",)
    np.testing.assert_array_equal(via.alpha.values, direct.alpha.values)
    np.testing.assert_array_equal(ds.eigenvalues.wb.powerlaw_alpha(min_tail=5).n_tail.values,
                                  powerlaw_alpha(ds.eigenvalues, min_tail=5).n_tail.values)
