"""Beta-scheduling bench: steps and wall time to two test-accuracy thresholds per momentum
schedule (Pasichnyk 2026 claims physics momentum needs 1.9x fewer steps than constant 0.9
to 90% on ResNet-18/CIFAR-10; here: the default small CNN on a Fashion-MNIST subset, CPU).

Every schedule x seed is trained from the same initialisation (seeded) with the same cosine
learning-rate schedule and batch order; runs are interleaved (seed-major) so machine load
hits every schedule alike. Test accuracy is evaluated every ``--eval-every`` steps on a fixed
stratified test subset; "steps to threshold" is the first evaluated step at or above it
(resolution = eval-every), "time" the training wall time up to it (evaluation excluded).
Also: the SGD-vs-Adam overlap (Jaccard) of the problematic layer groups of the final models
(constant 0.9 vs Adam, same seed), per seed.

Run: ``PYTHONPATH=. python bench/beta_schedule.py`` (11 minutes measured on 2 cores shared with
3 other jobs, load average about 8).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
from _beta_common import fashion, first_reach, train_run  # noqa: E402

from workbench.probes.attribution import misclassified_attribution, problematic_overlap  # noqa: E402,I001

SCHEDULES = [  # (label, optimizer, momentum spec, peak lr)
    ("constant 0.9", "sgd", "constant:0.9", None),
    ("nesterov 0.9", "sgd", "nesterov:0.9", None),
    ("constant 0.99", "sgd", "constant:0.99", None),
    ("physics", "sgd", "physics", None),
    ("hybrid", "sgd", "hybrid", None),
    ("onecycle", "sgd", "onecycle", None),
    ("adam", "adam", None, 1e-3),
]


def ms(v):
    v = np.asarray(v, float)
    ok = v[np.isfinite(v)]
    if not len(ok):
        return "not reached"
    s = f"{ok.mean():.0f} ± {ok.std():.0f}" if ok.mean() >= 10 else \
        f"{ok.mean():.2f} ± {ok.std():.2f}"
    return s + ("" if len(ok) == len(v) else f" ({len(ok)}/{len(v)} reached)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--test-size", type=int, default=1000)
    p.add_argument("--eval-every", type=int, default=20)
    p.add_argument("--thresholds", default="0.80,0.84")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--schedules", default="all",
                   help="comma-separated labels to run (default all), e.g. 'constant 0.9,physics'")
    p.add_argument("--figure", default=str(Path(__file__).parent / "figures" /
                                           "beta_schedule_accuracy.png"))
    a = p.parse_args(argv)
    _log.start()
    torch.set_num_threads(a.threads)
    thresholds = [float(t) for t in a.thresholds.split(",")]
    schedules = SCHEDULES if a.schedules == "all" else \
        [s for s in SCHEDULES if s[0] in a.schedules.split(",")]
    print(f"# CNN, Fashion-MNIST train subset {a.train_size}, test subset {a.test_size}; "
          f"{a.steps} steps of batch {a.batch_size}, cosine lr peak {a.lr} (Adam 1e-3); "
          f"{a.seeds} seeds; torch threads {a.threads}; thresholds {thresholds}")
    train, test = fashion(a.train_size, a.test_size)
    curves = {s[0]: [] for s in schedules}
    overlaps = []
    t_start = time.perf_counter()
    for seed in range(a.seeds):
        finals = {}
        for label, opt, mom, lr in schedules:
            model, curve, wall = train_run(train, test, momentum=mom or "constant:0.9",
                                           optimizer=opt, lr=lr or a.lr, steps=a.steps,
                                           batch_size=a.batch_size, seed=seed,
                                           eval_every=a.eval_every)
            curves[label].append(curve)
            if label in ("constant 0.9", "adam"):
                finals[label] = model
            print(f"  seed {seed} {label:<14} final acc {curve['acc'][-1]:.4f}  "
                  f"train time {wall:.1f}s", flush=True)
        if len(finals) < 2:
            continue
        ds_s = misclassified_attribution(finals["constant 0.9"], (test.images, test.targets),
                                         ig_top=0)
        ds_a = misclassified_attribution(finals["adam"], (test.images, test.targets), ig_top=0)
        names = [str(n) for n in ds_s.layer.values]
        overlaps.append(problematic_overlap(ds_s, ds_a))
        print(f"  seed {seed} problematic: SGD "
              f"{[n for n, f in zip(names, ds_s.problematic.values, strict=True) if f]} "
              f"Adam {[n for n, f in zip(names, ds_a.problematic.values, strict=True) if f]} "
              f"-> Jaccard {overlaps[-1]:.2f}")
    print(f"# total bench time {time.perf_counter() - t_start:.0f}s")

    head = " | ".join(f"steps to {t:.0%} | time to {t:.0%} (s)" for t in thresholds)
    print(f"\n| schedule | {head} | final acc |")
    print("|---|" + "---|---|" * len(thresholds) + "---|")
    steps_at = {}
    for label, *_ in schedules:
        cells = []
        for t in thresholds:
            reach = np.array([first_reach(c, t) for c in curves[label]])
            steps_at[(label, t)] = reach[:, 0]
            cells += [ms(reach[:, 0]), ms(reach[:, 1])]
        final = np.array([c["acc"][-1] for c in curves[label]])
        print(f"| {label} | " + " | ".join(cells) +
              f" | {final.mean():.4f} ± {final.std():.4f} |")
    ov = np.array(overlaps, float)
    if len(ov):
        print(f"\nSGD-vs-Adam Jaccard overlap of problematic groups per seed: "
              f"{[round(float(v), 2) for v in ov]}; mean {np.nanmean(ov):.2f} (paper: 1.00)")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, *_ in schedules:
        accs = np.stack([c["acc"] for c in curves[label]])
        step = curves[label][0]["step"]
        ax.plot(step, accs.mean(0), label=label)
        ax.fill_between(step, accs.min(0), accs.max(0), alpha=0.15)
    for t in thresholds:
        ax.axhline(t, color="grey", lw=0.6, ls="--")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.5, None)
    ax.set_title(f"CNN / Fashion-MNIST, mean and min-max over {a.seeds} seeds")
    ax.legend(fontsize=8)
    Path(a.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.figure, dpi=120, bbox_inches="tight")
    print(f"figure: {a.figure}")

    # headline: steps(constant 0.9) / steps(physics) at the highest threshold both reach
    ratio = float("nan")
    for t in sorted(thresholds, reverse=True):
        c, ph = steps_at[("constant 0.9", t)], steps_at[("physics", t)]
        if np.isfinite(c).all() and np.isfinite(ph).all():
            ratio = c.mean() / ph.mean()
            print(f"ratio at the {t:.0%} threshold (>1: physics needs fewer steps; paper 1.9)")
            break
    print(f"physics_vs_constant_steps_ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
