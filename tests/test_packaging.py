"""pyproject.toml and environment.yml name the same dependencies; the entry points work."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (allowed by requires-python): its backport
    tomllib = pytest.importorskip("tomli", reason="Python 3.10 needs tomli to read TOML")

ROOT = Path(__file__).resolve().parents[1]
# conda names that differ from the PyPI ones
CONDA_TO_PYPI = {"pytorch": "torch"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pypi = dict(_split(d) for d in deps)
    conda = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([^:]+)$", line)
        if in_deps and m and not m.group(1).startswith(("python", "pip")):
            name, spec = _split(m.group(1))
            conda[CONDA_TO_PYPI.get(name, name)] = spec
    assert conda == pypi


def test_console_script_and_module_entry_points():
    exe = Path(sys.executable).parent / "workbench"
    for cmd in ([str(exe), "--help"], [sys.executable, "-m", "workbench", "--help"]):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        for sub in ("train", "report", "demo", "lab"):
            assert sub in out.stdout


def test_readme_quick_start_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", readme, re.S).group(1)
    commands = [c for c in block.strip().splitlines() if c.strip()]
    assert len(commands) == 2 and "workbench demo" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci
