"""Out-of-core: a recorded run opened lazily with dask, and analyses on a dask cluster."""

import shutil
import sys

import dask
import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench import diagnostics as dg
from workbench.record.store import open_run


def test_open_run_with_chunks_is_lazy_and_diagnostics_agree_with_eager(tiny_run):
    lazy = open_run(tiny_run, chunks={"step": 16, "layer": 1})["layers"]
    eager = open_run(tiny_run)["layers"]
    assert dask.is_dask_collection(lazy["grad_norm"].data)
    assert lazy["grad_norm"].data.chunksize == (16, 1)
    assert not dask.is_dask_collection(eager["grad_norm"].data)
    x_lazy, x_eager = lazy["signal"], eager["signal"]
    for f in (dg.dfa, dg.metastability, dg.synchrony,
              lambda x: dg.kuramoto_order(dg.phases(x))):
        got = f(x_lazy)
        assert dask.is_dask_collection(got.data), f
        assert_allclose(got.compute().values, f(x_eager).values, rtol=1e-10)


def test_reading_a_record_does_not_import_torch(tiny_run, tmp_path):
    import subprocess

    code = ("import sys; from workbench.record import open_run; import workbench.diagnostics;"
            f"open_run({str(tiny_run)!r}, chunks={{}}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_analyze_computes_on_the_client_it_is_given(tiny_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    from workbench.analysis.registry import ANALYSES, analyze, register
    from workbench.run import Run

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)

    def _sum(run, epoch):
        g, ep = run.tree["layers"]["grad_norm"], run.tree["steps"]["epoch"]
        return xr.Dataset({"total": g.where(ep == epoch, 0).sum("step").compute()})

    register("test_cluster_sum", compute=_sum,
             description="sum of grad norms over the epoch's steps")

    try:
        with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                                dashboard_address=None) as client, \
                distributed.get_task_stream(client) as stream:
            added = analyze(run_dir, only="test_cluster_sum", client=client, progress=False)
        assert added == {"test_cluster_sum": [0, 1]}
        assert len(stream.data) > 0, "nothing was computed on the cluster"
    finally:
        del ANALYSES["test_cluster_sum"]
    got = Run(run_dir).analysis("test_cluster_sum")["total"]
    tree = open_run(run_dir)
    g, ep = tree["layers"]["grad_norm"].values, tree["steps"]["epoch"].values
    for epoch in (0, 1):
        ref = g[ep == epoch].sum(0)
        assert_allclose(got.sel(epoch=epoch).values, ref, rtol=1e-12)
    assert not np.allclose(got.sel(epoch=0).values, got.sel(epoch=1).values)
