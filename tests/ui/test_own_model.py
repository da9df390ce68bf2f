"""A researcher's path in a real JupyterLab in headless Chromium: notebook 08 (your own model,
the grokking transformer of examples/grokking.py) on the CI-sized run, every cell run, then
the epoch slider of the spectra and training tabs moved: each repaints its figure, the
selection follows, and no cell shows a traceback or a warning."""

from __future__ import annotations

import re
import shutil

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

NOTEBOOK = "08_your_own_model.ipynb"
pytestmark = [pytest.mark.ui, pytest.mark.slow]


@pytest.fixture
def lab(grokking_preset, tmp_path):
    from tests.conftest import grokking_env

    env = grokking_env(grokking_preset, tmp_path / "grokking")
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, nbdir / NOTEBOOK)
    with lab_server(nbdir, tmp_path, env) as server:
        yield server


def _epoch(page) -> int:
    m = re.search(r"epoch (\d+)", page.locator(".wb-selection").inner_text())
    assert m, "the status line names the epoch"
    return int(m.group(1))


def test_own_model_notebook_slides_through_spectra_and_training(lab, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (shutil.which('chromium') is None)")
    from playwright.sync_api import sync_playwright

    base, token = lab
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_and_run_all(page, base, token, NOTEBOOK, min_cells=8, timeout=600_000)
            assert output_problems(page) == [], "a cell shows a traceback or a warning"
            explorer = page.locator(".jp-OutputArea-output:has(.wb-selection)").first
            explorer.scroll_into_view_if_needed()
            tabs = [t.strip() for t in explorer.locator(".lm-TabBar-tab").all_inner_texts()]
            assert {"training", "spectra"} <= set(tabs)
            for tab in ("spectra", "training"):
                explorer.locator(f".lm-TabBar-tab:has-text('{tab}')").click()
                handle = epoch_handle(page, 0)
                page.get_by_text(IDLE).wait_for(timeout=60_000)
                before = _epoch(page)
                handle.focus()
                key = key_that_moves(handle)
                ms = press_and_time(page, 0, key, 60_000)
                page.wait_for_function("e => !document.querySelector('.wb-selection')"
                                       ".textContent.includes('epoch ' + e + ' ')",
                                       arg=before, timeout=30_000)
                after = _epoch(page)
                assert ms > 0 and after == before + (1 if key == "ArrowRight" else -1), \
                    f"{tab}: one key press moves the epoch by one ({before} -> {after})"
            page.get_by_text(IDLE).wait_for(timeout=30_000)
            assert output_problems(page) == [], "a cell shows a traceback or a warning"
        finally:
            page.screenshot(path=str(tmp_path / "own_model.png"))
            browser.close()
