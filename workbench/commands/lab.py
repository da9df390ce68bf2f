"""``workbench lab``: start JupyterLab on the notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def run(args) -> int:
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks_dir()}",
           f"--port={args.port}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    print("starting:", " ".join(cmd))
    return subprocess.call(cmd)


def register(sub) -> None:
    p = sub.add_parser("lab", help="start JupyterLab on notebooks/")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--no-browser", action="store_true")
    p.set_defaults(func=run)
