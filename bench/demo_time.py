"""The README's first command, timed in a fresh clone: ``bash setup.sh`` then ``workbench demo``.

What a new user runs on a fresh machine: this script clones the repository's committed HEAD
into a temporary folder (no ``.venv``, no ``runs/``, no caches), runs ``bash setup.sh`` there
(a new virtual environment; torch from this machine's pip cache) and then
``.venv/bin/workbench demo`` (train the default CNN for 3 epochs on the embedded
Fashion-MNIST, analyse every epoch, write the report), timing each with a monotonic clock.
The demo's output is printed (so it is in the log), and its last epoch's test accuracy is
read back from the run's ``/epochs`` (``workbench.Run``).

Goal (issue 1, README): the demo in at most 180 s on 2 quiet CPU cores, reaching at least 90%
test accuracy. An absolute time has no side-by-side partner here; it is the time a user
waits, so measure on a quiet machine (the header gives the load).

Usage: ``python bench/demo_time.py [--keep DIR] [--no-setup]``. ``--keep DIR`` copies the demo
run to DIR (``bench/widget_latency.py --run DIR`` times the explorer on it); ``--no-setup``
reuses this checkout's ``.venv`` instead of a new one (then only the demo is timed).
Appends its run to ``bench/logs/demo_time.log`` (``bench/_log.py``); the headline
``demo_seconds`` is printed last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _log  # noqa: E402,I001  (bench/_log.py: appends stdout to bench/logs/)

ROOT = Path(__file__).resolve().parents[1]
GOAL_S, GOAL_ACC = 180.0, 0.90


#: Variables that would let the clone's commands see another checkout or environment (the
#: bench is often started with ``PYTHONPATH=$PWD``): a new user's shell has none of them.
FOREIGN = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_TARGET", "PIP_PREFIX")


def clean_env() -> dict:
    """This process's environment without :data:`FOREIGN`, so that ``setup.sh`` and the demo
    in the clone import and install only what the clone holds."""
    return {k: v for k, v in os.environ.items() if k not in FOREIGN}


def _timed(cmd: list[str], cwd: Path) -> float:
    """Run ``cmd`` in ``cwd`` in :func:`clean_env`, echo its output, return its wall time in
    seconds."""
    print(f"$ {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=clean_env())
    for line in proc.stdout:
        print(line, end="", flush=True)
    rc = proc.wait()
    seconds = time.monotonic() - t0
    if rc != 0:
        raise SystemExit(f"`{' '.join(cmd)}` exited with {rc} after {seconds:.1f} s")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="copy the demo run here")
    ap.add_argument("--no-setup", action="store_true",
                    help="reuse this checkout's .venv (time the demo only)")
    a = ap.parse_args()
    _log.start()
    with tempfile.TemporaryDirectory(prefix="demo_time_") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=clone,
                              capture_output=True, text=True, check=True).stdout.strip()
        gone = [k for k in FOREIGN if k in os.environ]
        print(f"fresh clone of {head} in {clone}; its commands run without "
              f"{', '.join(gone) if gone else 'any of ' + ', '.join(FOREIGN)}")
        if a.no_setup:
            setup_s = None
            venv = ROOT / ".venv"
        else:
            setup_s = _timed(["bash", "setup.sh"], clone)
            venv = clone / ".venv"
        demo_s = _timed([str(venv / "bin" / "workbench"), "demo"], clone)
        run = clone / "runs" / "demo"
        acc = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sys; from workbench import Run;"
             "print(float(Run(sys.argv[1]).tree['epochs']['test_acc'].values[-1]))",
             str(run)],
            capture_output=True, text=True, check=True, env=clean_env()).stdout.strip()
        if a.keep:
            shutil.rmtree(a.keep, ignore_errors=True)
            shutil.copytree(run, a.keep)
            print(f"demo run kept in {a.keep}")
    acc = float(acc)
    print()
    if setup_s is not None:
        print(f"setup.sh: {setup_s:.1f} s (new .venv, package and dependencies)")
    print(f"workbench demo: {demo_s:.1f} s (train 3 epochs, analyse, report); "
          f"test accuracy after the last epoch {acc:.4f}")
    print(f"goal: demo <= {GOAL_S:.0f} s and accuracy >= {GOAL_ACC:.2f}: "
          f"{'met' if demo_s <= GOAL_S and acc >= GOAL_ACC else 'NOT met'}; "
          f"demo / goal = {demo_s / GOAL_S:.2f}")
    print(f"demo_seconds: {demo_s:.1f}")


if __name__ == "__main__":
    main()
