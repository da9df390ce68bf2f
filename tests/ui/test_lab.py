"""Drive a real JupyterLab in a real headless Chromium: run the quickstart, move the epoch
slider in every tab of the Explorer.

Needs Debian's ``chromium`` (``shutil.which("chromium")``) and PyPI ``playwright`` (its
Python client only; no browser download). Set ``WORKBENCH_UI_SCREENSHOT=path.png`` to keep a
screenshot of the explorer (``docs/quickstart.png`` is made that way, from the demo run:
``WORKBENCH_UI_RUN=runs/demo``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from .labtools import (
    IDLE,
    ROOT,
    epoch_handle,
    key_that_moves,
    lab_server,
    launch,
    open_and_run_all,
    output_problems,
    press_and_time,
)

NOTEBOOK = "01_quickstart.ipynb"
pytestmark = [pytest.mark.ui, pytest.mark.slow]


@pytest.fixture
def run_with_analyses(analysed_tiny, tmp_path):
    """A copy of the tiny run whose /analysis holds every group a view reads (synthetic,
    schema-shaped where the real analysis is not registered here)."""
    import sys

    from workbench import Run, analyze

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.widgets.synthetic import fill_analysis

    if os.environ.get("WORKBENCH_UI_RUN"):
        run = Run(os.environ["WORKBENCH_UI_RUN"])
    else:
        run = Run(shutil.copytree(analysed_tiny, tmp_path / "run"))
        analyze(run, progress=False)  # nothing left to compute: the copy is analysed
        fill_analysis(run)
    return run.path


@pytest.fixture
def lab(run_with_analyses, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, nbdir / NOTEBOOK)
    with lab_server(nbdir, tmp_path, {"WORKBENCH_RUN": str(run_with_analyses)}) as server:
        yield server


def test_epoch_slider_repaints_every_tab_without_a_warning(lab, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (shutil.which('chromium') is None)")
    from playwright.sync_api import sync_playwright

    base, token = lab
    shot = tmp_path / "lab.png"
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_and_run_all(page, base, token, NOTEBOOK, min_cells=5)
            assert output_problems(page) == [], "a cell shows a traceback or a warning"
            explorer = page.locator(".jp-OutputArea-output:has(.wb-selection)").first
            explorer.scroll_into_view_if_needed()
            tabs = [t.strip() for t in explorer.locator(".lm-TabBar-tab").all_inner_texts()]
            assert {"training", "layers", "probe", "damping", "dynamics", "separation",
                    "spectra"} <= set(tabs)
            repainted = {}
            for tab in tabs:
                explorer.locator(f".lm-TabBar-tab:has-text('{tab}')").click()
                handle = epoch_handle(page, 0)
                page.get_by_text(IDLE).wait_for(timeout=60_000)
                status = page.locator(".wb-selection").inner_text()
                handle.focus()
                repainted[tab] = press_and_time(page, 0, key_that_moves(handle), 60_000)
                # the selection moved (the layers tab moves the step, which moves its epoch)
                page.wait_for_function("s => document.querySelector('.wb-selection')"
                                       ".textContent !== s", arg=status, timeout=30_000)
            assert set(repainted) == set(tabs) and all(ms > 0 for ms in repainted.values())
            m = re.search(r"epoch (\d+)", page.locator(".wb-selection").inner_text())
            assert m, "the status line names the epoch"
            page.get_by_text(IDLE).wait_for(timeout=30_000)
            time.sleep(0.5)
            assert output_problems(page) == [], "a cell shows a traceback or a warning"
            explorer.screenshot(path=str(tmp_path / "explorer.png"))
            if os.environ.get("WORKBENCH_UI_SCREENSHOT"):
                shutil.copy(tmp_path / "explorer.png", os.environ["WORKBENCH_UI_SCREENSHOT"])
        finally:
            page.screenshot(path=str(shot))
            browser.close()
    assert shot.stat().st_size > 10_000
    assert Path(tmp_path / "explorer.png").stat().st_size > 10_000
