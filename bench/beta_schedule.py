"""Momentum schedules: optimizer steps to 85% and 90% test accuracy, each schedule at its own
best learning rate, over seeds, read from the runs' ``/evals``.

The claim tested (Pasichnyk 2026: physics momentum 1 − 2√lr needs about 1.9x fewer steps
than constant 0.9 to 90% on ResNet-18/CIFAR-10), here on the default CNN and the embedded
Fashion-MNIST, CPU.

Each schedule x learning rate x seed is one ``workbench.train`` run (the package's own loop
and recorder): the default CNN, cosine learning-rate schedule, the same seeded
initialisation, training subset and batch order for every schedule of a seed. Test
accuracy is recorded every ``--eval-every`` optimizer steps (default about ten points an
epoch) on a fixed stratified subset of ``--eval-size`` test images (``/evals``), beside the
full test set once an epoch (``/epochs``). Runs are interleaved seed by seed, so machine load
hits every schedule alike.

- **Its own best lr.** Per schedule, the learning rate kept is the grid point with the lowest
  final training loss, averaged over the seeds (a diverged run counts as infinite loss); the
  test set plays no part in the choice.
- **Steps to a threshold** (at the kept lr, per seed): ``workbench.compare.steps_to`` on the
  run's ``/evals``, the first evaluated step at or above it; its resolution is the eval
  spacing, printed. Mean ± std and min–max over seeds, and how many seeds reached it.
- **Plain answer**, per threshold, for physics and hybrid against constant 0.9: in how many
  seeds each needed fewer steps, and a verdict: YES (fewer in every seed), NO (in none),
  MIXED, or CANNOT BE TOLD (neither reached the threshold in any seed).
- With ``adam`` among ``--schedules``: the SGD-vs-Adam overlap (Jaccard) of the problematic
  layer groups of the final constant-0.9 and Adam models of each seed, at their kept lrs.

Run (full size, on a quiet machine): ``nice -n 10 env PYTHONPATH=. python
bench/beta_schedule.py``: 3 schedules x 4 learning rates x 3 seeds = 36 runs of 3 epochs on
the 60,000 training images (1,407 steps, a point every 47 steps), about 70 s each on 2 quiet
cores (the demo trains 3 such epochs in 60 s), so about 40-50 minutes. Physics momentum at
lr 0.3 is clipped to 0 while the cosine lr is above 0.25 (warned; ``/steps/momentum_clipped``).
Check that it works (20 s to 2 minutes a run, dominated by the per-run setup):
``BENCH_LOG=beta_schedule_tiny ... --train-size 600 --test-size 300 --epochs 2
--batch-size 64 --seeds 2 --lrs 0.1,0.3 --adam-lrs 0.001 --thresholds 0.5,0.6 --schedules
"constant 0.9,physics,hybrid,adam" --figure /tmp/b.png``.
Last line: ``physics_vs_constant_steps_ratio: X``, mean steps of constant 0.9 over mean steps
of physics at the highest threshold both reach in every seed (> 1: physics needs fewer;
the paper: 1.9).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import _log  # noqa: E402,I001  (bench/_log.py: appends stdout to bench/logs/)

from workbench import Run  # noqa: E402
from workbench.compare import accuracy_curve, steps_to  # noqa: E402
from workbench.config import TrainConfig  # noqa: E402
from workbench.record.recorder import NonFiniteLossError  # noqa: E402
from workbench.record.store import RunStore  # noqa: E402
from workbench.train import train  # noqa: E402

#: label → (optimizer, momentum spec); the claim is about the first three.
SCHEDULES = {"constant 0.9": ("sgd", "constant:0.9"), "physics": ("sgd", "physics"),
             "hybrid": ("sgd", "hybrid"), "nesterov 0.9": ("sgd", "nesterov:0.9"),
             "constant 0.99": ("sgd", "constant:0.99"), "onecycle": ("sgd", "onecycle"),
             "adam": ("adam", "constant:0.9")}
BASELINE, CHALLENGERS = "constant 0.9", ("physics", "hybrid")


def spread(values, *, steps: bool = True) -> str:
    """``mean ± std (min–max)`` of steps (or of accuracies), with how many were finite when
    not all."""
    v = np.asarray(values, float)
    ok = v[np.isfinite(v)]
    if not len(ok):
        return "not reached"
    text = (f"{ok.mean():.1f} ± {ok.std():.1f} ({ok.min():.0f}–{ok.max():.0f})" if steps else
            f"{ok.mean():.4f} ± {ok.std():.4f} ({ok.min():.4f}–{ok.max():.4f})")
    return text + ("" if len(ok) == len(v) else f" [{len(ok)}/{len(v)} reached]")


def verdict(mine, base) -> tuple[str, int]:
    """YES / NO / MIXED / CANNOT BE TOLD, and in how many seeds ``mine`` took fewer steps
    (a threshold never reached counts as infinitely many steps)."""
    a, b = np.asarray(mine, float), np.asarray(base, float)
    if not np.isfinite(a).any() and not np.isfinite(b).any():
        return "CANNOT BE TOLD (neither reached it)", 0
    fewer = int(np.sum(np.nan_to_num(a, nan=np.inf) < np.nan_to_num(b, nan=np.inf)))
    word = "YES" if fewer == len(a) else "NO" if fewer == 0 else "MIXED"
    return word, fewer


def one_run(out: Path, cfg: TrainConfig) -> dict:
    """Train ``cfg`` into ``out`` (kept when already complete) and read back what counts."""
    store = RunStore(out)
    diverged = False
    done = store.exists() and int(store.attrs().get("committed_epochs", 0)) >= cfg.epochs
    t0 = time.perf_counter()
    if not done:
        try:
            train(cfg, out, overwrite=store.exists(), progress=False)
        except NonFiniteLossError:
            diverged = True
    wall = time.perf_counter() - t0
    run = Run(out)
    ep = run.tree["epochs"].to_dataset() if "epochs" in run.tree.children else None
    diverged = diverged or ep is None or ep.sizes.get("epoch", 0) < cfg.epochs
    curve, resolution = accuracy_curve(run.tree) if ep is not None else (None, "-")
    return {"path": out, "diverged": diverged, "wall": wall, "curve": curve,
            "resolution": resolution,
            "train_loss": np.inf if diverged else float(ep["train_loss"].values[-1]),
            "test_acc": np.nan if diverged else float(ep["test_acc"].values[-1])}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schedules", default="constant 0.9,physics,hybrid",
                   help=f"comma-separated, of: {', '.join(SCHEDULES)}")
    p.add_argument("--lrs", default="0.01,0.03,0.1,0.3", help="peak lr grid (SGD)")
    p.add_argument("--adam-lrs", default="0.0003,0.001,0.003", help="peak lr grid (Adam)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-size", type=int, default=None, help="default: all 60,000")
    p.add_argument("--test-size", type=int, default=None, help="default: all 10,000")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--eval-every", type=int, default=None,
                   help="default: about 10 points an epoch")
    p.add_argument("--eval-size", type=int, default=1000)
    p.add_argument("--thresholds", default="0.85,0.90")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    p.add_argument("--keep", default=None,
                   help="keep the runs under this folder (an interrupted bench then resumes)")
    p.add_argument("--figure", default=str(Path(__file__).parent / "figures" /
                                           "beta_schedule_accuracy.png"))
    a = p.parse_args(argv)
    _log.start()
    if a.threads:
        torch.set_num_threads(a.threads)
    labels = [s.strip() for s in a.schedules.split(",") if s.strip()]
    unknown = [s for s in labels if s not in SCHEDULES]
    if unknown:
        raise SystemExit(f"unknown schedules {unknown}; expected some of {list(SCHEDULES)}")
    grids = {s: [float(v) for v in (a.adam_lrs if SCHEDULES[s][0] == "adam" else a.lrs)
                 .split(",")] for s in labels}
    thresholds = [float(t) for t in a.thresholds.split(",")]
    seeds = list(range(a.seeds))
    print(f"# default CNN, Fashion-MNIST: train {a.train_size or 'all 60000'}, test "
          f"{a.test_size or 'all 10000'}; {a.epochs} epochs of batch {a.batch_size}, cosine lr; "
          f"seeds {seeds}; lr grids {grids}; thresholds {thresholds}; torch threads "
          f"{torch.get_num_threads()}")
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="beta_schedule_"))
    results: dict[tuple, dict] = {}
    t_start = time.perf_counter()
    for seed in seeds:
        for label in labels:
            opt, mom = SCHEDULES[label]
            for lr in grids[label]:
                cfg = TrainConfig(model="cnn", data="fashion-mnist", epochs=a.epochs,
                                  train_size=a.train_size, test_size=a.test_size,
                                  batch_size=a.batch_size, lr=lr, optimizer=opt, momentum=mom,
                                  seed=seed, device="cpu", probe_size=256, curvature_iters=0,
                                  eval_every=a.eval_every, eval_size=a.eval_size)
                out = root / f"{label.replace(' ', '_')}_lr{lr:g}_seed{seed}"
                r = one_run(out, cfg)
                r["steps"] = [steps_to(r["curve"], t) if r["curve"] is not None and
                              "eval_step" in r["curve"].dims else np.nan for t in thresholds]
                results[(label, lr, seed)] = r
                reach = ", ".join(f"{t:.0%} at {s:g}" for t, s in zip(thresholds, r["steps"],
                                                                       strict=True))
                print(f"  seed {seed} {label:<13} lr {lr:<6g} "
                      + ("DIVERGED (non-finite loss)" if r["diverged"] else
                         f"final train loss {r['train_loss']:.4f} test acc {r['test_acc']:.4f}")
                      + f" | steps to {reach} | {r['wall']:.0f}s", flush=True)
    total = time.perf_counter() - t_start
    print(f"# total bench time {total:.0f}s ({len(results)} runs, {total / len(results):.0f}s "
          f"per run)")
    resolution = {r["resolution"] for r in results.values() if r["curve"] is not None}
    print(f"# resolution: test accuracy measured {'; '.join(sorted(resolution))}")

    print("\n## Learning-rate grid (mean over seeds; the kept lr has the lowest final "
          "training loss)\n")
    print("| schedule | lr | final train loss | final test acc (full test set) | diverged |")
    print("|---|---|---|---|---|")
    kept = {}
    for label in labels:
        losses = {lr: np.mean([results[(label, lr, s)]["train_loss"] for s in seeds])
                  for lr in grids[label]}
        kept[label] = min(losses, key=lambda lr: np.nan_to_num(losses[lr], nan=np.inf))
        for lr in grids[label]:
            rs = [results[(label, lr, s)] for s in seeds]
            acc = np.nanmean([r["test_acc"] for r in rs]) if any(
                np.isfinite(r["test_acc"]) for r in rs) else np.nan
            mark = " **kept**" if lr == kept[label] else ""
            print(f"| {label} | {lr:g}{mark} | {losses[lr]:.4f} | {acc:.4f} | "
                  f"{sum(r['diverged'] for r in rs)}/{len(rs)} |")

    head = " | ".join(f"steps to {t:.0%}" for t in thresholds)
    print(f"\n## Each schedule at its kept lr: mean ± std (min–max) over {len(seeds)} seeds\n")
    print(f"| schedule | kept lr | {head} | final test acc |")
    print("|---|---|" + "---|" * len(thresholds) + "---|")
    steps_at = {}
    for label in labels:
        rs = [results[(label, kept[label], s)] for s in seeds]
        cells = []
        for k, t in enumerate(thresholds):
            steps_at[(label, t)] = np.array([r["steps"][k] for r in rs], float)
            cells.append(spread(steps_at[(label, t)]))
        print(f"| {label} | {kept[label]:g} | " + " | ".join(cells) +
              f" | {spread([r['test_acc'] for r in rs], steps=False)} |")

    if BASELINE in labels:
        print(f"\n## Does physics or hybrid momentum reach the threshold in fewer steps than "
              f"constant 0.9? (each at its kept lr; test accuracy measured "
              f"{'; '.join(sorted(resolution))})\n")
        for other in (c for c in CHALLENGERS if c in labels):
            for t in thresholds:
                mine, base = steps_at[(other, t)], steps_at[(BASELINE, t)]
                word, fewer = verdict(mine, base)
                print(f"- {other} reaches {t:.0%} in fewer steps than constant 0.9: **{word}** "
                      f"(fewer in {fewer} of {len(seeds)} seeds; {other} "
                      f"{[float(v) for v in mine]}, constant 0.9 {[float(v) for v in base]} "
                      f"steps)")

    if BASELINE in labels and "adam" in labels:
        from workbench.probes.attribution import misclassified_attribution, problematic_overlap

        overlaps = []
        for s in seeds:
            runs = [Run(results[(lab, kept[lab], s)]["path"]) for lab in (BASELINE, "adam")]
            if any(results[(lab, kept[lab], s)]["diverged"] for lab in (BASELINE, "adam")):
                continue
            test = runs[0].test_data()
            ds = [misclassified_attribution(r.model(-1), (test.images, test.targets), ig_top=0)
                  for r in runs]
            overlaps.append(problematic_overlap(*ds))
            names = [str(n) for n in ds[0].layer.values]
            flagged = [[n for n, f in zip(names, d.problematic.values, strict=True) if f]
                       for d in ds]
            print(f"  seed {s} problematic: SGD {flagged[0]} Adam {flagged[1]} -> Jaccard "
                  f"{overlaps[-1]:.2f}")
        if overlaps:
            print(f"SGD-vs-Adam Jaccard overlap of problematic groups per seed: "
                  f"{[round(float(v), 2) for v in overlaps]}; mean "
                  f"{np.nanmean(overlaps):.2f} (paper: 1.00)")

    _figure(a, labels, kept, seeds, results, thresholds)

    ratio = float("nan")
    if BASELINE in labels and "physics" in labels:
        for t in sorted(thresholds, reverse=True):
            c, ph = steps_at[(BASELINE, t)], steps_at[("physics", t)]
            if np.isfinite(c).all() and np.isfinite(ph).all():
                ratio = c.mean() / ph.mean()
                print(f"ratio at the {t:.0%} threshold (>1: physics needs fewer steps; "
                      f"paper 1.9)")
                break
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(f"physics_vs_constant_steps_ratio: {ratio:.2f}")


def _figure(a, labels, kept, seeds, results, thresholds) -> None:
    """Mean /evals accuracy per schedule at its kept lr, with the min–max band over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label in labels:
        curves = [results[(label, kept[label], s)]["curve"] for s in seeds]
        curves = [c for c in curves if c is not None and "eval_step" in c.dims]
        if not curves:
            continue
        n = min(c.sizes["eval_step"] for c in curves)
        accs = np.stack([c["acc"].values[:n] for c in curves])
        step = curves[0]["eval_step"].values[:n]
        ax.plot(step, accs.mean(0), label=f"{label} (lr {kept[label]:g})")
        ax.fill_between(step, accs.min(0), accs.max(0), alpha=0.15)
    for t in thresholds:
        ax.axhline(t, color="grey", lw=0.6, ls="--")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("test accuracy (stratified eval subset)")
    ax.set_ylim(0.5, None)
    ax.set_title(f"default CNN / Fashion-MNIST, mean and min-max over {len(seeds)} seeds")
    ax.legend(fontsize=8)
    Path(a.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.figure, dpi=120, bbox_inches="tight")
    print(f"figure: {a.figure}")


if __name__ == "__main__":
    main()
