"""Every notebook in notebooks/ runs top to bottom against a tiny run, and is committed clean."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from workbench.widgets import ensure_run

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
#: A tiny run; batches of 32 and a signal at every step give 94 signal points (DFA needs 64).
TINY = {"epochs": 2, "train_size": 1500, "test_size": 500, "probe_size": 200,
        "batch_size": 32, "signal_every": 1, "feature_layers": ("conv1", "conv2", "fc1", "fc2")}
ids = [p.name for p in NOTEBOOKS]


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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return ensure_run(tmp_path_factory.getbasetemp() / "tiny_run", progress=False, **TINY)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path, tiny_run, tmp_path, monkeypatch):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("WORKBENCH_RUN", str(tiny_run))
    monkeypatch.setenv("PYTHONPATH",
                       os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(path, as_version=4)
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
