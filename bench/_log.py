"""Every bench script logs what it printed, and on what, to ``bench/logs/<script>.log``.

Call :func:`start` first thing in ``main()``. From then on everything written to stdout also
goes to the log. Every run is *appended* to its log (the log keeps its history: a reader
can see every earlier run, not only the last), under a header that says when (UTC), at
which git commit (and whether the tree had uncommitted changes), with which command, on
which machine (CPUs, memory, torch threads) and under what load (the 1-minute load average
at the start, sampled every 5 s while the script runs). When the script ends, a footer with
the wall time and the load range (minimum, median, maximum) is inserted just *before* the
run's last line, so that the headline (``name: value``) stays the run's last line, as it is
stdout's (and the log's last line is the newest headline). A run that ends with an uncaught
exception gets a ``# FAILED: <exception>`` line and its footer at its end instead.

Each run's header starts with ``# ===== run <date> UTC`` so that RESULTS.md can cite the run
it quotes by its date, and ``bench/check_results.py`` can find it.

A run on a loaded machine is still a run: the header and footer say so, and RESULTS.md must
repeat it.

Examples
--------
>>> import _log                                  # doctest: +SKIP
>>> _log.start()                                 # doctest: +SKIP
>>> print("speedup: 12.3")                       # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import datetime as _dt
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

LOGS = Path(__file__).resolve().parent / "logs"


class _Tee:
    def __init__(self, stream, file):
        self.stream, self.file = stream, file

    def write(self, text):
        self.stream.write(text)
        self.file.write(text)
        return len(text)

    def flush(self):
        self.stream.flush()
        self.file.flush()

    def isatty(self):
        return False

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _git(*args) -> str | None:
    """git's output in the bench's folder, or None when git fails (no git, not a repository)."""
    try:
        done = subprocess.run(["git", *args], cwd=LOGS.parent, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    # rstrip, not strip: a porcelain status line may begin with a space (" M path")
    return done.stdout.rstrip() if done.returncode == 0 else None


def tree_state() -> str:
    """``(clean tree)``, ``(DIRTY: ...)`` naming the changed tracked files, or ``(tree unknown)``.

    Changes under ``bench/logs/`` and ``bench/figures/`` do not count: what earlier runs wrote
    (an appended log, a redrawn figure) is not a change to the code that makes this run.
    """
    status = _git("status", "--porcelain", "--untracked-files=no")
    if status is None:
        return "(tree unknown: git failed)"
    outputs = tuple(f"{LOGS.parent.name}/{d}/" for d in (LOGS.name, "figures"))
    changed = [line[3:] for line in status.splitlines()
               if not line[3:].split(" -> ")[-1].startswith(outputs)]
    if not changed:
        return "(clean tree)"
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    return f"(DIRTY: uncommitted changes in tracked files: {shown})"


def _mem_total_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def machine() -> str:
    """One line: CPUs, memory, OS, Python, torch and its thread count when imported."""
    torch = sys.modules.get("torch")
    t = f", torch {torch.__version__} ({torch.get_num_threads()} threads at start)" if torch else ""
    return (f"{os.cpu_count()} CPUs, {_mem_total_gib():.0f} GiB, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}{t}")


def command() -> str:
    """The command line as a shell would take it again (``BENCH_LOG`` too, when set)."""
    env = os.environ.get("BENCH_LOG")
    return (f"BENCH_LOG={shlex.quote(env)} " if env else "") + "python " + shlex.join(sys.argv)


def start(name: str | None = None) -> Path:
    """Tee stdout to ``bench/logs/<name>.log``.

    ``name`` defaults to ``$BENCH_LOG``, else the script's stem. Set ``BENCH_LOG`` to keep
    the log of a variant run apart, e.g.
    ``BENCH_LOG=beta_schedule_lr0.2 python bench/beta_schedule.py --lr 0.2``.

    Returns
    -------
    Path of the log.
    """
    name = name or os.environ.get("BENCH_LOG") or Path(sys.argv[0]).stem
    LOGS.mkdir(exist_ok=True)
    path = LOGS / f"{name}.log"
    earlier = path.read_text() if path.exists() else ""
    f = open(path, "a", buffering=1)  # noqa: SIM115  (closed at exit)
    if earlier and not earlier.endswith("\n"):
        f.write("\n")
    when = _dt.datetime.now(_dt.timezone.utc)
    load0 = os.getloadavg()[0]
    busy = "quiet" if load0 < 0.5 * (os.cpu_count() or 1) else "LOADED: other jobs share the CPUs"
    f.write(f"{'' if not earlier else chr(10)}# ===== run {when:%Y-%m-%d %H:%M:%S} UTC "
            f"=====\n"
            f"# {path.name}: written by bench/_log.py (runs appended, newest last)\n"
            f"# date: {when:%Y-%m-%d %H:%M:%S} UTC\n"
            f"# git commit: {_git('rev-parse', '--short=12', 'HEAD') or '?'} {tree_state()}\n"
            f"# command: {command()}\n"
            f"# machine: {machine()}\n"
            f"# load average (1 min) at start: {load0:.2f} "
            f"({busy}; the load includes this script once it runs)\n")
    f.flush()
    start_at = len(path.read_text())  # this run's output starts here (its header is above)
    loads, stop = [load0], threading.Event()

    def sample():
        while not stop.wait(5.0):
            loads.append(os.getloadavg()[0])

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    tee = sys.stdout = _Tee(sys.stdout, f)
    failed = []
    hook = sys.excepthook

    def excepthook(kind, value, tb):
        failed.append(f"# FAILED: {kind.__name__}: {value}".splitlines()[0][:300] + "\n")
        hook(kind, value, tb)

    sys.excepthook = excepthook

    def terminated(signum, frame):  # `timeout`, `kill`: end through atexit, so the log says so
        failed.append(f"# FAILED: terminated by signal {signum}\n")
        raise SystemExit(128 + signum)

    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
        signal.signal(signal.SIGTERM, terminated)

    def finish():
        stop.set()
        tee.flush()
        if sys.stdout is tee:
            sys.stdout = tee.stream
        f.close()
        footer = (f"# wall time: {time.perf_counter() - t0:.1f} s; load average (1 min) during "
                  f"the run: {min(loads):.2f}-{max(loads):.2f} "
                  f"(median {sorted(loads)[len(loads) // 2]:.2f}) on {os.cpu_count()} CPUs\n")
        text = path.read_text()
        head, run = text[:start_at], text[start_at:]
        lines = run.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        last = len(lines)
        while last > 0 and not lines[last - 1].strip():
            last -= 1
        # a failed run has no headline: its footer and the error go last
        at = last if failed else max(last - 1, 0)
        path.write_text(head + "".join(lines[:at] + failed + [footer] + lines[at:]))

    atexit.register(finish)
    return path
