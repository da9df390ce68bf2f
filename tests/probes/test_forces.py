import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.probes.akg import akg
from workbench.probes.forces import forces, pulls


def models(n=3):
    out = []
    for e in range(n):
        torch.manual_seed(e)
        out.append((e, nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double()))
    return out


def data():
    torch.manual_seed(10)
    return (torch.randn(1, 5, dtype=torch.float64), torch.randn(8, 5, dtype=torch.float64),
            np.array([0, 1, 2, 0, 1, 2, 0, 1]))


def test_pull_equals_akg_on_each_single_example_and_sums_to_batch_step():
    (_, model), = models(1)
    x_o, x_u, y_u = data()
    p = pulls(model, x_o, x_u, y_u, lr=0.1)
    for u in range(8):
        one = akg(model, x_o, x_u[u:u + 1], y_u[u:u + 1], lr=0.1).delta_log_prob.values[0]
        assert_allclose(p[u], one, rtol=1e-10, atol=1e-14)
    batch = akg(model, x_o, x_u, y_u, lr=0.1).delta_log_prob.values[0]
    assert_allclose(p.sum(0) / 8, batch, rtol=1e-10, atol=1e-14)


def test_forces_over_epochs_top_k_by_total_norm():
    ckpts = models(3)
    x_o, x_u, y_u = data()
    full = forces(ckpts, x_o, x_u, y_u, lr=0.2, top_k=None, progress=False,
                  sample_u=np.arange(100, 108))
    assert full.dims == ("epoch", "sample_u", "label")
    assert list(full.epoch.values) == [0, 1, 2]
    for e, m in ckpts:  # brute force, epoch by epoch
        assert_allclose(full.sel(epoch=e).values, pulls(m, x_o, x_u, y_u, lr=0.2))
    top = forces(ckpts, x_o, x_u, y_u, lr=0.2, top_k=3, progress=False,
                 sample_u=np.arange(100, 108))
    strength = [np.linalg.norm(full.values[:, u], axis=-1).sum() for u in range(8)]
    want = [100 + u for u in sorted(range(8), key=lambda u: -strength[u])[:3]]
    assert list(top.sample_u.values) == want
    assert list(top["rank"].values) == [0, 1, 2]
    assert list(top.label_u.values) == [y_u[w - 100] for w in want]


def test_callable_checkpoints_and_lr_schedule():
    ckpts = dict(models(2))
    x_o, x_u, y_u = data()
    f = forces(ckpts.__getitem__, x_o, x_u, y_u, lr=lambda e: 0.1 * (e + 1), epochs=[0, 1],
               top_k=None, progress=False)
    assert_allclose(f.sel(epoch=1).values, pulls(ckpts[1], x_o, x_u, y_u, lr=0.2))
    with pytest.raises(ValueError, match="epochs="):
        forces(ckpts.__getitem__, x_o, x_u, y_u, lr=0.1)
    with pytest.raises(ValueError, match="batch of one sample"):
        pulls(ckpts[0], x_u[:2], x_u, y_u, lr=0.1)


def test_progress_bar_names_epochs_from_0(capsys):
    """The bar names the epoch in hand as the tables do (from 0) and counts epochs done."""
    x_o, x_u, y_u = data()
    forces(dict(models(2)).__getitem__, x_o, x_u, y_u, lr=0.1, epochs=[0, 1], top_k=None,
           progress=True)
    err = capsys.readouterr().err
    assert "forces: epoch 0:" in err and "forces: epoch 1: 100%" in err
    assert "2 of 2 epochs done" in err
    assert "epoch 2" not in err


@pytest.mark.parametrize("as_dict", [False, True])
def test_transformer_pulls_match_a_loop_of_per_example_gradients(transformer, as_dict):
    """pull_u = −η (I − 1πᵀ) J(x_o) ∇θ CE(x_u, y_u), with J and ∇θ CE by plain autograd
    one example at a time, on token ids and on a dict of inputs."""
    from workbench.batches import as_inputs, logits

    model, ids = transformer(n=7)
    model.eval()
    y = np.array([0, 1, 2, 3, 0, 1])
    x = {"input_ids": ids, "attention_mask": torch.ones_like(ids)} if as_dict else ids
    x = as_inputs(x)
    x_o, x_u = x[:1], x[1:]
    p = pulls(model, x_o, x_u, y, lr=0.3)
    params = [q for q in model.parameters()]
    z = logits(model, x_o)[0]
    j = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(
        z[c], params, retain_graph=True)]) for c in range(z.shape[0])])
    pi = torch.softmax(z, -1).detach()
    a = torch.eye(len(pi), dtype=pi.dtype) - pi[None, :]
    for u in range(6):
        loss = nn.functional.cross_entropy(logits(model, x_u[u:u + 1]), torch.tensor([y[u]]))
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, params)])
        expected = -0.3 * a @ (j @ g)
        assert_allclose(p[u], expected.detach().numpy(), rtol=1e-9, atol=1e-13)
    # and akg on the whole update set is their mean (the same kernel, by the eNTK path)
    batch = akg(model, x_o, x_u, y, lr=0.3).delta_log_prob.values[0]
    assert_allclose(p.mean(0), batch, rtol=1e-9, atol=1e-13)
