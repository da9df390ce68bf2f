import numpy as np
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.models import SmallCNN
from workbench.probes import weight_spectrum


def _brute(w):
    """Independent reference: eigvalsh of the M x M matrix W^T W / N (N >= M)."""
    w = w.detach().double().reshape(w.shape[0], -1).numpy()
    if w.shape[0] < w.shape[1]:
        w = w.T
    return np.sort(np.linalg.eigvalsh(w.T @ w / w.shape[0]))[::-1]


class Grouped(nn.Module):
    groups = ("conv", "block", "norm")

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 2, bias=True)
        self.block = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 3, bias=False))
        self.norm = nn.BatchNorm1d(3)


def test_hand_made_matrices_give_their_known_eigenvalues():
    m = Grouped()
    with torch.no_grad():
        m.conv.weight.zero_()
        m.conv.weight[0, 0, 0, 0] = 3.0  # reshaped (2, 4): rows 3 e1 and 4 e2
        m.conv.weight[1, 0, 0, 1] = 4.0
        m.block[0].weight.copy_(torch.tensor([[1.0, 0], [0, 2], [0, 0], [0, 0], [0, 0]]))
        m.block[2].weight.copy_(torch.eye(5)[:3] * torch.tensor([[1.0], [2.0], [3.0]]))
    ds = weight_spectrum(m)
    assert ds.eigenvalues.dims == ("layer", "eigenvalue")
    assert list(ds.layer.values) == ["conv", "block", "norm"]
    # conv: singular values 4, 3 of a (2, 4) matrix, N = 4
    assert_allclose(ds.eigenvalues.sel(layer="conv").values[:2], [16 / 4, 9 / 4], rtol=1e-12)
    # block: (5, 2) with singular values 2, 1 (N = 5) pooled with (3, 5) with 3, 2, 1 (N = 5)
    assert_allclose(ds.eigenvalues.sel(layer="block").values[:5],
                    [9 / 5, 4 / 5, 4 / 5, 1 / 5, 1 / 5], rtol=1e-12)
    assert ds.n_eigenvalues.values.tolist() == [2, 5, 0]
    assert ds.n_matrices.values.tolist() == [1, 2, 0]
    assert np.isnan(ds.eigenvalues.sel(layer="conv").values[2:]).all()  # padding
    assert np.isnan(ds.eigenvalues.sel(layer="norm").values).all()  # no weight matrix


def test_small_cnn_matches_brute_force_eigvalsh():
    from workbench.models import group_parameters

    torch.manual_seed(0)
    m = SmallCNN()
    ds = weight_spectrum(m)
    for name, params in group_parameters(m).items():
        mats = [p.detach().reshape(p.shape[0], -1) for p in params if p.ndim >= 2]
        # each matrix's eigenvalues (WᵀW/N with N ≥ M), pooled over the group, largest first
        ref = np.sort(np.concatenate([_brute(w) for w in mats]))[::-1]
        assert int(ds.n_eigenvalues.sel(layer=name)) == len(ref) == sum(
            min(w.shape) for w in mats)
        assert_allclose(ds.eigenvalues.sel(layer=name).values[: len(ref)], ref,
                        rtol=1e-9, atol=1e-14)


def test_groups_subset_and_unknown_group():
    ds = weight_spectrum(SmallCNN(), groups=["fc2"])
    assert list(ds.layer.values) == ["fc2"] and ds.sizes["eigenvalue"] == 10
    try:
        weight_spectrum(SmallCNN(), groups=["fc9"])
    except ValueError as err:
        assert "unknown layer group 'fc9'" in str(err) and "conv1" in str(err)
    else:
        raise AssertionError("no error for an unknown group")


def test_transformer_attention_projections_and_embeddings_are_matrices(transformer):
    """nn.MultiheadAttention's packed in_proj_weight counts as W_q, W_k, W_v (three d x d
    matrices), out_proj as one; the token embedding (vocab x d) and the bare positional
    parameter (1, L, d) -> (L, d) are included; LayerNorm scales and biases are not."""
    model, _ = transformer(d=6, seq=4, vocab=5)
    groups = {"emb": ("tok", "pos"), "attn": ("blocks.0.ln1", "blocks.0.attn"),
              "mlp": ("blocks.0.ln2", "blocks.0.mlp"), "out": ("ln_f", "head")}
    ds = weight_spectrum(model, groups=groups)
    attn = model.blocks[0].attn
    w = attn.in_proj_weight.detach()
    expected = {
        "emb": [model.tok.weight, model.pos[0]],
        "attn": [w[:6], w[6:12], w[12:], attn.out_proj.weight],
        "mlp": [model.blocks[0].mlp[0].weight, model.blocks[0].mlp[2].weight],
        "out": [model.head.weight],
    }
    for name, mats in expected.items():
        eig = np.concatenate([np.linalg.eigvalsh(m.detach().double().numpy().T
                                                 @ m.detach().double().numpy()
                                                 if m.shape[0] >= m.shape[1] else
                                                 m.detach().double().numpy()
                                                 @ m.detach().double().numpy().T)
                              / max(m.shape) for m in mats])
        got = ds.eigenvalues.sel(layer=name).values
        assert_allclose(got[np.isfinite(got)], np.sort(eig)[::-1], rtol=1e-9, atol=1e-14)
        assert int(ds.n_matrices.sel(layer=name)) == len(mats)
