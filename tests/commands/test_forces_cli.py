import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench.cli import main
from workbench.commands.forces import compute


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from workbench.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = TrainConfig(epochs=2, train_size=60, test_size=40, probe_size=10, batch_size=30,
                      label_noise=0.2, device="cpu", signal_batch=8)
    train(cfg, out, progress=False)
    return out


@pytest.mark.slow
def test_forces_command_prints_top_pulls_and_writes_figure(tiny_run, capsys):
    fig = tiny_run / "f.png"
    rc = main(["forces", str(tiny_run), "--sample", "3", "--top", "3", "--pool", "40",
               "--out", str(fig)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "forces on test sample 3" in out and "top 3 of 40" in out
    assert fig.stat().st_size > 1000


@pytest.mark.slow
def test_compute_matches_pulls_on_loaded_checkpoints(tiny_run):
    from workbench.data import load_dataset
    from workbench.probes.forces import pulls
    from workbench.record.store import config, load_checkpoint, open_run

    f, info = compute(tiny_run, sample=5, top=None, pool=20)
    assert f.dims == ("epoch", "sample_u", "label") and list(f.epoch.values) == [0, 1]
    cfg = config(open_run(tiny_run))
    train = load_dataset("fashion-mnist", train=True, label_noise=0.2, noise_seed=cfg["seed"])
    test = load_dataset("fashion-mnist", train=False)
    u = f.sample_u.values
    model, _ = load_checkpoint(tiny_run, 1)
    # eta: the epoch's lr as its steps used it (the median of epoch 1's recorded steps)
    steps = open_run(tiny_run)["steps"]
    eta = float(np.median(steps["lr"].values[steps["epoch"].values == 1]))
    assert info["lr"] == pytest.approx(eta)
    want = pulls(model, test.images[5:6], train.images[u], train.targets[u].numpy(), lr=eta)
    assert_allclose(f.sel(epoch=1).values, want, rtol=1e-6, atol=1e-9)
    assert np.array_equal(f.label_u.values, train.targets[u].numpy())
    with pytest.raises(ValueError, match="test-set index"):
        compute(tiny_run, sample=10**6)
