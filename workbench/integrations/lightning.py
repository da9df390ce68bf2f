"""Record a Lightning training run: ``Trainer(callbacks=[WorkbenchCallback("runs/x")])``.

A ``lightning.pytorch.Callback`` over :func:`workbench.watch` (install with
``pip install 'workbench[lightning]'``). What each Lightning hook does:

- ``on_fit_start``: ``watch(pl_module, trainer.optimizers[0], out, ...)`` (the optimizer's
  step hooks and the groups' forward hooks are attached; Lightning's
  ``optimizer.step(closure)`` is followed into its closure, so the gradients recorded are
  those the step uses, after Lightning's gradient clipping);
- ``on_train_batch_start``: the batch size, as Lightning finds it (``extract_batch_size``);
- ``on_train_batch_end``: the step's loss, the sum of the losses backpropagated for it:
  ``training_step``'s ``"loss"`` as Lightning hands it on (divided by
  ``accumulate_grad_batches``, so the sum is the micro-batches' mean loss); with manual
  optimization that returns nothing, each batch's last loss given to ``manual_backward``;
- ``on_train_epoch_end``: ``rec.end_epoch(metrics=...)`` with the numeric entries of
  ``trainer.callback_metrics`` (what ``self.log`` gave, validation included);
- ``on_fit_end`` and ``on_exception``: the recording is closed (committed epochs are kept).

The run opens with ``Run(out, model=factory)``, ``factory`` returning the LightningModule
(its ``state_dict`` is the one checkpointed). One fit per run directory (``overwrite=True``
replaces a run); one optimizer; a single process.

Examples
--------
>>> from workbench.integrations.lightning import WorkbenchCallback      # doctest: +SKIP
>>> trainer = L.Trainer(max_epochs=5,
...                     callbacks=[WorkbenchCallback("runs/lit")])   # doctest: +SKIP
>>> trainer.fit(module, train_loader, val_loader)                       # doctest: +SKIP
"""

from __future__ import annotations

from ._extra import missing

try:  # first: without the extra, nothing else is imported
    import lightning.pytorch as pl
    from lightning.pytorch.utilities.data import extract_batch_size
except ImportError:
    raise missing("lightning", "Lightning (lightning.pytorch)") from None

import numbers
from collections.abc import Mapping

import torch


class WorkbenchCallback(pl.Callback):
    """Record the fit with :func:`workbench.watch` into the run directory ``out``.

    Parameters
    ----------
    out : path
        The run directory (created when the fit starts).
    groups, probe, classes, config, **watch_kwargs
        Passed to :func:`workbench.watch` (``every_steps``, ``metrics``, ``forward``,
        ``features``, ``overwrite``, ``progress``, ``record_every``...).

    Attributes
    ----------
    rec : workbench.Watch or None
        The recording while the fit runs.
    """

    def __init__(self, out, *, groups=None, probe=None, classes=None, config=None,
                 **watch_kwargs):
        super().__init__()
        self.out = out
        self.watch_kwargs = dict(groups=groups, probe=probe, classes=classes, config=config,
                                 **watch_kwargs)
        self.rec = None
        self._reset()

    def _reset(self) -> None:
        self._losses, self._backward_loss, self._samples, self._steps = [], None, 0, 0

    # -- the fit ----------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        from ..record.watch import watch

        optimizers = trainer.optimizers
        if len(optimizers) != 1:
            raise ValueError(f"WorkbenchCallback records one optimizer; this LightningModule "
                             f"configured {len(optimizers)}")
        self.rec = watch(pl_module, optimizers[0], self.out, **self.watch_kwargs)
        self._reset()
        self._steps = self.rec.step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._samples += int(extract_batch_size(batch))
        self.rec.log(batch_size=self._samples)

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self._backward_loss = loss

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        loss, self._backward_loss = (loss if torch.is_tensor(loss) else self._backward_loss), None
        if loss is not None:
            self._losses.append(loss.detach().float().reshape(()))
        if self.rec.step == self._steps:  # accumulating: no optimizer step in this batch
            return
        if self._losses:  # after the step: the loss of the step just recorded
            self.rec.log(loss=torch.stack(self._losses).sum())
        self._reset()
        self._steps = self.rec.step

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = {k: v for k, v in trainer.callback_metrics.items() if _number(v)}
        self.rec.end_epoch(metrics=metrics)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.close()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.close()

    def close(self) -> None:
        """Close the recording (idempotent): hooks removed, the run's lock released."""
        if self.rec is not None:
            self.rec.close()


def _number(v) -> bool:
    if torch.is_tensor(v):
        return v.numel() == 1 and not v.dtype.is_complex and v.dtype != torch.bool
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


__all__ = ["WorkbenchCallback"]
