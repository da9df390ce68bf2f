"""Key press on an epoch slider → repainted view, in a real JupyterLab in Debian's chromium.

One notebook shows two Explorers of the same run: ``new`` (views update their artists in
place and blit them on a cached background) and ``old`` (every change redraws the whole
figure, ``View.in_place = False``, which is how the views worked before). In rounds that
alternate the order of the sides and of the tabs, the epoch slider of each tab gets
key presses (ArrowRight/ArrowLeft alternately, so each press changes the epoch); a
MutationObserver times keydown → the new <img> decoded and painted. The kernel-side time of
each redraw (``View.times_ms``) is reported per view.

Usage: ``python bench/widget_latency.py [--run RUN] [--presses 5] [--rounds 5]``. Without
``--run`` it trains a tiny 3-epoch run in a temporary folder. Analyses missing from the run
are filled with schema-shaped synthetic groups (``tests/widgets/synthetic.fill_analysis``);
the log says which. Every run is appended to ``bench/logs/widget_latency.log``
(``bench/_log.py``).
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

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
from tests.ui import labtools  # noqa: E402
from tests.widgets.synthetic import fill_analysis  # noqa: E402

SIDES = ("new", "old")                      # explorer 0 and 1 in the notebook


def notebook(run: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"from workbench.widgets import explore\n"
                                  f"new = explore({str(run)!r})\nnew"),
        nbformat.v4.new_code_cell(f"old = explore({str(run)!r})\n"
                                  "for v in old.views.values():\n    v.in_place = False\nold"),
        nbformat.v4.new_code_cell(
            "import json\nprint('KERNEL_TIMES', json.dumps({side: {k: list(v.times_ms)[1:] "
            "for k, v in app.views.items()} for side, app in (('new', new), ('old', old))}))"),
    ]
    return nb


def pct(x, q):
    return float(np.percentile(x, q)) if len(x) else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a recorded run (default: train a tiny one)")
    ap.add_argument("--presses", type=int, default=5, help="key presses per tab and round")
    ap.add_argument("--old-presses", type=int, default=2,
                    help="key presses per tab and round on the old (whole-figure) side")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from workbench import Run
    from workbench.widgets import ensure_run

    _log.start()

    def log(msg=""):
        print(msg, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.run is None:
            run_dir = ensure_run(tmp / "run", progress=False, epochs=3, train_size=1500,
                                 test_size=500, probe_size=200, batch_size=32, signal_every=1,
                                 curvature_iters=5)
        else:
            run_dir = args.run
        run = Run(run_dir)
        filled = fill_analysis(run)
        log(f"# widget_latency  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        log(f"run: {run_dir} ({len(run.epochs)} epochs, layers "
            f"{list(map(str, run.tree['layers']['layer'].values))})")
        source = {name: run.analysis(name).attrs.get("source", "workbench analyze")
                  for name in run.analyses}
        log(f"/analysis groups and their source: {source} (filled now: {filled})")
        log(f"load average before: {os.getloadavg()} on {os.cpu_count()} cores")
        nbdir = tmp / "nb"
        nbdir.mkdir()
        nbformat.write(notebook(run_dir), nbdir / "latency.ipynb")
        times = {s: {} for s in SIDES}
        with labtools.lab_server(nbdir, tmp) as (base, token), sync_playwright() as p:
            browser = labtools.launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            labtools.open_and_run_all(page, base, token, "latency.ipynb", min_cells=3)
            problems = labtools.output_problems(page)
            if problems:
                raise RuntimeError(f"cells show problems: {problems}")
            tabs = page.locator(".jp-OutputArea-output:has(.wb-selection)").nth(0).locator(
                ".lm-TabBar-tab").all_inner_texts()
            tabs = [t.strip() for t in tabs]
            log(f"tabs: {tabs}")
            for r in range(args.rounds):
                sides = SIDES if r % 2 == 0 else SIDES[::-1]
                order = tabs if r % 2 == 0 else tabs[::-1]
                for side in sides:
                    n = SIDES.index(side)
                    root = page.locator(".jp-OutputArea-output:has(.wb-selection)").nth(n)
                    for tab in order:
                        root.locator(f".lm-TabBar-tab:has-text('{tab}')").click()
                        handle = labtools.epoch_handle(page, n)
                        handle.wait_for(timeout=30_000)
                        handle.scroll_into_view_if_needed()
                        page.get_by_text(labtools.IDLE).wait_for(timeout=60_000)
                        time.sleep(0.2)
                        handle.focus()
                        presses = args.presses if side == "new" else args.old_presses
                        for _ in range(presses):
                            key = labtools.key_that_moves(handle)
                            ms = labtools.press_and_time(page, n, key)
                            times[side].setdefault(tab, []).append(ms)
                log(f"round {r}: sides {sides}, tabs {order[0]}…{order[-1]}, "
                    f"load {os.getloadavg()[0]:.1f}")
            # kernel-side times: run the last cell again
            kernel = labtools.run_cell_and_read_json(page, 2, "KERNEL_TIMES")
            problems = labtools.output_problems(page)
            browser.close()
        log(f"load average after: {os.getloadavg()}")
        log("")
        log("key press → repaint in the browser (ms), and kernel-side redraw (ms) per view")
        log(f"{'tab':<12}{'side':<5}{'n':>4}{'p50':>8}{'p95':>8}{'kernel p50':>12}"
            f"{'kernel p95':>12}")
        for tab in tabs:
            for side in SIDES:
                x, k = times[side].get(tab, []), kernel[side].get(tab, [])
                log(f"{tab:<12}{side:<5}{len(x):>4}{pct(x, 50):>8.1f}{pct(x, 95):>8.1f}"
                    f"{pct(k, 50):>12.1f}{pct(k, 95):>12.1f}")
        new = [v for t in tabs for v in times["new"].get(t, [])]
        old = [v for t in tabs for v in times["old"].get(t, [])]
        log("")
        log(f"all tabs: new p50 {pct(new, 50):.1f} p95 {pct(new, 95):.1f} ms (n={len(new)}); "
            f"old (whole-figure redraw) p50 {pct(old, 50):.1f} p95 {pct(old, 95):.1f} ms "
            f"(n={len(old)})")
        log(f"old/new p95 ratio: {pct(old, 95) / pct(new, 95):.2f}")
        log(f"problems shown in cells: {problems or 'none'}")
        log("goal: p95 <= 100 ms")
        log(f"widget_redraw_p95_ms: {pct(new, 95):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
