"""Kernel-side latency of a slider move in the theory widgets: blitted update vs full redraw.

For each widget (heavy ball, Kuramoto, spring block) the script moves one slider 50 times
through a range of values with the widget as shipped (figure built once, static background
cached, animated artists drawn over it, PNG at compression 1) and 50 times with a naive
twin that redraws the whole figure each move (constrained layout, ``savefig`` PNG), in
blocks of 5 moves whose order alternates between the sides. A move is timed from setting
``slider.value`` to the PNG being in the ``ipywidgets.Image`` (the kernel side; the browser
side is measured elsewhere), in wall time and in CPU time of the process (``process_time``:
what the move costs, which other processes on a shared machine inflate much less than the
wall time). It also times the bare Kuramoto simulation, N = 200 x 2000
Euler steps.

It then breaks one widget's move down into its parts, side by side in alternating order
(``--breakdown``, default the Kuramoto widget's coupling slider): simulate (simulation and
the diagnostics, the Dataset), update the artists, render (blit), PNG encoding, and the
whole move.

Usage: PYTHONPATH=$PWD python bench/theory_latency.py [--moves 50]
Appends to bench/logs/theory_latency.log (bench/_log.py: dated header, load). Last line:
``theory_slider_p95_ms: X`` (the worst p95 over the three widgets as shipped; goal < 100 ms).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _log  # noqa: E402,I001  (bench/_log.py: append stdout to bench/logs/)
from workbench.theory.kuramoto import _simulate, lorentzian_frequencies  # noqa: E402
from workbench.widgets.theory import (  # noqa: E402
    HeavyBallWidget,
    KuramotoWidget,
    SpringBlockWidget,
)


def naive(cls):
    """The same widget, but every move redraws everything (the usual way)."""

    class Naive(cls):
        def redraw(self, *, rebuild=False):
            if self.fig is None or rebuild:  # the first build goes through the views' engine
                return super().redraw(rebuild=rebuild)
            self.update()
            for a in self._animated:
                a.set_animated(False)
            self.fig.set_layout_engine("constrained")
            buf = io.BytesIO()
            self.fig.savefig(buf, format="png")
            self.png = buf.getvalue()
            self.image.value = self.png

    Naive.__name__ = f"Naive{cls.__name__}"
    return Naive


CASES = [
    (HeavyBallWidget, "momentum", np.linspace(0.5, 0.99, 25)),
    (KuramotoWidget, "coupling", np.linspace(0.5, 4.0, 25)),
    (SpringBlockWidget, "noise", np.linspace(0.0, 0.5, 25)),
]


def moves(widget, name, values, count):
    """Move ``name`` through ``values`` back and forth ``count`` times; seconds per move."""
    seq = np.concatenate([values, values[::-1]])
    out = []
    for i in range(count):
        t0, c0 = time.perf_counter(), time.process_time()
        widget.controls[name].value = float(seq[i % seq.size])
        out.append((time.perf_counter() - t0, time.process_time() - c0))
    return out


def breakdown(cls, name, values, count):
    """Milliseconds of each part of a move, the parts run in alternating order per move."""
    w = cls()
    seq = np.concatenate([values, values[::-1]])
    parts = {"simulate": [], "update artists": [], "render": [], "png": [], "whole move": []}
    for i in range(count):
        w.controls[name].value = float(seq[i % seq.size])  # the whole move, as shipped
        t0 = time.perf_counter()
        w.controls[name].value = float(seq[(i + 1) % seq.size])
        parts["whole move"].append(time.perf_counter() - t0)
        steps = [("simulate", lambda: setattr(w, "ds", w._simulate())),
                 ("update artists", lambda: w._update(w.ds)),
                 ("render", w._render), ("png", w.canvas.png)]
        for key, fn in (steps if i % 2 == 0 else steps[::-1]):
            t0 = time.perf_counter()
            fn()
            parts[key].append(time.perf_counter() - t0)
    return {k: 1e3 * np.array(v) for k, v in parts.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moves", type=int, default=50)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--breakdown", default="KuramotoWidget")
    args = p.parse_args()
    _log.start()
    print(f"moves per side: {args.moves}, alternating blocks of {args.block}")
    log = print
    worst = 0.0
    for cls, name, values in CASES:
        sides = {"blit": cls(), "full": naive(cls)()}
        times = {k: [] for k in sides}
        order = list(sides)
        while min(len(v) for v in times.values()) < args.moves:
            for k in order:
                times[k] += moves(sides[k], name, values, args.block)
            order.reverse()
        ms = {k: 1e3 * np.array(v[:args.moves])[:, 0] for k, v in times.items()}
        cpu = {k: 1e3 * np.array(v[:args.moves])[:, 1] for k, v in times.items()}
        med = {k: float(np.median(v)) for k, v in ms.items()}
        p95 = {k: float(np.percentile(v, 95)) for k, v in ms.items()}
        worst = max(worst, p95["blit"])
        log(f"{cls.__name__} ({name}): as shipped wall median {med['blit']:.1f} ms, p95 "
            f"{p95['blit']:.1f} ms (CPU median {np.median(cpu['blit']):.1f}, p95 "
            f"{np.percentile(cpu['blit'], 95):.1f}); full redraw wall median "
            f"{med['full']:.1f} ms, p95 {p95['full']:.1f} ms (CPU median "
            f"{np.median(cpu['full']):.1f}); speed-up of the median x"
            f"{med['full'] / med['blit']:.2f}")
    for cls, name, values in CASES:
        if cls.__name__ == args.breakdown:
            parts = breakdown(cls, name, values, args.moves)
            log(f"{cls.__name__} ({name}) move by parts, {args.moves} moves (ms):")
            for k, v in parts.items():
                log(f"  {k:<16} median {np.median(v):6.1f}  p95 {np.percentile(v, 95):6.1f}")
    omega = lorentzian_frequencies(200, 0.5)
    theta0 = np.random.default_rng(0).uniform(-np.pi, np.pi, 200)
    sim, sim_cpu = [], []
    for _ in range(20):
        t0, c0 = time.perf_counter(), time.process_time()
        _simulate(omega, theta0, 2.0, 0.05, 2000, 1)
        sim.append(1e3 * (time.perf_counter() - t0))
        sim_cpu.append(1e3 * (time.process_time() - c0))
    log(f"Kuramoto simulation N=200 x 2000 steps: wall median {np.median(sim):.1f} ms, "
        f"p95 {np.percentile(sim, 95):.1f} ms; CPU median {np.median(sim_cpu):.1f} ms "
        f"(20 runs)")
    log(f"load average at end {os.getloadavg()[0]:.2f}")
    log(f"theory_slider_p95_ms: {worst:.1f}")


if __name__ == "__main__":
    main()
