"""Key press on a teaching simulation's slider → repainted figure, in a real JupyterLab in
Debian's chromium (the browser side of ``bench/theory_latency.py``, measured as
``bench/widget_latency.py`` measures the Explorer).

One notebook shows the three simulation widgets of ``workbench.widgets.theory`` (heavy ball,
Kuramoto, spring block) with their default settings. In rounds that alternate the order of
the widgets, every slider of every widget gets key presses (ArrowRight until its maximum,
then ArrowLeft, so each press changes the value); a MutationObserver times keydown → the new
<img> decoded and painted. The kernel-side time per move (update, simulation, render, PNG)
is the widget's own ``times_ms``.

Usage: ``python bench/theory_browser_latency.py [--presses 3] [--rounds 6]``. Appends its run
to ``bench/logs/theory_browser_latency.log``; last line ``theory_browser_p95_ms: X`` (all
presses; goal ≤ 100 ms).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
import _log  # noqa: E402,I001

from tests.ui import labtools  # noqa: E402

WIDGETS = {"heavy ball": "HeavyBallWidget", "kuramoto": "KuramotoWidget",
           "spring block": "SpringBlockWidget"}
HAS = ".wb-simulation"


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        f"from workbench.widgets.theory import {cls}\nsim_{i} = {cls}()\nsim_{i}.widget")
        for i, cls in enumerate(WIDGETS.values())]
    times = ", ".join(f"{name!r}: [1e3 * t for t in sim_{i}.timings]"
                      for i, name in enumerate(WIDGETS))
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import json\nprint('KERNEL_TIMES', json.dumps({{{times}}}))"))
    return nb


def pct(x, q):
    return float(np.percentile(x, q)) if len(x) else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=3, help="presses per slider and round")
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    _log.start()
    names = list(WIDGETS)
    times: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nbdir = tmp / "nb"
        nbdir.mkdir()
        nbformat.write(notebook(), nbdir / "theory.ipynb")
        with labtools.lab_server(nbdir, tmp) as (base, token), sync_playwright() as p:
            browser = labtools.launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            labtools.open_and_run_all(page, base, token, "theory.ipynb", min_cells=4)
            problems = labtools.output_problems(page)
            if problems:
                raise RuntimeError(f"cells show problems: {problems}")
            n_sliders = [page.locator(f".jp-OutputArea-output:has({HAS})").nth(i)
                         .locator(".widget-slider").count() for i in range(len(names))]
            print(f"widgets and their sliders: {dict(zip(names, n_sliders, strict=True))}")
            for r in range(a.rounds):
                order = range(len(names)) if r % 2 == 0 else reversed(range(len(names)))
                for i in order:
                    for s in range(n_sliders[i]):
                        for _ in range(a.presses):
                            page.get_by_text(labtools.IDLE).wait_for(timeout=60_000)
                            time.sleep(0.15)
                            ms = labtools.slide_and_wait_for_repaint(page, HAS, i, slider=s)
                            times.setdefault(names[i], []).append(ms)
                print(f"round {r}: load {os.getloadavg()[0]:.1f}", flush=True)
            page.get_by_text(labtools.IDLE).wait_for(timeout=60_000)
            kernel = labtools.run_cell_and_read_json(page, len(names), "KERNEL_TIMES")
            problems = labtools.output_problems(page)
            browser.close()
    print()
    print("key press → repaint in the browser (ms), and kernel-side move (ms) per widget")
    print(f"{'widget':<14}{'n':>4}{'p50':>8}{'p95':>8}{'kernel p50':>12}{'kernel p95':>12}")
    for name in names:
        x, k = times.get(name, []), kernel.get(name, [])[1:]
        print(f"{name:<14}{len(x):>4}{pct(x, 50):>8.1f}{pct(x, 95):>8.1f}{pct(k, 50):>12.1f}"
              f"{pct(k, 95):>12.1f}")
    every = [v for name in names for v in times.get(name, [])]
    print(f"\nall widgets: p50 {pct(every, 50):.1f} p95 {pct(every, 95):.1f} ms "
          f"(n={len(every)})")
    print(f"problems shown in cells: {problems or 'none'}")
    print("goal: p95 <= 100 ms")
    print(f"theory_browser_p95_ms: {pct(every, 95):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
