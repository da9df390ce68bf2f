"""``Run``: config, epochs, data as trained, probe images, models; diagnostics without torch."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import NOISY, TINY

from workbench import Run
from workbench.config import TrainConfig
from workbench.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tiny_run):
    return Run(tiny_run)


@pytest.fixture(scope="module")
def noisy(noisy_run):
    return Run(noisy_run)


def test_config_is_a_train_config(run):
    assert isinstance(run.config, TrainConfig)
    for key in ("epochs", "train_size", "test_size", "batch_size", "signal_every"):
        assert getattr(run.config, key) == TINY[key]
    assert run.config.feature_layers == TINY["feature_layers"]
    assert run.classes[0] == "T-shirt/top" and len(run.classes) == 10


def test_epochs_are_committed_and_checkpointed(run, tmp_path):
    assert run.epochs == [0, 1]
    path = tmp_path / "run"
    shutil.copytree(run.path, path)
    (path / "checkpoints" / "epoch_0001.pt").unlink()          # committed, no checkpoint
    shutil.copy(path / "checkpoints" / "epoch_0000.pt",
                path / "checkpoints" / "epoch_0005.pt")         # checkpoint, not committed
    cut = Run(path)
    assert cut.epochs == [0]
    with pytest.raises(ValueError, match=r"no committed checkpoint for epoch 1.*\[0\]"):
        cut.model(1)


def test_train_data_is_what_training_used_with_label_noise(noisy):
    data = noisy.train_data()
    attrs = noisy.tree.attrs
    assert len(data) == NOISY["train_size"]
    assert np.array_equal(data.indices, json.loads(attrs["train_indices"]))
    # the noisy labels: flipped exactly where training recorded, ~20 % of the subset
    full = load_dataset("fashion-mnist", train=True, label_noise=NOISY["label_noise"],
                        noise_seed=noisy.config.seed)
    assert torch.equal(data.targets, full.targets[data.indices])
    flipped = data.indices[(data.targets != data.clean_targets).numpy()]
    assert np.array_equal(np.sort(flipped), np.sort(json.loads(attrs["flipped_train_indices"])))
    assert np.array_equal(np.sort(noisy.flipped), np.sort(flipped))
    assert 0.1 < len(flipped) / len(data) < 0.3
    clean = load_dataset("fashion-mnist", train=True)
    assert (clean.targets[flipped] != full.targets[flipped]).all()


def test_test_data_is_the_evaluated_subset(run):
    test = run.test_data()
    assert len(test) == TINY["test_size"] and test.split == "test"
    assert np.isin(run.tree["probe"].sample.values, test.indices).all()


def test_probe_images_trace_to_test_indices_and_give_the_recorded_logits(run):
    img = run.probe_images()
    assert img.dims == ("sample", "row", "col", "channel")
    samples = run.tree["probe"].sample.values
    assert np.array_equal(img.sample.values, samples)
    test = load_dataset("fashion-mnist", train=False)
    assert np.array_equal(img.transpose("sample", "channel", "row", "col").values,
                          test.images[samples].numpy())
    x = torch.from_numpy(img.transpose("sample", "channel", "row", "col").values.copy())
    with torch.no_grad():
        logits = run.model(-1)(x).numpy()
    np.testing.assert_allclose(logits, run.tree["probe"]["logits"].isel(epoch=-1).values,
                               rtol=1e-4, atol=1e-5)


def test_model_weights_equal_the_checkpoint(run):
    for epoch in run.epochs:
        model = run.model(epoch)
        assert not model.training
        saved = torch.load(run.path / "checkpoints" / f"epoch_{epoch:04d}.pt",
                           weights_only=True)["model"]
        state = model.state_dict()
        assert state.keys() == saved.keys()
        for k in saved:
            assert torch.equal(state[k], saved[k]), k
    a, b = run.model(0).state_dict(), run.model(1).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)   # epochs really differ


def test_importing_diagnostics_does_not_import_torch():
    code = ("import sys, workbench.diagnostics, workbench.analysis.registry; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                         check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_module_class_is_a_factory(tmp_path):
    """``Run(path, model=Net)``: the class builds the model (it is not copied as a module)."""
    import workbench

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x)

    trained = Net()
    opt = torch.optim.SGD(trained.parameters(), lr=0.5)
    with workbench.watch(trained, opt, tmp_path / "run", progress=False) as rec:
        trained(torch.ones(4, 3)).sum().backward()
        opt.step()
        rec.end_epoch()
    model = Run(tmp_path / "run", model=Net).model(0)
    assert type(model) is Net
    assert torch.equal(model.fc.weight, trained.fc.weight)
