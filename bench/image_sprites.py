"""Kernel-side redraw of the views with and without image sprites, side by side.

A view draws a dynamic nearest-neighbour image either through matplotlib (resample, then
colour-map, at every draw) or through the pixel map :meth:`Canvas.paste_image` measures once
per place. For each tab, in rounds that alternate which side goes first, an Explorer of the
run is built with image sprites on and one with them off (text sprites on in both), the
epoch slider is moved ``--moves`` times through the epochs and ``View.times_ms`` (update +
render + PNG) is collected. Only the kernel side: the browser side is
``bench/widget_latency.py``.

Usage: ``PYTHONPATH=$PWD python bench/image_sprites.py --run RUN [--rounds 6] [--moves 30]``
(a run with its analyses, e.g. ``runs/demo``). Writes ``bench/logs/image_sprites.log``; last
line ``attribution_image_sprite_speedup: X`` (median redraw without / with, attribution tab).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _log  # noqa: E402,I001

from workbench import Run  # noqa: E402
from workbench.widgets import explore  # noqa: E402
from workbench.widgets.canvas import Canvas  # noqa: E402

TABS = ("attribution", "probe", "forces", "damping")


def timed(run, tab: str, sprites: bool, moves: int) -> tuple[list[float], int]:
    """Redraw times (ms) of ``tab`` over ``moves`` epoch moves; and how many images the
    view drew through a pixel map."""
    original = Canvas.paste_image
    if not sprites:
        Canvas.paste_image = lambda self, a: False
    try:
        app = explore(run)
        for name, view in app.views.items():
            view.show(name == tab)
        view = app.views[tab]
        epochs = Run(run).epochs
        for e in epochs:  # warm: every epoch once (the maps are measured here)
            app.state.epoch = e
        view.times_ms.clear()
        for i in range(moves):
            app.state.epoch = epochs[i % len(epochs)]
        return list(view.times_ms), sum(1 for k in view.canvas.sprites if k[0] == "image")
    finally:
        Canvas.paste_image = original


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--moves", type=int, default=30)
    a = ap.parse_args(argv)
    _log.start()
    print(f"# run {a.run}; {a.rounds} rounds x {a.moves} epoch moves per tab and side; "
          f"sides alternate their order each round")
    speedups = {}
    print(f"{'tab':<12}{'images':>7}{'with p50':>10}{'without p50':>13}{'ratio':>8}"
          f"{'per-round ratios':>30}")
    for tab in TABS:
        times = {True: [], False: []}
        per_round, images = [], 0
        for r in range(a.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            med = {}
            for side in order:
                t, n = timed(a.run, tab, side, a.moves)
                times[side] += t
                med[side] = float(np.median(t))
                if side:
                    images = n
            per_round.append(med[False] / med[True])
        w, wo = float(np.median(times[True])), float(np.median(times[False]))
        speedups[tab] = wo / w
        print(f"{tab:<12}{images:>7}{w:>10.1f}{wo:>13.1f}{wo / w:>8.2f}"
              f"{'  ' + ', '.join(f'{x:.2f}' for x in per_round):>30}")
    print("(images: how many images the view draws through a pixel map; 0: none, the two "
          "sides draw the same)")
    print(f"attribution_image_sprite_speedup: {speedups['attribution']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
