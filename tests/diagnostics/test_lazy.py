"""Every diagnostic runs lazily on a chunked zarr store and agrees with the eager result."""

import dask
import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench import diagnostics as dg


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    rng = np.random.default_rng(0)
    steps, layers = 512, 4
    sig = np.cumsum(rng.normal(size=(layers, steps)), axis=1) + rng.normal(size=(layers, steps))
    feats = rng.normal(size=(3, 2, 60, 7)) + np.eye(7)[np.arange(60) % 3][None, None] * 2
    fuzz = np.exp(-np.cumsum(rng.uniform(0.1, 1, (3, layers)), axis=1))
    a = xr.Dataset(
        {"signal": (("layer", "step"), sig),
         "features": (("epoch", "group", "sample", "unit"), feats),
         "fuzz": (("epoch", "layer"), fuzz)},
        coords={"step": np.arange(steps), "target": ("sample", np.arange(60) % 3)})
    t = np.arange(20)
    b = xr.Dataset(
        {"vol": (("seed", "epoch"), np.exp(-np.arange(3)[:, None] / 3 - t / 4)),
         "acc": (("seed", "epoch"), 0.9 - 0.4 * np.exp(-np.arange(3)[:, None] / 3 - t / 3))},
        coords={"epoch": t})
    path = tmp_path_factory.mktemp("zarr")
    chunks_a, chunks_b = {"step": 128, "layer": 2, "epoch": 1}, {"epoch": 5, "seed": 1}
    a.chunk(chunks_a).to_zarr(path / "a.zarr", consolidated=False)
    b.chunk(chunks_b).to_zarr(path / "b.zarr", consolidated=False)
    eager = tuple(xr.open_zarr(path / f, consolidated=False).load() for f in ("a.zarr", "b.zarr"))
    lazy = (xr.open_zarr(path / "a.zarr", chunks=chunks_a, consolidated=False),
            xr.open_zarr(path / "b.zarr", chunks=chunks_b, consolidated=False))
    return eager, lazy


CASES = {
    "dfa": lambda a, b: dg.dfa(a.signal),
    "dfa_dataset": lambda a, b: dg.dfa(a.signal, return_fluctuation=True),
    "phases": lambda a, b: dg.phases(a.signal, band=(0.01, 0.2)),
    "kuramoto_order": lambda a, b: dg.kuramoto_order(dg.phases(a.signal)),
    "synchrony": lambda a, b: dg.synchrony(a.signal),
    "metastability": lambda a, b: dg.metastability(a.signal),
    "collective_signal": lambda a, b: dg.collective_signal(a.signal),
    "integration": lambda a, b: dg.integration(a.signal),
    "stability": lambda a, b: dg.stability(a.signal, window=128, stride=64, volatility_window=3),
    "separation_fuzziness": lambda a, b: dg.separation_fuzziness(
        a.features, a.target, feature_dim="unit"),
    "load": lambda a, b: dg.load(a.fuzz),
    "load_curve": lambda a, b: dg.load_curve(a.fuzz),
    "linear_law_deviation": lambda a, b: dg.linear_law_deviation(a.fuzz),
    "early_convergence_lead": lambda a, b: dg.early_convergence_lead(b.vol, b.acc),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lazy_equals_eager(stores, name):
    (ea, eb), (la, lb) = stores
    assert dask.is_dask_collection(la.signal.data)
    lazy = CASES[name](la, lb)
    eager = CASES[name](ea, eb)
    arrays = lazy.data_vars.items() if isinstance(lazy, xr.Dataset) else [(name, lazy)]
    for var, da in arrays:
        assert dask.is_dask_collection(da.data), f"{name}.{var} was computed eagerly"
        ref = eager[var] if isinstance(eager, xr.Dataset) else eager
        assert da.dims == ref.dims
        assert_allclose(da.compute().values, ref.values, rtol=1e-10, equal_nan=True)
