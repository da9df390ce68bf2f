"""The HuggingFace callback records what the plain loop with ``workbench.watch`` records: a
tiny BERT built from a config (nothing downloaded), the same initial weights, batches,
AdamW, linear lr schedule and gradient clipping on both sides, statistics equal to 1e-6."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
    get_linear_schedule_with_warmup,
)

import workbench
from workbench.integrations.huggingface import WorkbenchCallback

from .same_record import assert_same_record

CONFIG = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=32, num_labels=3, max_position_embeddings=16,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
EPOCHS, BATCH, CLIP, N, T = 2, 8, 0.1, 24, 8


def make_model():
    """The factory: the same initial weights on every call."""
    torch.manual_seed(0)
    return BertForSequenceClassification(CONFIG)


def _tokens(n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 50, (n, T), generator=g)
    return ids, (ids < 17).sum(1) % 3


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        self.ids, self.labels = _tokens(n, seed)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def _optimizer(model):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    return opt, get_linear_schedule_with_warmup(opt, 0, EPOCHS * N // BATCH)


def _plain(out, accumulate) -> None:
    """The README's plain loop, with what the Trainer adds: clipping, the scheduler, and
    gradient accumulation as the Trainer does it for this model (it passes
    ``num_items_in_batch``, so it takes the loss as divided already: each micro-batch's
    mean loss is backpropagated as is, and the step's loss is their sum)."""
    model = make_model()
    opt, sched = _optimizer(model)
    data = Tokens(N, 1)
    starts = list(range(0, N, BATCH))
    with workbench.watch(model, opt, out, progress=False) as rec:
        for _ in range(EPOCHS):
            for k in range(0, len(starts), accumulate):
                opt.zero_grad()
                losses = []
                for i in starts[k:k + accumulate]:
                    loss = model(input_ids=data.ids[i:i + BATCH],
                                 labels=data.labels[i:i + BATCH]).loss
                    loss.backward()
                    losses.append(loss.detach())
                nn.utils.clip_grad_norm_(model.parameters(), CLIP)
                rec.log(loss=torch.stack(losses).sum(), batch_size=BATCH * len(losses))
                opt.step()
                sched.step()
            rec.end_epoch()


@pytest.mark.slow
@pytest.mark.parametrize("accumulate", [1, 2])
def test_huggingface_records_what_the_plain_loop_records(tmp_path, accumulate):
    _plain(tmp_path / "plain", accumulate)
    model = make_model()
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), per_device_train_batch_size=BATCH,
                             per_device_eval_batch_size=BATCH, num_train_epochs=EPOCHS,
                             max_grad_norm=CLIP, train_sampling_strategy="sequential",
                             gradient_accumulation_steps=accumulate,
                             logging_strategy="epoch", eval_strategy="epoch",
                             save_strategy="no", report_to="none", use_cpu=True,
                             disable_tqdm=True, dataloader_num_workers=0, seed=0)
    cb = WorkbenchCallback(tmp_path / "run", progress=False)
    trainer = Trainer(model=model, args=args, train_dataset=Tokens(N, 1),
                      eval_dataset=Tokens(16, 2), optimizers=_optimizer(model), callbacks=[cb])
    trainer.train()

    assert cb.rec.closed  # on_train_end closed it: the lock is free
    run = assert_same_record(tmp_path / "run", tmp_path / "plain", factory=make_model)
    # the per-layer blocks, none above 40%; their stored shares counted here by name
    stored = json.loads(run.tree.attrs["groups"])
    shown = {g: (v["prefixes"], v["share"]) for g, v in stored.items()}
    assert list(stored) == ["bert.embeddings", "bert.encoder.layer.0", "bert.encoder.layer.1",
                            "bert.pooler", "classifier"], shown
    params = dict(make_model().named_parameters())
    total = sum(p.numel() for p in params.values())
    for g, v in stored.items():
        count = sum(p.numel() for n, p in params.items() if n.startswith(g + "."))
        assert v["share"] == pytest.approx(count / total, abs=1e-6), shown
        assert v["share"] <= 0.4, shown
    steps = run.tree["steps"].to_dataset().load()
    assert steps.sizes["step"] == EPOCHS * -(-N // BATCH // accumulate)
    assert (np.diff(steps["lr"].values) < 0).all()  # the linear decay is recorded

    # /epochs: what the Trainer logged for each epoch, though it logs after on_epoch_end
    # ('loss' is its mean of the epoch's step losses; 'eval_loss' that of the checkpoint)
    epochs = run.tree["epochs"].to_dataset()
    by_epoch = steps["loss"].groupby(steps["epoch"]).mean().values
    np.testing.assert_allclose(epochs["loss"].values, by_epoch, rtol=1e-6)
    assert "train_runtime" not in epochs and "epoch" not in epochs["epoch"].attrs
    ev = Tokens(16, 2)
    for epoch in run.epochs:
        with torch.no_grad():
            loss = run.model(epoch)(input_ids=ev.ids, labels=ev.labels).loss.item()
        assert epochs["eval_loss"].values[epoch] == pytest.approx(loss, rel=1e-5)
    last = run.model(run.epochs[-1])
    for (name, p), q in zip(model.state_dict().items(), last.state_dict().values(),
                            strict=True):
        assert torch.equal(p, q), name


def test_missing_extra_is_one_clear_line():
    """Without transformers, importing the callback names the extra to install."""
    code = ("import sys; sys.modules['transformers'] = None\n"
            "import workbench.integrations.huggingface")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ImportError: workbench.integrations.huggingface needs transformers, which is not "
        "installed: pip install 'workbench[huggingface]'")
