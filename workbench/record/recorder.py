"""The Recorder: a context manager around a training loop that fills the run store.

Per recorded step and layer group (on the device where the tensors live, one transfer per
step): ``grad_norm`` ‖g‖, ``weight_norm`` ‖θ‖, ``update_norm`` ‖Δθ_t‖ with
Δθ_t = θ_t − θ_{t−1}, ``update_cos`` cos(Δθ_t, Δθ_{t−1}), ``act_mean`` and ``act_std`` of the
group's output on the training batch, and ``signal``, the mean output on a fixed probe batch
taken every k steps (NaN at other steps). Per epoch: metrics, probe-set logits, optional
probe-set features, a checkpoint, and the epoch is committed to the store.

Under ``DistributedDataParallel`` (a ``torch.distributed`` process group is initialised) the
record is that of the global batch: gradient statistics are taken from the all-reduced
gradient, the loss, batch size and activation mean/std are pooled over the ranks, and rank 0
alone writes (see :mod:`workbench.record.distributed`). ``per_rank=True`` also keeps each
rank's loss, batch size and activation statistics in ``/ranks`` (step, rank, layer).

Examples
--------
>>> with Recorder(model, store=RunStore("runs/x"), probe=probe) as rec:   # doctest: +SKIP
...     for step, (x, y) in enumerate(batches):
...         opt.zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward(); opt.step()
...         rec.step(step, loss=loss, lr=0.05, momentum=0.9, batch_size=len(y))
...     rec.end_epoch(0, metrics={...}, checkpoint=model.state_dict())
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from ..batches import call
from ..batches import logits as logits_of
from ..dims import EPOCH, LABEL, LAYER, SAMPLE, STEP, UNIT
from ..groups import group_modules, group_parameters, resolve_groups, unwrap
from .distributed import combine_moments, gather, world
from .hooks import ActivationTap, capture
from .schedules import every
from .store import RunStore

STATS = ("grad_norm", "weight_norm", "update_norm", "update_cos", "act_mean", "act_std",
         "signal")
UNITS = {"grad_norm": "", "weight_norm": "", "update_norm": "", "update_cos": "",
         "act_mean": "", "act_std": "", "signal": ""}
LONG_NAMES = {
    "grad_norm": "gradient norm ‖g‖", "weight_norm": "weight norm ‖θ‖",
    "update_norm": "update norm ‖θ_t − θ_{t−1}‖",
    "update_cos": "cos(Δθ_t, Δθ_{t−1})", "act_mean": "mean activation (training batch)",
    "act_std": "activation std (training batch)",
    "signal": "mean activation on the fixed probe batch",
}


class MemoryBudgetError(ValueError):
    """Recording this configuration would exceed the memory budget."""


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or Inf; says at which step and in which layer it first appeared."""


@dataclass
class Probe:
    """A fixed set of samples evaluated at each epoch end."""

    x: torch.Tensor
    targets: torch.Tensor
    indices: np.ndarray
    classes: tuple


def probe_inputs_dataset(probe: Probe) -> xr.Dataset:
    """The probe inputs as a Dataset over ``sample`` (``input_<key>`` per tensor; a single
    tensor is ``input_``), for ``/probe_inputs``."""
    x = probe.x
    arrays = {"": x} if torch.is_tensor(x) else dict(x)
    data = {}
    for key, t in arrays.items():
        t = t.detach().cpu()
        dims = (SAMPLE, *[f"input_{key}_dim{i}" for i in range(1, t.ndim)])
        data[f"input_{key}"] = (dims, t.numpy())
    return xr.Dataset(data, coords={SAMPLE: probe.indices})


class Recorder:
    """Record a training run into a :class:`~workbench.record.store.RunStore`.

    Parameters
    ----------
    model : torch.nn.Module
        Any module (``torch.compile`` and DDP wrappers are looked through).
    store : RunStore
        Where epochs are committed (it must have been created:
        :meth:`RunStore.create`, which :func:`workbench.watch` calls for you).
    layers : sequence of str, optional
        Layer groups to record, by name; the model's groups by default.
    groups : mapping or callable, optional
        Groups as name → module/parameter prefixes (see
        :func:`workbench.groups.resolve_groups`); overrides ``layers``.
    forward : callable, optional
        ``forward(model, inputs) -> output`` for the probe and signal passes
        (default ``model(x)``, or ``model(**x)`` for dict inputs).
    schedule : callable step -> bool
        Steps whose per-layer statistics are kept (default every step).
    signal_schedule : callable step -> bool
        Steps at which the probe-batch signal is taken (default ``every(8)``).
    signal_batch : torch.Tensor, optional
        The fixed batch for ``signal``; the first 32 probe samples by default.
    probe : Probe, optional
        Probe set: logits (and ``feature_layers``' outputs) are recorded each epoch.
    feature_layers : sequence of str
        Groups whose probe-set outputs are kept, in ``/features/<layer>``.
    steps_per_epoch : int, optional
        Used for the memory estimate.
    memory_budget : int
        Bytes the recorder may hold between two commits (default 2 GiB).
    epoch_probes : sequence of callables ``(model, epoch) -> xr.Dataset`` (dims include
        ``layer``), appended to ``/epochs_layers`` at each epoch end.
    per_rank : bool
        Under DDP, also record each rank's loss, batch size and activation mean/std
        (``/ranks``; default False). Gradients are the all-reduced ones on every rank, so
        there is no per-rank gradient statistic.
    evaluator : :class:`~workbench.record.evals.Evaluator`, optional
        Test accuracy every K steps on a fixed subset (:meth:`evaluate_if_due`), committed
        with each epoch as ``/evals``.
    """

    def __init__(self, model: torch.nn.Module, *, store: RunStore, layers=None,
                 schedule=None, signal_schedule=None, signal_batch=None,
                 probe: Probe | None = None, feature_layers=(), steps_per_epoch: int = 0,
                 memory_budget: int = 2 << 30, epoch_probes=(), per_rank: bool = False,
                 groups=None, forward=None, evaluator=None):
        model = unwrap(model)  # DDP, torch.compile
        self.model = model
        self.forward = forward
        self.world = world()
        self.per_rank = bool(per_rank) and self.world.distributed
        self.store = store
        self.groups = resolve_groups(model, groups if groups is not None else layers)
        names = list(self.groups)
        self.params = group_parameters(model, self.groups)  # validates the names
        self.modules = {n: m for n, m in group_modules(model, self.groups).items()
                        if m is not None}
        self.layers = names
        self._grads = None       # grad norms taken before the step (optimizer pre-hook)
        self.allow_missing_loss = False  # watch(): a step whose loss was never given is NaN
        self.keep_probe_inputs = False   # watch(): store the probe inputs once (/probe_inputs)
        self.probe_metrics = False       # watch(): probe_acc, probe_loss in /epochs
        self._warned: set[str] = set()
        for f in feature_layers:
            if f not in self.modules:
                raise ValueError(f"feature layer {f!r} is not a recorded layer with a module "
                                 f"output; recorded layers: {', '.join(self.modules)}")
        self.schedule = schedule or every(1)
        self.signal_schedule = signal_schedule or every(8)
        self.probe = probe
        self.feature_layers = tuple(feature_layers)
        if signal_batch is None and probe is not None:
            signal_batch = probe.x[:32]
        self.signal_batch = signal_batch
        self.epoch_probes = tuple(epoch_probes)
        self.evaluator = evaluator
        self.tap = ActivationTap(self.feature_layers)
        self._ctx = None
        # flat parameter list; each layer's parameters are one contiguous slice of it
        self._flat = [p for n in names for p in self.params[n]]
        self._slices, start = [], 0
        for n in names:
            size = sum(p.numel() for p in self.params[n])
            self._slices.append(slice(start, start + size))
            start += size
        self._prev_w = None
        self._prev_d = None
        self._rows: list[np.ndarray] = []
        self._step_rows: list[tuple] = []
        self._rank_rows: list[np.ndarray] = []
        self._pending: list[tuple] = []
        self.check_budget(steps_per_epoch, memory_budget)

    # -- memory ----------------------------------------------------------------------------------
    def memory_estimate(self, steps_per_epoch: int) -> dict[str, int]:
        """Bytes held between two commits, by item."""
        n_params = sum(p.numel() * p.element_size() for p in self._flat)
        est = {"previous weights and update (2 model copies)": 2 * n_params,
               "per-step statistics": steps_per_epoch * (len(self.layers) * len(STATS) + 8) * 8}
        if self.probe is not None:
            n, classes = len(self.probe.targets), max(len(self.probe.classes), 1)
            est["probe logits"] = n * classes * 4
            units = self._feature_units()
            for name, u in units.items():
                est[f"features of {name} ({u} units x {n} samples)"] = 2 * n * u * 4
        return est

    def _feature_units(self) -> dict[str, int]:
        if not self.feature_layers:
            return {}
        from ..batches import output_tensor

        shapes = {}
        hooks = [self.modules[n].register_forward_hook(
            lambda m, i, o, n=n: shapes.__setitem__(n, output_tensor(o)[0].numel()))
            for n in self.feature_layers]
        try:
            was = self.model.training
            self.model.eval()
            with torch.no_grad():
                call(self.model, self.probe.x[:1].to(self._device()), self.forward)
            self.model.train(was)
        finally:
            for h in hooks:
                h.remove()
        return shapes

    def check_budget(self, steps_per_epoch: int, budget: int) -> None:
        est = self.memory_estimate(steps_per_epoch)
        total = sum(est.values())
        if total > budget:
            items = "; ".join(f"{k}: {v / 2**20:.1f} MiB" for k, v in est.items())
            raise MemoryBudgetError(
                f"recording needs about {total / 2**20:.1f} MiB between epoch commits, over "
                f"the memory budget of {budget / 2**20:.1f} MiB ({items}). Record fewer "
                f"feature layers, use a smaller probe set, or raise the budget "
                f"(--memory-budget-mb).")

    def _device(self):
        return self._flat[0].device if self._flat else torch.device("cpu")

    # -- context ---------------------------------------------------------------------------------
    def __enter__(self) -> Recorder:
        self._ctx = capture(self.modules, self.tap)
        self._ctx.__enter__()
        self.tap.mode = "train"
        self._prev_w = self._flat_params()
        self._prev_d = None
        return self

    def __exit__(self, *exc) -> bool:
        self.tap.mode = None
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            ctx.__exit__(*exc)
        return False

    # -- per step --------------------------------------------------------------------------------
    def _flat_params(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1).float() for p in self._flat])

    @torch.no_grad()
    def _layer_stats(self) -> torch.Tensor:
        """(layer, 4) tensor of grad/weight/update norms and update cos.

        Parameters and gradients are concatenated into flat vectors (a layer's parameters
        are contiguous), so each layer costs three norms and a dot product on a slice.
        """
        dev = self._device()
        w = self._flat_params()
        g_norm, self._grads = (self._grads if self._grads is not None
                               else self.grad_norms()), None
        d = w - self._prev_w
        rows = []
        for k, sl in enumerate(self._slices):
            rows.append(torch.stack([
                g_norm[k], torch.linalg.vector_norm(w[sl]),
                torch.linalg.vector_norm(d[sl]),
                torch.dot(d[sl], self._prev_d[sl]) if self._prev_d is not None
                else torch.tensor(float("nan"), device=dev)]))
        stats = torch.stack(rows)
        if self._prev_d is not None:
            stats[:, 3] /= stats[:, 2] * self._prev_norm
        self._prev_w, self._prev_d, self._prev_norm = w, d, stats[:, 2].clone()
        return stats

    @torch.no_grad()
    def grad_norms(self) -> torch.Tensor:
        """(layer,) gradient norm of each group now, NaN where no parameter of the group has
        a gradient (never 0). Called before the optimizer step by :func:`workbench.watch`
        (its pre-step hook), so clipped gradients are the ones seen; else by :meth:`step`.

        A group missing the gradient of some (or all) of its parameters is named in one
        warning per group; its norm is over the parameters that have one.
        """
        dev = self._device()
        g = torch.cat([(p.grad.detach() if p.grad is not None else torch.zeros_like(p))
                       .reshape(-1).float() for p in self._flat])
        norms = torch.stack([torch.linalg.vector_norm(g[sl]) for sl in self._slices]) \
            if self._slices else torch.zeros(0, device=dev)
        for k, name in enumerate(self.layers):
            params = self.params[name]
            missing = sum(p.grad is None for p in params)
            if missing == 0:
                continue
            if missing == len(params):
                norms[k] = float("nan")
            if name not in self._warned:
                self._warned.add(name)
                warnings.warn(f"no gradient reached {missing} of the {len(params)} parameters "
                              f"of layer group {name!r}; its grad_norm is recorded as "
                              + ("NaN (not 0)" if missing == len(params) else
                                 "the norm over the parameters that have one"),
                              RuntimeWarning, stacklevel=3)
        return norms

    def take_grads(self) -> None:
        """Take the gradient norms now (before the optimizer step)."""
        self._grads = self.grad_norms()

    @torch.no_grad()
    def _batch_stats(self, loss, batch_size: int):
        """Activation mean/std (layer, 2), the loss (1,) and the batch size of this step.

        In a single process these are the local batch's. Under DDP, every rank's
        (count, mean, M2) are gathered and pooled (:func:`combine_moments`): the result is
        the global batch's, and the per-rank values are returned as well (else None).
        """
        dev = self._device()
        nan2 = torch.full((2,), float("nan"), device=dev)
        act = torch.stack([self.tap.stats.get(n, nan2).to(dev) for n in self.layers])
        count = torch.tensor([float(self.tap.count.get(n, 0)) for n in self.layers],
                             device=dev)
        self.tap.stats.clear()
        self.tap.count.clear()
        loss_t = loss.detach().float().reshape(1).to(dev) if torch.is_tensor(loss) else \
            torch.tensor([float("nan") if loss is None else float(loss)], device=dev)
        if not self.world.distributed:
            return act, loss_t, batch_size, None
        # rows: one per layer (n, mean, M2 = std² (n − 1)) and one for the loss (b, loss, 0)
        m2 = act[:, 1] ** 2 * (count - 1).clamp_min(0)
        local = torch.cat([torch.stack([count, act[:, 0], m2], 1),
                           torch.stack([torch.tensor(float(batch_size), device=dev),
                                        loss_t[0], torch.zeros((), device=dev)])[None]])
        parts = gather(local)                                  # (rank, layer + 1, 3)
        n, mean, spread = combine_moments(parts.transpose(0, 1)).unbind(-1)
        std = (spread[:-1] / (n[:-1] - 1).clamp_min(1)).sqrt()
        act = torch.stack([mean[:-1], std], 1)
        ranks = None
        if self.per_rank:
            r_std = (parts[:, :-1, 2] / (parts[:, :-1, 0] - 1).clamp_min(1)).sqrt()
            ranks = torch.cat([parts[:, -1, :2], parts[:, :-1, 1], r_std], 1).cpu().numpy()
        return act, mean[-1:], int(n[-1].item()), ranks

    @torch.no_grad()
    def _signal(self) -> torch.Tensor:
        was = self.model.training
        self.tap.mode = "signal"
        try:
            self.model.eval()
            call(self.model, self.signal_batch.to(self._device()), self.forward)
        finally:
            self.model.train(was)
            self.tap.mode = "train"
        nan = torch.tensor(float("nan"), device=self._device())
        sig = torch.stack([self.tap.signal.get(n, nan) for n in self.layers])
        self.tap.signal.clear()
        return sig

    def step(self, step: int, *, loss, lr: float, momentum: float = float("nan"),
             batch_size: int = 0, epoch: int = 0, clipped: bool = False,
             hold: bool = False) -> None:
        """Record one optimizer step. Call it after ``optimizer.step()``.

        Under DDP every rank calls it with its own batch's ``loss`` and ``batch_size``; the
        record holds the global batch's mean loss and size. ``loss=None`` with ``hold=True``
        keeps the step open until :meth:`set_loss` or :meth:`flush` (the loss given after
        the step, as :func:`workbench.watch` allows).

        Raises
        ------
        NonFiniteLossError
            If the loss is NaN or Inf, naming the step and the first layer (in forward order)
            whose activations or gradients are not finite.
        """
        if self._ctx is None:
            raise RuntimeError("Recorder.step() called outside 'with Recorder(...)'")
        stats = self._layer_stats()
        act, loss_t, batch_size, ranks = self._batch_stats(loss, batch_size)
        if self.signal_batch is not None and self.signal_schedule(step) and self.world.writer:
            sig = self._signal()
        else:
            sig = torch.full((len(self.layers),), float("nan"), device=stats.device)
        packed = torch.cat([torch.cat([stats, act, sig[:, None]], 1).flatten(), loss_t])
        meta = (step, epoch, lr, momentum, batch_size, clipped, self.schedule(step))
        if ranks is not None and meta[-1]:
            self._rank_rows.append(ranks)
        if packed.device.type == "cuda":
            host = torch.empty(packed.shape, dtype=packed.dtype, pin_memory=True)
            host.copy_(packed, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._pending.append([meta, host, event, None, loss is not None])
            if len(self._pending) > 1:  # read the previous step's values: no stall on this one
                self._drain(keep_last=True)
        else:
            self._pending.append([meta, packed, None, None, loss is not None])
            self._drain(keep_last=hold)

    def set_loss(self, loss) -> bool:
        """Give the last recorded step its loss if it was recorded without one; True if so."""
        if not self._pending or self._pending[-1][3] is not None or self._pending[-1][4]:
            return False
        value = loss.detach().float().reshape(()) if torch.is_tensor(loss) else \
            torch.tensor(float(loss))
        self._pending[-1][3] = value
        return True

    def flush(self) -> None:
        """Close every open step (their losses are final)."""
        self._drain()

    def _drain(self, keep_last: bool = False) -> None:
        todo = self._pending[:-1] if keep_last else self._pending
        self._pending = self._pending[-1:] if keep_last else []
        L = len(self.layers)
        for meta, host, event, late_loss, given in todo:
            if event is not None:
                event.synchronize()
            values = host.numpy()
            step, epoch, lr, momentum, batch_size, clipped, keep = meta
            loss = float(values[-1]) if late_loss is None else float(late_loss)
            layer_vals = values[:-1].reshape(L, len(STATS))
            missing = late_loss is None and not given and self.allow_missing_loss
            if not math.isfinite(loss) and not missing:
                raise NonFiniteLossError(self._nonfinite_message(step, loss, layer_vals))
            if keep:
                self._step_rows.append((step, epoch, loss, lr, momentum, batch_size, clipped))
                self._rows.append(layer_vals.astype(np.float64))

    def _nonfinite_message(self, step, loss, vals) -> str:
        col = {s: i for i, s in enumerate(STATS)}
        where = "the loss itself"
        for stat in ("act_mean", "act_std", "grad_norm", "weight_norm"):
            bad = [n for n, v in zip(self.layers, vals[:, col[stat]], strict=True)
                   if not math.isfinite(v)]
            if bad:
                where = f"layer {bad[0]!r} ({stat} is {vals[self.layers.index(bad[0]), col[stat]]})"
                break
        return (f"training stopped: the loss is {loss} at step {step}; first non-finite value "
                f"in {where}. Every epoch committed before this step is kept in "
                f"{self.store.path}. Train again with a lower learning rate (or another "
                f"momentum schedule) into a new --out, or replace this run with --overwrite; "
                f"--resume would diverge the same way.")

    def evaluate_if_due(self, steps_done: int, epoch: int) -> bool:
        """Evaluate the test subset if the evaluator is due after ``steps_done`` optimizer
        steps (rank 0 only; the layer hooks capture nothing meanwhile). True if it ran."""
        ev = self.evaluator
        if ev is None or not self.world.writer or not ev.due(steps_done):
            return False
        mode, self.tap.mode = self.tap.mode, None
        try:
            ev.evaluate(self.model, steps_done=steps_done, epoch=epoch)
        finally:
            self.tap.mode = mode
        return True

    # -- per epoch -------------------------------------------------------------------------------
    @torch.no_grad()
    def _probe_outputs(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        was = self.model.training
        self.model.eval()
        self.tap.mode = "features"
        self.tap.features.clear()
        outs = []
        try:
            for i in range(0, len(self.probe.targets), 256):
                out = logits_of(self.model, self.probe.x[i:i + 256].to(self._device()),
                                self.forward)
                outs.append(out.float().cpu())
        finally:
            self.tap.mode = "train"
            self.model.train(was)
        feats = {n: torch.cat(v).numpy() for n, v in self.tap.features.items()}
        self.tap.features.clear()
        return torch.cat(outs).numpy(), feats

    def epoch_datasets(self, epoch: int, metrics: dict) -> dict[str, xr.Dataset]:
        """Build this epoch's Datasets for each store group and clear the buffers."""
        self._drain()
        rows = self._step_rows
        steps = np.array([r[0] for r in rows], dtype=np.int64)
        col = lambda i, dt=np.float64: np.array([r[i] for r in rows], dtype=dt)  # noqa: E731
        out = {}
        out["steps"] = xr.Dataset(
            {"loss": (STEP, col(2), {"long_name": "training loss (batch)"}),
             "lr": (STEP, col(3), {"long_name": "learning rate"}),
             "momentum": (STEP, col(4), {"long_name": "momentum"}),
             "batch_size": (STEP, col(5, np.int64)),
             "momentum_clipped": (STEP, col(6, bool),
                                  {"long_name": "physics momentum clipped at this step"})},
            coords={STEP: steps, EPOCH: (STEP, col(1, np.int64))})
        vals = np.stack(self._rows) if self._rows else np.zeros((0, len(self.layers), len(STATS)))
        layer_vars = {}
        for k, name in enumerate(STATS):
            attrs = {"long_name": LONG_NAMES[name], "units": UNITS[name]}
            if name == "update_cos":
                attrs["stored_under"] = ("step t: cos between the update made at step t and "
                                         "the one made at step t-1 (NaN at the first step)")
            if name == "signal":
                attrs["every"] = repr(self.signal_schedule)
            layer_vars[name] = ((STEP, LAYER), vals[:, :, k], attrs)
        out["layers"] = xr.Dataset(layer_vars, coords={STEP: steps, LAYER: self.layers})
        if self._rank_rows:
            out["ranks"] = self._ranks_dataset(steps)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: mean is NaN
            cos_mean = np.nanmean(vals[:, :, STATS.index("update_cos")], axis=0) \
                if len(vals) else np.full(len(self.layers), np.nan)
        el = xr.Dataset({"update_cos_mean": (LAYER, cos_mean,
                                             {"long_name": "mean cos(Δθ_t, Δθ_{t−1}) over the "
                                                           "epoch"})},
                        coords={LAYER: self.layers})
        for fn in self.epoch_probes:
            el = xr.merge([el, fn(self.model, epoch)], compat="override")
        out["epochs_layers"] = el.expand_dims({EPOCH: [epoch]})
        out["epochs"] = xr.Dataset({k: (EPOCH, [float(v)]) for k, v in metrics.items()},
                                   coords={EPOCH: [epoch]})
        evals = self.evaluator.dataset() if self.evaluator is not None else None
        if evals is not None:
            out["evals"] = evals
        if self.probe is not None and self.keep_probe_inputs:
            out["probe_inputs"] = probe_inputs_dataset(self.probe)
            self.keep_probe_inputs = False
        if self.probe is not None:
            logits, feats = self._probe_outputs()
            if self.probe_metrics:  # watch(): the probe set's accuracy and loss per epoch
                target = self.probe.targets.cpu().numpy()
                z = logits - logits.max(1, keepdims=True)
                logp = z - np.log(np.exp(z).sum(1, keepdims=True))
                out["epochs"]["probe_acc"] = (EPOCH, [float((logits.argmax(1) == target)
                                                            .mean())],
                                              {"long_name": "accuracy on the probe set"})
                out["epochs"]["probe_loss"] = (EPOCH, [float(-logp[np.arange(len(target)),
                                                                   target].mean())],
                                               {"long_name": "cross-entropy on the probe set"})
            labels = np.arange(logits.shape[1])
            out["probe"] = xr.Dataset(
                {"logits": ((EPOCH, SAMPLE, LABEL), logits[None],
                            {"long_name": "logits on the probe set"})},
                coords={EPOCH: [epoch], SAMPLE: self.probe.indices,
                        "target": (SAMPLE, self.probe.targets.cpu().numpy()), LABEL: labels},
                attrs={"classes": list(self.probe.classes)})
            for name, f in feats.items():
                out[f"features/{name}"] = xr.Dataset(
                    {"features": ((EPOCH, SAMPLE, UNIT), f[None],
                                  {"long_name": f"output of {name} on the probe set"})},
                    coords={EPOCH: [epoch], SAMPLE: self.probe.indices,
                            "target": (SAMPLE, self.probe.targets.cpu().numpy())})
        self._rows, self._step_rows, self._rank_rows = [], [], []
        return out

    def _ranks_dataset(self, steps: np.ndarray) -> xr.Dataset:
        r = np.stack(self._rank_rows).astype(np.float64)  # (step, rank, 2 + 2 * layer)
        L = len(self.layers)
        dims = (STEP, "rank", LAYER)
        return xr.Dataset(
            {"batch_size": ((STEP, "rank"), r[:, :, 0].astype(np.int64)),
             "loss": ((STEP, "rank"), r[:, :, 1], {"long_name": "training loss (rank's batch)"}),
             "act_mean": (dims, r[:, :, 2:2 + L], {"long_name": "mean activation (rank's batch)"}),
             "act_std": (dims, r[:, :, 2 + L:], {"long_name": "activation std (rank's batch)"})},
            coords={STEP: steps, "rank": np.arange(r.shape[1]), LAYER: self.layers})

    def end_epoch(self, epoch: int, *, metrics: dict, checkpoint: dict | None = None,
                  attrs: dict | None = None) -> None:
        """Write the checkpoint, then append and commit this epoch's data.

        Under DDP only rank 0 writes; the other ranks check their last steps and drop their
        buffers.
        """
        if not self.world.writer:
            self._drain()
            self._rows, self._step_rows, self._rank_rows = [], [], []
            return
        groups = self.epoch_datasets(epoch, metrics)
        if checkpoint is not None:
            self.store.save_checkpoint(checkpoint, epoch)
        self.store.commit_epoch(groups, epoch=epoch, attrs=attrs)
