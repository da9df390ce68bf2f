import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.models import build_model
from workbench.probes.curvature import layer_curvature


class TwoLinear(nn.Module):
    """y_hat = a(x[:, :3]) + b(x[:, 3:]): each group's Hessian block is known in closed form."""

    groups = ("a", "b", "pool")

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 1, bias=False)
        self.b = nn.Linear(4, 1)
        self.pool = nn.Identity()

    def forward(self, x):
        return self.pool(self.a(x[:, :3]) + self.b(x[:, 3:])).squeeze(-1)


class TinyBN(nn.Module):
    groups = ("conv1", "bn1", "fc")

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1, self.fc = nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Linear(144, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.bn1(self.conv1(x))).flatten(1))


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 7)) * np.array([3.0, 1.0, 0.3, 2.0, 1.0, 0.5, 0.2])
    y = rng.normal(size=n)
    return torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)


def mse(out, y):
    return ((out - y) ** 2).mean()


def test_curvature_matches_exact_least_squares_eigenvalue():
    x, y = _data()
    model = TwoLinear().double()
    out = layer_curvature(model, x, y, loss_fn=mse, iters=100)
    assert out.dims == ("layer",)
    assert out.layer.values.tolist() == ["a", "b", "pool"]
    xn = x.numpy()
    n = len(xn)
    ha = 2 * xn[:, :3].T @ xn[:, :3] / n  # Hessian of mean squared error = 2 X^T X / n
    xb = np.c_[xn[:, 3:], np.ones(n)]  # b has a bias: its column of ones
    hb = 2 * xb.T @ xb / n
    assert_allclose(out.sel(layer="a"), np.linalg.eigvalsh(ha)[-1], rtol=1e-6)
    assert_allclose(out.sel(layer="b"), np.linalg.eigvalsh(hb)[-1], rtol=1e-6)
    assert np.isnan(out.sel(layer="pool"))  # no parameters


def test_negative_definite_block_gives_top_algebraic_eigenvalue():
    x, y = _data(seed=1)
    model = TwoLinear().double()

    def neg(out, y):
        return -(out ** 2).mean()

    out = layer_curvature(model, x, y, groups=["a"], loss_fn=neg, iters=200)
    xa = x.numpy()[:, :3]
    expected = np.linalg.eigvalsh(-2 * xa.T @ xa / len(xa))[-1]  # closest to zero
    assert_allclose(out.sel(layer="a"), expected, rtol=1e-5)


def test_mode_restored_and_bn_uses_running_stats():
    model = TinyBN()
    x, y = torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,))
    before = model.bn1.running_mean.clone()
    model.train()
    out = layer_curvature(model, x, y, groups=["bn1", "fc"], iters=3)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(model.bn1.running_mean, before)  # eval: stats untouched
    assert np.isfinite(out.values).all()
    model.eval()
    layer_curvature(model, x, y, groups=["fc"], iters=2)
    assert not model.training


def test_unknown_group_lists_groups():
    with pytest.raises(ValueError, match="conv1, conv2, fc1, fc2"):
        layer_curvature(build_model("cnn"), torch.zeros(1, 1, 28, 28), torch.zeros(1).long(),
                        groups=["nope"])


def _group_hessian_top(model, ids, y, prefixes):
    """Brute force: the full Hessian of the loss in the group's flattened parameters
    (torch.autograd.functional.hessian), its top eigenvalue by eigvalsh."""
    from torch.func import functional_call

    names = [n for n, _ in model.named_parameters()
             if any(n == p or n.startswith(p + ".") for p in prefixes)]
    base = {n: p.detach() for n, p in model.named_parameters()}
    shapes = [base[n].shape for n in names]
    flat0 = torch.cat([base[n].reshape(-1) for n in names])

    def loss(flat):
        state, k = dict(base), 0
        for n, s in zip(names, shapes, strict=True):
            state[n] = flat[k:k + s.numel()].reshape(s)
            k += s.numel()
        return nn.functional.cross_entropy(functional_call(model, state, (ids,)), y)

    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.MATH]):  # the fused CPU kernel has no double backward
        h = torch.autograd.functional.hessian(loss, flat0)
    return float(torch.linalg.eigvalsh(h).max())


def test_transformer_curvature_through_attention_and_layernorm_matches_full_hessian(
        transformer):
    """Hessian-vector products through nn.MultiheadAttention (F.scaled_dot_product_attention,
    whose fused CPU kernel has no double backward) and LayerNorm, checked per group against
    the eigenvalues of the brute-force Hessian of a tiny model."""
    from workbench.groups import resolve_groups

    # seed 4: every group's top eigenvalue is also its largest in magnitude, with a gap
    # (|λ2/λ1| <= 0.86), so 60 power iterations converge far below the tolerance
    model, ids = transformer(n=12, seed=4, d=4, heads=1, vocab=5, seq=3, classes=3)
    y = torch.arange(12) % 3
    model.eval()
    groups = resolve_groups(model)
    assert any("attn" in p or p == "blocks.0" for ps in groups.values() for p in ps)
    curv = layer_curvature(model, ids, y, groups=groups, iters=60, seed=0)
    assert list(curv.layer.values) == list(groups)
    for name, prefixes in groups.items():
        expected = _group_hessian_top(model, ids, y, prefixes)
        assert_allclose(float(curv.sel(layer=name)), expected, rtol=1e-5, atol=1e-8,
                        err_msg=name)


def test_transformer_curvature_with_dict_inputs_and_a_forward(transformer):
    """A dict of inputs (model(**x)) and a user's forward give the same curvature as the
    plain token tensor."""
    model, ids = transformer(n=8, d=4, heads=1, classes=3, tuple_out=True)
    y = torch.arange(8) % 3
    x = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    groups = {"attention": ("blocks.0.ln1", "blocks.0.attn"), "head": "head"}
    by_dict = layer_curvature(model, x, y, groups=groups, iters=8)
    by_forward = layer_curvature(model, ids, y, groups=groups, iters=8,
                                 forward=lambda m, t: m(input_ids=t)[0])
    assert_allclose(by_dict.values, by_forward.values, rtol=1e-10)
    assert list(by_dict.layer.values) == ["attention", "head"]
