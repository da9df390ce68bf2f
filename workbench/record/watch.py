"""``workbench.watch``: record any model in any training loop, in one call.

Named after ``wandb.watch``. It creates the run store (holding its lock until
:meth:`Watch.close`), writes the provenance (package and torch versions, device, the groups
and the user's ``config`` as plain JSON, never executed), and attaches a
:class:`~workbench.record.recorder.Recorder` through PyTorch's own hooks:

- ``Optimizer.register_step_pre_hook``: the gradient norm of each group, *before* the step
  (after any clipping, and after ``GradScaler`` unscaled them);
- ``Optimizer.register_step_post_hook``: weight and update norms, the update cosine, the
  activation statistics of the step's forward pass, lr and momentum (``momentum``, or
  Adam's β₁) read from the optimizer's first parameter group;
- module forward hooks on each group (removed by :meth:`Watch.close`);
- with ``eval_data=`` and ``eval_every=K``: after every K-th optimizer step, accuracy and
  loss on a fixed stratified subset of ``eval_data`` (:mod:`workbench.record.evals`),
  committed with each epoch as ``/evals``.

The loop needs one added line, ``rec.log(loss=loss)`` (before or after ``optimizer.step()``),
and an epoch is committed by ``rec.end_epoch(metrics=...)``, or every ``every_steps`` steps
(full-batch training, where an "epoch" is a commit point). A crash or Ctrl-C loses no
committed epoch.

Examples
--------
>>> import torch, tempfile
>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
>>> out = tempfile.mkdtemp()
>>> with watch(model, opt, out, probe=(x, y), progress=False) as rec:
...     for epoch in range(2):
...         for i in range(0, 32, 8):
...             loss = nn.functional.cross_entropy(model(x[i:i + 8]), y[i:i + 8])
...             opt.zero_grad(); loss.backward(); rec.log(loss=loss); opt.step()
...         _ = rec.end_epoch(metrics={"train_loss": loss.item()})
>>> from workbench import Run
>>> Run(out).tree["layers"]["grad_norm"].sizes
Frozen({'step': 8, 'layer': 2})
"""

from __future__ import annotations

import json
import math
import numbers
import platform
import warnings
from pathlib import Path

import numpy as np
import torch

from ..batches import as_inputs, collate
from ..groups import describe, group_parameters, group_shares, resolve_groups, unwrap
from .lock import RunLock
from .recorder import Probe, Recorder
from .schedules import every
from .store import RunExistsError, RunStore


class Watch:
    """A recorder attached to a model's optimizer; see :func:`watch`, which makes one.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer
    recorder : Recorder
        Over the run's store (created, or resumed by ``workbench train``).
    lock : RunLock, optional
        Held by this recording and released by :meth:`close` (None: the caller holds it).
    every_steps, metrics, progress
        As in :func:`watch`.
    start_step, start_epoch : int
        Where a resumed run continues.
    step_info : callable ``step -> dict``, optional
        Extra per-step fields for the recorder (``workbench train`` passes whether the
        physics momentum was clipped).

    Attributes
    ----------
    path : Path
        The run directory.
    step : int
        The next optimizer step's index.
    epoch : int
        The epoch (commit point) being recorded.
    groups : dict
        Group name → module/parameter prefixes, as recorded.
    """

    def __init__(self, model, optimizer, recorder: Recorder, *, lock: RunLock | None = None,
                 every_steps=None, metrics=None, progress=True, start_step: int = 0,
                 start_epoch: int = 0, step_info=None):
        self.model = unwrap(model)
        self.optimizer = optimizer
        self.recorder = recorder
        self.store = recorder.store
        self.path = self.store.dir
        self.groups = recorder.groups
        self.lock = lock
        self.every_steps = every_steps
        self.metrics = metrics
        self.progress = progress
        self.step_info = step_info
        self.step = int(start_step)
        self.epoch = int(start_epoch)
        self._epoch_start = self.step
        self._loss = None
        self._batch_size = 0
        self.closed = False
        self.recorder.allow_missing_loss = True
        self.recorder.__enter__()
        self._handles = [optimizer.register_step_pre_hook(self._pre_step),
                         optimizer.register_step_post_hook(self._post_step)]


    # -- the optimizer's hooks --------------------------------------------------------------
    def _pre_step(self, optimizer, args, kwargs):
        self.recorder.flush()
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
        if closure is None:
            self.recorder.take_grads()
            return None
        # optimizer.step(closure) (Lightning, LBFGS): the gradients exist only once the
        # closure has run, inside the step; take them then (after any clipping it does)
        def closure_then_grads():
            out = closure()
            self.recorder.take_grads()
            return out

        if "closure" in kwargs:
            return args, {**kwargs, "closure": closure_then_grads}
        return (args[0], closure_then_grads, *args[2:]), kwargs

    def _post_step(self, optimizer, args, kwargs) -> None:
        group = optimizer.param_groups[0]
        momentum = group["betas"][0] if "betas" in group else group.get("momentum", math.nan)
        extra = self.step_info(self.step) if self.step_info is not None else {}
        loss, self._loss = self._loss, None
        self.recorder.step(self.step, loss=loss, lr=float(group["lr"]),
                           momentum=float(momentum), batch_size=self._batch_size,
                           epoch=self.epoch, hold=loss is None, **extra)
        self.step += 1
        self.recorder.evaluate_if_due(self.step, self.epoch)
        if self.every_steps and (self.step - self._epoch_start) >= self.every_steps:
            self.end_epoch()

    # -- the loop's calls -------------------------------------------------------------------
    def log(self, *, loss=None, batch_size: int | None = None) -> None:
        """The step's training loss (and batch size), before or after ``optimizer.step()``.

        Given after the step, it is that step's; given before, it is the coming step's.
        """
        if batch_size is not None:
            self._batch_size = int(batch_size)
        if loss is None:
            return
        if not self.recorder.set_loss(loss):
            self._loss = loss.detach() if torch.is_tensor(loss) else float(loss)

    def end_epoch(self, metrics: dict | None = None, *, checkpoint_extra: dict | None = None,
                  attrs: dict | None = None) -> int:
        """Commit the epoch: its steps, ``metrics`` (and those of ``watch(metrics=)``), the
        probe logits and a checkpoint. Returns the committed epoch.

        Raises
        ------
        ValueError
            For a metric that is not a number, naming it.
        """
        self._check_open()
        self.recorder.flush()
        values = {}
        for source in (self.metrics() if self.metrics is not None else {}, metrics or {}):
            if not isinstance(source, dict):
                raise TypeError(f"metrics must be a dict of numbers; got "
                                f"{type(source).__name__}")
            for k, v in source.items():
                v = v.item() if torch.is_tensor(v) else v
                if isinstance(v, bool) or not isinstance(v, numbers.Real):
                    raise ValueError(f"metric {k!r} must be a number; got {v!r}")
                values[str(k).replace("/", "_")] = float(v)  # '/' would make a sub-group
        values = self._same_metrics(values)
        epoch = self.epoch
        group = self.optimizer.param_groups[0]
        values.setdefault("lr", float(group["lr"]))
        ckpt = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "epoch": epoch, "step": self.step, **(checkpoint_extra or {})}
        self.recorder.end_epoch(epoch, metrics=values, checkpoint=ckpt, attrs=attrs)
        if self.progress:
            shown = " ".join(f"{k} {v:.4g}" for k, v in values.items() if k != "lr")
            print(f"workbench.watch: epoch {epoch} committed (step {self.step}) {shown}")
        self.epoch += 1
        self._epoch_start = self.step
        return epoch

    _metric_names: tuple | None = None  # those of the first commit: /epochs keeps them
    _metric_dropped: frozenset = frozenset()  # given later, left out (warned once each)

    def _same_metrics(self, values: dict) -> dict:
        """The first commit's metric names, each epoch: a missing one is NaN; one first
        given later is left out, with one warning (``/epochs`` has a fixed set of variables).
        """
        if self._metric_names is None:
            self._metric_names = tuple(values)
            return values
        new = [k for k in values if k not in self._metric_names
               and k not in self._metric_dropped]
        if new:
            warnings.warn(f"metrics {new} were not given at the first committed epoch, so "
                          f"/epochs does not keep them; give every metric from the first "
                          f"end_epoch() on (NaN where there is no value yet)", RuntimeWarning,
                          stacklevel=3)
            self._metric_dropped = self._metric_dropped | set(new)
        return {k: values.get(k, math.nan) for k in self._metric_names}

    def close(self) -> None:
        """Remove every hook and release the run's lock. Steps after the last committed
        epoch are not kept (they belong to no epoch)."""
        if self.closed:
            return
        self.closed = True
        try:
            for h in self._handles:
                h.remove()
            self.recorder.__exit__(None, None, None)
        finally:
            if self.lock is not None:
                self.lock.release()

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"the recording of {self.path} was closed")

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        return (f"Watch({str(self.path)!r}, epoch {self.epoch}, step {self.step}, groups "
                f"{list(self.groups)})")


def watch(model, optimizer, out, *, groups=None, probe=None, classes=None, config=None,
          every_steps=None, metrics=None, forward=None, features=(), overwrite=False,
          progress=True, eval_data=None, eval_every=None, eval_size=None,
          **settings) -> Watch:
    """Record ``model`` trained by ``optimizer`` in any loop into the run directory ``out``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module (``torch.compile`` and DDP/FSDP wrappers are looked through).
    optimizer : torch.optim.Optimizer
        The optimizer whose ``step()`` the loop calls.
    out : path
        The run directory (created; an existing run is refused unless ``overwrite``).
    groups : mapping or callable, optional
        Layer groups as name → module/parameter prefixes, or ``groups(model)`` returning
        that; default: :func:`workbench.groups.auto_groups` (printed when recording starts).
    probe : (inputs, targets) or Dataset, optional
        A fixed probe set (e.g. 256–512 test samples): its logits are recorded at each
        epoch end, its inputs are kept in the run (``/probe_inputs``) for the analyses, and
        its first 32 samples give the per-step ``signal``.
    classes : sequence of str, optional
        Class names in label order.
    config : dict, optional
        Your own settings, kept as plain JSON (never executed).
    every_steps : int, optional
        Commit an epoch every N optimizer steps (full-batch training).
    metrics : callable () -> dict, optional
        Numbers recorded at each commit (test accuracy, …), merged with ``end_epoch``'s.
    forward : callable (model, inputs) -> output, optional
        How to call the model on probe inputs (default ``model(x)``, ``model(**x)``).
    features : sequence of str
        Groups whose probe-set outputs are kept (for the separation analysis).
    overwrite : bool
        Replace a run already in ``out``.
    progress : bool
        Print the groups and one line per committed epoch.
    eval_data : (inputs, targets) or Dataset, optional
        Held-out data (your test set): after every ``eval_every``-th optimizer step the model
        is evaluated (eval mode, no gradient) on a fixed stratified subset of it, of
        ``eval_size`` samples (default 1,000; all when smaller), seeded by ``seed``; the
        accuracy and loss are committed with each epoch as ``/evals`` (dim ``eval_step``,
        the optimizer steps taken), which :func:`workbench.compare.steps_to` reads.
    eval_every : int, optional
        The spacing in optimizer steps; needed with ``eval_data`` (with ``every_steps``
        it defaults to about ten points per commit).
    eval_size : int, optional
        Size of the stratified evaluation subset (default 1,000).
    **settings
        ``record_every``, ``signal_every``, ``signal_batch``, ``memory_budget_mb``, ``seed``,
        ``curvature_iters``, ``curvature_batch``.

    Returns
    -------
    Watch
        Already attached; call ``log(loss=...)`` each step and ``end_epoch(metrics=...)``
        each epoch; ``close()`` (or use it as a context manager) at the end.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"watch() needs the model as a torch.nn.Module; got "
                        f"{type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"watch() needs a torch.optim.Optimizer (the one whose step() the "
                        f"loop calls); got {type(optimizer).__name__}")
    if every_steps is not None and (isinstance(every_steps, bool) or
                                    not isinstance(every_steps, numbers.Integral)
                                    or every_steps < 1):
        raise ValueError(f"every_steps must be a whole number >= 1 (a commit point every N "
                         f"optimizer steps) or None; got {every_steps!r}")
    if metrics is not None and not callable(metrics):
        raise TypeError(f"metrics must be a callable () -> dict of numbers; got "
                        f"{type(metrics).__name__}")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TypeError(f"watch() got unknown settings {unknown}; expected some of "
                        f"{sorted(SETTINGS)}")
    s = {**SETTINGS, **settings}
    user = _plain_config(config)
    model = unwrap(model)
    resolved = resolve_groups(model, groups)
    if not resolved:
        raise ValueError("watch(): the model has no trainable parameters to record")
    probe_set = _probe(probe, classes)
    evaluator = _evaluator(eval_data, eval_every, eval_size, every_steps, forward,
                           seed=settings.get("seed", SETTINGS["seed"]))
    classes = tuple(str(c) for c in (classes or ()))
    path = Path(out)
    store = RunStore(path)
    if store.exists() and not overwrite:
        raise RunExistsError(f"{path} already holds a run; pass overwrite=True to replace "
                             f"it, or choose another directory")
    recorder = Recorder(
        model, store=store, groups=resolved, schedule=every(s["record_every"]),
        signal_schedule=every(s["signal_every"]), probe=probe_set, forward=forward,
        signal_batch=None if probe_set is None else probe_set.x[:s["signal_batch"]],
        feature_layers=tuple(features), memory_budget=int(s["memory_budget_mb"] * 2**20),
        steps_per_epoch=every_steps or 0, evaluator=evaluator)
    recorder.keep_probe_inputs = recorder.probe_metrics = probe_set is not None
    lock = RunLock(path, "watch")
    lock.acquire()
    try:
        if overwrite:
            store.clear()
        store.create(_attrs(model, optimizer, resolved, user, classes, features, s,
                            every_steps))
        rec = Watch(model, optimizer, recorder, lock=lock, every_steps=every_steps,
                    metrics=metrics, progress=progress)
    except BaseException:
        lock.release()
        raise
    if progress:
        print(f"workbench.watch: recording {type(model).__name__} into {path}; layer "
              f"groups (parameters, share):\n{describe(model, resolved)}")
    return rec


#: ``watch``'s further settings and their defaults.
SETTINGS = {"record_every": 1, "signal_every": 8, "signal_batch": 32,
            "memory_budget_mb": 2048.0, "seed": 0, "curvature_iters": 20,
            "curvature_batch": 256}


def _attrs(model, opt, groups_spec, user, classes, features, s, every_steps) -> dict:
    """The root attrs of a watched run: provenance and what was recorded, as plain data."""
    from .. import __version__
    from ..config import WatchConfig

    group = opt.param_groups[0]
    momentum = (f"beta1 {group['betas'][0]:g} (Adam-type)" if "betas" in group else
                f"{group['momentum']:g}" if "momentum" in group else "none")
    cfg = WatchConfig(model=type(model).__name__, optimizer=type(opt).__name__,
                      momentum=momentum, lr=float(group.get("lr", float("nan"))),
                      weight_decay=float(group.get("weight_decay", 0.0) or 0.0),
                      seed=int(s["seed"]), feature_layers=tuple(features),
                      curvature_iters=int(s["curvature_iters"]),
                      curvature_batch=int(s["curvature_batch"]),
                      every_steps=every_steps, user=user)
    params = group_parameters(model, groups_spec)
    shares = group_shares(model, groups_spec)
    groups = {g: {"prefixes": list(p), "n_params": sum(q.numel() for q in params[g]),
                  "share": round(shares[g], 6)} for g, p in groups_spec.items()}
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    return {"source": "watch", "config": cfg.to_json(), "workbench_version": __version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(), "device": str(device),
            "steps_per_epoch": int(every_steps or 0),
            "optimizer_kind": "adam" if "betas" in group else "sgd",
            "groups": json.dumps(groups), "classes": json.dumps(list(classes)),
            "flipped_train_indices": "[]"}


def _plain_config(config) -> dict:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of plain values (kept as JSON); got "
                        f"{type(config).__name__}")
    try:
        return json.loads(json.dumps(config, allow_nan=True))
    except (TypeError, ValueError) as e:
        raise ValueError(f"config must hold plain JSON values (str, numbers, lists, dicts); "
                         f"{e}") from None


def _evaluator(eval_data, eval_every, eval_size, every_steps, forward, *, seed):
    """The :class:`~workbench.record.evals.Evaluator` of ``watch(eval_data=...)``, or None."""
    from .evals import EVAL_SIZE, Evaluator, default_every, eval_subset

    if eval_data is None:
        if eval_every is not None or eval_size is not None:
            raise ValueError("eval_every and eval_size need eval_data=(inputs, targets) "
                             "(held-out data to evaluate); got no eval_data")
        return None
    if eval_every is None:
        if not every_steps:
            raise ValueError("watch(eval_data=...) needs eval_every=K (evaluate after every "
                             "K-th optimizer step), e.g. about a tenth of your steps per "
                             "epoch; got eval_every=None")
        eval_every = default_every(every_steps)
    size = EVAL_SIZE if eval_size is None else eval_size
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"eval_size must be a whole number of samples >= 1; got {size!r}")
    data = _probe(eval_data, ())
    pos = eval_subset(data.targets.numpy(), size, seed=int(seed))
    return Evaluator(data.x[pos], data.targets[pos], every=eval_every, indices=pos,
                     forward=forward)


def _probe(probe, classes) -> Probe | None:
    """The probe set as a :class:`Probe` on the CPU (indices are its positions)."""
    if probe is None:
        return None
    if isinstance(probe, (tuple, list)) and len(probe) == 2:
        x, y = as_inputs(probe[0]), torch.as_tensor(probe[1])
    elif hasattr(probe, "__getitem__") and hasattr(probe, "__len__"):
        x, y = collate(probe)
    else:
        raise TypeError(f"probe must be (inputs, targets) or a torch Dataset; got "
                        f"{type(probe).__name__}")
    x = x.detach().to("cpu")
    y = y.detach().to("cpu").long()
    n = len(x) if not torch.is_tensor(x) else x.shape[0]
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"probe targets must be one class id per sample ({n}); got shape "
                         f"{tuple(y.shape)}")
    return Probe(x, y, np.arange(n), tuple(str(c) for c in (classes or ())))


__all__ = ["watch", "Watch"]
