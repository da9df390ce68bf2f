"""Training, the store on disk, crashes and resume."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import zarr

from workbench.record import RunExistsError, load_checkpoint, open_run, signals
from workbench.train import TrainConfig, train

SMALL = dict(train_size=1200, test_size=400, probe_size=100, batch_size=64, curvature_iters=2)


def test_tiny_run_store_layout(tiny_run):
    tree = open_run(tiny_run)
    assert tree["steps"].sizes["step"] == 2 * 47  # 1500 / 32 rounded up, 2 epochs
    layers = tree["layers"]
    assert layers["grad_norm"].dims == ("step", "layer")
    assert list(layers["layer"].values) == ["conv1", "conv2", "fc1", "fc2"]
    assert np.isfinite(layers["grad_norm"].values).all()
    assert signals(tree).sizes["step"] == 94  # every step
    assert tree["probe"]["logits"].dims == ("epoch", "sample", "label")
    assert tree["probe"]["logits"].shape == (2, 200, 10)
    assert tree["features/conv2"]["features"].shape == (2, 200, 24 * 3 * 3)
    el = tree["epochs_layers"].to_dataset()
    assert el["update_cos_mean"].dims == ("epoch", "layer")
    # curvature and damping are the ``damping`` analysis, after the fact, not the loop's
    assert "curvature" not in el and "regime" not in el
    cfg = TrainConfig.from_json(tree.attrs["config"])
    assert cfg.feature_layers == ("conv1", "conv2", "fc1", "fc2")
    assert tree.attrs["torch_version"] == torch.__version__
    # checkpoints load with weights_only=True and reproduce the recorded probe logits
    model, state = load_checkpoint(tiny_run, epoch=1)
    from workbench.data import load_dataset

    test = load_dataset("fashion-mnist", train=False)
    idx = tree["probe"]["sample"].values
    with torch.no_grad():
        logits = model(test.images[idx]).numpy()
    np.testing.assert_allclose(logits, tree["probe"]["logits"].sel(epoch=1).values, atol=1e-4)
    # the probe target coordinate traces back to the dataset's label
    np.testing.assert_array_equal(tree["probe"]["target"].values, test.targets[idx].numpy())


def test_store_opens_lazily_with_dask(tiny_run):
    tree = open_run(tiny_run, chunks={})
    import dask.array as da

    assert isinstance(tree["layers"]["grad_norm"].data, da.Array)
    eager = open_run(tiny_run)["layers"]["grad_norm"].values
    np.testing.assert_array_equal(tree["layers"]["grad_norm"].values, eager)


def test_out_dir_with_a_run_is_refused_unless_resume_or_overwrite(tiny_run, tmp_path):
    cfg = TrainConfig(epochs=2, **SMALL, model="mlp")
    with pytest.raises(RunExistsError, match="a different run.*--resume.*--overwrite"):
        train(cfg, tiny_run, progress=False)
    (tmp_path / "x.txt").write_text("not a run")
    with pytest.raises(RunExistsError, match="not a run directory"):
        train(cfg, tmp_path, progress=False)


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path):
    cfg = TrainConfig(epochs=2, seed=5, **SMALL)
    train(cfg, tmp_path / "straight", progress=False)
    # the state a crash during epoch 1 leaves: epoch 1 half-written, never committed
    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    root = zarr.open_group(str(tmp_path / "resumed" / "record.zarr"), mode="r+")
    root.attrs.update({"committed_epochs": 1, "committed_steps": 19})
    zarr.consolidate_metadata(str(tmp_path / "resumed" / "record.zarr"))
    assert open_run(tmp_path / "resumed")["steps"].sizes["step"] == 19
    train(cfg, tmp_path / "resumed", resume=True, progress=False)
    a, b = open_run(tmp_path / "straight"), open_run(tmp_path / "resumed")
    np.testing.assert_array_equal(a["steps"]["step"].values, b["steps"]["step"].values)
    np.testing.assert_allclose(a["steps"]["loss"].values, b["steps"]["loss"].values, rtol=1e-5)
    wa, wb = load_checkpoint(tmp_path / "straight")[0], load_checkpoint(tmp_path / "resumed")[0]
    for (n, p), q in zip(wa.named_parameters(), wb.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=n)


def _committed(run):
    path = run / "record.zarr"
    try:
        return int(zarr.open_group(str(path), mode="r").attrs.get("committed_epochs", 0))
    except Exception:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_training_keeps_finished_epochs_and_resume_completes(tmp_path, sig):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "workbench", "train", "--epochs", "3", "--train-size", "4000",
           "--test-size", "400", "--probe-size", "100", "--batch-size", "64",
           "--curvature-iters", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while _committed(out) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)  # well inside the next epoch
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0].decode()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "--resume" in output
    tree = open_run(out)
    done = tree.attrs["committed_epochs"]
    assert 1 <= done < 3
    steps = tree["steps"]["step"].values
    np.testing.assert_array_equal(steps, np.arange(done * 63))
    assert np.isfinite(tree["layers"]["grad_norm"].values).all()
    assert tree["epochs"].sizes["epoch"] == done
    res = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    tree = open_run(out)
    np.testing.assert_array_equal(tree["steps"]["step"].values, np.arange(3 * 63))
    np.testing.assert_array_equal(tree["epochs"]["epoch"].values, [0, 1, 2])
    assert tree["probe"].sizes["epoch"] == 3


def test_nan_loss_stops_with_step_and_layer(tmp_path):
    # an MLP (no BatchNorm to renormalise the blown-up weights) diverges for sure
    cfg = TrainConfig(model="mlp", epochs=1, lr=1e6, lr_schedule="constant", **SMALL)
    with pytest.raises(FloatingPointError, match=r"at step \d+; first non-finite value in"):
        train(cfg, tmp_path / "nan", progress=False)


@pytest.mark.slow
def test_default_cnn_reaches_88_percent_in_two_cpu_epochs(tmp_path):
    out = train(TrainConfig(epochs=2, probe_size=100), tmp_path / "full", progress=False)
    acc = open_run(out)["epochs"]["test_acc"].values
    assert acc[-1] >= 0.88, acc
