import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.probes.squeezing import squeezing


def hand_set_model():
    """z = W x with W = I (no bias): logits are the input itself, K = (x·x)·I."""
    m = nn.Linear(4, 4, bias=False).double()
    with torch.no_grad():
        m.weight.copy_(torch.eye(4))
    return m


def test_dominant_class_gains_and_matches_first_order_formula():
    m = hand_set_model()
    x = torch.tensor([[2.0, 0.5, 0.0, -1.0], [0.0, 1.5, 0.2, -0.5]], dtype=torch.float64)
    lr = 1e-4
    ds = squeezing(m, x, lr=lr)
    assert list(ds.dominant.values) == [0, 1]
    assert list(ds.pushed.values) == [3, 3]
    assert (ds.dominant_gain > 0).all() and (ds.pushed_change < 0).all()
    # the dominant class gains the most of all classes
    assert (ds.delta_prob.argmax("label") == ds.dominant).all()
    # first order, K = (x·x) I: Δlogπ_c = η k (π_c − δ_{c y} − Σπ² + π_y)
    for s in range(2):
        p = torch.softmax(x[s], -1).numpy()
        k = float(x[s] @ x[s])
        dlogp = lr * k * (p - np.eye(4)[3] - (p ** 2).sum() + p[3])
        assert_allclose(ds.delta_prob.values[s], p * dlogp, rtol=1e-3)
    # probability is conserved
    assert_allclose(ds.delta_prob.sum("label").values, 0, atol=1e-12)
    assert_allclose((ds.dominant_gain + ds.pushed_change + ds.others_change).values, 0,
                    atol=1e-12)


def test_brute_force_single_step_per_sample_and_model_untouched():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    w0 = [p.clone() for p in m.parameters()]
    ds = squeezing(m, x, lr=0.3, label=[0, 1, 2, 0])
    assert all(torch.equal(a, b) for a, b in zip(w0, m.parameters(), strict=True))
    for s, y in enumerate([0, 1, 2, 0]):
        import copy
        twin = copy.deepcopy(m)
        lp = torch.log_softmax(twin(x[s:s + 1]), -1)[0, y]
        gs = torch.autograd.grad(lp, list(twin.parameters()))
        with torch.no_grad():
            for p, g in zip(twin.parameters(), gs, strict=True):
                p.sub_(0.3 * g)
            after = torch.softmax(twin(x[s:s + 1]), -1)[0].numpy()
        assert_allclose(ds.prob_after.values[s], after, rtol=1e-10)
    with pytest.raises(ValueError, match="one label per sample"):
        squeezing(m, x, lr=0.1, label=[0, 1])
