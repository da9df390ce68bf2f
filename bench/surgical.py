"""Surgical-fix bench: errors fixed / broken / net, parameter fraction and compute saved,
layer level vs parameter level (same number of parameters) vs all groups (control), over
seeds; and the SGD-vs-Adam overlap of the problematic groups under the stable rule.
Paper (Pasichnyk 2026, ResNet-18/CIFAR-10): 62 fixed, net positive, 18% of
parameters, 82% compute saved, layer level better than parameter level. Here: the default
small CNN on a Fashion-MNIST subset, CPU.

Per seed: train the CNN with SGD constant momentum 0.9 (cosine lr) for ``--steps`` steps
(the "full training"); pick the groups with the one rule
(:func:`workbench.probes.attribution.problematic_groups`, bootstrap flag frequencies, then
:func:`~workbench.probes.attribution.chosen_groups`, as ``workbench fix --groups auto``) on
misclassified TRAINING examples (never the test set where fixes are counted; at most
``SURGICAL_SHARE`` = 40% of the parameters, the most surely flagged groups first); fine-tune a
copy for ``--fix-steps`` steps (lr 0.01, physics momentum 0.8) at each level, the order of
the levels alternating with the seed; count fixed and broken on the full 10k test set.
With ``--adam`` (default on) the same seed is also trained with Adam (peak lr 1e-3) and the
Jaccard overlap of the two models' problematic groups is reported (conclusive
"problematic" verdicts, and the groups each fix would train).
Compute saved = 1 - fix_steps x trained fraction /
full_steps (parameter-gradient accounting), next to steps saved and measured time saved.

Run: ``PYTHONPATH=. python bench/surgical.py`` (about 10 minutes on 2 busy cores). The log
goes to ``bench/logs/surgical.log``.
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
from workbench.models import group_shares  # noqa: E402
from workbench.probes.attribution import (  # noqa: E402
    chosen_groups,
    problematic_groups,
    problematic_overlap,
)


FIELDS = ("fixed", "broken", "net", "param_fraction", "compute_saved", "steps_saved",
          "time_saved", "acc_before", "acc_after")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed .. first-seed + seeds - 1 (split a bench over runs)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--fix-steps", type=int, default=30)
    p.add_argument("--fix-lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--groups", default="auto",
                   help="'auto' (the parameter-free rule) or fixed groups, e.g. conv1,conv2,fc2")
    p.add_argument("--no-adam", dest="adam", action="store_false",
                   help="skip the SGD-vs-Adam overlap")
    a = p.parse_args(argv)
    _log.start()
    torch.set_num_threads(a.threads)
    import os
    print(f"# load average at start: {os.getloadavg()} on {os.cpu_count()} cores (shared with "
          f"other agents' jobs)")
    print(f"# CNN, Fashion-MNIST train subset {a.train_size}, full 10k test set; full training "
          f"{a.steps} steps of batch {a.batch_size}; fix {a.fix_steps} steps, lr {a.fix_lr}; "
          f"{a.seeds} seeds; torch threads {a.threads}; groups {a.groups}")
    train, _ = fashion(a.train_size, 1000)
    test = load_dataset("fashion-mnist", train=False)
    rows = {"layer": [], "parameter": [], "all groups": []}
    overlaps = []
    t0 = time.perf_counter()
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        model, _, wall = train_run(train, train, steps=a.steps, batch_size=a.batch_size,
                                   seed=seed, eval_every=a.steps)
        diag = problematic_groups(model, train, seed=seed)
        groups, why = chosen_groups(diag)
        if a.groups != "auto":
            groups, why = a.groups.split(","), "given"
        share = sum(group_shares(model)[g] for g in groups)
        print(f"  seed {seed}: full training {wall:.1f}s; trained groups {groups} "
              f"({share:.1%} of the parameters; {why})", flush=True)
        print("    rule: " + ", ".join(
            f"{n} {v} (freq {f:.2f}, log ratio {r:.3f})" for n, v, f, r in zip(
                diag.layer.values, diag.verdict.values, diag.flag_frequency.values,
                diag.log_ratio.values, strict=True)) +
              f"; gap {diag.attrs['gap']:.3f} vs spread {diag.attrs['spread']:.3f}", flush=True)
        runs = [("layer", "layer", groups), ("parameter", "parameter", groups),
                ("all groups", "layer", list(model.groups))]
        if seed % 2:  # alternate the order of the two sides
            runs = [runs[1], runs[0], runs[2]]
        if a.adam:
            adam, _, wall_a = train_run(train, train, optimizer="adam", lr=1e-3, steps=a.steps,
                                        batch_size=a.batch_size, seed=seed,
                                        eval_every=a.steps)
            diag_a = problematic_groups(adam, train, seed=seed)
            chosen_a, _ = chosen_groups(diag_a)
            sure = [[str(n) for n in d.layer.values[d.problematic.values]] for d in (diag, diag_a)]
            overlap_sure = problematic_overlap(*sure)
            overlap_chosen = problematic_overlap(groups if a.groups == "auto" else
                                                 chosen_groups(diag)[0], chosen_a)
            overlaps.append((overlap_sure, overlap_chosen))
            print(f"    Adam ({wall_a:.1f}s): " + ", ".join(
                f"{n} {v} (freq {f:.2f})" for n, v, f in zip(
                    diag_a.layer.values, diag_a.verdict.values,
                    diag_a.flag_frequency.values, strict=True)) +
                  f"; Jaccard of problematic verdicts {overlap_sure:.2f} "
                  f"(SGD {sure[0]}, Adam {sure[1]}); of the groups a fix would train "
                  f"{overlap_chosen:.2f}", flush=True)
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
    if overlaps:
        ov = np.array(overlaps, float)
        print(f"\nSGD-vs-Adam Jaccard per seed (problematic verdicts): "
              f"{[round(float(v), 2) for v in ov[:, 0]]}; groups a fix would train: "
              f"{[round(float(v), 2) for v in ov[:, 1]]}; means {np.nanmean(ov[:, 0]):.2f} / "
              f"{np.nanmean(ov[:, 1]):.2f} (paper: 1.00; NaN: neither has a conclusive group)")
    import os
    print(f"# load average at end: {os.getloadavg()}")
    lay, par = means["layer"], means["parameter"]
    print(f"\ngoal: net > 0 at >= 85% compute saved: layer net {lay['net']:+.1f} at "
          f"{lay['compute_saved']:.1%} -> {'met' if lay['net'] > 0 and lay['compute_saved'] >= 0.85 else 'NOT met'}; "  # noqa: E501
          f"layer net > parameter net ({par['net']:+.1f}) -> "
          f"{'met' if lay['net'] > par['net'] else 'NOT met'}")
    most = max(r["param_fraction"] for r in rows["layer"])
    print(f"goal: a fix on the default model trains a minority of the parameters: at most "
          f"{most:.1%} in any seed -> {'met' if most < 0.5 else 'NOT met'}")
    print(f"surgical_layer_minus_parameter_net: {lay['net'] - par['net']:+.1f}")


if __name__ == "__main__":
    main()
