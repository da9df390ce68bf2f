"""The teacher's path in a real JupyterLab in headless Chromium: notebook 07_course on a
classroom preset (reduced size), every cell run; the exercises' toy still shows the lesson's
values after Run All (the run's values went to a second widget); then a simulation slider and
the runs-side-by-side slider moved; each repaints its figure, and no cell shows a traceback or
a warning. The notebook runs once for the module's tests."""

from __future__ import annotations

import re
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
#: The lesson's toy (cell 3 of the notebook): HeavyBallWidget(lr=0.05, momentum=0.9,
#: curvature=1.0), as its caption writes them.
LESSON = "(α = 0.05, μ = 0.900, λ = 1;"


@pytest.fixture(scope="module")
def page(momentum_preset, tmp_path_factory):
    """The course notebook in Lab after Run All (one page for the module's tests)."""
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (shutil.which('chromium') is None)")
    from playwright.sync_api import sync_playwright

    from tests.conftest import PRESET_SCALE

    tmp_path = tmp_path_factory.mktemp("course_ui")
    preset = shutil.copytree(momentum_preset, tmp_path / "momentum")
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, nbdir / NOTEBOOK)
    env = {"WORKBENCH_PRESET": str(preset), "WORKBENCH_PRESET_SCALE": str(PRESET_SCALE)}
    with lab_server(nbdir, tmp_path, env) as (base, token), sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_and_run_all(page, base, token, NOTEBOOK, min_cells=8, timeout=600_000)
            yield page
        finally:
            page.screenshot(path=str(tmp_path / "course.png"))
            browser.close()


def test_after_run_all_the_exercises_toy_still_holds_the_lessons_values(page):
    assert output_problems(page) == [], "a cell shows a traceback or a warning"
    toys = page.locator(".jp-OutputArea-output .wb-simulation")
    assert toys.count() == 2            # the lesson's toy, and the toy of the physics run
    lesson, mine = (toys.nth(i).inner_text() for i in (0, 1))
    assert LESSON in lesson, lesson
    assert "from the run" not in lesson
    m = re.search(r"from the run at epoch (\d+), layer (\S+) .*: α = (\S+), μ = (\S+),", mine)
    assert m, mine
    assert LESSON not in mine           # the run's own values, drawn by the second widget
    caption = rf"ζ = \S+ · \w+\s+\(α = {re.escape(m.group(3))}, μ = {re.escape(m.group(4))},"
    assert re.search(caption, mine), mine


def test_sliders_repaint_their_figures(page):
    sliders = page.locator(".jp-OutputArea-output:has(.widget-slider)")
    assert sliders.count() >= 4        # ball, runs side by side, ball of the run, explorer
    # the heavy ball's first slider (the learning rate); the runs side by side (their
    # epoch); the second ball, shown with the run's curvature
    for n in (0, 1, 2):
        slide_and_wait_for_repaint(page, ".widget-slider", n, slider=0)
        page.get_by_text(IDLE).wait_for(timeout=60_000)
    assert output_problems(page) == [], "a cell shows a traceback or a warning"
