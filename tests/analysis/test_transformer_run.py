"""End to end on a model the package has never seen: a tiny transformer (token and position
embeddings, one pre-LayerNorm block with nn.MultiheadAttention and an MLP, a final
LayerNorm, a linear head) learning a + b + c mod 7, trained with AdamW in a plain loop
recorded by ``workbench.watch``, then ``workbench.analyze`` on
``Run(path, model=factory, data=(train, test))``. Each stored analysis is checked against
an independent computation at one epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.data import TensorDataset

import workbench
from workbench import Run

pytestmark = pytest.mark.slow

P, SEQ, D = 7, 3, 8


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, 2, batch_first=True)
        self.ln2 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 2 * D), nn.GELU(), nn.Linear(2 * D, D))

    def forward(self, h):
        a = self.ln1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        return h + self.mlp(self.ln2(h))


class ModSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(P, D)
        self.pos = nn.Parameter(0.1 * torch.randn(1, SEQ, D))
        self.blocks = nn.ModuleList([Block()])
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, P)

    def forward(self, x):
        h = self.tok(x) + self.pos
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln_f(h).mean(1))


def factory():
    torch.manual_seed(0)
    return ModSum()


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    x = torch.cartesian_prod(*[torch.arange(P)] * SEQ)[torch.randperm(P ** SEQ, generator=g)]
    y = x.sum(1) % P
    x_train, y_train, x_test, y_test = x[:200], y[:200], x[200:296], y[200:296]
    model = factory()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    path = tmp_path_factory.mktemp("runs") / "modsum"
    lossf = nn.functional.cross_entropy
    with workbench.watch(model, opt, path, probe=(x_test[:32], y_test[:32]), progress=False,
                         signal_every=1, curvature_iters=20, curvature_batch=32) as rec:
        for _ in range(3):
            for i in range(0, 200, 16):
                loss = lossf(model(x_train[i:i + 16]), y_train[i:i + 16])
                opt.zero_grad()
                loss.backward()
                rec.log(loss=loss)
                opt.step()
            with torch.no_grad():
                z = model(x_test)
            rec.end_epoch(metrics={"train_loss": loss.item(),
                                   "test_loss": lossf(z, y_test).item(),
                                   "test_acc": (z.argmax(1) == y_test).float().mean().item()})
    run = Run(path, model=factory, data=(TensorDataset(x_train, y_train),
                                         TensorDataset(x_test, y_test)))
    done = workbench.analyze(run, progress=False)
    return run.refresh(), done


def _group_names(model, prefixes):
    return [n for n, _ in model.named_parameters()
            if any(n == p or n.startswith(p + ".") for p in prefixes)]


def test_every_analysis_the_inputs_allow_is_computed_or_skipped_with_its_reason(analysed):
    run, done = analysed
    for name in ("damping", "attribution", "forces", "spectra"):
        assert done[name] == run.epochs == [0, 1, 2], (name, done[name])
    assert isinstance(done["separation"], str) and "features" in done["separation"]
    assert isinstance(done["dynamics"], (list, str))
    assert run.groups is not None and "head" in run.groups


def test_spectra_are_the_singular_values_of_every_2d_weight(analysed):
    run, _ = analysed
    stored = run.analysis("spectra").sel(epoch=2)
    model = run.model(2)
    params = dict(model.named_parameters())
    for group, prefixes in run.groups.items():
        mats = []
        for n in _group_names(model, prefixes):
            p = params[n].detach().double()
            if n.endswith("in_proj_weight"):
                mats += [p[:D], p[D:2 * D], p[2 * D:]]  # W_q, W_k, W_v
            elif n == "pos":
                mats.append(p[0])
            elif p.ndim == 2:
                mats.append(p)
        expected = np.sort(np.concatenate(
            [(torch.linalg.svdvals(w) ** 2 / max(w.shape)).numpy() for w in mats]
            or [np.empty(0)]))[::-1]
        got = stored["eigenvalues"].sel(layer=group).values
        got = got[np.isfinite(got)]
        assert_allclose(got, expected, rtol=1e-10, atol=1e-14, err_msg=group)
        assert int(stored["n_matrices"].sel(layer=group)) == len(mats)
    assert int(stored["n_matrices"].sel(layer=next(
        g for g, ps in run.groups.items() if "blocks.0.attn" in ps))) == 4  # q, k, v, out


def test_damping_curvature_is_power_iteration_on_the_full_hessian(analysed):
    """The same power iteration (same seeded start vectors) on each group's explicit
    Hessian, built by torch.func.hessian of the loss in the group's flattened parameters."""
    from workbench.analysis.damping import curvature_batch

    run, _ = analysed
    cfg = run.config
    stored = run.analysis("damping")["curvature"].sel(epoch=1)
    model = run.model(1)
    x, y = curvature_batch(run)
    base = {n: p.detach() for n, p in model.named_parameters()}
    gen = torch.Generator().manual_seed(cfg.seed)
    for group, prefixes in run.groups.items():
        names = _group_names(model, prefixes)
        shapes = [base[n].shape for n in names]

        def loss(flat, names=names, shapes=shapes):
            state, k = dict(base), 0
            for n, s in zip(names, shapes, strict=True):
                state[n] = flat[k:k + s.numel()].reshape(s)
                k += s.numel()
            return nn.functional.cross_entropy(functional_call(model, state, (x,)), y)

        with sdpa_kernel([SDPBackend.MATH]):
            h = torch.func.hessian(loss)(torch.cat([base[n].reshape(-1) for n in names]))

        def power(shift, shapes=shapes, h=h):
            v = torch.cat([torch.randn(s, generator=gen).reshape(-1) for s in shapes])
            v = v / v.norm()
            eig = float("nan")
            for _ in range(cfg.curvature_iters):
                hv = h @ v - shift * v
                eig = float(hv @ v)
                v = hv / hv.norm()
            return eig + shift

        eig = power(0.0)
        if eig < 0:
            eig = power(eig)
        assert_allclose(float(stored.sel(layer=group)), eig, rtol=1e-3, atol=1e-6,
                        err_msg=group)
        assert float(stored.sel(layer=group)) <= float(torch.linalg.eigvalsh(h).max()) + 1e-6


def test_attribution_ratio_and_token_maps_against_plain_autograd(analysed):
    run, _ = analysed
    stored = run.analysis("attribution").sel(epoch=2)
    model = run.model(2)
    x, y = run.test_data().images, run.test_data().targets
    with torch.no_grad():
        z = model(x)
    wrong = z.argmax(1) != y
    assert int(stored["n_misclassified"]) == int(wrong.sum())
    params = dict(model.named_parameters())
    for group, prefixes in run.groups.items():
        ps = [params[n] for n in _group_names(model, prefixes)]
        rms = []
        for mask in (wrong, ~wrong):
            loss = nn.functional.cross_entropy(model(x[mask]), y[mask])
            g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, ps)])
            rms.append(float(g.norm()) / np.sqrt(g.numel()))
        assert_allclose(float(stored["log_ratio"].sel(layer=group)),
                        np.log(rms[0]) - np.log(rms[1]), rtol=1e-4, err_msg=group)
    # token maps: per position, summing to margin(x) - margin(all-zero tokens) (completeness)
    assert stored["token_attribution"].dims == ("rank", "position")
    assert "image" not in stored
    probe_x = run.probe_inputs()
    probe_samples = list(run.tree["probe"]["sample"].values)
    for r in np.flatnonzero(stored["sample"].values >= 0):
        i = probe_samples.index(int(stored["sample"].values[r]))
        assert stored["tokens"].values[r].tolist() == probe_x[i].tolist()
        with torch.no_grad():
            zi = model(probe_x[i:i + 1])[0]
            zb = model(torch.zeros_like(probe_x[i:i + 1]))[0]
        w, t = int(stored["predicted"].values[r]), int(stored["target"].values[r])
        assert_allclose(stored["token_attribution"].values[r].sum(),
                        float((zi[w] - zi[t]) - (zb[w] - zb[t])), rtol=0.05, atol=2e-3)


def test_forces_pulls_against_a_loop_of_per_example_gradients(analysed):
    from workbench.analysis.forces import inputs

    run, _ = analysed
    stored = run.analysis("forces").sel(epoch=1)
    model = run.model(1)
    _, _, x_o, x_u, y_u, _ = inputs(run)
    eta = float(stored["lr"])
    ps = list(model.parameters())
    z = model(x_o[:1])[0]
    j = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(
        z[c], ps, retain_graph=True)]) for c in range(P)])
    pi = torch.softmax(z, -1).detach()
    a = torch.eye(P) - pi[None, :]
    for u in range(len(y_u)):
        loss = nn.functional.cross_entropy(model(x_u[u:u + 1]), torch.tensor([int(y_u[u])]))
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, ps)])
        expected = (-eta * a @ (j @ g)).detach().numpy()
        assert_allclose(stored["pull"].isel(sample_o=0, sample_u=u).values, expected,
                        rtol=1e-3, atol=1e-7)
