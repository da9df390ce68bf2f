"""Filter-KD on Fashion-MNIST with 20% label noise: EMA teacher vs final teacher vs hard labels.

Per seed: a teacher (small CNN) trains on the noisy labels of a 5k train subset; a
PredictionEMA folds in each sample's predicted distribution every time its batch is seen
(once per epoch). Then three students of the same architecture train from scratch on
(a) the EMA targets (Filter-KD), (b) the final teacher's predictions, (c) the hard noisy
labels. Reported: clean test accuracy (2k test images), mean ± std over seeds.
Last line: ``filter_kd_minus_hard: X`` (mean accuracy difference, percentage points).
Usage: python bench/filter_kd.py [--seeds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
from _fmnist import accuracy, noisy_subset, predict, seed_all, test_subset, train_epoch  # noqa: E402,I001

from workbench.models import build_model  # noqa: E402
from workbench.probes.filter_kd import PredictionEMA, soft_cross_entropy  # noqa: E402


def make(seed, width, hidden, lr):
    torch.manual_seed(seed)
    m = build_model("cnn", width=width, hidden=hidden)
    return m, torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9)


def one_seed(seed, args, x_test, y_test):
    x, y_noisy, y_clean, flipped = noisy_subset(args.train_size, args.noise, seed)
    gen = seed_all(seed)
    teacher, opt = make(seed, args.width, args.hidden, args.lr)
    ema = PredictionEMA(len(x), 10, alpha=args.alpha)
    for _ in range(args.teacher_epochs):
        train_epoch(teacher, opt, x, y_noisy, batch=args.batch, gen=gen,
                    loss_fn=F.cross_entropy,
                    on_batch=lambda idx, z: ema.update(idx, torch.softmax(z, -1)))
    final = predict(teacher, x)
    info = {
        "teacher": accuracy(teacher, x_test, y_test),
        "teacher_fits_noise": float((final.argmax(-1)[flipped] == y_noisy[flipped])
                                    .float().mean()),
        "ema_fits_noise": float((ema.targets.argmax(-1)[flipped] == y_noisy[flipped])
                                .float().mean()),
    }
    results = {}
    for name, target, loss_fn in (("filter_kd", ema.targets, soft_cross_entropy),
                                  ("final_teacher", final, soft_cross_entropy),
                                  ("hard", y_noisy, F.cross_entropy)):
        student, opt = make(seed + 1000, args.width, args.hidden, args.lr)
        g = torch.Generator().manual_seed(seed + 1000)
        for _ in range(args.student_epochs):
            train_epoch(student, opt, x, target, batch=args.batch, gen=g, loss_fn=loss_fn)
        results[name] = accuracy(student, x_test, y_test)
    return results, info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-size", type=int, default=5000)
    ap.add_argument("--test-size", type=int, default=2000)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--teacher-epochs", type=int, default=10)
    ap.add_argument("--student-epochs", type=int, default=6)
    ap.add_argument("--alpha", type=float, default=0.8)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    args = ap.parse_args(argv)
    _log.start()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    x_test, y_test = test_subset(args.test_size)
    print(f"Fashion-MNIST, train subset {args.train_size} with {args.noise:.0%} seeded label "
          f"noise, clean test subset {args.test_size}; CNN width {args.width}, hidden "
          f"{args.hidden}; teacher {args.teacher_epochs} epochs, students "
          f"{args.student_epochs} epochs; SGD lr {args.lr} momentum 0.9, batch {args.batch}; "
          f"EMA alpha {args.alpha} (one update per sample per epoch); torch threads = "
          f"{args.threads}")
    table = {k: [] for k in ("filter_kd", "final_teacher", "hard")}
    for seed in range(args.seeds):
        res, info = one_seed(seed, args, x_test, y_test)
        for k, v in res.items():
            table[k].append(v)
        print(f"seed {seed}: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in res.items())
              + f" | teacher test {100 * info['teacher']:.2f}%, teacher agrees with noisy "
              f"label on flipped samples {100 * info['teacher_fits_noise']:.1f}%, EMA "
              f"{100 * info['ema_fits_noise']:.1f}%", flush=True)
    print(f"\n{'student target':<16}{'test acc (mean ± std over ' + str(args.seeds) + ' seeds)'}")
    for k, v in table.items():
        a = 100 * np.asarray(v)
        print(f"{k:<16}{a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2f} %")
    diff = 100 * (np.asarray(table["filter_kd"]) - np.asarray(table["hard"]))
    print("paired difference filter_kd − hard per seed: "
          + ", ".join(f"{d:+.2f}" for d in diff) + " points")
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    print(f"filter_kd_minus_hard: {diff.mean():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
