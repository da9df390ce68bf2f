"""examples/grokking.py: its data, its model's double backward, and its loop at the CI size.

The recorded pipeline (``record=True`` through ``workbench.watch``, then ``analyze`` and the
Explorer) is tested where ``workbench.watch`` exists; here the loop runs with
``record=False``.
"""

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import grokking  # noqa: E402


def test_datasets_hold_every_pair_once_with_its_sum():
    p = 7
    train, test = grokking.datasets(p, 0.4, seed=3)
    x = torch.cat([train.tensors[0], test.tensors[0]])
    y = torch.cat([train.tensors[1], test.tensors[1]])
    assert len(train) == round(0.4 * p * p) and len(train) + len(test) == p * p
    assert x.dtype == torch.long and (x[:, 2] == p).all()
    pairs = {(int(a), int(b)) for a, b, _ in x}
    assert pairs == {(a, b) for a in range(p) for b in range(p)}
    for (a, b, _), t in zip(x.tolist(), y.tolist(), strict=True):
        assert t == (a + b) % p
    again, _ = grokking.datasets(p, 0.4, seed=3)
    assert torch.equal(again.tensors[0], train.tensors[0])


def test_hessian_vector_product_matches_central_difference():
    """Double backward through attention and LayerNorm, checked in float64."""
    torch.manual_seed(0)
    model = grokking.make_model(11, d_model=16, n_heads=2, d_mlp=32).double()
    x, y = grokking.datasets(11, 0.5, seed=0)[0].tensors
    params = list(model.parameters())

    def grads(**kw):
        return torch.autograd.grad(F.cross_entropy(model(x), y), params, **kw)

    v = [torch.randn_like(p) for p in params]
    g = grads(create_graph=True)
    hv = torch.autograd.grad(sum((a * b).sum() for a, b in zip(g, v, strict=True)), params)

    def shifted(sign, eps=1e-5):
        with torch.no_grad():
            for p, w in zip(params, v, strict=True):
                p.add_(sign * eps * w)
        out = grads()
        with torch.no_grad():
            for p, w in zip(params, v, strict=True):
                p.sub_(sign * eps * w)
        return out

    fd = [(a - b) / 2e-5 for a, b in zip(shifted(1), shifted(-1), strict=True)]
    err = sum(((a - b) ** 2).sum() for a, b in zip(fd, hv, strict=True)).sqrt()
    assert err / sum((b ** 2).sum() for b in hv).sqrt() < 1e-6


def test_loop_at_ci_size_memorises_and_reports_full_set_metrics():
    history = grokking.main(None, p=23, steps=300, every=50, record=False, threads=1)
    assert [h["step"] for h in history] == [50, 100, 150, 200, 250, 300]
    assert history[-1]["train_acc"] >= 0.99                       # it memorises
    # the accuracies are over the full sets: multiples of 1/len(set)
    train, test = grokking.datasets(23, 0.4, seed=0)
    n_test = len(test)
    for h in history:
        for name, n in (("train_acc", len(train)), ("test_acc", n_test)):
            assert round(h[name] * n) / n == pytest.approx(h[name], abs=1e-6)
