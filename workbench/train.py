"""The training loop: seeded, resumable, recorded into a run store.

Examples
--------
>>> from workbench.train import TrainConfig, train
>>> run = train(TrainConfig(epochs=1, train_size=2000), "runs/tiny")   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import __version__
from .config import TrainConfig
from .data import load_dataset, probe_indices, train_subset
from .models import model_for
from .optim import (
    build_optimizer,
    make_lr_schedule,
    make_momentum,
    set_hyperparameters,
)
from .record.recorder import Probe, Recorder
from .record.schedules import every
from .record.store import RunExistsError, RunStore


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


def _prepare_out(out: Path, cfg: TrainConfig, resume: bool, overwrite: bool) -> RunStore:
    store = RunStore(out)
    if resume and overwrite:
        raise ValueError("choose either --resume or --overwrite, not both")
    if store.exists() and not resume:
        if not overwrite:
            old = TrainConfig.from_json(store.attrs()["config"])
            what = "the same run" if old.same_run(cfg) else "a different run"
            raise RunExistsError(f"{out} already holds {what} (model {old.model}, data "
                                 f"{old.data}, {store.attrs()['committed_epochs']} epochs); "
                                 f"pass --resume to continue it or --overwrite to replace it")
        shutil.rmtree(out)
    elif not store.exists() and out.exists() and any(out.iterdir()) and not overwrite:
        raise RunExistsError(f"{out} exists and is not a run directory (no record.zarr); "
                             f"choose another --out or pass --overwrite")
    return store


def train(cfg: TrainConfig, out, *, resume: bool = False, overwrite: bool = False,
          progress: bool = True, epoch_probes=()) -> Path:
    """Train ``cfg``'s model and record the run into ``out``.

    Parameters
    ----------
    cfg : TrainConfig
    out : path
        The run directory (``runs/<name>``).
    resume : bool
        Continue the run in ``out`` from its last checkpoint (``cfg.epochs`` may be larger
        than before; other settings come from the stored run). With more epochs the lr and
        momentum schedules are recomputed over the new total number of steps.
    overwrite : bool
        Replace whatever ``out`` holds.
    epoch_probes : callables ``(model, epoch) -> xr.Dataset`` over ``layer``, recorded in
        ``/epochs_layers`` at each epoch end.

    Returns
    -------
    Path of the run directory.
    """
    out = Path(out)
    store = _prepare_out(out, cfg, resume, overwrite)
    start_epoch, start_step, state = 0, 0, None
    if resume and store.exists():
        stored = TrainConfig.from_json(store.attrs()["config"])
        cfg = dataclasses.replace(stored, epochs=max(cfg.epochs, stored.epochs),
                                  device=cfg.device)
        committed, _ = store.trim()
        last = store.last_checkpoint()
        for extra in sorted(store.checkpoints.glob("epoch_*.pt")):
            if int(extra.stem.split("_")[1]) >= committed:  # written, never committed
                extra.unlink()
        if committed > 0 and last is not None:
            state = torch.load(store.checkpoint_path(committed - 1), map_location="cpu",
                               weights_only=True)
            start_epoch, start_step = committed, int(state["step"])
    device = resolve_device(cfg.device)
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
    steps_per_epoch = -(-len(train_ds) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    lr_fn = make_lr_schedule(cfg.lr_schedule, cfg.lr, total)
    mom_fn = make_momentum(cfg.momentum, lr_fn, total) if cfg.optimizer == "sgd" else None
    opt = build_optimizer(cfg.optimizer, model.parameters(), lr=cfg.lr, momentum=mom_fn,
                          weight_decay=cfg.weight_decay)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
    elif not store.exists():
        flipped = []
        if train_ds.clean_targets is not None:
            flipped = train_ds.indices[(train_ds.targets != train_ds.clean_targets).numpy()]
        store.create({
            "config": cfg.to_json(), "workbench_version": __version__,
            "torch_version": torch.__version__, "python_version": platform.python_version(),
            "device": str(device), "steps_per_epoch": steps_per_epoch,
            "train_indices": json.dumps(train_ds.indices.tolist()),
            "flipped_train_indices": json.dumps(np.asarray(flipped).tolist()),
            "classes": json.dumps(list(train_ds.classes)),
        })

    probes = list(epoch_probes)  # curvature and damping are the ``damping`` analysis now

    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    x_all, y_all = train_ds.images.to(device), train_ds.targets.to(device)
    recorder = Recorder(model, store=store, schedule=every(cfg.record_every),
                        signal_schedule=every(cfg.signal_every),
                        signal_batch=probe.x[:cfg.signal_batch], probe=probe,
                        feature_layers=cfg.feature_layers, steps_per_epoch=steps_per_epoch,
                        memory_budget=int(cfg.memory_budget_mb * 2**20),
                        epoch_probes=probes)
    step = start_step
    model.train()
    with recorder:
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            order = torch.randperm(len(train_ds), generator=gen).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       disable=not progress, leave=False)
            for i in bar:
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                xb, yb = x_all[idx], y_all[idx]
                lr = lr_fn(step)
                mu = mom_fn(step) if mom_fn is not None else float("nan")
                set_hyperparameters(opt, lr, mu if mom_fn is not None else None)
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, enabled=use_amp):
                    logits = model(xb)
                    loss = F.cross_entropy(logits.float(), yb)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(opt)
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                recorder.step(step, loss=loss, lr=lr, momentum=mu, batch_size=len(yb),
                              epoch=epoch,
                              clipped=bool(mom_fn is not None and mom_fn.clipped(step)))
                loss_sum += loss.detach() * len(yb)
                correct += (logits.detach().argmax(1) == yb).sum()
                step += 1
                if progress and i % 20 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.close()
            end = tqdm(total=2, desc=f"epoch {epoch + 1} end: test set", leave=False,
                       disable=not progress, bar_format="{desc} [{elapsed}]")
            test_loss, test_acc = evaluate(model, test_ds.images, test_ds.targets)
            end.update()
            end.set_description(f"epoch {epoch + 1} end: probe logits, checkpoint, commit")
            metrics = {"train_loss": loss_sum.item() / len(train_ds),
                       "train_acc": correct.item() / len(train_ds),
                       "test_loss": test_loss, "test_acc": test_acc,
                       "wall_time": time.perf_counter() - t0, "lr": lr_fn(step - 1),
                       "momentum": mom_fn(step - 1) if mom_fn is not None else float("nan")}
            ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "epoch": epoch, "step": step, "config": cfg.to_json(),
                    "rng": torch.get_rng_state()}
            recorder.end_epoch(epoch, metrics=metrics, checkpoint=ckpt,
                               attrs={"config": cfg.to_json()})
            end.update()
            end.close()
            if progress:
                tqdm.write(f"epoch {epoch}: train loss {metrics['train_loss']:.4f} acc "
                           f"{metrics['train_acc']:.4f} | test loss {test_loss:.4f} acc "
                           f"{test_acc:.4f} | {metrics['wall_time']:.1f}s")
    return out
