"""Shared fixtures: one tiny recorded run, made once per session."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

#: Why ``@pytest.mark.cuda`` tests are skipped here (shown by ``pytest -rs``).
NO_CUDA = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``cuda`` where there is no GPU, saying so."""
    if torch.cuda.is_available():
        return
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=NO_CUDA))

#: A tiny run: batches of 32 and a signal at every step give 94 signal points (DFA needs 64).
TINY = {"epochs": 2, "train_size": 1500, "test_size": 500, "probe_size": 200,
        "batch_size": 32, "signal_every": 1, "curvature_iters": 5,
        "feature_layers": ("conv1", "conv2", "fc1", "fc2")}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 2-epoch CNN run on 1500 Fashion-MNIST images, shared by the tests and notebooks."""
    from workbench.widgets import ensure_run

    return ensure_run(tmp_path_factory.getbasetemp() / "tiny_run", progress=False, **TINY)

@pytest.fixture(scope="session")
def analysed_tiny(tiny_run, tmp_path_factory):
    """A copy of the tiny run with every analysis computed, made once per session; do not
    modify it (copy it: ``shutil.copytree(analysed_tiny, dst)``)."""
    import shutil

    from workbench import Run, analyze

    path = tmp_path_factory.getbasetemp() / "analysed_tiny"
    if not path.exists():
        shutil.copytree(tiny_run, path)
        analyze(Run(path), progress=False)
    return path


#: A smaller run with label noise and no features: one epoch of 300 images (6 steps).
NOISY = {"epochs": 1, "train_size": 300, "test_size": 200, "probe_size": 50,
         "batch_size": 50, "label_noise": 0.2, "curvature_iters": 2, "signal_batch": 8,
         "device": "cpu"}


@pytest.fixture(scope="session")
def noisy_run(tmp_path_factory):
    """A 1-epoch ``--label-noise 0.2`` CNN run on 300 images (no features); do not modify it."""
    from workbench.config import TrainConfig
    from workbench.train import train

    out = tmp_path_factory.getbasetemp() / "noisy_run"
    if not (out / "record.zarr").exists():
        train(TrainConfig(**NOISY), out, progress=False)
    return out


#: Presets in the suite: ~300 training images, 2 epochs per run.
PRESET_SCALE = 0.03


@pytest.fixture(scope="session")
def momentum_preset(tmp_path_factory):
    """The `momentum` classroom preset at a reduced size (its grid, analyses and report)."""
    from workbench.presets import run_preset

    out = tmp_path_factory.getbasetemp() / "preset_momentum"
    run_preset("momentum", out, scale=PRESET_SCALE, progress=False)
    return out


#: The grokking example at the CI size (p = 23, 300 steps, a commit point every 25): it does
#: not grok; it checks the pipeline. Seed 1, so that a test can tell it from the default 0.
GROK_SEED = 1


@pytest.fixture(scope="session")
def grokking_preset(tmp_path_factory):
    """``workbench demo --preset grokking --size tiny --seed 1``, made once: the folder holding
    ``REPORT.md`` and the trained and analysed run ``seed1``; do not modify it (copy it)."""
    from workbench.presets_grokking import run_grokking

    out = tmp_path_factory.getbasetemp() / "preset_grokking"
    run_grokking(out, seed=GROK_SEED, size="tiny", progress=False)
    return out


def grokking_env(preset, dst) -> dict:
    """Notebook 08's environment for a copy (at ``dst``) of the tiny grokking run: the CI size
    and the run already trained and analysed (the notebook keeps a recorded run)."""
    import shutil

    from workbench.presets_grokking import SIZES

    shutil.copytree(preset / f"seed{GROK_SEED}", dst)
    tiny = SIZES["tiny"]
    return {"WORKBENCH_GROK_P": str(tiny["p"]), "WORKBENCH_GROK_STEPS": str(tiny["steps"]),
            "WORKBENCH_GROK_EVERY": str(tiny["every"]), "WORKBENCH_GROK_SEED": str(GROK_SEED),
            "WORKBENCH_GROK_RUN": str(dst)}


def copy_run(src, dst):
    """A copy of the run ``src`` at ``dst`` without its ``/analysis`` groups (the shared tiny
    run gets analysed in place by the notebooks and explorer tests). Returns a Run."""
    import shutil
    from pathlib import Path

    from workbench import Run
    from workbench.record.store import ANALYSIS, RECORD, RunStore

    shutil.copytree(src, dst)
    shutil.rmtree(Path(dst) / RECORD / ANALYSIS, ignore_errors=True)
    RunStore(dst).consolidate()
    return Run(dst)


# -- a tiny transformer the probes are checked on (tests/probes) -------------------------------
# Token and position embeddings, one pre-norm block (LayerNorm, nn.MultiheadAttention through
# F.scaled_dot_product_attention, MLP), a final LayerNorm and a linear head. It takes token
# ids as ``model(ids)`` or a dict ``model(**{"input_ids": ids, "attention_mask": mask})`` and
# may return a tuple.
from torch import nn  # noqa: E402


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
