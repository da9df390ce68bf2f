"""The teacher's path in a real JupyterLab in headless Chromium: notebook 07_course on a
classroom preset (reduced size), every cell run, then a simulation slider and the runs-side-
by-side slider moved; each repaints its figure, and no cell shows a traceback or a warning."""

from __future__ import annotations

import shutil

import pytest

from .labtools import (
    IDLE,
    ROOT,
    lab_server,
    launch,
    open_and_run_all,
    output_problems,
    slide_and_wait_for_repaint,
)

NOTEBOOK = "07_course.ipynb"
pytestmark = [pytest.mark.ui, pytest.mark.slow]


@pytest.fixture
def lab(momentum_preset, tmp_path):
    from tests.conftest import PRESET_SCALE

    preset = shutil.copytree(momentum_preset, tmp_path / "momentum")
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, nbdir / NOTEBOOK)
    env = {"WORKBENCH_PRESET": str(preset), "WORKBENCH_PRESET_SCALE": str(PRESET_SCALE)}
    with lab_server(nbdir, tmp_path, env) as server:
        yield server


def test_course_notebook_runs_and_its_figures_follow_the_sliders(lab, tmp_path):
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
            sliders = page.locator(".jp-OutputArea-output:has(.widget-slider)")
            assert sliders.count() >= 4        # ball, runs side by side, ball again, explorer
            # the heavy ball's first slider (the learning rate); the runs side by side (their
            # epoch); the ball again, shown with the run's curvature
            for n in (0, 1, 2):
                slide_and_wait_for_repaint(page, ".widget-slider", n, slider=0)
                page.get_by_text(IDLE).wait_for(timeout=60_000)
            assert output_problems(page) == [], "a cell shows a traceback or a warning"
        finally:
            page.screenshot(path=str(tmp_path / "course.png"))
            browser.close()
