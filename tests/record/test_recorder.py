"""The recorder against a hand computation on a tiny model with hand-set weights."""

import numpy as np
import pytest
import torch
from torch import nn

from workbench.record import (
    MemoryBudgetError,
    NonFiniteLossError,
    Recorder,
    RunStore,
    every,
    open_run,
)


class Tiny(nn.Module):
    groups = ("a", "b")

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.b = nn.Linear(2, 1)
        with torch.no_grad():
            self.a.weight.copy_(torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
            self.a.bias.copy_(torch.tensor([0.5, 0.0]))
            self.b.weight.copy_(torch.tensor([[1.0, -1.0]]))
            self.b.bias.copy_(torch.tensor([0.1]))

    def forward(self, x):
        return self.b(self.a(x))


X = np.array([[1.0, 0.0], [0.5, -1.0], [-1.0, 2.0]])
Y = np.array([1.0, 0.0, -1.0])
S = np.array([[0.2, 0.3], [1.0, 1.0]])  # signal batch
LR = 0.1


def hand_steps(n_steps):
    """Plain numpy: forward, gradients of mean squared error, SGD updates."""
    A, ab = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([0.5, 0.0])
    w, bb = np.array([1.0, -1.0]), 0.1
    out, prev = [], None
    for _ in range(n_steps):
        h = X @ A.T + ab
        z = h @ w + bb
        dz = 2 * (z - Y) / len(Y)
        g = {"a": np.concatenate([(np.outer(dz, w).T @ X).ravel(), np.outer(dz, w).sum(0)]),
             "b": np.concatenate([dz @ h, [dz.sum()]])}
        A, ab = A - LR * (np.outer(dz, w).T @ X), ab - LR * np.outer(dz, w).sum(0)
        w, bb = w - LR * (dz @ h), bb - LR * dz.sum()
        theta = {"a": np.concatenate([A.ravel(), ab]), "b": np.concatenate([w, [bb]])}
        upd = {k: -LR * g[k] for k in g}
        row = {}
        for k, act in (("a", h), ("b", z)):
            row[k] = dict(
                grad_norm=np.linalg.norm(g[k]), weight_norm=np.linalg.norm(theta[k]),
                update_norm=np.linalg.norm(upd[k]),
                update_cos=np.nan if prev is None else
                upd[k] @ prev[k] / np.linalg.norm(upd[k]) / np.linalg.norm(prev[k]),
                act_mean=act.mean(), act_std=act.std(ddof=1))
        hs = S @ A.T + ab
        row["a"]["signal"], row["b"]["signal"] = hs.mean(), (hs @ w + bb).mean()
        out.append(row)
        prev = upd
    return out


def test_recorded_values_match_hand_computation(tmp_path):
    model = Tiny()
    store = RunStore(tmp_path / "run")
    store.create({"config": "{}"})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    with Recorder(model, store=store, signal_schedule=every(1),
                  signal_batch=torch.tensor(S, dtype=torch.float32)) as rec:
        for step in range(3):
            opt.zero_grad()
            loss = ((model(x)[:, 0] - y) ** 2).mean()
            loss.backward()
            opt.step()
            rec.step(step, loss=loss, lr=LR, momentum=0.0, batch_size=3)
        rec.end_epoch(0, metrics={"train_loss": 1.0})
    layers = open_run(tmp_path / "run")["layers"].to_dataset()
    for t, row in enumerate(hand_steps(3)):
        for layer in ("a", "b"):
            for stat, want in row[layer].items():
                got = float(layers[stat].sel(step=t, layer=layer))
                np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7,
                                           err_msg=f"{stat} of {layer} at step {t}")


def test_no_hook_left_after_an_exception(tmp_path):
    model = Tiny()
    store = RunStore(tmp_path / "run")
    store.create({})
    with pytest.raises(RuntimeError, match="boom"), Recorder(model, store=store):
        assert len(model.a._forward_hooks) == 1
        raise RuntimeError("boom")
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_memory_budget_refuses_with_a_breakdown(tmp_path):
    store = RunStore(tmp_path / "run")
    with pytest.raises(MemoryBudgetError, match=r"over the memory budget of 0\.0 MiB.*per-step"):
        Recorder(Tiny(), store=store, steps_per_epoch=10**6, memory_budget=1000)


def test_nan_loss_names_step_and_layer_and_keeps_committed_epochs(tmp_path):
    model = Tiny()
    store = RunStore(tmp_path / "run")
    store.create({})
    x = torch.tensor(X, dtype=torch.float32)
    with Recorder(model, store=store) as rec:
        model(x).sum().backward()
        rec.step(0, loss=torch.tensor(1.0), lr=LR)
        rec.end_epoch(0, metrics={"train_loss": 1.0})
        with torch.no_grad():
            model.b.weight.fill_(float("inf"))
        loss = model(x).sum()
        with pytest.raises(NonFiniteLossError, match=r"at step 1; .* layer 'b' \(act_mean"):
            rec.step(1, loss=loss, lr=LR)
    tree = open_run(tmp_path / "run")
    assert tree["steps"].sizes["step"] == 1 and tree["epochs"]["epoch"].values.tolist() == [0]


def test_unknown_layer_lists_groups(tmp_path):
    with pytest.raises(ValueError, match="groups are: a, b"):
        Recorder(Tiny(), store=RunStore(tmp_path), layers=["c"])


def test_activation_std_is_accurate_on_a_large_batch():
    """float32 statistics of 400k activations agree with float64 numpy to 1e-6."""
    from workbench.record.hooks import mean_std

    x = torch.relu(torch.randn(128, 16, 14, 14, generator=torch.Generator().manual_seed(0)))
    ref = x.double().numpy()
    mean, std = mean_std(x).tolist()
    np.testing.assert_allclose(mean, ref.mean(), rtol=1e-6)
    np.testing.assert_allclose(std, ref.std(ddof=1), rtol=1e-6)
