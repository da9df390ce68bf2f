import copy

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.finetune.surgical import physics_momentum, surgical_fix


class TinyBN(nn.Module):
    groups = ("conv1", "bn1", "fc")

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(4 * 36, 3))

    def forward(self, x):
        return self.fc(torch.relu(self.bn1(self.conv1(x))))


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    y = (x[:, 0, :4].mean((1, 2)) > 0).long() + (x[:, 0, 4:].mean((1, 2)) > 0).long()
    return x, y


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = TinyBN()
    with torch.no_grad():  # make BN statistics non-trivial
        model.train()
        model(_data(64, 9)[0] * 3 + 1)
    model.eval()
    return model, _data(256, 1), _data(200, 2)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _predict(model, x):
    with torch.no_grad():
        return model.eval()(x).argmax(1)


def test_layer_level_freezes_and_counts(setup):
    model, train, test = setup
    before = _snapshot(model)
    model_copy = copy.deepcopy(model)
    report = surgical_fix(model, train, groups=["conv1", "fc"], test_data=test, epochs=2,
                          lr=0.05, batch_size=32, progress=False, full_train_steps=100,
                          full_train_time=50.0)
    # the original is untouched
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    # frozen group bn1 (weights AND running statistics) bit-identical in the fixed model
    fixed = report.model
    for k, v in fixed.state_dict().items():
        if k.startswith("bn1."):
            assert torch.equal(v, before[k]), k
    assert not torch.equal(fixed.conv1.weight, before["conv1.weight"])
    assert not torch.equal(fixed.fc[2].weight, before["fc.2.weight"])
    assert all(p.requires_grad for p in fixed.parameters())
    # report counts agree with a direct comparison
    x, y = test
    pb, pa = _predict(model_copy, x), _predict(fixed, x)
    assert report.fixed == int(((pb != y) & (pa == y)).sum())
    assert report.broken == int(((pb == y) & (pa != y)).sum())
    assert report.net == report.fixed - report.broken
    assert report.errors_after == int((pa != y).sum())
    assert report.fixed + report.broken > 0  # something changed
    n_trained = sum(p.numel() for p in [*model.conv1.parameters(), *model.fc.parameters()])
    assert report.n_params_trained == n_trained
    assert report.n_params_total == sum(p.numel() for p in model.parameters())
    assert report.steps == 2 * 8
    assert_allclose(report.compute_saved, 1 - 16 * n_trained / report.n_params_total / 100)
    assert_allclose(report.steps_saved, 1 - 16 / 100)
    assert_allclose(report.time_saved, 1 - report.wall_time / 50.0)
    assert_allclose(report.momentum, 1 - 2 * np.sqrt(0.05))
    ds = report.to_dataset()
    assert ds["status"].dims == ("sample",)
    assert int((ds["status"] == "fixed").sum()) == report.fixed
    assert ds.attrs["net"] == report.net
    assert "errors fixed" in str(report) and f"{report.net:+d}" in str(report)


def test_training_bn_group_updates_its_statistics(setup):
    model, train, test = setup
    report = surgical_fix(model, train, groups=["bn1"], test_data=test, lr=0.01, epochs=5,
                          progress=False, max_steps=3)
    assert report.steps == 3
    assert not torch.equal(report.model.bn1.running_mean, model.bn1.running_mean)
    assert torch.equal(report.model.conv1.weight, model.conv1.weight)


def test_parameter_level_trains_exactly_the_count(setup):
    model, train, test = setup
    before = _snapshot(model)
    report = surgical_fix(model, train, groups=["conv1"], test_data=test, level="parameter",
                          lr=0.05, batch_size=32, progress=False)
    k = sum(p.numel() for p in model.conv1.parameters())
    assert report.n_params_trained == k
    fixed = report.model.state_dict()
    changed = sum(int((fixed[n] != before[n]).sum()) for n, _ in model.named_parameters())
    assert 0.5 * k <= changed <= k
    for n in ("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"):
        assert torch.equal(fixed[n], before[n])  # parameter level: every module in eval mode
    for k_, v in model.state_dict().items():
        assert torch.equal(v, before[k_])


def test_same_seed_same_result(setup):
    model, train, test = setup
    a = surgical_fix(model, train, groups=["fc"], test_data=test, progress=False, seed=3)
    b = surgical_fix(model, train, groups=["fc"], test_data=test, progress=False, seed=3)
    for (_, pa), (_, pb) in zip(a.model.named_parameters(), b.model.named_parameters(),
                                strict=True):
        assert torch.equal(pa, pb)


def test_bad_input(setup):
    model, train, test = setup
    with pytest.raises(ValueError, match="groups are: conv1, bn1, fc"):
        surgical_fix(model, train, groups=["conv9"], test_data=test, progress=False)
    with pytest.raises(ValueError, match="unknown level"):
        surgical_fix(model, train, groups=["fc"], test_data=test, level="neuron")
    with pytest.warns(UserWarning, match=r"0\.25.*clipped to 0"):
        r = surgical_fix(model, train, groups=["fc"], test_data=test, lr=0.3,
                         progress=False, max_steps=1)
    assert r.momentum == 0.0 and r.momentum_clipped
    x, _ = test
    with pytest.raises(ValueError, match="right on all"):
        surgical_fix(model, (x, _predict(model, x)), groups=["fc"], test_data=test,
                     level="parameter", progress=False)


@pytest.mark.parametrize("lr,mu,clipped", [(0.01, 0.8, False), (0.25, 0.0, False),
                                           (1e-6, 0.99, True), (0.5, 0.0, True)])
def test_physics_momentum(lr, mu, clipped):
    m, c = physics_momentum(lr)
    assert_allclose(m, mu, atol=1e-12)
    assert c == clipped


class TokenModel(nn.Module):
    """Token ids in a dict (``model(**x)``), a LayerNorm'd attention block, a head that
    returns a tuple: the fix reads logits by the documented rule."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(6, 8)
        self.ln = nn.LayerNorm(8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, input_ids, attention_mask):
        h = self.tok(input_ids)
        a = self.ln(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        m = attention_mask[..., None].float()
        return (self.head((h * m).sum(1) / m.sum(1)), h)


def test_groups_as_a_mapping_on_token_dict_inputs():
    torch.manual_seed(0)
    model = TokenModel().eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 6, (96, 4), generator=g)
    x = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    y = (ids[:, 0] + ids[:, 1]) % 3
    before = _snapshot(model)
    report = surgical_fix(model, (x, y), groups={"readout": ("ln", "head")},
                          test_data=(x, y), epochs=2, lr=0.05, batch_size=16, progress=False)
    fixed = report.model
    assert report.groups == ("readout",)
    changed = {k for k, v in fixed.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"ln.weight", "ln.bias", "head.weight", "head.bias"}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert report.n_params_trained == 16 + 8 * 3 + 3
    with torch.no_grad():
        pb = model(**x)[0].argmax(1)
        pa = fixed(**x)[0].argmax(1)
    assert report.fixed == int(((pb != y) & (pa == y)).sum())
    assert report.broken == int(((pb == y) & (pa != y)).sum())
    assert report.errors_after == int((pa != y).sum())
