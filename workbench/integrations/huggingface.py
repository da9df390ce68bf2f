"""Record a HuggingFace ``Trainer`` run: ``Trainer(..., callbacks=[WorkbenchCallback("runs/x")])``.

A ``transformers.TrainerCallback`` over :func:`workbench.watch` (install with
``pip install 'workbench[huggingface]'``). What each Trainer event does:

- ``on_train_begin``: ``watch(model, optimizer, out, ...)`` with the Trainer's model and its
  torch optimizer (inside accelerate's ``AcceleratedOptimizer``); gradients are recorded
  before the step, after the Trainer's clipping (``max_grad_norm``);
- each training forward pass: the Trainer gives callbacks no per-step loss, so a forward hook
  on the model reads ``output.loss`` (HF models return it when the batch holds labels) and
  the batch size (``output.logits``' first dim);
- ``on_step_end`` (after the optimizer step): the step's loss, as the Trainer
  backpropagates it under ``gradient_accumulation_steps``: the sum of the micro-batches'
  losses when the model was given ``num_items_in_batch`` (the Trainer then takes them as
  already divided), else their mean;
- ``on_epoch_end``: the epoch is due. The Trainer logs and evaluates *after* this event, so
  it is committed (``rec.end_epoch(metrics=...)``) when the next epoch begins, or at the
  end of training, with the numbers the Trainer logged for it (``loss``, ``grad_norm``,
  ``learning_rate``, ``eval_*``; ``epoch`` and the run's final summary left out);
- ``on_train_end``: the recording is closed.

The Trainer has no event for an exception: if ``trainer.train()`` raises, call
``callback.close()`` (or use the callback as a context manager) to release the run's lock.
The run opens with ``Run(out, model=factory)``, ``factory`` returning the model (e.g.
``lambda: BertForSequenceClassification(config)``). A single process.

Examples
--------
>>> from workbench.integrations.huggingface import WorkbenchCallback    # doctest: +SKIP
>>> trainer = Trainer(model, args, train_dataset=train,
...                   callbacks=[WorkbenchCallback("runs/bert")])       # doctest: +SKIP
>>> trainer.train()                                                     # doctest: +SKIP
"""

from __future__ import annotations

from ._extra import missing

try:  # first: without the extra, nothing else is imported
    from transformers import TrainerCallback
except ImportError:
    raise missing("huggingface", "transformers") from None

import numbers
import warnings

import torch

#: Keys of the Trainer's logs that are not an epoch's metrics.
NOT_METRICS = ("epoch", "step")


class WorkbenchCallback(TrainerCallback):
    """Record ``Trainer.train()`` with :func:`workbench.watch` into the run directory ``out``.

    Parameters
    ----------
    out : path
        The run directory (created when training begins).
    groups, probe, classes, config, **watch_kwargs
        Passed to :func:`workbench.watch` (``every_steps``, ``metrics``, ``forward``,
        ``features``, ``overwrite``, ``progress``, ``record_every``...). A dict probe
        (``{"input_ids": ..., "attention_mask": ...}``, labels) is called as
        ``model(**inputs)``.

    Attributes
    ----------
    rec : workbench.Watch or None
        The recording while training runs.
    """

    def __init__(self, out, *, groups=None, probe=None, classes=None, config=None,
                 **watch_kwargs):
        self.out = out
        self.watch_kwargs = dict(groups=groups, probe=probe, classes=classes, config=config,
                                 **watch_kwargs)
        self.rec = None
        self._hook = None
        self._losses, self._samples, self._summed = [], 0, False
        self._due, self._metrics, self._warned = False, {}, False

    # -- the Trainer's events ---------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        from ..groups import unwrap
        from ..record.watch import watch

        while type(optimizer).__name__ == "AcceleratedOptimizer":  # accelerate's wrapper
            optimizer = optimizer.optimizer  # its step() calls this one's
        self.rec = watch(model, optimizer, self.out, **self.watch_kwargs)
        self._hook = unwrap(model).register_forward_hook(self._forward, with_kwargs=True)

    def _forward(self, module, inputs, kwargs, output) -> None:
        if not (module.training and torch.is_grad_enabled()):
            return  # evaluation, or the recorder's own probe pass
        self._summed = kwargs.get("num_items_in_batch") is not None
        loss, logits = _field(output, "loss"), _field(output, "logits")
        if torch.is_tensor(loss):
            self._losses.append(loss.detach().float().reshape(()))
        if torch.is_tensor(logits) and logits.ndim:
            self._samples += int(logits.shape[0])
            self.rec.log(batch_size=self._samples)

    def on_step_end(self, args, state, control, **kwargs):
        if self._losses:
            losses = torch.stack(self._losses)
            self.rec.log(loss=losses.sum() if self._summed else losses.mean())
        elif not self._warned:
            self._warned = True
            warnings.warn("the model's output carries no .loss (the batch holds no labels, or "
                          "a custom compute_loss takes them): steps are recorded without "
                          "their loss", RuntimeWarning, stacklevel=2)
        self._losses, self._samples = [], 0

    def on_epoch_end(self, args, state, control, **kwargs):
        self._due = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "train_runtime" in logs:  # the run's summary, logged once after the last epoch
            self._commit()
            return
        self._metrics.update({k: float(v) for k, v in logs.items()
                              if k not in NOT_METRICS and isinstance(v, numbers.Real)
                              and not isinstance(v, bool)})

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._commit()

    def on_train_end(self, args, state, control, **kwargs):
        self.close()

    # -- the recording ----------------------------------------------------------------------
    def _commit(self) -> None:
        if self._due and self.rec is not None and not self.rec.closed:
            self.rec.end_epoch(metrics=self._metrics)
            self._due, self._metrics = False, {}

    def close(self) -> None:
        """Commit a due epoch, remove the hooks and release the run's lock (idempotent)."""
        if self.rec is None or self.rec.closed:
            return
        try:
            self._commit()
        finally:
            if self._hook is not None:
                self._hook.remove()
            self.rec.close()

    def __enter__(self) -> WorkbenchCallback:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


def _field(output, name: str):
    """``output.name`` or ``output[name]`` (HF ``ModelOutput``, dict), else None."""
    if isinstance(output, dict):
        return output.get(name)
    return getattr(output, name, None)


__all__ = ["WorkbenchCallback"]
