"""Start JupyterLab on a folder of notebooks and drive it in Debian's chromium (playwright's
Python client only; no browser download). Shared by tests/ui and bench/widget_latency.py."""

from __future__ import annotations

import contextlib
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

ROOT = Path(__file__).resolve().parents[2]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update"]
# every code cell shows an execution count (no "[*]" or "[ ]" left)
ALL_RAN = """() => {
  const p = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')];
  return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent));
}"""
IDLE = re.compile(r"^Python 3.* \| Idle$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
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


@contextlib.contextmanager
def lab_server(nbdir: Path, work: Path, env: dict | None = None):
    """A JupyterLab server on ``nbdir`` (state under ``work``); yields (base url, token)."""
    settings = work / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
     ).write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # every cell stays in the DOM (Lab's default windowing detaches cells out of view)
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
     ).write_text(json.dumps({"windowingMode": "none"}))
    env = {**os.environ, **(env or {}),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "JUPYTER_CONFIG_DIR": str(work / "cfg"),
           "JUPYTER_DATA_DIR": str(work / "data"),
           "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces")}
    port, token = free_port(), secrets.token_hex(16)
    log = open(work / "server.log", "w")
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


def launch(p):
    """Debian's chromium through playwright (headless)."""
    return p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                             args=BROWSER_ARGS)


def open_and_run_all(page, base: str, token: str, notebook: str, *, min_cells: int = 2,
                     timeout: float = 300_000) -> None:
    """Open ``notebook`` in Lab, wait for the kernel, Run All Cells, wait until all ran."""
    page.goto(f"{base}/lab/tree/{notebook}?token={token}")
    page.wait_for_function("n => document.querySelectorAll('.jp-NotebookPanel .jp-Cell')"
                           ".length >= n", arg=min_cells, timeout=90_000)
    page.get_by_text(IDLE).wait_for(timeout=90_000)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(ALL_RAN, timeout=timeout)


def output_problems(page) -> list[str]:
    """Texts of cell outputs showing a traceback, an error or a warning."""
    texts = page.locator(".jp-NotebookPanel .jp-OutputArea-output").all_inner_texts()
    stderr = page.locator(".jp-NotebookPanel .jp-OutputArea-output[data-mime-type="
                          "'application/vnd.jupyter.stderr']").all_inner_texts()
    bad = [t for t in texts if re.search(r"Traceback|Error|Warning", t)]
    return bad + [t for t in stderr if t.strip() and "%|" not in t and t not in bad]


def epoch_handle(page, n: int, timeout: float = 30_000):
    """The visible epoch slider's handle in the n-th explorer (a view without one, such as
    the layers view over steps, gives its step slider: a step selects its epoch)."""
    root = page.locator(".jp-OutputArea-output:has(.wb-selection)").nth(n)
    visible = root.locator(".widget-slider").filter(visible=True)
    visible.first.wait_for(timeout=timeout)
    label = page.locator(".widget-label", has_text=re.compile(r"^epoch$"))
    epoch = visible.filter(has=label)
    return (epoch if epoch.count() else visible).locator(".noUi-handle").first


def key_that_moves(handle) -> str:
    """ArrowRight unless the slider is at its maximum (then ArrowLeft): every press moves."""
    now = float(handle.get_attribute("aria-valuenow"))
    top = float(handle.get_attribute("aria-valuemax"))
    return "ArrowRight" if now < top else "ArrowLeft"


def press_and_time(page, n: int, key: str, timeout: float = 30_000) -> float:
    """Press ``key`` on the focused slider; ms from the keydown to the repainted image."""
    page.evaluate(ARM_OUTPUT, [".wb-selection", n])
    page.keyboard.press(key)
    page.wait_for_function("() => window.__wbDone !== null", timeout=timeout)
    return float(page.evaluate("() => window.__wbDone"))


# JS: resolve when the n-th output holding `has` shows a new image source, decoded and
# painted; __wbDone is then the ms from the keydown.
ARM_OUTPUT = """([has, n]) => {
  window.__wbDone = null;
  const root = document.querySelectorAll(`.jp-OutputArea-output:has(${has})`)[n];
  const shown = () => [...root.querySelectorAll('img.widget-image')].find(e => e.offsetParent);
  const before = shown() ? shown().src : null;
  let t0 = null;
  document.addEventListener('keydown', e => { t0 = e.timeStamp; }, {capture: true, once: true});
  const obs = new MutationObserver(() => {
    const img = shown();
    if (!img || img.src === before || t0 === null) return;
    obs.disconnect();
    img.decode().then(() => requestAnimationFrame(() => {
      window.__wbDone = performance.now() - t0; }));
  });
  obs.observe(root, {subtree: true, childList: true, attributes: true,
                     attributeFilter: ['src']});
}"""


def slide_and_wait_for_repaint(page, has: str, n: int, slider: int = 0,
                               timeout: float = 60_000) -> float:
    """Press a key on the ``slider``-th slider of the ``n``-th output that holds the CSS
    selector ``has``; wait until that output's image shows a new picture. Returns the ms from
    the keydown to the new picture painted."""
    root = page.locator(f".jp-OutputArea-output:has({has})").nth(n)
    root.scroll_into_view_if_needed()
    handle = root.locator(".widget-slider").filter(visible=True).nth(slider) \
        .locator(".noUi-handle").first
    handle.focus()
    page.evaluate(ARM_OUTPUT, [has, n])
    page.keyboard.press(key_that_moves(handle))
    page.wait_for_function("() => window.__wbDone !== null", timeout=timeout)
    return float(page.evaluate("() => window.__wbDone"))


def run_cell_and_read_json(page, index: int, marker: str, timeout: float = 60_000):
    """Run the ``index``-th code cell of the open notebook again; parse the JSON it prints
    after ``marker`` (the benches read the kernel-side times this way)."""
    import json

    page.locator(".jp-NotebookPanel .jp-CodeCell").nth(index).click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("m => [...document.querySelectorAll('.jp-OutputArea-output')]"
                           ".some(e => e.textContent.includes(m))", arg=marker, timeout=timeout)
    out = [t for t in page.locator(".jp-OutputArea-output").all_inner_texts() if marker in t]
    return json.loads(out[-1].split(marker, 1)[1])
