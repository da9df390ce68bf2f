"""The Lightning callback records what the plain loop with ``workbench.watch`` records: same
seed, initial weights and batches, gradient clipping and a per-step lr schedule on both
sides, statistics equal to 1e-6."""

from __future__ import annotations

import copy
import subprocess
import sys

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import workbench
from workbench import Run
from workbench.integrations.lightning import WorkbenchCallback

from .same_record import assert_same_record

CLIP, EPOCHS, BATCH = 0.5, 2, 8


class Net(L.LightningModule):
    """An MLP with a LayerNorm, trained with SGD + momentum and a per-step lr decay."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.LayerNorm(16),
                                 nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.2, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _data():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(56, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return TensorDataset(x[:48], y[:48]), TensorDataset(x[48:], y[48:])


def _plain(module: Net, train, out, accumulate: int) -> None:
    """The README's plain loop, with what the Trainer adds: clipping, the scheduler, and
    gradient accumulation (each micro-batch's loss divided by their number)."""
    conf = module.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    batches = list(DataLoader(train, batch_size=BATCH))
    with workbench.watch(module, opt, out, progress=False) as rec:
        for _ in range(EPOCHS):
            for i in range(0, len(batches), accumulate):
                opt.zero_grad()
                losses = []
                for x, y in batches[i:i + accumulate]:
                    loss = F.cross_entropy(module(x), y)
                    (loss / accumulate).backward()
                    losses.append(loss.detach())
                nn.utils.clip_grad_norm_(module.parameters(), CLIP)
                rec.log(loss=torch.stack(losses).mean(), batch_size=BATCH * accumulate)
                opt.step()
                sched.step()
            rec.end_epoch()


@pytest.mark.slow
@pytest.mark.parametrize("accumulate", [1, 2])
def test_lightning_records_what_the_plain_loop_records(tmp_path, accumulate):
    torch.manual_seed(0)
    module = Net()
    start = copy.deepcopy(module.state_dict())
    train, val = _data()
    plain = Net()
    plain.load_state_dict(start)
    _plain(plain, train, tmp_path / "plain", accumulate)

    trainer = L.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        gradient_clip_val=CLIP, accumulate_grad_batches=accumulate,
                        deterministic=True,
                        callbacks=[cb := WorkbenchCallback(tmp_path / "lit", progress=False)])
    trainer.fit(module, DataLoader(train, batch_size=BATCH), DataLoader(val, batch_size=BATCH))

    assert cb.rec.closed  # on_fit_end closed it: the lock is free
    run = assert_same_record(tmp_path / "lit", tmp_path / "plain", factory=Net)
    assert list(run.tree["layers"]["layer"].values) == ["net.0", "net.2", "net.3", "net.5"]
    steps = run.tree["steps"].to_dataset().load()
    n_steps = EPOCHS * 6 // accumulate
    assert steps.sizes["step"] == n_steps
    assert len(set(np.round(steps["lr"].values, 8))) == 1 + (n_steps - 1) // 4  # StepLR(4)
    # the clipping binds: the recorded gradients are the clipped ones, total norm CLIP
    total = np.sqrt((run.tree["layers"]["grad_norm"].to_numpy() ** 2).sum(1))
    assert total.max() == pytest.approx(CLIP, rel=1e-5) and (total <= CLIP * (1 + 1e-5)).all()

    # /epochs: Lightning's callback_metrics ('train/loss' is the epoch's mean batch loss,
    # checked against the recorded steps; 'val/acc' against the checkpoint of that epoch)
    epochs = run.tree["epochs"].to_dataset()
    by_epoch = steps["loss"].groupby(steps["epoch"]).mean().values
    np.testing.assert_allclose(epochs["train_loss"].values, by_epoch, rtol=1e-6)
    xv, yv = val.tensors
    for epoch in run.epochs:
        with torch.no_grad():
            acc = (run.model(epoch)(xv).argmax(1) == yv).float().mean().item()
        assert epochs["val_acc"].values[epoch] == pytest.approx(acc, abs=1e-7)
    # the run opens with the factory, and its last checkpoint is the trained module
    last = run.model(run.epochs[-1])
    for (name, p), q in zip(module.state_dict().items(), last.state_dict().values(),
                            strict=True):
        assert torch.equal(p, q), name


@pytest.mark.slow
def test_an_exception_in_the_fit_closes_the_recording(tmp_path):
    """on_exception: committed epochs are kept and the run's lock is released, so the
    directory can be opened for writing again."""

    class Failing(Net):
        def training_step(self, batch, batch_idx):
            if self.current_epoch == 1:
                raise RuntimeError("boom in epoch 1")
            return super().training_step(batch, batch_idx)

    train, _ = _data()
    cb = WorkbenchCallback(tmp_path / "run", progress=False)
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False,
                        callbacks=[cb])
    with pytest.raises(RuntimeError, match="boom in epoch 1"):
        trainer.fit(Failing(), DataLoader(train, batch_size=BATCH))
    assert cb.rec.closed
    assert Run(tmp_path / "run", model=Net).epochs == [0]
    from workbench.record.lock import RunLock

    with RunLock(tmp_path / "run", "test"):  # free: taking it does not raise
        pass


def test_missing_extra_is_one_clear_line():
    """Without Lightning, importing the callback names the extra to install."""
    code = ("import sys; sys.modules['lightning'] = None\n"
            "import workbench.integrations.lightning")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ImportError: workbench.integrations.lightning needs Lightning (lightning.pytorch), "
        "which is not installed: pip install 'workbench[lightning]'")
