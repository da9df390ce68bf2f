"""setup.sh on a bare Debian: no python3-venv, or a Python that is too old, stops before
creating anything with one clear line (trial: a traceback from 'python3 -m venv', and Python
3.10 failing on tomllib)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_setup(tmp_path, python, **env):
    shutil.copy(ROOT / "setup.sh", tmp_path / "setup.sh")
    return subprocess.run(["bash", str(tmp_path / "setup.sh")], capture_output=True,
                          text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": str(python),
                               "WORKBENCH_NO_APT": "1", **env})


def _wrapper(tmp_path, body):
    py = tmp_path / "fakepython"
    py.write_text("#!/bin/sh\n" + body)
    py.chmod(0o755)
    return py


def _one_clear_line(out):
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("!! setup.sh: "), out.stderr
    return lines[0]


def test_missing_venv_module_is_one_clear_line(tmp_path):
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "ensurepip.py").write_text("raise ImportError('Debian without python3-venv')\n")
    py = _wrapper(tmp_path, f'PYTHONPATH={stub} exec {sys.executable} "$@"\n')
    line = _one_clear_line(_run_setup(tmp_path, py))
    assert "apt-get install python3-venv" in line
    assert not (tmp_path / ".venv").exists()


def test_too_old_python_is_one_clear_line(tmp_path):
    py = _wrapper(tmp_path, 'case "$2" in\n'
                            '  *"print("*) echo 3.9; exit 0;;\n'
                            '  *">= (3, 10)"*) exit 1;;\n'
                            'esac\n'
                            f'exec {sys.executable} "$@"\n')
    line = _one_clear_line(_run_setup(tmp_path, py))
    assert "Python 3.9 is too old" in line and "3.10 or later" in line
    assert not (tmp_path / ".venv").exists()


def test_no_python_is_one_clear_line(tmp_path):
    line = _one_clear_line(_run_setup(tmp_path, tmp_path / "nosuchpython"))
    assert "install Python 3.10 or later" in line


def test_package_and_tests_do_not_need_python_311():
    """requires-python allows 3.10: no 3.11-only import without a fallback."""
    for path in [*(ROOT / "workbench").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        text = path.read_text()
        if "import tomllib" in text:
            assert "except ModuleNotFoundError" in text, path
    if sys.version_info < (3, 11):
        pytest.importorskip("tomli")
