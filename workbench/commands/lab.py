"""``workbench lab``: start JupyterLab on the notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..usercode import add_arguments


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def run(args) -> int:
    from ..usercode import load_callable

    env = dict(os.environ)
    for name, option in (("run", "--run"), ("model", "--model"), ("data", "--data")):
        value = getattr(args, name)
        if value:
            if name != "run":
                load_callable(value, option)  # a clear error now, not in a notebook later
            env[f"WORKBENCH_{name.upper()}"] = str(Path(value).resolve()) \
                if name == "run" else value
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks_dir()}",
           f"--port={args.port}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    print("starting:", " ".join(cmd))
    return subprocess.call(cmd, env=env)


def register(sub) -> None:
    p = sub.add_parser("lab", help="start JupyterLab on notebooks/",
                       description="Start JupyterLab on the notebooks. --run, --model and "
                                   "--data are passed to them as WORKBENCH_RUN, "
                                   "WORKBENCH_MODEL and WORKBENCH_DATA (notebook 08 opens "
                                   "a run of your own model with them).")
    p.add_argument("--port", type=int, default=8888, help="port (default 8888)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--run", default=None, help="the run the notebooks open (default: each "
                                               "notebook's own, runs/demo)")
    add_arguments(p)
    p.set_defaults(func=run)
