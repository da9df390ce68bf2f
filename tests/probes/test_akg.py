import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.probes.akg import akg, real_delta_log_prob


def setup(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4)).double()
    x_o = torch.randn(3, 5, dtype=torch.float64)
    x_u = torch.randn(6, 5, dtype=torch.float64)
    y_u = torch.tensor([0, 1, 2, 3, 1, 2])
    return model, x_o, x_u, y_u


def rel_err(pred, real):
    return float(np.linalg.norm(pred - real) / np.linalg.norm(real))


def test_first_order_prediction_matches_real_step_and_error_shrinks_linearly():
    model, x_o, x_u, y_u = setup()
    errs = []
    for lr in (1e-1, 1e-2, 1e-3):
        pred = akg(model, x_o, x_u, y_u, lr=lr).delta_log_prob.values
        real = real_delta_log_prob(model, x_o, x_u, y_u, lr=lr).values
        errs.append(rel_err(pred, real))
    assert errs[1] < 0.05 and errs[2] < 0.005
    # first order: error / η roughly constant, so each 10x smaller η gives ~10x less error
    for big, small in zip(errs, errs[1:], strict=False):
        assert 5 < big / small < 20


def test_structure_of_terms():
    model, x_o, x_u, y_u = setup(1)
    ds = akg(model, x_o, x_u, y_u, lr=0.1, sample=[7, 8, 9])
    assert ds.A.dims == ("sample", "label_i", "label_j")
    assert ds.K.dims == ("sample", "sample_u", "label_i", "label_j")
    assert ds.G.dims == ("sample_u", "label")
    assert list(ds.sample.values) == [7, 8, 9]
    assert_allclose(ds.A.sum("label_j").values, 0, atol=1e-14)  # A·1 = 0
    assert_allclose(ds.G.sum("label").values, 0, atol=1e-14)    # G sums to zero
    # G's negative entry is at the label: π_y − 1
    assert_allclose(ds.G.values[np.arange(6), y_u.numpy()],
                    ds.G.values[np.arange(6), y_u.numpy()].clip(max=0))
    # delta_log_prob = A · delta_logits, and probabilities are conserved to first order:
    assert_allclose((ds.prob * ds.delta_log_prob).sum("label").values, 0, atol=1e-14)


def test_brute_force_loop_over_update_examples():
    model, x_o, x_u, y_u = setup(2)
    lr = 0.05
    ds = akg(model, x_o, x_u, y_u, lr=lr)
    want = np.zeros((3, 4))
    for o in range(3):
        a = ds.A.values[o]
        for u in range(6):
            want[o] += -lr / 6 * a @ ds.K.values[o, u] @ ds.G.values[u]
    assert_allclose(ds.delta_log_prob.values, want, rtol=1e-12)


def test_linear_model_closed_form():
    torch.manual_seed(3)
    model = nn.Linear(3, 2).double()
    x_o = torch.randn(1, 3, dtype=torch.float64)
    x_u = torch.randn(1, 3, dtype=torch.float64)
    ds = akg(model, x_o, x_u, [1], lr=0.1)
    k = float(x_o[0] @ x_u[0]) + 1
    p_u = torch.softmax(model(x_u), -1)[0].detach().numpy()
    dz = -0.1 * k * (p_u - np.array([0.0, 1.0]))
    assert_allclose(ds.delta_logits.values[0], dz, rtol=1e-12)


def test_real_step_leaves_model_untouched_and_errors():
    model, x_o, x_u, y_u = setup()
    before = [p.clone() for p in model.parameters()]
    real_delta_log_prob(model, x_o, x_u, y_u, lr=0.5)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="one label per update example"):
        akg(model, x_o, x_u, y_u[:3], lr=0.1)
    with pytest.raises(ValueError, match="y_u in 0..3"):
        akg(model, x_o, x_u, torch.tensor([0, 1, 2, 9, 1, 2]), lr=0.1)
