"""workbench.watch on models the package never saw, each against a brute-force twin.

The twin trains an identical copy of the model on the same batches, without the workbench,
and computes every statistic by a plain loop over the parameters and its own forward hooks
(``torch.std_mean``, ``torch.linalg.vector_norm`` on each parameter): the groups' recorded
``grad_norm``, ``weight_norm``, ``update_norm``, ``update_cos``, ``act_mean`` and ``act_std``
must match it.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

import workbench
from workbench.batches import output_tensor
from workbench.groups import resolve_groups


# -- the models ---------------------------------------------------------------------------------
class TiedLM(nn.Module):
    """Token embedding tied to the output head, a pre-norm block returning a tuple."""

    def __init__(self, vocab=11, d=8):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([TupleBlock(d), TupleBlock(d)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, ids):
        h = self.tok(ids)
        for b in self.blocks:
            h, _ = b(h)
        return self.head(self.ln_f(h).mean(1))


class TupleBlock(nn.Module):
    """A block that returns ``(hidden, attention weights)`` as attention layers do."""

    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, h):
        a, w = self.attn(self.ln(h), self.ln(h), self.ln(h))
        h = h + a
        return h + self.mlp(h), w


class DictModel(nn.Module):
    """Takes dict inputs (``model(**batch)``) and returns an output object with .logits."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(13, 6)
        self.body = nn.Sequential(nn.Linear(6, 12), nn.Tanh())
        self.classifier = nn.Linear(12, 3)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()
        h = (self.emb(input_ids) * m).sum(1) / m.sum(1)
        return {"logits": self.classifier(self.body(h))}


class WithUnused(nn.Module):
    """``unused`` never takes part in the forward pass: its gradient never arrives."""

    def __init__(self):
        super().__init__()
        self.used = nn.Linear(4, 3)
        self.unused = nn.Linear(4, 3)

    def forward(self, x):
        return self.used(x)


def _sequential():
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def _data(kind, n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    if kind == "image":
        return torch.randn(n, 3, 2, 2, generator=g), torch.randint(0, 3, (n,), generator=g)
    if kind == "tokens":
        return torch.randint(0, 11, (n, 5), generator=g), torch.randint(0, 11, (n,), generator=g)
    ids = torch.randint(0, 13, (n, 4), generator=g)
    mask = torch.ones(n, 4, dtype=torch.long)
    mask[: n // 2, -1] = 0
    return {"input_ids": ids, "attention_mask": mask}, torch.randint(0, 3, (n,), generator=g)


def _take(x, sl):
    return {k: v[sl] for k, v in x.items()} if isinstance(x, dict) else x[sl]


def _call(model, x):
    out = model(**x) if isinstance(x, dict) else model(x)
    return output_tensor(out)


# -- the brute-force twin --------------------------------------------------------------------
def brute_force(model, groups, x, y, *, steps, batch, lr=0.05, seed=0):
    """Per step and group: the statistics by a plain loop over parameters."""
    torch.manual_seed(seed)
    named = dict(model.named_parameters())
    owned = {n: p for n, p in named.items() if p.requires_grad}
    members = {g: [n for n in owned if any(n == pre or n.startswith(pre + ".")
                                           for pre in prefixes)]
               for g, prefixes in groups.items()}
    modules = dict(model.named_modules())
    acts = {}
    hooks = [modules[g].register_forward_hook(
        lambda m, i, o, g=g: acts.__setitem__(g, output_tensor(o).detach()))
        for g in groups if g in modules]
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rows = []
    prev = {g: torch.cat([owned[n].detach().flatten() for n in members[g]]) for g in groups}
    prev_d = None
    for s in range(steps):
        sl = slice((s * batch) % len(y), (s * batch) % len(y) + batch)
        model.train()
        loss = nn.functional.cross_entropy(_call(model, _take(x, sl)), y[sl])
        opt.zero_grad()
        loss.backward()
        grad = {}
        for g in groups:
            gs = [owned[n].grad for n in members[g] if owned[n].grad is not None]
            grad[g] = (math.sqrt(sum(float((t.double() ** 2).sum()) for t in gs))
                       if gs else float("nan"))
        opt.step()
        row, d_now = {}, {}
        for g in groups:
            w = torch.cat([owned[n].detach().flatten() for n in members[g]]).double()
            d = w - prev[g].double()
            d_now[g] = d
            cos = (float(d @ prev_d[g] / (d.norm() * prev_d[g].norm()))
                   if prev_d is not None else float("nan"))
            std, mean = torch.std_mean(acts[g].double()) if g in acts else (math.nan, math.nan)
            row[g] = (grad[g], float(w.norm()), float(d.norm()), cos, float(mean), float(std))
            prev[g] = w.clone()
        prev_d = d_now
        rows.append(row)
    for h in hooks:
        h.remove()
    return rows


def recorded(model, x, y, tmp_path, *, steps, batch, lr=0.05, seed=0, groups=None):
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    with workbench.watch(model, opt, tmp_path / "run", groups=groups, progress=False) as rec:
        for s in range(steps):
            sl = slice((s * batch) % len(y), (s * batch) % len(y) + batch)
            loss = nn.functional.cross_entropy(_call(model, _take(x, sl)), y[sl])
            opt.zero_grad()
            loss.backward()
            rec.log(loss=loss)
            opt.step()
        rec.end_epoch()
    return workbench.Run(tmp_path / "run").tree["layers"].to_dataset().load()


CASES = {
    "sequential_relu_dropout": (_sequential, "image"),
    "tied_embeddings_tuple_blocks": (TiedLM, "tokens"),
    "dict_inputs": (DictModel, "dict"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_recorded_statistics_match_a_brute_force_loop(case, tmp_path):
    make, kind = CASES[case]
    torch.manual_seed(1)
    model = make()
    twin = copy.deepcopy(model)
    x, y = _data(kind)
    groups = resolve_groups(model)
    ds = recorded(model, x, y, tmp_path, steps=6, batch=16)
    ref = brute_force(twin, groups, x, y, steps=6, batch=16)
    assert ds["layer"].values.tolist() == list(groups)
    names = ["grad_norm", "weight_norm", "update_norm", "update_cos", "act_mean", "act_std"]
    for k, stat in enumerate(names):
        want = np.array([[r[g][k] for g in groups] for r in ref])
        got = ds[stat].transpose("step", "layer").values
        assert_allclose(got, want, rtol=2e-5, atol=1e-6, err_msg=f"{case}: {stat}")


def test_groups_of_a_sequential_skip_relu_and_dropout():
    assert resolve_groups(_sequential()) == {"1": ("1",), "4": ("4",), "6": ("6",)}


def test_tied_parameters_are_counted_once_in_their_first_group():
    m = TiedLM()
    groups = resolve_groups(m)
    assert "head" not in groups                    # its only parameter is tok's weight
    params = workbench.groups.group_parameters(m, groups)
    ids = [id(p) for ps in params.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))
    assert any(p is m.tok.weight for p in params["tok"])
    shares = workbench.groups.group_shares(m, groups)
    assert math.isclose(sum(shares.values()), 1.0)


def test_repeated_blocks_are_grouped_by_index_and_no_group_is_above_40_percent():
    m = TiedLM(vocab=11, d=8)
    groups = resolve_groups(m)
    assert {"blocks.0", "blocks.1"} <= set(groups) or all(
        g.startswith(("blocks.0.", "blocks.1.", "tok", "ln_f")) for g in groups)
    assert max(workbench.groups.group_shares(m, groups).values()) <= 0.4
    assert "ln_f" in groups                          # the final norm stands alone


def test_user_groups_by_prefix_and_by_callable():
    m = DictModel()
    spec = {"embedding": "emb", "rest": ["body", "classifier"]}
    assert resolve_groups(m, spec) == {"embedding": ("emb",), "rest": ("body", "classifier")}
    assert resolve_groups(m, lambda model: spec) == resolve_groups(m, spec)
    with pytest.raises(ValueError, match="unknown layer group 'nope'"):
        resolve_groups(m, {"x": "nope"})
    with pytest.raises(ValueError, match="share the parameter"):
        resolve_groups(m, {"a": "body", "b": "body.0"})


@pytest.mark.slow
def test_a_compiled_model_is_looked_through(tmp_path):
    torch.manual_seed(3)  # no dropout here: compiled code draws its own random numbers
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    twin = copy.deepcopy(model)
    x, y = _data("image")
    try:
        compiled = torch.compile(model)
        ds = recorded(compiled, x, y, tmp_path, steps=4, batch=16)
    except Exception as e:  # no working compiler toolchain: say so, do not pass silently
        pytest.skip(f"torch.compile does not run here: {type(e).__name__}: {e}"[:300])
    groups = resolve_groups(model)
    ref = brute_force(twin, groups, x, y, steps=4, batch=16)
    assert ds["layer"].values.tolist() == list(groups)
    names = ["grad_norm", "weight_norm", "update_norm", "update_cos", "act_mean", "act_std"]
    for k, stat in enumerate(names):
        want = np.array([[r[g][k] for g in groups] for r in ref])
        got = ds[stat].transpose("step", "layer").values
        assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=stat)


def test_a_missing_gradient_is_nan_with_one_warning_never_zero(tmp_path):
    model = WithUnused()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with workbench.watch(model, opt, tmp_path / "run", progress=False) as rec:
            for _ in range(3):
                loss = nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                rec.log(loss=loss)
                opt.step()
            rec.end_epoch()
    mine = [w for w in caught if "no gradient reached" in str(w.message)]
    assert len(mine) == 1 and "'unused'" in str(mine[0].message)
    g = workbench.Run(tmp_path / "run").tree["layers"]["grad_norm"].load()
    assert np.isnan(g.sel(layer="unused")).all()
    assert (g.sel(layer="used") > 0).all()


def test_loss_given_before_or_after_the_step_lands_on_that_step(tmp_path):
    model = nn.Linear(3, 2)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    losses = {}
    for order in ("before", "after"):
        torch.manual_seed(0)
        m = copy.deepcopy(model)
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        seen = []
        with workbench.watch(m, opt, tmp_path / order, progress=False) as rec:
            for _ in range(4):
                loss = nn.functional.cross_entropy(m(x), y)
                seen.append(loss.item())
                opt.zero_grad()
                loss.backward()
                if order == "before":
                    rec.log(loss=loss)
                opt.step()
                if order == "after":
                    rec.log(loss=loss)
            rec.end_epoch()
        losses[order] = workbench.Run(tmp_path / order).tree["steps"]["loss"].values
        assert_allclose(losses[order], seen, rtol=1e-6)


def test_every_steps_commits_and_metrics_are_called(tmp_path):
    model = nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 0, 1, 1, 0])
    calls = []

    def metrics():
        calls.append(1)
        return {"test_acc": 0.5 + 0.1 * len(calls)}

    with workbench.watch(model, opt, tmp_path / "run", every_steps=5, metrics=metrics,
                         probe=(x, y), progress=False) as rec:
        for _ in range(12):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            rec.log(loss=loss)
            opt.step()
    run = workbench.Run(tmp_path / "run")
    assert run.epochs == [0, 1]                     # steps 10 and 11 belong to no epoch
    assert_allclose(run.tree["epochs"]["test_acc"].values, [0.6, 0.7])
    assert run.tree["steps"]["epoch"].values.tolist() == [0] * 5 + [1] * 5
    assert_allclose(run.tree["steps"]["momentum"].values, 0.9)   # Adam's beta1
    acc = run.tree["epochs"]["probe_acc"].values
    logits = run.tree["probe"]["logits"].values
    assert_allclose(acc, (logits.argmax(-1) == y.numpy()).mean(-1))


def test_bad_input_is_named(tmp_path):
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        workbench.watch(model, "sgd", tmp_path / "a")
    with pytest.raises(ValueError, match="every_steps must be a whole number"):
        workbench.watch(model, opt, tmp_path / "b", every_steps=0)
    with pytest.raises(ValueError, match="plain JSON"):
        workbench.watch(model, opt, tmp_path / "c", config={"f": object()})
    with workbench.watch(model, opt, tmp_path / "d", progress=False):
        pass
    with pytest.raises(workbench.record.RunExistsError, match="overwrite=True"):
        workbench.watch(model, opt, tmp_path / "d")


def test_no_hook_is_left_after_an_exception(tmp_path):
    model = _sequential()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="boom"), \
            workbench.watch(model, opt, tmp_path / "run", progress=False):
        raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in model.modules())
    assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks
    # the lock was released: the run can be opened for writing again
    with workbench.watch(model, opt, tmp_path / "run", overwrite=True, progress=False):
        pass
