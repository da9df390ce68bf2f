"""Every notebook in notebooks/ runs top to bottom against a tiny run, and is committed clean."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ids = [p.name for p in NOTEBOOKS]
#: Notebooks written against API that other branches add (DESIGN.md's contract). Until those
#: are merged, a missing import skips them with the name; after merging, empty this set so a
#: missing export fails instead of skipping.
PENDING_MERGE: set[str] = set()
IMPORT = re.compile(r"^from (workbench[\w.]*) import ([\w, ]+)$", re.M)


def missing_api(nb) -> list[str]:
    """``module.name`` for every ``from workbench... import name`` that does not import."""
    missing = []
    for cell in nb.cells:
        for module, names in IMPORT.findall(cell.source if cell.cell_type == "code" else ""):
            for name in (n.strip() for n in names.split(",")):
                try:
                    getattr(importlib.import_module(module), name)
                except (ImportError, AttributeError):
                    missing.append(f"{module}.{name}")
    return missing


def test_there_are_notebooks():
    assert "01_quickstart.ipynb" in ids


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_without_outputs_and_with_kernelspec(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec") == KERNELSPEC
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.outputs or c.execution_count is not None)]
    assert dirty == [], f"cells with outputs or execution counts: {dirty}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path, tiny_run, tmp_path, monkeypatch, request):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("WORKBENCH_RUN", str(tiny_run))
    if path.name == "07_course.ipynb":  # the course reads a classroom preset's runs
        monkeypatch.setenv("WORKBENCH_PRESET", str(request.getfixturevalue("momentum_preset")))
    if path.name == "08_your_own_model.ipynb":  # the example at the CI size (does not grok),
        # recorded and analysed once by the preset fixture (test_presets_grokking checks it)
        from tests.conftest import grokking_env

        env = grokking_env(request.getfixturevalue("grokking_preset"), tmp_path / "grokking")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH",
                       os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(path, as_version=4)
    missing = missing_api(nb)
    if missing and path.name in PENDING_MERGE:
        pytest.skip(f"pending merge: {path.name} needs {', '.join(missing)}")
    work = tmp_path / "notebooks"          # run from a copy: nothing written next to the repo's
    work.mkdir()
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.name} failed:\n{err}")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    ran = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert all(n is not None for n in ran)
