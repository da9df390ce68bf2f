"""Cost of trust: an epoch commit with integrity data against one without, interleaved.

Each round commits ``--epochs`` synthetic epochs (``/steps``, ``/layers`` over 8 layers,
``/epochs``; the shapes of a default CNN epoch on 60k images: 469 steps) to two fresh stores,
alternating which side goes first: *checked* is :meth:`RunStore.commit_epoch` as shipped
(crc32c codec on every chunk, the chunk manifest recorded in the commit); *plain* is the same
call with both switched off. The first round is a warm-up and is discarded. It also times
``verify`` (decode every chunk) and the cheap presence check ``open_run`` does.

Usage: python bench/store_integrity.py [--rounds 7] [--epochs 10] (6 measured rounds; every
run appended to bench/logs/store_integrity.log by bench/_log.py)
Last line: ``integrity_commit_ratio: X`` (median over rounds of checked / plain commit time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import _log  # noqa: I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np
import xarray as xr

from workbench.record import store as store_mod
from workbench.record.integrity import verify
from workbench.record.store import RunStore

LAYERS = [f"layer{i}" for i in range(8)]
STEPS = 469


def epoch_groups(epoch: int) -> dict[str, xr.Dataset]:
    rng = np.random.default_rng(epoch)
    step = np.arange(epoch * STEPS, (epoch + 1) * STEPS)
    steps = xr.Dataset({v: ("step", rng.random(STEPS)) for v in
                        ("loss", "lr", "momentum", "batch_size")},
                       coords={"step": step, "epoch": ("step", np.full(STEPS, epoch))})
    layers = xr.Dataset({v: (("step", "layer"), rng.random((STEPS, len(LAYERS)))) for v in
                         ("grad_norm", "weight_norm", "update_norm", "update_cos", "act_mean",
                          "act_std", "signal")},
                        coords={"step": step, "layer": LAYERS})
    epochs = xr.Dataset({v: ("epoch", [rng.random()]) for v in
                         ("train_loss", "test_loss", "train_acc", "test_acc")},
                        coords={"epoch": [epoch]})
    return {"steps": steps, "layers": layers, "epochs": epochs}


@contextmanager
def plain():
    """Switch the integrity data off: default codecs, no manifest."""
    enc, man = store_mod.encoding_for, store_mod.manifest
    store_mod.encoding_for = lambda ds: {}
    store_mod.manifest = lambda group, skip=None: {}
    try:
        yield
    finally:
        store_mod.encoding_for, store_mod.manifest = enc, man


def commit_all(path: Path, n: int, checked: bool) -> float:
    store = RunStore(path)
    ctx = plain() if not checked else _null()
    with ctx:
        store.create({"steps_per_epoch": STEPS})
        t0 = time.perf_counter()
        for e in range(n):
            store.commit_epoch(epoch_groups(e), epoch=e)
        return time.perf_counter() - t0


@contextmanager
def _null():
    yield


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args(argv)
    _log.start()

    def say(line: str) -> None:
        print(line, flush=True)

    say(f"# store_integrity: {args.rounds} rounds (first discarded) x {args.epochs} epochs of "
        f"{STEPS} steps x {len(LAYERS)} layers; python {sys.version.split()[0]}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)")
    ratios, checked_t, plain_t = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = [True, False] if r % 2 == 0 else [False, True]
            times = {}
            for side in order:
                path = Path(tmp) / f"r{r}_{'checked' if side else 'plain'}"
                times[side] = commit_all(path, args.epochs, side)
            ratio = times[True] / times[False]
            say(f"round {r}{' (warm-up, discarded)' if r == 0 else ''}: order "
                f"{'checked,plain' if order[0] else 'plain,checked'}; checked "
                f"{times[True] / args.epochs * 1e3:.1f} ms/commit, plain "
                f"{times[False] / args.epochs * 1e3:.1f} ms/commit, ratio {ratio:.3f}")
            if r > 0:
                ratios.append(ratio)
                checked_t.append(times[True] / args.epochs)
                plain_t.append(times[False] / args.epochs)
        last = Path(tmp) / f"r{args.rounds - 1}_checked"
        t0 = time.perf_counter()
        damage = verify(last, checkpoints=False)
        t_full = time.perf_counter() - t0
        t0 = time.perf_counter()
        verify(last, decode=False, checkpoints=False)
        t_quick = time.perf_counter() - t0
        assert damage == [], damage
        say(f"verify (decode every chunk) of a {args.epochs}-epoch store: {t_full * 1e3:.0f} ms; "
            f"presence check (what open_run does): {t_quick * 1e3:.0f} ms")
    say(f"checked commit median {statistics.median(checked_t) * 1e3:.1f} ms, plain "
        f"{statistics.median(plain_t) * 1e3:.1f} ms; per-round ratios "
        f"{min(ratios):.3f}-{max(ratios):.3f}")
    say(f"integrity_commit_ratio: {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
