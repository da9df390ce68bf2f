"""The ``forces`` analysis against the probes applied by hand to the epoch's checkpoint."""

import dataclasses

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from workbench import Run
from workbench.analysis import forces as fa
from workbench.data import load_dataset
from workbench.probes.akg import akg, real_delta_log_prob


@pytest.fixture(scope="module")
def run(noisy_run):
    return Run(noisy_run)


@pytest.fixture(scope="module")
def ds(run):
    return fa.forces(run, run.epochs[-1])


def test_fixed_seeded_samples_with_flipped_labels(run, ds):
    obs, upd = fa.chosen_samples(run)
    assert np.array_equal(ds.sample_o.values, obs) and np.array_equal(ds.sample_u.values, upd)
    assert (ds.sizes["sample_o"], ds.sizes["sample_u"]) == (4, 16)
    assert np.isin(obs, run.tree["probe"].sample.values).all()   # probe test indices
    assert np.isin(upd, run.train_data().indices).all()          # train indices of the run
    assert np.array_equal(ds.flipped.values, np.isin(upd, run.flipped))
    assert int(ds.flipped.sum()) == 4                             # a quarter are flipped
    again = fa.chosen_samples(run)
    assert all(np.array_equal(a, b) for a, b in zip(again, (obs, upd), strict=True))
    other = fa.chosen_samples(run, dataclasses.replace(fa.SETTINGS, seed=1, n_update=8))
    assert len(other[1]) == 8 and not np.array_equal(other[0], obs)


def test_labels_are_as_trained_and_targets_are_true(run, ds):
    noisy = load_dataset("fashion-mnist", train=True, label_noise=0.2, noise_seed=0)
    upd = np.array(ds.sample_u.values)  # a writable copy: torch indexes with it
    assert np.array_equal(ds.label_u.values, noisy.targets[upd].numpy())
    flipped = ds.flipped.values
    assert (noisy.clean_targets[upd[flipped]] != noisy.targets[upd[flipped]]).all()
    test = load_dataset("fashion-mnist", train=False)
    assert np.array_equal(ds.target.values, test.targets[np.array(ds.sample_o.values)].numpy())


def _by_hand(run, ds):
    noisy = load_dataset("fashion-mnist", train=True, label_noise=0.2, noise_seed=0)
    test = load_dataset("fashion-mnist", train=False)
    upd, obs = np.array(ds.sample_u.values), np.array(ds.sample_o.values)  # writable
    return (run.model(run.epochs[-1]), test.images[obs], noisy.images[upd],
            noisy.targets[upd].numpy())


@pytest.mark.slow
def test_pull_equals_the_entk_akg_of_each_update_example(run, ds):
    model, x_o, x_u, y_u = _by_hand(run, ds)
    eta = float(ds.lr)
    steps = run.tree["steps"]
    assert eta == float(np.median(steps.lr.values[steps.epoch.values == run.epochs[-1]]))
    some = np.unique([int(np.argmax(ds.flipped.values)), 0, 7, 15])  # a flipped one included
    for u in some:  # independent path: eNTK J J^T, one update example at a time
        ref = akg(model, x_o, x_u[u:u + 1], y_u[u:u + 1], lr=eta).delta_log_prob
        assert_allclose(ds.pull.isel(sample_u=u).values, ref.values, rtol=1e-4, atol=1e-6)
    whole = akg(model, x_o, x_u, y_u, lr=eta).delta_log_prob
    assert_allclose(ds.predicted.values, whole.values, rtol=1e-4, atol=1e-6)


def test_actual_step_and_learning_path(run, ds):
    model, x_o, x_u, y_u = _by_hand(run, ds)
    eta = float(ds.lr)
    real = real_delta_log_prob(model, x_o, x_u, y_u, lr=eta)
    assert_allclose(ds.actual.values, real.values, rtol=1e-4, atol=1e-6)
    # first order: the prediction is close to the real small step
    err = np.linalg.norm(ds.predicted.values - ds.actual.values)
    assert err < 0.2 * np.linalg.norm(ds.actual.values)
    # prob is pi(x_o) at this epoch: the softmax of the logits the run recorded on its probe set
    logits = run.tree["probe"]["logits"].sel(epoch=run.epochs[-1], sample=ds.sample_o).values
    assert_allclose(ds.prob.values, torch.softmax(torch.tensor(logits), -1).numpy(),
                    rtol=1e-5, atol=1e-7)


def test_analytic_pulls_conserve_probability(ds):
    # A = I - 1 pi^T, so sum_i pi_i (A v)_i = 0: a pull cannot change sum_i pi_i to first order
    weighted = (ds.pull * ds.prob).sum("label")
    assert_allclose(weighted.values, 0.0, atol=1e-5 * float(abs(ds.pull).max()))
    assert_allclose(ds.prob.sum("label").values, 1.0, rtol=1e-12)


def test_bad_sizes_are_refused(run):
    with pytest.raises(ValueError, match="n_update >= 1; got 4 and 0"):
        fa.chosen_samples(run, dataclasses.replace(fa.SETTINGS, n_update=0))


@pytest.mark.slow
def test_forces_command_reads_the_stored_analysis(noisy_run, tmp_path, capsys):
    import shutil

    from workbench import analyze
    from workbench.cli import main
    from workbench.commands.forces import stored

    path = tmp_path / "run"
    shutil.copytree(noisy_run, path)
    assert stored(path, sample=0) is None                       # nothing analysed yet
    assert analyze(path, only="forces", progress=False) == {"forces": [0]}
    ds = Run(path).analysis("forces").load()
    s = int(ds.sample_o[1])
    pulls, info = stored(path, sample=s, top=None)
    assert info["source"] == "/analysis/forces" and info["pool"] == 16
    want = ds.pull.sel(sample_o=s).transpose("epoch", "sample_u", "label")
    assert_allclose(pulls.transpose("epoch", "sample_u", "label").values,
                    want.sel(sample_u=pulls.sample_u).values)
    assert np.array_equal(pulls.flipped.values, np.isin(pulls.sample_u, Run(path).flipped))
    assert sorted(pulls["rank"].values.tolist()) == list(range(16))
    assert main(["forces", str(path), "--sample", str(s), "--top", "3",
                 "--out", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    assert "source: /analysis/forces" in out and "top 3 of 16" in out
