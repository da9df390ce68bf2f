"""Drive a real JupyterLab in a real headless Chromium: run the quickstart, move a slider.

Needs Debian's ``chromium`` (``shutil.which("chromium")``) and PyPI ``playwright`` (its
Python client only; no browser download). Set ``WORKBENCH_UI_SCREENSHOT=path.png`` to keep a
screenshot of the explorer (``docs/quickstart.png`` is made that way).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "01_quickstart.ipynb"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update"]
# every code cell shows an execution count (no "[*]" or "[ ]" left)
ALL_RAN = """() => {
  const p = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')];
  return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent));
}"""
pytestmark = [pytest.mark.ui, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout} s")


@pytest.fixture
def lab(tiny_run, tmp_path):
    """A JupyterLab server on a copy of notebooks/, with WORKBENCH_RUN set; killed after."""
    run = tiny_run
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, nbdir / NOTEBOOK)
    settings = tmp_path / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
     ).write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "WORKBENCH_RUN": str(run),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    port, token = free_port(), secrets.token_hex(16)
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         f"--ServerApp.token={token}", "--allow-root", f"--notebook-dir={nbdir}"],
        env=env, cwd=nbdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        yield f"http://127.0.0.1:{port}", token
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            os.killpg(proc.pid, sig)  # the server and the kernels it started
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        log.close()


def visible(page, selector):
    return page.locator(selector).filter(visible=True)


def wait_status(page, text, timeout=30_000):
    page.wait_for_function("t => document.querySelector('.wb-selection')"
                           "?.textContent.includes(t)", arg=text, timeout=timeout)


def visible_img_src(page):
    return page.evaluate("""() => {
      const img = [...document.querySelectorAll('.widget-output img')]
        .find(e => e.offsetParent !== null);
      return img ? img.src : null; }""")


def test_quickstart_slider_updates_the_view(lab, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (shutil.which('chromium') is None)")
    from playwright.sync_api import sync_playwright

    base, token = lab
    shot = tmp_path / "lab.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_function("document.querySelectorAll('.jp-NotebookPanel .jp-Cell')"
                                   ".length >= 5", timeout=90_000)
            page.get_by_text(re.compile(r"^Python 3.* \| Idle$")).wait_for(timeout=90_000)
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            page.wait_for_function(ALL_RAN, timeout=180_000)
            outputs = page.locator(".jp-NotebookPanel .jp-OutputArea-output").all_inner_texts()
            assert not [o for o in outputs if "Traceback" in o], "a cell raised"

            explorer = page.locator(".jp-OutputArea-output:has(.wb-selection)")
            explorer.scroll_into_view_if_needed()
            wait_status(page, "step 0")
            before = visible_img_src(page)
            assert before and before.startswith("data:image/png")

            # training tab: the step slider, moved with the keyboard
            handle = visible(page, ".widget-slider .noUi-handle").first
            handle.focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
            wait_status(page, "step 5")
            page.wait_for_function("s => { const i = [...document.querySelectorAll("
                                   "'.widget-output img')].find(e => e.offsetParent);"
                                   " return i && i.src !== s; }", arg=before, timeout=30_000)
            assert visible(page, ".widget-readout").first.inner_text().strip() == "5"

            # layers tab: the same step, already selected through the shared state
            page.click(".lm-TabBar-tab:has-text('layers')")
            visible(page, ".widget-output img").first.wait_for(timeout=30_000)
            assert visible(page, ".widget-readout").first.inner_text().strip() == "5"

            # probe tab: another sample
            page.click(".lm-TabBar-tab:has-text('probe')")
            status = page.locator(".wb-selection").inner_text()
            sample0 = int(re.search(r"sample (\d+)", status).group(1))
            src = visible_img_src(page)
            visible(page, ".widget-slider .noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "s => !new RegExp('sample ' + s + '(?!\\\\d)')"
                ".test(document.querySelector('.wb-selection').textContent)",
                arg=str(sample0), timeout=30_000)
            page.wait_for_function("s => { const i = [...document.querySelectorAll("
                                   "'.widget-output img')].find(e => e.offsetParent);"
                                   " return i && i.src !== s; }", arg=src, timeout=30_000)
            page.get_by_text(re.compile(r"^Python 3.* \| Idle$")).wait_for(timeout=30_000)
            time.sleep(0.5)
            explorer.screenshot(path=str(tmp_path / "explorer.png"))
            if os.environ.get("WORKBENCH_UI_SCREENSHOT"):
                shutil.copy(tmp_path / "explorer.png", os.environ["WORKBENCH_UI_SCREENSHOT"])
        finally:
            page.screenshot(path=str(shot))
            browser.close()
    assert shot.stat().st_size > 10_000
