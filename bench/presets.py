"""Classroom presets at the lesson's size: wall time per preset, and what each shows, per seed.

For each preset and seed this runs ``workbench demo --preset NAME --seed S --out DIR`` as a
teacher would (a fresh process, the embedded Fashion-MNIST, CPU), times it from start to
``REPORT.md``, then reads the kept runs back (``workbench.Run``) and prints each run's summary
(``workbench.compare.summary``: final accuracy, steps to 80% / 85%, integration...) and the
preset's findings (``workbench.presets.findings``: the direction the lesson teaches, held or
not on these runs). With several seeds it prints, per claim, on how many seeds it held, and
per number its mean and spread (min–max) over seeds.

Usage: ``python bench/presets.py [--presets momentum,label-noise,depth] [--seeds 0]
[--keep DIR]``. Goal (issue 12): each preset within 10 minutes on 2 cores.
Last line: ``preset_max_minutes: X`` (the slowest preset run, in minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _log  # noqa: E402

#: The numbers of ``summary`` worth following per preset.
KEYS = {"momentum": ("final_test_acc", "steps_to_80%", "steps_to_85%", "steps_to_90%"),
        "label-noise": ("final_test_acc", "integration"),
        "depth": ("final_test_acc",)}


def run_one(name: str, seed: int, out: Path) -> float:
    """``workbench demo --preset name --seed seed --out out``; returns its wall seconds."""
    cmd = [sys.executable, "-m", "workbench", "demo", "--preset", name, "--seed", str(seed),
           "--out", str(out)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stderr[-3000:])
        raise SystemExit(f"preset {name} seed {seed} failed (exit {res.returncode})")
    return wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="momentum,label-noise,depth")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--keep", default=None, help="keep the preset runs under this folder")
    args = ap.parse_args(argv)
    _log.start()
    from workbench import Run
    from workbench.compare import summary
    from workbench.presets import PRESETS, findings

    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep or tmp)
        for name in names:
            held: dict = {}
            numbers: dict = {}
            for seed in seeds:
                out = base / f"{name}_seed{seed}"
                wall = run_one(name, seed, out)
                walls[(name, seed)] = wall
                runs = [Run(out / r) for r in PRESETS[name].runs]
                print(f"\n## preset {name}, seed {seed}: {wall / 60:.1f} min "
                      f"(goal <= 10 min on 2 cores)")
                for r in runs:
                    s = summary(r)
                    shown = ", ".join(f"{k} {s[k]:.4g}" for k in KEYS[name] if k in s)
                    print(f"  {r.path.name:<11} {shown}")
                    for k in KEYS[name]:
                        if k in s:
                            numbers.setdefault((r.path.name, k), []).append(float(s[k]))
                if name == "momentum":
                    print("  lr chosen: " + ", ".join(
                        f"{r.path.name} {r.config.lr:g}" for r in runs))
                for claim, ok, evidence in findings(name, runs):
                    verdict = {True: "holds", False: "does NOT hold", None: "cannot be told"}[ok]
                    print(f"  - {claim}: {verdict} ({evidence})")
                    held.setdefault(claim, []).append(ok)
            if len(seeds) > 1:
                print(f"\n## preset {name} over seeds {seeds}")
                for claim, oks in held.items():
                    print(f"  - {claim}: holds on {sum(o is True for o in oks)} of {len(oks)}"
                          f" seeds ({sum(o is None for o in oks)} cannot be told)")
                for (run, k), v in numbers.items():
                    v = np.asarray(v)
                    print(f"  {run:<11} {k:<15} mean {np.nanmean(v):.4g}, min {np.nanmin(v):.4g}"
                          f", max {np.nanmax(v):.4g}")
    print("\nwall time per preset and seed (min): " + ", ".join(
        f"{n} s{s} {w / 60:.1f}" for (n, s), w in walls.items()))
    print(f"preset_max_minutes: {max(walls.values()) / 60:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
