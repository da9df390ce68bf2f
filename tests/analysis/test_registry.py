"""The registry: incremental analysis, resume with more epochs, and a real kill -9."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench import Run, analyze
from workbench.analysis import ANALYSES, load_all, register
from workbench.analysis import separation as sa
from workbench.record.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_registers_its_analysis():
    load_all()
    builtin = {"damping", "attribution", "dynamics", "forces", "separation", "spectra"}
    assert builtin <= set(ANALYSES)
    for name in ("dynamics", "forces", "separation"):
        assert ANALYSES[name].description


def test_second_call_adds_nothing(tiny_run, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(tiny_run, path)
    first = analyze(path, only="separation", progress=False)
    assert first == {"separation": [0, 1]}
    run = Run(path)
    stored = run.analysis("separation").load()
    assert stored.epoch.values.tolist() == [0, 1]
    for e in (0, 1):  # what is stored is the analysis of that epoch
        direct = sa.separation(run, e)
        assert_allclose(stored.fuzziness.sel(epoch=e).values, direct.fuzziness.values)
    assert analyze(path, only="separation", progress=False) == {"separation": []}
    again = Run(path).analysis("separation").load()
    xr.testing.assert_identical(stored, again)


@pytest.mark.slow
def test_resume_with_more_epochs_adds_only_the_new_ones(noisy_run, tmp_path):
    from workbench.config import TrainConfig
    from workbench.train import train

    path = tmp_path / "run"
    shutil.copytree(noisy_run, path)
    assert analyze(path, only="dynamics", progress=False) == {"dynamics": [0]}
    before = Run(path).analysis("dynamics").load()
    cfg = Run(path).config
    train(TrainConfig(**{**cfg.__dict__, "epochs": 3}), path, resume=True, progress=False)
    assert Run(path).epochs == [0, 1, 2]
    assert analyze(path, only="dynamics", progress=False) == {"dynamics": [1, 2]}
    after = Run(path).analysis("dynamics").load()
    assert after.epoch.values.tolist() == [0, 1, 2]
    xr.testing.assert_equal(after.sel(epoch=[0]), before)  # epoch 0 untouched
    for v in before.data_vars:  # the stored attrs (one per group) stay true for every epoch
        assert after[v].attrs == before[v].attrs
    assert int(after.n_points.sel(epoch=2)) > int(after.n_points.sel(epoch=0))


SLOW = """
import sys, time
import xarray as xr
from workbench.analysis import register, analyze

def slow_test(run, epoch):
    time.sleep({sleep})
    return xr.Dataset({{"value": ((), float(epoch), {{"long_name": "epoch", "units": ""}})}})

register("slow_test", compute=slow_test, description="sleeps, then stores its epoch")

print("started", flush=True)
analyze(sys.argv[1], only="slow_test", progress=False)
"""


def _slow(run, epoch):
    return xr.Dataset({"value": ((), float(epoch), {"long_name": "epoch", "units": ""})})


@pytest.mark.slow
def test_kill_9_in_the_middle_loses_no_finished_epoch(tiny_run, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(tiny_run, path)
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(SLOW.format(sleep=4)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = RunStore(path)
    deadline = time.monotonic() + 240
    try:
        while (store.analysis_committed("slow_test") or 0) < 1:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "epoch 0 was never committed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # while epoch 1 is being computed
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert Run(path).analysed_epochs("slow_test") == [0]
    register("slow_test", compute=_slow, description="the same analysis, in this process")
    try:
        assert analyze(path, only="slow_test", progress=False) == {"slow_test": [1]}
        ds = Run(path).analysis("slow_test").load()
        assert ds.epoch.values.tolist() == [0, 1]                # unique, complete
        assert_allclose(ds.value.values, [0.0, 1.0])
        assert analyze(path, only="slow_test", progress=False) == {"slow_test": []}
    finally:
        ANALYSES.pop("slow_test", None)
    assert np.unique(Run(path).analysis("slow_test").epoch.values).size == 2


def test_a_kill_before_the_consolidation_repeats_no_epoch(tiny_run, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(tiny_run, path)
    register("slow_test", compute=_slow, description="stores its epoch")
    try:
        assert analyze(path, only="slow_test", epochs=[0], progress=False) == {"slow_test": [0]}
        meta = path / "record.zarr" / "zarr.json"
        saved = meta.read_bytes()
        assert analyze(path, only="slow_test", epochs=[1], progress=False) == {"slow_test": [1]}
        meta.write_bytes(saved)  # as if killed between the commit mark and the consolidation
        assert Run(path).analysed_epochs_view("slow_test") == [0]   # readers are behind
        assert Run(path).analysed_epochs("slow_test") == [0, 1]      # the mark is not
        assert analyze(path, only="slow_test", progress=False) == {"slow_test": []}
        ds = Run(path).analysis("slow_test").load()
        assert ds.epoch.values.tolist() == [0, 1]                    # unique, and visible again
        assert_allclose(ds.value.values, [0.0, 1.0])
    finally:
        ANALYSES.pop("slow_test", None)
