"""The training loop: seeded, resumable, recorded into a run store.

Examples
--------
>>> from workbench.train import TrainConfig, train
>>> run = train(TrainConfig(epochs=1, train_size=2000), "runs/tiny")   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import __version__
from .config import RESUME_SAFE, TrainConfig
from .data import load_dataset, probe_indices, train_subset
from .models import model_for
from .optim import (
    build_optimizer,
    make_lr_schedule,
    make_momentum,
    set_hyperparameters,
)
from .record import distributed as ddp_
from .record.evals import Evaluator, default_every, eval_subset
from .record.layout import CHECKPOINTS, LOCK, RECORD, REPORT
from .record.lock import RunLock
from .record.recorder import Probe, Recorder
from .record.schedules import every
from .record.store import RunExistsError, RunStore, load_state


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def evaluate(model, x, y, *, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y), in eval mode."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        xb, yb = x[i:i + batch_size].to(dev), y[i:i + batch_size].to(dev)
        out = model(xb).float()
        loss += F.cross_entropy(out, yb, reduction="sum").item()
        correct += (out.argmax(1) == yb).sum().item()
    model.train(was)
    return loss / len(y), correct / len(y)


class ResumeError(ValueError):
    """A resume that would not continue the stored run as it was."""


def _check_out(out: Path, store: RunStore, cfg: TrainConfig, resume: bool,
               overwrite: bool) -> None:
    """Read-only checks of the output directory (nothing is created or deleted here)."""
    if resume and overwrite:
        raise ValueError("choose either --resume or --overwrite, not both")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a directory; choose another "
                                 f"--out")
    if resume:
        if not store.exists():
            raise FileNotFoundError(f"--resume: {out} holds no run (no {store.path.name}); "
                                    f"train without --resume to start one there")
        return
    if overwrite and out.exists() and not store.exists() and \
            any(p.name not in (LOCK, CHECKPOINTS, REPORT) for p in out.iterdir()):
        raise RunExistsError(f"--overwrite: {out} holds no run (no {RECORD}), so nothing in it "
                             f"is deleted; choose an empty or new --out")
    if store.exists() and not overwrite:
        attrs = store.attrs()
        old = TrainConfig.from_json(attrs["config"])
        what = "the same run" if old.same_run(cfg) else "a different run"
        raise RunExistsError(f"{out} already holds {what} (model {old.model}, data "
                             f"{old.data}, {attrs.get('committed_epochs', 0)} epochs); "
                             f"pass --resume to continue it or --overwrite to replace it")
    if not store.exists() and out.exists() and any(p.name != LOCK for p in out.iterdir()) \
            and not overwrite:
        raise RunExistsError(f"{out} exists and is not a run directory (no record.zarr); "
                             f"choose another --out or pass --overwrite")


def _resumed_config(store: RunStore, cfg: TrainConfig, allow_changes: bool) -> TrainConfig:
    """The stored settings, with only the changes a resume may make; the others refused."""
    stored = TrainConfig.from_json(store.attrs()["config"])
    bad = cfg.resume_conflicts(stored, allow_changes=allow_changes)
    if bad:
        lines = "; ".join(f"{k}: stored {a!r}, given {b!r}" for k, (a, b) in sorted(bad.items()))
        safe = sorted(set(bad) & set(RESUME_SAFE))
        hint = (f" ({', '.join(safe)} may change with --allow-change)" if safe
                and not allow_changes else "")
        raise ResumeError(f"--resume would continue {store.dir} with other settings than it "
                          f"was trained with: {lines}{hint}. Resume with the stored "
                          f"settings, or train a new run into another --out")
    committed = int(store.attrs().get("committed_epochs", 0))
    if cfg.epochs < committed:
        raise ResumeError(f"--resume --epochs {cfg.epochs}: {store.dir} has already "
                          f"committed {committed} epochs; pass --epochs {committed + 1} or "
                          f"more to train further")
    return dataclasses.replace(stored, epochs=cfg.epochs, device=cfg.device,
                               data_root=cfg.data_root,
                               **{k: getattr(cfg, k) for k in RESUME_SAFE
                                  if allow_changes})


def _clear(out: Path) -> None:
    """Delete the run ``out`` holds (:meth:`RunStore.clear`)."""
    RunStore(out).clear()


def _resume_state(store: RunStore) -> tuple[int, int, dict | None]:
    """Check the stored run, cut what was never committed, and load the last checkpoint.

    Returns (start epoch, start step, checkpoint state or None).
    """
    from .record.integrity import StoreDamagedError, verify

    damage = verify(store.dir, checkpoints=False)  # the last one is checked below
    if damage:
        raise StoreDamagedError(store.dir, damage, action="resume")
    committed, steps = store.trim()
    store.remove_checkpoints(from_epoch=committed)  # written, never committed
    if committed == 0:
        return 0, 0, None
    path = store.checkpoint_path(committed - 1)
    if not path.exists():
        raise ResumeError(f"--resume: the checkpoint of the last committed epoch "
                          f"{committed - 1} is missing ({path}); restore it, or start the run "
                          f"again with --overwrite")
    state = load_state(path)
    if int(state.get("epoch", -1)) != committed - 1 or int(state.get("step", -1)) != steps:
        raise ResumeError(f"--resume: {path} holds epoch {state.get('epoch')} step "
                          f"{state.get('step')}, but the record committed epoch "
                          f"{committed - 1} ending at step {steps}; restore the checkpoint "
                          f"or start again with --overwrite")
    return committed, int(state["step"]), state


@dataclass
class TrainSetup:
    """Everything :func:`train`'s loop needs, built and checked by :func:`create_run`.

    Attributes
    ----------
    cfg : TrainConfig
        The settings (the stored ones on a resume).
    model, net : torch.nn.Module
        The model, and what the loop calls (DDP's wrapper under ``torchrun``).
    optimizer : torch.optim.Optimizer
    rec : Watch
        The recording, attached to the optimizer's step hooks.
    train_ds, test_ds : ImageDataset
    lr_fn, mom_fn : callables ``step -> value`` (``mom_fn`` None for Adam)
    steps_per_epoch, start_epoch : int
    device : torch.device
    ddp : _DDP
    lock : RunLock or None
        Held until the run is closed (rank 0 only).
    """

    cfg: TrainConfig
    model: torch.nn.Module
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    rec: object
    train_ds: object
    test_ds: object
    lr_fn: object
    mom_fn: object
    steps_per_epoch: int
    start_epoch: int
    device: torch.device
    ddp: object
    lock: object
    scaler: object = None
    state: dict | None = None


def create_run(cfg: TrainConfig, out, *, resume: bool = False, overwrite: bool = False,
               epoch_probes=(), allow_changes: bool = False) -> TrainSetup:
    """Check every setting, build data, model, optimizer and recorder, then lock and create
    (or resume) the run in ``out``; nothing is created or deleted before every check passed.

    The recording is :class:`~workbench.record.watch.Watch`, the same one
    :func:`workbench.watch` gives a user's own loop.
    """
    from .record.watch import Watch

    out = Path(out)
    store = RunStore(out)
    ddp = _DDP(cfg)  # under torchrun: this process's rank; rank 0 writes the run
    if ddp.writer:
        _check_out(out, store, cfg, resume, overwrite)
    if resume:
        cfg = _resumed_config(store, cfg, allow_changes)
    device = ddp.device
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)

    train_ds = train_subset(load_dataset(cfg.data, train=True, root=cfg.data_root,
                                         label_noise=cfg.label_noise, noise_seed=cfg.seed),
                            cfg.train_size, seed=cfg.seed)
    test_ds = train_subset(load_dataset(cfg.data, train=False, root=cfg.data_root),
                           cfg.test_size, seed=cfg.seed)
    probe_pos = probe_indices(test_ds.targets.numpy(), size=min(cfg.probe_size, len(test_ds)),
                              seed=cfg.seed)
    probe = Probe(test_ds.images[probe_pos], test_ds.targets[probe_pos],
                  test_ds.indices[probe_pos], test_ds.classes)

    model = model_for(cfg).to(device)
    net = _ddp_wrap(model, device) if ddp.distributed else model
    steps_per_epoch = -(-len(train_ds) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    lr_fn = make_lr_schedule(cfg.lr_schedule, cfg.lr, total)
    mom_fn = make_momentum(cfg.momentum, lr_fn, total) if cfg.optimizer == "sgd" else None
    opt = build_optimizer(cfg.optimizer, model.parameters(), lr=cfg.lr, momentum=mom_fn,
                          weight_decay=cfg.weight_decay)
    use_amp = cfg.amp and device.type == "cuda"
    evaluator = _evaluator(cfg, test_ds, steps_per_epoch)
    recorder = Recorder(model, store=store, schedule=every(cfg.record_every),
                        signal_schedule=every(cfg.signal_every),
                        signal_batch=probe.x[:cfg.signal_batch], probe=probe,
                        feature_layers=cfg.feature_layers, steps_per_epoch=steps_per_epoch,
                        memory_budget=int(cfg.memory_budget_mb * 2**20),
                        epoch_probes=list(epoch_probes), evaluator=evaluator)
    # everything is checked: from here on, files are created, deleted and written
    if ddp.distributed and not ddp.writer:
        torch.distributed.barrier()  # rank 0 prepares (locks, creates, trims) the run first
    lock = RunLock(out, "train") if ddp.writer else None
    if lock is not None:
        lock.acquire()
    try:
        if ddp.writer:
            if overwrite:
                _clear(out)
            start_epoch, start_step, state = _resume_state(store) if resume else (0, 0, None)
            if state is None and not store.exists():
                store.create(_provenance(cfg, train_ds, device, steps_per_epoch))
            if ddp.distributed:
                torch.distributed.barrier()  # the run is ready: the other ranks go on
        else:
            start_epoch, start_step, state = _committed_state(store) if resume else \
                (0, 0, None)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
        clipped = (lambda step: {"clipped": bool(mom_fn.clipped(step))}) \
            if mom_fn is not None else None
        rec = Watch(model, opt, recorder, lock=lock, progress=False, start_step=start_step,
                    start_epoch=start_epoch, step_info=clipped)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return TrainSetup(cfg, model, net, opt, rec, train_ds, test_ds, lr_fn, mom_fn,
                      steps_per_epoch, start_epoch, device, ddp, lock,
                      torch.amp.GradScaler("cuda") if use_amp else None, state)


def _evaluator(cfg: TrainConfig, test_ds, steps_per_epoch: int) -> Evaluator | None:
    """Test accuracy every ``cfg.eval_every`` steps (None: about ten an epoch; 0: none) on
    a fixed stratified subset of ``cfg.eval_size`` test images, seeded by ``cfg.seed``."""
    if cfg.eval_every == 0:
        return None
    every = cfg.eval_every or default_every(steps_per_epoch)
    pos = eval_subset(test_ds.targets.numpy(), cfg.eval_size, seed=cfg.seed)
    return Evaluator(test_ds.images[pos], test_ds.targets[pos], every=every,
                     indices=test_ds.indices[pos])


def _provenance(cfg, train_ds, device, steps_per_epoch) -> dict:
    """The root attrs of a ``workbench train`` run."""
    flipped = []
    if train_ds.clean_targets is not None:
        noisy = (train_ds.targets != train_ds.clean_targets).numpy()
        flipped = train_ds.indices[noisy]
    return {"config": cfg.to_json(), "workbench_version": __version__,
            "torch_version": torch.__version__, "python_version": platform.python_version(),
            "device": str(device), "steps_per_epoch": steps_per_epoch,
            "train_indices": json.dumps(train_ds.indices.tolist()),
            "flipped_train_indices": json.dumps(np.asarray(flipped).tolist()),
            "classes": json.dumps(list(train_ds.classes))}


def train(cfg: TrainConfig, out, *, resume: bool = False, overwrite: bool = False,
          progress: bool = True, epoch_probes=(), allow_changes: bool = False) -> Path:
    """Train ``cfg``'s model and record the run into ``out``.

    Every setting is checked (and the data, model and recorder built) before anything is
    created or deleted on disk (:func:`create_run`); then the run directory is locked (one
    writer at a time, :class:`~workbench.record.lock.RunLock`) for the whole training, and
    the loop below records through the optimizer's step hooks, as a user's own loop does
    with :func:`workbench.watch`.

    Parameters
    ----------
    cfg : TrainConfig
    out : path
        The run directory (``runs/<name>``).
    resume : bool
        Continue the run in ``out`` from its last committed checkpoint. ``cfg`` must agree
        with the stored settings except ``epochs`` (at least the committed ones; more extend
        the run, and the lr and momentum schedules are recomputed over the new total number
        of steps), ``device`` and ``data_root``; any other difference is refused with the
        list of differences. A store that :func:`~workbench.record.integrity.verify` finds
        damaged, or whose last committed checkpoint is missing, is refused.
    overwrite : bool
        Replace whatever ``out`` holds (only once every setting has been checked).
    epoch_probes : callables ``(model, epoch) -> xr.Dataset`` over ``layer``, recorded in
        ``/epochs_layers`` at each epoch end.
    allow_changes : bool
        With ``resume``: also allow :data:`~workbench.config.RESUME_SAFE` to differ.

    Returns
    -------
    Path of the run directory.
    """
    run = create_run(cfg, out, resume=resume, overwrite=overwrite, epoch_probes=epoch_probes,
                     allow_changes=allow_changes)
    try:
        for epoch in range(run.start_epoch, run.cfg.epochs):
            _train_epoch(run, epoch, progress)
    finally:
        run.rec.close()
        if run.ddp.owns_group:
            torch.distributed.destroy_process_group()
    return Path(out)


def _train_epoch(run: TrainSetup, epoch: int, progress: bool) -> None:
    """One epoch of the loop: as a user's loop with ``watch``, plus schedules, AMP and DDP."""
    cfg, ddp, device, rec = run.cfg, run.ddp, run.device, run.rec
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    order = torch.randperm(len(run.train_ds), generator=gen).to(device)
    x_all, y_all = run.train_ds.images.to(device), run.train_ds.targets.to(device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    run.model.train()
    bar = tqdm(range(run.steps_per_epoch), desc=f"epoch {epoch} (0-{cfg.epochs - 1})",
               disable=not progress or not ddp.writer, leave=False)
    for i in bar:
        idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
        global_n = len(idx)
        if ddp.distributed:  # this rank's share of the global batch
            idx = idx.tensor_split(ddp.size)[ddp.rank]
        xb, yb = x_all[idx], y_all[idx]
        step = rec.step
        set_hyperparameters(run.optimizer, run.lr_fn(step),
                            run.mom_fn(step) if run.mom_fn is not None else None)
        run.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=run.scaler is not None):
            logits = run.net(xb)
            loss = F.cross_entropy(logits.float(), yb)
        # DDP averages gradients over ranks: weigh each rank's mean by its share
        grad_loss = loss * (len(yb) * ddp.size / global_n) if ddp.distributed else loss
        rec.log(loss=loss, batch_size=len(yb))
        if run.scaler is not None:
            run.scaler.scale(grad_loss).backward()
            run.scaler.unscale_(run.optimizer)
            run.scaler.step(run.optimizer)
            run.scaler.update()
        else:
            grad_loss.backward()
            run.optimizer.step()
        loss_sum += loss.detach() * len(yb)
        correct += (logits.detach().argmax(1) == yb).sum()
        if progress and i % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    if ddp.distributed:
        torch.distributed.all_reduce(loss_sum)
        torch.distributed.all_reduce(correct)
    end = tqdm(total=2, desc=f"epoch {epoch} end: test set", leave=False,
               disable=not progress or not ddp.writer, bar_format="{desc} [{elapsed}]")
    test_loss, test_acc = evaluate(run.model, run.test_ds.images, run.test_ds.targets) \
        if ddp.writer else (float("nan"), float("nan"))
    end.update()
    end.set_description(f"epoch {epoch} end: probe logits, checkpoint, commit")
    last = rec.step - 1
    metrics = {"train_loss": loss_sum.item() / len(run.train_ds),
               "train_acc": correct.item() / len(run.train_ds),
               "test_loss": test_loss, "test_acc": test_acc,
               "wall_time": time.perf_counter() - t0, "lr": run.lr_fn(last),
               "momentum": run.mom_fn(last) if run.mom_fn is not None else float("nan")}
    rec.end_epoch(metrics, checkpoint_extra={"config": cfg.to_json(),
                                             "rng": torch.get_rng_state()},
                  attrs={"config": cfg.to_json()})
    end.update()
    end.close()
    if progress and ddp.writer:
        tqdm.write(f"epoch {epoch}: train loss {metrics['train_loss']:.4f} acc "
                   f"{metrics['train_acc']:.4f} | test loss {test_loss:.4f} acc "
                   f"{test_acc:.4f} | {metrics['wall_time']:.1f}s")


class _DDP:
    """This process's place in a DDP run: rank, size, device, and whether train() started
    the process group (then it also ends it)."""

    def __init__(self, cfg: TrainConfig):
        device = resolve_device(cfg.device)
        if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        if device.type == "cuda":
            torch.cuda.set_device(device)
        self.owns_group = ddp_.init_from_env(device)
        self.rank, self.size = ddp_.world()
        self.distributed, self.writer = self.size > 1, self.rank == 0
        self.device = device


def _ddp_wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` (SyncBatchNorm on CUDA)."""
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def _committed_state(store: RunStore) -> tuple[int, int, dict | None]:
    """What a non-writing rank resumes from: the last committed checkpoint (rank 0 has
    checked and trimmed the run already)."""
    committed = int(store.attrs().get("committed_epochs", 0))
    if committed == 0:
        return 0, 0, None
    state = load_state(store.checkpoint_path(committed - 1))
    return committed, int(state["step"]), state
