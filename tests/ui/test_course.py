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
#: curvature=1.0). Its caption writes "(α = ..., μ = ..., λ = ...;".
LESSON = {"α": 0.05, "μ": 0.9, "λ": 1.0}
CAPTION = re.compile(r"ζ = \S+ · \w+\s+\(α = ([^,]+), μ = ([^,]+), λ = ([^;]+);")
#: The browser puts a log slider's value on its grid, 10^(0.01 k): at most 10^0.005 away.
LOG_STEP = 10 ** 0.005


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
    shown = CAPTION.search(lesson)
    assert shown, lesson
    alpha, mu, lam = (float(v) for v in shown.groups())
    assert 1 / LOG_STEP <= alpha / LESSON["α"] <= LOG_STEP, lesson   # 0.05 on the slider grid
    assert mu == LESSON["μ"] and 1 / LOG_STEP <= lam / LESSON["λ"] <= LOG_STEP, lesson
    assert "from the run" not in lesson
    m = re.search(r"from the run at epoch (\d+), layer (\S+) .*: α = ([^,]+), μ = ([^,]+),",
                  mine)
    assert m, mine
    theirs = CAPTION.search(mine)                # the run's own values, drawn by the second toy
    assert theirs, mine                          # (on the sliders' grids: μ in steps of 0.005)
    a_run, mu_run = float(theirs.group(1)), float(theirs.group(2))
    assert abs(a_run / float(m.group(3)) - 1) <= 0.02, mine  # grid and 3 digits
    assert abs(mu_run - float(m.group(4))) <= 0.0031, mine
    assert float(m.group(3)) != pytest.approx(alpha, rel=0.05), (lesson, mine)


def test_sliders_repaint_their_figures(page):
    sliders = page.locator(".jp-OutputArea-output:has(.widget-slider)")
    assert sliders.count() >= 4        # ball, runs side by side, ball of the run, explorer
    # the heavy ball's first slider (the learning rate); the runs side by side (their
    # epoch); the second ball, shown with the run's curvature
    for n in (0, 1, 2):
        slide_and_wait_for_repaint(page, ".widget-slider", n, slider=0)
        page.get_by_text(IDLE).wait_for(timeout=60_000)
    assert output_problems(page) == [], "a cell shows a traceback or a warning"
