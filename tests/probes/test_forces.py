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
