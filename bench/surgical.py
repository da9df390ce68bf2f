"""Surgical-fix bench: errors fixed / broken / net, parameter fraction and compute saved,
layer level vs parameter level (same number of parameters) vs all groups (control), over
seeds. Paper (Pasichnyk 2026, ResNet-18/CIFAR-10): 62 fixed, net positive, 18% of
parameters, 82% compute saved, layer level better than parameter level. Here: the default
small CNN on a Fashion-MNIST subset, CPU.

Per seed: train the CNN with SGD constant momentum 0.9 (cosine lr) for ``--steps`` steps
(the "full training"); pick the problematic groups with the parameter-free two-means rule on
misclassified TRAINING examples (never the test set where fixes are counted); fine-tune a
copy for ``--fix-steps`` steps (lr 0.01, physics momentum 0.8) at each level; count fixed and
broken on the full 10k test set. Compute saved = 1 - fix_steps x trained fraction /
full_steps (parameter-gradient accounting), next to steps saved and measured time saved.

Run: ``PYTHONPATH=. python bench/surgical.py`` (about 4 minutes on 2 busy cores).
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
from _beta_common import fashion, train_run  # noqa: E402

from workbench.data import load_dataset  # noqa: E402,I001
from workbench.finetune.surgical import surgical_fix  # noqa: E402
from workbench.probes.attribution import misclassified_attribution  # noqa: E402

FIELDS = ("fixed", "broken", "net", "param_fraction", "compute_saved", "steps_saved",
          "time_saved", "acc_before", "acc_after")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--fix-steps", type=int, default=30)
    p.add_argument("--fix-lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--groups", default="auto",
                   help="'auto' (the parameter-free rule) or fixed groups, e.g. conv1,conv2,fc2")
    a = p.parse_args(argv)
    _log.start()
    torch.set_num_threads(a.threads)
    print(f"# CNN, Fashion-MNIST train subset {a.train_size}, full 10k test set; full training "
          f"{a.steps} steps of batch {a.batch_size}; fix {a.fix_steps} steps, lr {a.fix_lr}; "
          f"{a.seeds} seeds; torch threads {a.threads}; groups {a.groups}")
    train, _ = fashion(a.train_size, 1000)
    test = load_dataset("fashion-mnist", train=False)
    rows = {"layer": [], "parameter": [], "all groups": []}
    t0 = time.perf_counter()
    for seed in range(a.seeds):
        model, _, wall = train_run(train, train, steps=a.steps, batch_size=a.batch_size,
                                   seed=seed, eval_every=a.steps)
        diag = misclassified_attribution(model, train, ig_top=0)
        groups = [str(n) for n, f in zip(diag.layer.values, diag.problematic.values,
                                         strict=True) if f]
        if a.groups != "auto":
            groups = a.groups.split(",")
        print(f"  seed {seed}: full training {wall:.1f}s; trained groups {groups} ({a.groups}) "
              f"(log ratios {np.round(diag.log_ratio.values, 2).tolist()})", flush=True)
        runs = [("layer", "layer", groups), ("parameter", "parameter", groups),
                ("all groups", "layer", list(model.groups))]
        for name, level, gs in runs:
            r = surgical_fix(model, train, groups=gs, test_data=test, lr=a.fix_lr,
                             level=level, batch_size=a.batch_size, seed=seed, progress=False,
                             max_steps=a.fix_steps, full_train_steps=a.steps,
                             full_train_time=wall)
            rows[name].append({k: getattr(r, k) for k in FIELDS})
            print(f"    {name:<10} fixed {r.fixed:4d} broken {r.broken:4d} net {r.net:+4d} "
                  f"params {r.param_fraction:6.1%} compute saved {r.compute_saved:6.1%} "
                  f"time saved {r.time_saved:6.1%} acc {r.acc_before:.4f}->{r.acc_after:.4f}",
                  flush=True)
    print(f"# total bench time {time.perf_counter() - t0:.0f}s")
    print("\n| fine-tune | fixed | broken | net | params trained | compute saved | "
          "steps saved | time saved |")
    print("|---|---|---|---|---|---|---|---|")
    means = {}
    for name, rs in rows.items():
        v = {k: np.array([r[k] for r in rs], float) for k in FIELDS}
        means[name] = {k: x.mean() for k, x in v.items()}

        def c(k, pct=False, v=v):
            x = v[k]
            return (f"{x.mean():.1%} ± {x.std():.1%}" if pct else
                    f"{x.mean():+.1f} ± {x.std():.1f}" if k == "net" else
                    f"{x.mean():.1f} ± {x.std():.1f}")
        print(f"| {name} | {c('fixed')} | {c('broken')} | {c('net')} | "
              f"{c('param_fraction', True)} | {c('compute_saved', True)} | "
              f"{c('steps_saved', True)} | {c('time_saved', True)} |")
    lay, par = means["layer"], means["parameter"]
    print(f"\ngoal: net > 0 at >= 85% compute saved: layer net {lay['net']:+.1f} at "
          f"{lay['compute_saved']:.1%} -> {'met' if lay['net'] > 0 and lay['compute_saved'] >= 0.85 else 'NOT met'}; "  # noqa: E501
          f"layer net > parameter net ({par['net']:+.1f}) -> "
          f"{'met' if lay['net'] > par['net'] else 'NOT met'}")
    print(f"surgical_layer_minus_parameter_net: {lay['net'] - par['net']:+.1f}")


if __name__ == "__main__":
    main()
