"""Recording overhead: plain against recorded training of the default CNN, fair protocol.

Each round trains one plain epoch and one recorded epoch from the same weights on the same
batches (the training loop of ``workbench train``: lr and momentum schedules set at every
step), and both end with the same test-set evaluation. The recorded epoch records exactly
what ``workbench train`` records by default, built from ``TrainConfig()``'s defaults the way
``train()`` builds it: every layer group's statistics at every step, the probe-batch signal
(``signal_batch`` images every ``signal_every`` steps), and at the epoch end the probe-set
logits, the epoch-end probes of ``train()`` (per-group curvature when ``curvature_iters`` > 0
and the installed ``train()`` still records it), a checkpoint (model, optimizer, RNG) and the
zarr commit.

Fair protocol: the order alternates inside the rounds (plain then recorded, then recorded
then plain, ...), the first round is a warm-up and is discarded, and the headline is the
median of the per-round ratios recorded / plain, printed with their spread (min-max).
``--no-epoch-probes`` leaves out the epoch-end probes (what ``train()`` records once the
curvature moved to an after-the-fact analysis).

Usage: python bench/recording_overhead.py [--rounds 5] [--train-size 60000] [--test-size N]
       [--model cnn]
       [--device auto] [--batch-size 128] [--threads 2] [--no-epoch-probes]
Last line: ``recording_overhead_ratio: X`` (goal <= 1.10 on CPU; ResNet-18 at batch 256 on a
GPU <= 1.05).

``--model transformer``: a model the package never saw, recorded through the public
``workbench.watch`` in a plain loop as a user writes it (AdamW; a small pre-LayerNorm
transformer, token and position embeddings, 2 blocks of ``nn.MultiheadAttention`` and MLP,
d_model 128, sequences of 32 tokens, batch 64, on a synthetic next-token-sum task). Each round
trains one plain and one recorded epoch of ``--steps`` steps from the same weights on the same
batches, with the same protocol (alternating order, warm-up dropped). The recorded side
records what ``watch`` records by default: every group's statistics at every step, the
probe-batch signal every 8 steps, and at the epoch end the probe logits, the probe inputs
(first epoch), a checkpoint and the zarr commit. Last line:
``transformer_recording_overhead: X`` (goal <= 1.10 on CPU).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import torch
import torch.nn.functional as F

import workbench.train as wtrain
from workbench.config import TrainConfig
from workbench.data import load_dataset, probe_indices, train_subset
from workbench.models import model_for
from workbench.optim import build_optimizer, make_lr_schedule, make_momentum, set_hyperparameters
from workbench.record import Probe, Recorder, RunStore, every
from workbench.record.hooks import mean_std
from workbench.train import evaluate, resolve_device


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class Side:
    """One side of a round: a fresh copy of the weights, optimizer and schedules."""

    def __init__(self, base, cfg, steps_per_epoch):
        self.model = copy.deepcopy(base)
        total = steps_per_epoch * cfg.epochs
        self.lr_fn = make_lr_schedule(cfg.lr_schedule, cfg.lr, total)
        self.mom_fn = make_momentum(cfg.momentum, self.lr_fn, total)
        self.opt = build_optimizer(cfg.optimizer, self.model.parameters(), lr=cfg.lr,
                                   momentum=self.mom_fn, weight_decay=cfg.weight_decay)


def one_epoch(side, cfg, x, y, test, device, recorder=None):
    """The loop of ``train()`` for one epoch; returns its wall time (s)."""
    model, opt, lr_fn, mom_fn = side.model, side.opt, side.lr_fn, side.mom_fn
    sync(device)
    t0 = time.perf_counter()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).to(device)
    loss_sum = torch.zeros((), device=device)
    for step, i in enumerate(range(0, len(y), cfg.batch_size)):
        idx = order[i:i + cfg.batch_size]
        lr, mu = lr_fn(step), mom_fn(step)
        set_hyperparameters(opt, lr, mu)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]).float(), y[idx])
        loss.backward()
        opt.step()
        if recorder is not None:
            recorder.step(step, loss=loss, lr=lr, momentum=mu, batch_size=len(idx),
                          clipped=bool(mom_fn.clipped(step)))
        loss_sum += loss.detach() * len(idx)
    test_loss, test_acc = evaluate(model, *test)
    metrics = {"train_loss": loss_sum.item() / len(y), "test_loss": test_loss,
               "test_acc": test_acc}
    if recorder is not None:
        ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 0,
                "step": step + 1, "config": cfg.to_json(), "rng": torch.get_rng_state()}
        recorder.end_epoch(0, metrics=metrics, checkpoint=ckpt, attrs={"config": cfg.to_json()})
    sync(device)
    return time.perf_counter() - t0


def profile(cfg, x, y, probe, base, device, steps_per_epoch):
    """Where the time goes: CPU time (process_time, median of 30) of each recorder piece."""
    def med(f, n=30):
        f()
        ts = []
        for _ in range(n):
            t0 = time.process_time()
            f()
            ts.append(time.process_time() - t0)
        return 1e3 * sorted(ts)[n // 2]

    side = Side(base, cfg, steps_per_epoch)
    model, opt = side.model, side.opt
    xb, yb = x[:cfg.batch_size], y[:cfg.batch_size]

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xb), yb).backward()
        opt.step()

    t_step = med(train_step)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(f"{tmp}/p")
        store.create({"config": cfg.to_json()})
        with Recorder(model, store=store, signal_batch=probe.x[:cfg.signal_batch],
                      probe=probe, steps_per_epoch=steps_per_epoch) as rec:
            outs = []
            handles = [m.register_forward_hook(lambda m, i, o: outs.append(o.detach()))
                       for m in rec.modules.values()]
            with torch.no_grad():
                model(xb)
            for h in handles:
                h.remove()
            t_act = med(lambda: [mean_std(o) for o in outs])  # what the hooks add per step
            t_layer = med(rec._layer_stats)
            t_sig = med(rec._signal)
            for s in range(steps_per_epoch):
                rec.step(s, loss=torch.tensor(1.0), lr=0.1, batch_size=cfg.batch_size)
            rec.epoch_datasets(0, {"m": 1.0})  # first call pays one-off imports
            for s in range(steps_per_epoch):
                rec.step(s, loss=torch.tensor(1.0), lr=0.1, batch_size=cfg.batch_size)
            t0 = time.process_time()
            groups = rec.epoch_datasets(1, {"m": 1.0})
            t1 = time.process_time()
            store.save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict()},
                                  1)
            t2 = time.process_time()
            store.commit_epoch(groups, epoch=1)
            t3 = time.process_time()
    print(f"CPU ms (median of 30, torch threads {torch.get_num_threads()}): training step "
          f"{t_step:.2f}; per step: layer statistics {t_layer:.3f}, activation mean/std in "
          f"the hooks {t_act:.3f} (all groups' outputs on the batch); probe-batch signal "
          f"{t_sig:.2f} every {cfg.signal_every} steps = {t_sig / cfg.signal_every:.2f} per step")
    print(f"CPU ms per epoch end: epoch datasets incl. {len(probe.targets)} probe logits "
          f"{1e3 * (t1 - t0):.0f}, checkpoint {1e3 * (t2 - t1):.0f}, zarr commit "
          f"{1e3 * (t3 - t2):.0f}; an epoch of {steps_per_epoch} steps is about "
          f"{t_step * steps_per_epoch:.0f}")
    per_step = t_layer + t_act + t_sig / cfg.signal_every
    end = 1e3 * (t3 - t0)
    print(f"recorder share: per step {per_step / t_step:.3f}, epoch end "
          f"{end / (t_step * steps_per_epoch):.3f} of the plain epoch's training steps")


class TinyTransformer(torch.nn.Module):
    """Pre-LayerNorm transformer classifier over token sequences (the bench's own model)."""

    def __init__(self, vocab=64, d=128, heads=4, blocks=2, seq=32):
        super().__init__()
        nn = torch.nn
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(seq, d) * 0.02)
        self.blocks = nn.ModuleList([_Block(d, heads) for _ in range(blocks)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids):
        h = self.tok(ids) + self.pos[: ids.shape[1]]
        for b in self.blocks:
            h = b(h)
        return self.head(self.ln_f(h)[:, -1])


class _Block(torch.nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        nn = torch.nn
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, h):
        a = self.ln1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        return h + self.mlp(self.ln2(h))


def transformer_epoch(model, opt, batches, rec=None):
    """One epoch of a user's plain loop (``rec``: the watch recording, or None)."""
    t0 = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if rec is not None:
            rec.log(loss=loss)
        opt.step()
    if rec is not None:
        rec.end_epoch()
    return time.perf_counter() - t0


def transformer_main(args):
    import workbench

    g = torch.Generator().manual_seed(0)
    vocab, seq, batch = 64, 32, 64
    xs = torch.randint(0, vocab, (args.steps * batch, seq), generator=g)
    ys = xs.sum(1) % vocab
    batches = [(xs[i:i + batch], ys[i:i + batch]) for i in range(0, len(ys), batch)]
    probe = (xs[:256], ys[:256])
    torch.manual_seed(0)
    base = TinyTransformer(vocab=vocab, seq=seq)
    n_params = sum(p.numel() for p in base.parameters())
    print(f"transformer: {n_params:,} parameters, {len(batches)} steps/epoch of batch {batch}, "
          f"sequence {seq}, AdamW; recorded through workbench.watch (defaults, probe of 256)")
    ratios, plain_t, rec_t = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + 1):
            times = {}
            for kind in (("plain", "recorded") if r % 2 == 0 else ("recorded", "plain")):
                model = copy.deepcopy(base)
                opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
                if kind == "plain":
                    times[kind] = transformer_epoch(model, opt, batches)
                    continue
                with workbench.watch(model, opt, f"{tmp}/run{r}", probe=probe,
                                     progress=False) as rec:
                    times[kind] = transformer_epoch(model, opt, batches, rec)
            ratio = times["recorded"] / times["plain"]
            tag = "warm-up, discarded" if r == 0 else "measured"
            print(f"round {r} ({'plain first' if r % 2 == 0 else 'recorded first'}; {tag}): "
                  f"plain {times['plain']:.2f}s  recorded {times['recorded']:.2f}s  "
                  f"ratio {ratio:.3f}", flush=True)
            if r > 0:
                ratios.append(ratio)
                plain_t.append(times["plain"])
                rec_t.append(times["recorded"])
    print(f"{args.rounds} measured rounds + 1 warm-up, torch threads {torch.get_num_threads()}; "
          f"median epoch: plain {statistics.median(plain_t):.2f}s, recorded "
          f"{statistics.median(rec_t):.2f}s")
    print(f"per-round ratios: {', '.join(f'{q:.3f}' for q in ratios)}; median "
          f"{statistics.median(ratios):.3f}, spread {min(ratios):.3f}-{max(ratios):.3f}")
    print(f"transformer_recording_overhead: {statistics.median(ratios):.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5, help="measured rounds (plus 1 warm-up)")
    ap.add_argument("--train-size", type=int, default=60000)
    ap.add_argument("--test-size", type=int, default=None,
                    help="test images evaluated at each epoch end (default: all 10,000, as "
                         "train() does); with a smaller --train-size, shrink it in proportion "
                         "so that evaluation does not dilute the ratio")
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true",
                    help="print the CPU time of each recorder piece instead of timing rounds")
    ap.add_argument("--no-epoch-probes", action="store_true",
                    help="leave out train()'s epoch-end probes (curvature)")
    ap.add_argument("--steps", type=int, default=200,
                    help="--model transformer: optimizer steps per epoch")
    args = ap.parse_args()
    _log.start("recording_overhead_transformer" if args.model == "transformer" else None)
    torch.set_num_threads(args.threads)
    if args.model == "transformer":
        return transformer_main(args)
    data = "fashion-mnist" if args.model != "resnet18" else "cifar10"
    cfg = TrainConfig(model=args.model, data=data, batch_size=args.batch_size,
                      train_size=args.train_size, epochs=1, device=args.device)
    device = resolve_device(args.device)
    train = train_subset(load_dataset(cfg.data, train=True), args.train_size, seed=cfg.seed)
    test = train_subset(load_dataset(cfg.data, train=False), args.test_size, seed=cfg.seed)
    pidx = probe_indices(test.targets.numpy(), size=cfg.probe_size, seed=cfg.seed)
    probe = Probe(test.images[pidx], test.targets[pidx], test.indices[pidx], test.classes)
    x, y = train.images.to(device), train.targets.to(device)
    steps_per_epoch = -(-len(y) // cfg.batch_size)
    torch.manual_seed(cfg.seed)
    base = model_for(cfg).to(device)
    if args.profile:
        return profile(cfg, x, y, probe, base, device, steps_per_epoch)
    curv = getattr(wtrain, "_curvature_and_damping", None)
    use_probes = (not args.no_epoch_probes and curv is not None
                  and getattr(cfg, "curvature_iters", 0) > 0)
    print(f"recorded as train() does by default: record_every {cfg.record_every}, signal of "
          f"{cfg.signal_batch} probe images every {cfg.signal_every} steps, {cfg.probe_size} "
          f"probe logits, feature layers {cfg.feature_layers or 'none'}, epoch-end curvature "
          f"{'ON (' + str(cfg.curvature_iters) + ' iterations)' if use_probes else 'off'}, "
          f"checkpoint and zarr commit")
    ratios, plain_t, rec_t = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + 1):
            times = {}
            for kind in (("plain", "recorded") if r % 2 == 0 else ("recorded", "plain")):
                side = Side(base, cfg, steps_per_epoch)
                if kind == "plain":
                    times[kind] = one_epoch(side, cfg, x, y, (test.images, test.targets),
                                            device)
                    continue
                store = RunStore(f"{tmp}/run{r}")
                store.create({"config": cfg.to_json()})
                probes = [curv(cfg, train, side.lr_fn, side.mom_fn, lambda: steps_per_epoch)] \
                    if use_probes else []
                with Recorder(side.model, store=store, schedule=every(cfg.record_every),
                              signal_schedule=every(cfg.signal_every),
                              signal_batch=probe.x[:cfg.signal_batch], probe=probe,
                              feature_layers=cfg.feature_layers,
                              steps_per_epoch=steps_per_epoch,
                              memory_budget=int(cfg.memory_budget_mb * 2**20),
                              epoch_probes=probes) as rec:
                    times[kind] = one_epoch(side, cfg, x, y, (test.images, test.targets),
                                            device, recorder=rec)
            ratio = times["recorded"] / times["plain"]
            tag = "warm-up, discarded" if r == 0 else "measured"
            print(f"round {r} ({'plain first' if r % 2 == 0 else 'recorded first'}; {tag}): "
                  f"plain {times['plain']:.2f}s  recorded {times['recorded']:.2f}s  "
                  f"ratio {ratio:.3f}", flush=True)
            if r > 0:
                ratios.append(ratio)
                plain_t.append(times["plain"])
                rec_t.append(times["recorded"])
    print(f"model {args.model}, device {device}, batch {cfg.batch_size}, {len(y)} samples/epoch, "
          f"{len(test.targets)} test images evaluated per epoch, "
          f"{args.rounds} measured rounds + 1 warm-up, torch threads {torch.get_num_threads()}")
    print(f"median epoch: plain {statistics.median(plain_t):.2f}s, recorded "
          f"{statistics.median(rec_t):.2f}s (ratio of medians "
          f"{statistics.median(rec_t) / statistics.median(plain_t):.3f})")
    print(f"per-round ratios: {', '.join(f'{q:.3f}' for q in ratios)}; median "
          f"{statistics.median(ratios):.3f}, spread {min(ratios):.3f}-{max(ratios):.3f}")
    print(f"recording_overhead_ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
