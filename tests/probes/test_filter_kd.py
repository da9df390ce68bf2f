import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from workbench.probes.filter_kd import PredictionEMA, soft_cross_entropy


def test_ema_matches_loop_and_closed_form():
    rng = np.random.default_rng(0)
    alpha, n, c = 0.7, 5, 3
    ema = PredictionEMA(n, c, alpha=alpha)
    ref = np.full((n, c), 1 / c)
    history = []
    for _ in range(6):
        idx = rng.choice(n, size=3, replace=False)
        p = rng.dirichlet(np.ones(c), size=3)
        ema.update(torch.tensor(idx), torch.tensor(p))
        for k, i in enumerate(idx):
            ref[i] = alpha * ref[i] + (1 - alpha) * p[k]
        history.append((idx, p))
    assert_allclose(ema.targets.numpy(), ref, rtol=1e-6)
    assert_allclose(ema.targets.sum(-1).numpy(), 1, rtol=1e-6)
    # constant predictions: after t updates q = π + α^t (q0 − π)
    e2 = PredictionEMA(1, 2, alpha=0.5)
    for _ in range(3):
        e2.update(torch.tensor([0]), torch.tensor([[1.0, 0.0]]))
    assert_allclose(e2.targets[0].numpy(), [1 - 0.5 ** 3 * 0.5, 0.5 ** 3 * 0.5])


def test_soft_cross_entropy_equals_hard_on_one_hot_and_brute_force():
    torch.manual_seed(0)
    z = torch.randn(4, 5)
    y = torch.tensor([0, 3, 1, 4])
    assert_allclose(float(soft_cross_entropy(z, F.one_hot(y, 5).float())),
                    float(F.cross_entropy(z, y)), rtol=1e-6)
    q = torch.softmax(torch.randn(4, 5), -1)
    brute = np.mean([-sum(float(q[i, k]) * float(torch.log_softmax(z[i], -1)[k])
                          for k in range(5)) for i in range(4)])
    assert_allclose(float(soft_cross_entropy(z, q)), brute, rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="alpha"):
        PredictionEMA(3, 2, alpha=1.0)
    with pytest.raises(ValueError, match="shape"):
        PredictionEMA(3, 2, init=torch.zeros(2, 2))
