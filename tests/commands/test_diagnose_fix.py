"""The diagnose and fix commands on a tiny recorded run (one epoch of a small CNN)."""

import json

import numpy as np
import pytest
import torch

from workbench.cli import main
from workbench.data import load_dataset
from workbench.probes.curvature import curvature_probe
from workbench.record.store import load_checkpoint, open_run
from workbench.train import TrainConfig, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    ds = load_dataset("fashion-mnist", train=True)
    probe = curvature_probe(ds.images[:64], ds.targets[:64], iters=5)
    cfg = TrainConfig(model="cnn", epochs=1, train_size=400, test_size=200, probe_size=50,
                      batch_size=64, lr=0.05, momentum="physics", curvature_iters=0)
    train(cfg, out, progress=False, epoch_probes=[probe])
    return out


def test_curvature_recorded_by_epoch_probe(run_dir):
    tree = open_run(run_dir)
    curv = tree["epochs_layers"]["curvature"]
    assert curv.dims == ("epoch", "layer")
    assert np.isfinite(curv.values).all()


def test_diagnose_prints_regimes_damping_and_groups(run_dir, capsys):
    assert main(["diagnose", str(run_dir), "--compare", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "damping regime per epoch" in out
    assert "recorded at the last epoch end" in out
    for g in ("conv1", "conv2", "fc1", "fc2"):
        assert g in out
    assert "problematic groups:" in out
    assert "overlap (Jaccard) of problematic groups: 1.00" in out  # a run against itself


def test_fix_saves_checkpoint_and_keeps_original(run_dir, capsys):
    ckpt = run_dir / "checkpoints" / "epoch_0000.pt"
    before = ckpt.read_bytes()
    assert main(["fix", str(run_dir), "--groups", "fc2", "--level", "layer"]) == 0
    out = capsys.readouterr().out
    assert "errors fixed" in out and "compute saved" in out
    assert ckpt.read_bytes() == before
    fixed = torch.load(run_dir / "checkpoints" / "fixed_layer.pt", weights_only=True)
    model, _ = load_checkpoint(run_dir)
    for k, v in model.state_dict().items():  # only fc2 changed
        assert torch.equal(v, fixed["model"][k]) != k.startswith("fc2."), k
    meta = json.loads(fixed["surgical"])
    assert meta["groups"] == "fc2" and meta["level"] == "layer"


def test_fix_unknown_group_is_a_clear_error(run_dir, capsys):
    assert main(["fix", str(run_dir), "--groups", "fc9"]) == 1
    assert "conv1, conv2, fc1, fc2" in capsys.readouterr().err
