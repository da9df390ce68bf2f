import itertools

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.probes.attribution import (
    chosen_groups,
    misclassified_attribution,
    problematic_groups,
    problematic_overlap,
    split_verdict,
    two_means_split,
)

D, C = 8, 4


class Branches(nn.Module):
    """logits = A x_a + B x_b + C x_c (bias-free): each group's share of a logit is explicit."""

    groups = ("a", "b", "c")

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = (nn.Linear(D, C, bias=False) for _ in range(3))

    def forward(self, x):
        return self.a(x[:, :D]) + self.b(x[:, D:2 * D]) + self.c(x[:, 2 * D:])


def _setup(corrupt="b", seed=0, n=600):
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(C, D, generator=g)
    x = torch.randn(n, 3 * D, generator=g)
    # branches b and c see their input on a random half of the examples only
    x[:, D:2 * D] *= (torch.rand(n, 1, generator=g) < 0.5)
    x[:, 2 * D:] *= (torch.rand(n, 1, generator=g) < 0.5)
    y = (x[:, :D] @ teacher.T).argmax(1)
    model = Branches()
    with torch.no_grad():
        model.a.weight.copy_(3 * teacher)
        for name in "bc":
            getattr(model, name).weight.copy_(0.1 * torch.randn(C, D, generator=g))
        # the corrupted group: large random weights -> it carries the errors
        getattr(model, corrupt).weight.copy_(3 * torch.randn(C, D, generator=g))
    return model, x, y, teacher


@pytest.mark.parametrize("corrupt", ["b", "c"])
def test_corrupted_group_is_flagged(corrupt):
    model, x, y, _ = _setup(corrupt)
    ds = misclassified_attribution(model, (x, y), ig_top=3, ig_steps=8)
    assert ds["problematic"].dims == ("layer",)
    flagged = ds.layer.values[ds["problematic"].values].tolist()
    assert flagged == [corrupt]
    assert ds["log_ratio"].sel(layer=corrupt) == ds["log_ratio"].max()
    assert ds.attrs["n_misclassified"] > 0


def test_gradient_scores_against_numpy():
    model, x, y, _ = _setup()
    ds = misclassified_attribution(model, (x, y), ig_top=0, batch_size=64)
    with torch.no_grad():
        z = model(x)
    p = torch.softmax(z, 1).numpy()
    wrong = (z.argmax(1) != y).numpy()
    onehot = np.eye(C)[y.numpy()]
    xn = x.numpy()
    for j, name in enumerate("abc"):
        xs = xn[:, j * D:(j + 1) * D]
        for mask, var in [(wrong, "grad_rms_misclassified"), (~wrong, "grad_rms_correct")]:
            # d mean CE / dW = mean over examples of (softmax - onehot) x^T
            grad = (p[mask] - onehot[mask]).T @ xs[mask] / mask.sum()
            assert_allclose(ds[var].sel(layer=name), np.linalg.norm(grad) / np.sqrt(C * D),
                            rtol=1e-5)
    assert_allclose(ds["log_ratio"], np.log(ds["grad_rms_misclassified"] /
                                            ds["grad_rms_correct"]), rtol=1e-6)
    assert ds["n_params"].values.tolist() == [C * D] * 3


def test_layer_attribution_is_each_branch_share_of_the_margin():
    model, x, y, _ = _setup()
    ds = misclassified_attribution(model, (x, y), ig_top=4, ig_steps=16)
    with torch.no_grad():
        z = model(x)
        wrong = z.argmax(1) != y
        pw, yw, xw = z.argmax(1)[wrong], y[wrong], x[wrong]
        for j, name in enumerate("abc"):
            out = getattr(model, name)(xw[:, j * D:(j + 1) * D])
            share = out.gather(1, pw[:, None]) - out.gather(1, yw[:, None])
            assert_allclose(ds["attribution"].sel(layer=name), share.mean(), rtol=1e-4)
        margin = (z.gather(1, z.argmax(1)[:, None]) - z.gather(1, y[:, None]))[wrong][:, 0]
    assert_allclose(ds["attribution"].sum(), margin.mean(), rtol=1e-4)
    # IG on the worst examples: completeness, maps sum to margin(x) - margin(0) = margin(x)
    assert ds["integrated_gradients"].dims == ("sample", "channel", "y", "x")
    assert ds.sizes["sample"] == 4
    worst = np.sort(ds["loss"].values)[::-1]
    assert_allclose(ds["loss"].values, worst)
    ce = torch.nn.functional.cross_entropy(z[wrong], yw, reduction="none")
    assert_allclose(ds["loss"].values, torch.sort(ce, descending=True).values[:4], rtol=1e-5)
    sums = ds["integrated_gradients"].sum(("channel", "y", "x")).values
    expected = margin[torch.argsort(ce, descending=True)[:4]].numpy()
    assert_allclose(sums, expected, rtol=1e-3)
    # sample coord is the dataset index of those examples
    idx = np.flatnonzero(wrong.numpy())[torch.argsort(ce, descending=True)[:4].numpy()]
    assert ds["sample"].values.tolist() == idx.tolist()


def test_image_dataset_like_input_and_mode_restored():
    model, x, y, _ = _setup()

    class DS:
        images, targets, indices = x, y, np.arange(1000, 1000 + len(x))

    model.train()
    ds = misclassified_attribution(model, DS(), ig_top=2, ig_steps=4)
    assert model.training
    assert (ds["sample"].values >= 1000).all()


def test_no_misclassified_and_unknown_group():
    model, x, _, teacher = _setup()
    with torch.no_grad():
        y = model(x).argmax(1)  # labels the model gets all right
    with pytest.raises(ValueError, match="no misclassified examples among the 600"):
        misclassified_attribution(model, (x, y))
    with pytest.raises(ValueError, match="groups are: a, b, c"):
        misclassified_attribution(model, (x, y), groups=["a", "zz"])
    with pytest.raises(TypeError, match=r"\(x, y\)"):
        misclassified_attribution(model, x)


def _brute_two_means(v):
    """Every split into two non-empty sets; the upper set of the best one."""
    best, best_set = np.inf, None
    n = len(v)
    for r in range(1, n):
        for hi in itertools.combinations(range(n), r):
            m = np.zeros(n, bool)
            m[list(hi)] = True
            sse = ((v[m] - v[m].mean()) ** 2).sum() + ((v[~m] - v[~m].mean()) ** 2).sum()
            if sse < best - 1e-12:
                best, best_set = sse, m if v[m].mean() > v[~m].mean() else ~m
    return best_set


@pytest.mark.parametrize("seed", range(8))
def test_two_means_matches_brute_force(seed):
    v = np.random.default_rng(seed).normal(size=7)
    high, thr = two_means_split(v)
    brute = _brute_two_means(v)
    assert high.tolist() == brute.tolist()
    assert v[high].min() > thr > v[~high].max()


@pytest.mark.parametrize("values,expected", [
    ([1.0], [False]),
    ([2.0, 2.0, 2.0], [False, False, False]),
    ([np.nan, 1.0], [False, False]),
    ([0.0, 5.0], [False, True]),
    ([0.0, 0.1, np.nan, 3.0], [False, False, False, True]),
])
def test_two_means_degenerate(values, expected):
    assert two_means_split(values)[0].tolist() == expected


@pytest.mark.parametrize("a,b,expected", [
    (["conv1", "layer2", "layer3"], ["conv1", "layer2", "layer3"], 1.0),
    (["conv1", "layer2", "layer3"], ["conv1", "layer2"], 2 / 3),
    (["conv1"], ["fc"], 0.0),
    ([], ["fc"], 0.0),
])
def test_overlap_table(a, b, expected):
    assert_allclose(problematic_overlap(a, b), expected)


def test_overlap_from_datasets():
    model, x, y, _ = _setup("b")
    ds_b = misclassified_attribution(model, (x, y), ig_top=0)
    model_c, xc, yc, _ = _setup("c")
    ds_c = misclassified_attribution(model_c, (xc, yc), ig_top=0)
    assert problematic_overlap(ds_b, ds_b) == 1.0
    assert problematic_overlap(ds_b, ds_c) == 0.0
    assert np.isnan(problematic_overlap([], []))


# --------------------------------------------------------------------- the bootstrap rule
def test_planted_group_has_flag_frequency_near_one():
    model, x, y, _ = _setup("b", n=800)
    ds = problematic_groups(model, (x, y), n_boot=100, seed=1)
    freq = ds["flag_frequency"]
    assert float(freq.sel(layer="b")) >= 0.95
    assert ds["verdict"].sel(layer="b").item() == "problematic"
    # the unremarkable groups sit at their base rate: the planted group takes the flag in
    # every replicate, so the others are flagged (almost) never
    for other in "ac":
        assert float(freq.sel(layer=other)) <= 0.05
        assert ds["verdict"].sel(layer=other).item() == "healthy"
    assert ds.attrs["conclusive"] == 1
    assert ds.attrs["gap"] > ds.attrs["spread"]
    assert_allclose(ds["param_share"].sum(), 1.0)


def test_exchangeable_groups_sit_at_the_base_rate_and_are_inconclusive():
    rng = np.random.default_rng(0)
    point = np.array([2.508, 2.564, 2.567, 2.514])  # issue 10's log ratios
    boot = rng.normal(2.54, 0.05, (2000, 4))  # no group differs from the others
    out = split_verdict(point, boot)
    base = np.mean([two_means_split(b)[0].mean() for b in boot])  # share flagged per replicate
    assert_allclose(out["flag_frequency"], base, atol=0.05)
    assert not out["conclusive"]
    assert out["gap"] < out["spread"]
    assert out["verdict"].tolist() == ["inconclusive"] * 4
    assert out["flag"].tolist() == [False, True, True, False]  # the point split, for reference


def test_bootstrap_replicate_matches_resampled_examples():
    """Brute force: a replicate's log ratio equals the plain gradient ratio on the resample."""
    from workbench.models import group_parameters
    from workbench.probes.attribution import _group_sq_grad

    model, x, y, _ = _setup("c", n=300)
    seed, n_boot = 3, 4
    ds = problematic_groups(model, (x, y), n_boot=n_boot, seed=seed, chunks=10_000)
    wrong = model(x).argmax(1) != y
    rng = np.random.default_rng(seed)
    counts = {}
    for k, mask in enumerate((wrong, ~wrong)):
        n = int(mask.sum())
        chunk_of = (torch.randperm(n, generator=torch.Generator().manual_seed(seed + k)) % n)
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)
        counts[k] = w[:, chunk_of.numpy()]  # per example
    pg = group_parameters(model)
    names = list(pg)
    n_params = np.array([sum(p.numel() for p in pg[g]) for g in names])
    for b in range(n_boot):
        rms = []
        for k, mask in enumerate((wrong, ~wrong)):
            idx = np.repeat(np.arange(int(mask.sum())), counts[k][b])
            xs, ys = x[mask][idx], y[mask][idx]
            sq = _group_sq_grad(model, pg, xs, ys, 64, torch.device("cpu"))
            rms.append(np.sqrt([sq[g] for g in names]) / np.sqrt(n_params))
        assert_allclose(ds["log_ratio_boot"].values[b], np.log(rms[0]) - np.log(rms[1]),
                        rtol=1e-5)


def test_chosen_groups_cases():
    import xarray as xr

    def ds(verdict, freq, share=(0.2, 0.2, 0.2), ratio=(0.0, 0.0, 0.0)):
        return xr.Dataset({"verdict": ("layer", verdict), "flag_frequency": ("layer", freq),
                           "log_ratio": ("layer", list(ratio)),
                           "param_share": ("layer", list(share))},
                          coords={"layer": ["a", "b", "c"]})
    assert chosen_groups(ds(["problematic", "healthy", "healthy"], [1, 0, 0]))[0] == ["a"]
    groups, why = chosen_groups(ds(["inconclusive"] * 3, [0.6, 0.7, 0.2]))
    assert groups == ["a", "b"] and "half" in why
    groups, why = chosen_groups(ds(["inconclusive"] * 3, [0.3, 0.4, 0.2]))
    assert groups == ["b"] and "most often" in why


def test_chosen_groups_train_at_most_the_surgical_share():
    import xarray as xr

    from workbench.probes.attribution import SURGICAL_SHARE

    def ds(verdict, freq, share, ratio):
        return xr.Dataset({"verdict": ("layer", verdict), "flag_frequency": ("layer", freq),
                           "log_ratio": ("layer", ratio), "param_share": ("layer", share)},
                          coords={"layer": ["conv1", "conv2", "fc1", "fc2"]})
    # the rule flags three groups holding 98% (the default CNN's seed 0 in bench/surgical):
    # the most surely flagged is taken first, the others no longer fit, fc2 is healthy
    d = ds(["problematic", "problematic", "problematic", "healthy"], [1.0, 0.99, 1.0, 0.0],
           [0.26, 0.37, 0.36, 0.01], [1.94, 1.77, 1.82, 1.40])
    groups, why = chosen_groups(d)
    assert groups == ["conv1"] and "left out fc1, conv2" in why and "40%" in why
    assert SURGICAL_SHARE == 0.4
    # a smaller budget-fitting candidate after a skipped one is still taken
    d2 = d.assign(verdict=("layer", ["problematic"] * 4), flag_frequency=("layer", [1.0] * 4))
    assert chosen_groups(d2)[0] == ["conv1", "fc2"]
    # a looser budget takes more; 1 takes every problematic group
    assert chosen_groups(d, max_share=0.65)[0] == ["conv1", "fc1"]
    assert chosen_groups(d, max_share=1.0)[0] == ["conv1", "conv2", "fc1"]
    # one candidate above the budget is taken alone, and the reason says so
    big = ds(["healthy", "healthy", "problematic", "healthy"], [0, 0, 1.0, 0],
             [0.01, 0.01, 0.97, 0.01], [1, 1, 2, 1])
    groups, why = chosen_groups(big)
    assert groups == ["fc1"] and "fc1 alone holds 97%" in why
    with pytest.raises(ValueError, match="missing \\['param_share'\\]"):
        chosen_groups(d.drop_vars("param_share"))
    with pytest.raises(ValueError, match="in \\(0, 1\\]; got 0"):
        chosen_groups(d, max_share=0)


class BagOfEmbeddings(nn.Module):
    """logits = W · Σ_l emb(x_l): the margin is linear in the embedding output, so Layer
    Integrated Gradients on ``emb`` is exact: attr_l = (emb[x_l] − emb[b]) · (W_ŷ − W_y)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(4, 2)
        self.head = nn.Linear(2, 3, bias=False)
        with torch.no_grad():
            self.emb.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0],
                                                [-1.0, 1.0]]))
            self.head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))

    def forward(self, x):
        return self.head(self.emb(x).sum(1))


def test_token_attribution_on_the_embedding_is_exact_for_a_linear_readout():
    model = BagOfEmbeddings()
    ids = torch.tensor([[1, 2, 3], [1, 1, 0], [2, 2, 3], [3, 0, 1], [2, 1, 1], [3, 3, 2]])
    with torch.no_grad():
        z = model(ids)
    pred = z.argmax(1)
    y = pred.clone()
    y[[0, 3, 5]] = (pred[[0, 3, 5]] + 1) % 3  # three misclassified, three correct
    ds = misclassified_attribution(model, (ids, y), groups={"emb": "emb", "head": "head"},
                                   ig_top=3, ig_steps=8, n_boot=10)
    assert ds["token_attribution"].dims == ("sample", "position")
    assert "integrated_gradients" not in ds
    emb, w = model.emb.weight.detach(), model.head.weight.detach()
    for row, i in enumerate(ds["sample"].values):
        d = w[pred[i]] - w[y[i]]
        expected = ((emb[ids[i]] - emb[0]) * d).sum(-1)
        assert_allclose(ds["token_attribution"].values[row], expected.numpy(), rtol=1e-5,
                        atol=1e-6)
        # completeness: the attributions add up to margin(x) − margin(baseline tokens)
        margin = float(z[i, pred[i]] - z[i, y[i]])
        base = model(torch.zeros_like(ids[i:i + 1]))[0].detach()
        base_margin = float(base[pred[i]] - base[y[i]])
        assert_allclose(ds["token_attribution"].values[row].sum(), margin - base_margin,
                        rtol=1e-5)
        assert ds["tokens"].values[row].tolist() == ids[i].tolist()
    # the head's gradient x activation is the margin itself (m is linear in the logits)
    wrong = pred != y
    margins = (z[wrong, pred[wrong]] - z[wrong, y[wrong]]).mean()
    assert_allclose(float(ds["attribution"].sel(layer="head")), float(margins), rtol=1e-5)


def test_token_attribution_of_a_transformer_with_dict_inputs_and_tuple_blocks(transformer):
    """Groups as a mapping on a transformer whose attention returns a tuple, dict inputs,
    a named embedding: the head's attribution is the mean margin, and the per-position
    attributions sum to margin(x) − margin(baseline) (completeness, up to the IG error)."""
    model, ids = transformer(n=40, seed=3, vocab=6, seq=4, d=8, classes=3)
    model.eval()
    x = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.no_grad():
        z = model(ids)
    y = torch.arange(40) % 3
    groups = {"tok": "tok", "pos": "pos", "attn": ("blocks.0.ln1", "blocks.0.attn"),
              "mlp": ("blocks.0.ln2", "blocks.0.mlp"), "head": ("ln_f", "head")}
    ds = misclassified_attribution(model, (x, y), groups=groups, ig_top=2, ig_steps=64,
                                   n_boot=10, embedding="tok")
    wrong = z.argmax(1) != y
    pw = z.argmax(1)[wrong]
    margins = z[wrong].gather(1, pw[:, None])[:, 0] - z[wrong].gather(1, y[wrong][:, None])[:, 0]
    assert_allclose(float(ds["attribution"].sel(layer="head")), float(margins.mean()),
                    rtol=1e-6)
    assert np.isnan(float(ds["attribution"].sel(layer="pos")))  # a bare parameter
    assert np.isfinite(ds["attribution"].sel(layer=["tok", "attn", "mlp"]).values).all()
    for row, i in enumerate(ds["sample"].values):
        base = model(torch.zeros_like(ids[i:i + 1]))[0].detach()
        m_x = float(z[i, z[i].argmax()] - z[i, y[i]])
        m_b = float(base[z[i].argmax()] - base[y[i]])
        assert_allclose(ds["token_attribution"].values[row].sum(), m_x - m_b, rtol=0.02,
                        atol=1e-3)
    with pytest.raises(ValueError, match="names no module"):
        misclassified_attribution(model, (ids, y), groups=groups, embedding="nope", ig_top=1,
                                  n_boot=0)
