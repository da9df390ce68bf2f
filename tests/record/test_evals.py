"""Test accuracy every K steps on a fixed stratified subset (``/evals``): the subset, the
points, their values against a brute-force reference, resume, and the cost in calls."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import workbench
from workbench.config import TrainConfig
from workbench.record import open_run
from workbench.record.evals import Evaluator, default_every, eval_subset
from workbench.record.integrity import verify

#: 300 training images in batches of 50: 6 optimizer steps an epoch.
SIX = dict(train_size=300, test_size=200, probe_size=50, batch_size=50, signal_batch=8,
           curvature_iters=0, device="cpu")


# -- the subset ---------------------------------------------------------------------------------
def test_the_subset_is_stratified_with_known_class_counts():
    counts = [150, 300, 120, 200, 500, 110, 130, 140, 160, 190]  # unequal classes
    targets = np.repeat(np.arange(10), counts)
    np.random.default_rng(1).shuffle(targets)
    pos = eval_subset(targets, 1000, seed=3)
    assert np.bincount(targets[pos]).tolist() == [100] * 10
    assert len(np.unique(pos)) == 1000 and np.all(np.diff(pos) > 0)
    odd = eval_subset(targets, 995, seed=3)   # 99 each, and 5 classes get one more
    assert sorted(np.bincount(targets[odd]).tolist()) == [99] * 5 + [100] * 5
    np.testing.assert_array_equal(eval_subset(targets, 1000, seed=3), pos)  # fixed
    assert not np.array_equal(eval_subset(targets, 1000, seed=4), pos)      # seeded
    np.testing.assert_array_equal(eval_subset(targets[:50], 1000, seed=0), np.arange(50))


def test_default_spacing_is_about_ten_points_an_epoch():
    for spe in (79, 469, 100, 5, 1):
        k = default_every(spe)
        assert k >= 1 and (spe // k in range(8, 13) or k == 1)
    assert [default_every(s) for s in (79, 469, 4)] == [8, 47, 1]
    ev = Evaluator(torch.zeros(3, 2), torch.zeros(3), every=8)
    assert [n for n in range(0, 33) if ev.due(n)] == [8, 16, 24, 32]
    with pytest.raises(ValueError, match="eval_every must be a whole number .* got 0"):
        Evaluator(torch.zeros(3, 2), torch.zeros(3), every=0)


def test_evaluator_matches_a_brute_force_reference():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, -1]]))
        model.bias.copy_(torch.tensor([0.1, -0.2, 0.0]))
    x, y = torch.randn(11, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1])
    model.train()
    ev = Evaluator(x, y, every=2, indices=np.arange(100, 111), batch_size=3)
    acc, loss = ev.evaluate(model, steps_done=2, epoch=0)
    assert model.training  # restored
    z = x.numpy().astype(np.float64) @ model.weight.detach().numpy().T.astype(np.float64) \
        + model.bias.detach().numpy()
    logp = z - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - z.max(1, keepdims=True)
    assert acc == pytest.approx(np.mean(z.argmax(1) == y.numpy()))
    assert loss == pytest.approx(-logp[np.arange(11), y.numpy()].mean(), rel=1e-6)
    ev.evaluate(model, steps_done=4, epoch=1)
    ds = ev.dataset()
    assert ds["acc"].dims == ("eval_step",) and ds["eval_step"].values.tolist() == [2, 4]
    assert ds["epoch"].values.tolist() == [0, 1] and ev.calls == 2
    assert json.loads(ds.attrs["class_counts"]) == [4, 4, 3]
    assert json.loads(ds.attrs["indices"]) == list(range(100, 111))
    assert ds.attrs["subset_size"] == 11 and ev.dataset() is None  # the points were handed on


# -- a training run -----------------------------------------------------------------------------
def test_train_evaluates_every_k_steps_on_the_stated_subset(tmp_path):
    from workbench.data import load_dataset
    from workbench.train import train

    out = train(TrainConfig(epochs=2, eval_every=4, eval_size=100, **SIX), tmp_path / "r",
                progress=False)
    tree = open_run(out, verify=True)  # reopens, intact
    ev = tree["evals"].to_dataset()
    assert ev["eval_step"].values.tolist() == [4, 8, 12]   # after steps 4, 8, 12 of 12
    assert ev["epoch"].values.tolist() == [0, 1, 1]
    assert ev.attrs["subset_size"] == 100
    # the 200-image test subset is stratified (20 a class), the eval subset of it too
    assert json.loads(ev.attrs["class_counts"]) == [10] * 10
    assert tree.attrs["committed_evals"] == 3
    # the point after the last step is the last checkpoint's accuracy on those images
    test = load_dataset("fashion-mnist", train=False)
    idx = np.array(json.loads(ev.attrs["indices"]))
    assert np.bincount(test.targets[idx].numpy(), minlength=10).tolist() == [10] * 10
    model, _ = workbench.record.load_checkpoint(out, epoch=1)
    with torch.no_grad():
        pred = model(test.images[idx]).argmax(1)
    assert float(ev["acc"].values[-1]) == pytest.approx(
        float((pred == test.targets[idx]).float().mean()))
    assert verify(out) == []


def test_default_is_about_ten_points_an_epoch_and_the_calls_are_counted(tmp_path):
    from workbench.train import _train_epoch, create_run

    cfg = TrainConfig(epochs=1, **{**SIX, "train_size": 600, "batch_size": 30})  # 20 steps
    run = create_run(cfg, tmp_path / "r")
    try:
        _train_epoch(run, 0, progress=False)
    finally:
        run.rec.close()
    ev = open_run(tmp_path / "r")["evals"]
    assert run.rec.recorder.evaluator.calls == 10 == ev.sizes["eval_step"]  # 20 // 2
    assert ev["eval_step"].values.tolist() == list(range(2, 21, 2))


def test_eval_every_0_records_no_evals_and_compare_says_its_resolution(tmp_path):
    from workbench import Run
    from workbench.compare import summary
    from workbench.train import train

    out = train(TrainConfig(epochs=1, eval_every=0, **SIX), tmp_path / "r", progress=False)
    run = Run(out)
    assert "evals" not in run.tree.children
    row = summary(run)
    assert row["steps_resolution"] == ("once an epoch (every 6 steps) on the full test set "
                                       "(/epochs; the run has no /evals)")
    # read from /epochs: the end of the first epoch is step 6; never is NaN
    row = summary(run, thresholds=(0.0, 1.01))
    assert row["steps_to_0%"] == 6.0 and np.isnan(row["steps_to_101%"])


def test_resume_continues_the_evals_without_repeating_a_point(tmp_path):
    import shutil

    import zarr

    from workbench.train import train

    cfg = TrainConfig(epochs=2, eval_every=4, **SIX)
    train(cfg, tmp_path / "straight", progress=False)
    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    # a crash in epoch 1: its data written, never committed (the counts say epoch 0 only)
    root = zarr.open_group(str(tmp_path / "resumed" / "record.zarr"), mode="r+")
    root.attrs.update({"committed_epochs": 1, "committed_steps": 6})
    zarr.consolidate_metadata(str(tmp_path / "resumed" / "record.zarr"))
    assert open_run(tmp_path / "resumed")["evals"]["eval_step"].values.tolist() == [4]
    train(cfg, tmp_path / "resumed", resume=True, progress=False)
    a, b = open_run(tmp_path / "straight"), open_run(tmp_path / "resumed", verify=True)
    assert b["evals"]["eval_step"].values.tolist() == [4, 8, 12]
    assert b.attrs["committed_evals"] == 3
    np.testing.assert_allclose(a["evals"]["acc"].values, b["evals"]["acc"].values, atol=1e-6)


def test_watch_evaluates_a_users_held_out_data(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    xt, yt = torch.randn(90, 4), torch.arange(90) % 3
    with pytest.raises(ValueError, match="needs eval_every=K"):
        workbench.watch(model, opt, tmp_path / "bad", eval_data=(xt, yt), progress=False)
    with workbench.watch(model, opt, tmp_path / "w", eval_data=(xt, yt), eval_every=4,
                         eval_size=30, progress=False) as rec:
        for _ in range(2):
            for i in range(0, 64, 16):
                loss = nn.functional.cross_entropy(model(x[i:i + 16]), y[i:i + 16])
                opt.zero_grad()
                loss.backward()
                rec.log(loss=loss)
                opt.step()
            rec.end_epoch()
    ev = open_run(tmp_path / "w")["evals"]
    assert ev["eval_step"].values.tolist() == [4, 8] and ev["epoch"].values.tolist() == [0, 1]
    assert json.loads(ev.attrs["class_counts"]) == [10, 10, 10]
    idx = np.array(json.loads(ev.attrs["indices"]))
    assert len(idx) == 30 and np.bincount(yt[idx].numpy()).tolist() == [10, 10, 10]
    # the point after step 8, the last, is the model we hold now
    with torch.no_grad():
        out = model(xt[idx])
    assert float(ev["acc"].values[-1]) == pytest.approx(
        float((out.argmax(1) == yt[idx]).float().mean()))
    assert float(ev["loss"].values[-1]) == pytest.approx(
        float(nn.functional.cross_entropy(out, yt[idx])), rel=1e-5)
