"""A tiny transformer the probes are checked on: token and position embeddings, one pre-norm
block (LayerNorm, nn.MultiheadAttention through F.scaled_dot_product_attention, MLP), a
final LayerNorm and a linear head. It takes token ids as ``model(ids)`` or a dict
``model(**{"input_ids": ids, "attention_mask": mask})`` and may return a tuple."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, h):
        a = self.ln1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        return h + self.mlp(self.ln2(h))


class TinyTransformer(nn.Module):
    def __init__(self, vocab=5, seq=3, d=8, heads=2, classes=4, tuple_out=False):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.1 * torch.randn(1, seq, d))
        self.blocks = nn.ModuleList([Block(d, heads)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)
        self.tuple_out = tuple_out

    def forward(self, input_ids, attention_mask=None):
        h = self.tok(input_ids) + self.pos
        for block in self.blocks:
            h = block(h)
        h = self.ln_f(h)
        if attention_mask is None:
            pooled = h.mean(1)
        else:
            m = attention_mask.to(h.dtype)[..., None]
            pooled = (h * m).sum(1) / m.sum(1).clamp_min(1)
        z = self.head(pooled)
        return (z, h) if self.tuple_out else z


@pytest.fixture
def transformer():
    """``make(**kw) -> (model, ids)``: a seeded tiny transformer in float64 and token ids."""

    def make(n=6, seed=0, **kw):
        torch.manual_seed(seed)
        model = TinyTransformer(**kw).double()
        g = torch.Generator().manual_seed(seed + 1)
        vocab = model.tok.num_embeddings
        ids = torch.randint(0, vocab, (n, model.pos.shape[1]), generator=g)
        return model, ids

    return make
