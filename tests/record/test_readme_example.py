"""The README's plain-loop example, run exactly as written, then every analysis it allows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- readme-example: start.*?-->\s*```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its plain-loop example (readme-example markers)"
    return block.group(1)


@pytest.mark.slow
def test_the_readme_example_runs_verbatim_and_analyses_what_it_allows(tmp_path):
    script = tmp_path / "example.py"
    code = readme_example()
    script.write_text(code + "\nimport json\nprint('RESULT ' + json.dumps("
                             "workbench.analyze(run, progress=False)))\n")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    # the second analyze found every allowed epoch done, and says why the others are skipped
    from workbench import Run
    from workbench.analysis import load_all

    run = Run(tmp_path / "runs" / "mine")
    assert run.epochs == [0, 1, 2]
    for name in load_all():
        if isinstance(result[name], str):
            assert result[name].startswith("needs"), (name, result[name])
        else:
            assert result[name] == [], name                      # done by the README's call
            assert run.analysed_epochs(name) == [0, 1, 2], name
    for name in ("damping", "attribution", "forces", "spectra"):
        assert not isinstance(result[name], str), (name, result[name])
    assert "features" in result["separation"]
    damping = run.analysis("damping")
    assert damping.attrs["optimizer_kind"] == "adam"          # AdamW: read as the analogy
    assert "analogy" in damping["regime"].attrs["verdict"]
