"""Kernel-side repaint time of AttributionView and ForcesView on an epoch move.

Side by side in one run, alternating which side goes first each round: the views as shipped
(artists changed in place, :meth:`update`) against the same views rebuilt on every move
(the base :meth:`View.update`'s clear-and-draw, what a view without in-place updates costs).
Data follow the /analysis schemas at the demo's sizes (4 groups, 8 IG maps of 28x28; 4
observed x 16 update examples x 10 classes), 10 epochs. Time = ``View.last_ms`` (update +
render to PNG). The browser round trip is measured by bench/widget_latency.py.

Run: ``python bench/views2_latency.py [--moves 40]``. Log: bench/logs/views2_latency.log.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import _log  # noqa: I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np
import xarray as xr

from workbench.widgets.attribution import AttributionView
from workbench.widgets.forces import ForcesView
from workbench.widgets.view import View

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]
LAYERS = ["conv1", "conv2", "fc1", "fc2"]


def attribution(n_epochs: int, k: int = 8, size: int = 28) -> xr.Dataset:
    rng = np.random.default_rng(0)
    e, n = n_epochs, len(LAYERS)
    verdicts = np.array(["healthy", "inconclusive", "problematic"])[rng.integers(0, 3, (e, n))]
    return xr.Dataset(
        {"log_ratio": (("epoch", "layer"), rng.normal(1, 0.5, (e, n))),
         "flag_frequency": (("epoch", "layer"), rng.uniform(0, 1, (e, n))),
         "verdict": (("epoch", "layer"), verdicts),
         "n_misclassified": ("epoch", rng.integers(20, 60, e)),
         "n_correct": ("epoch", rng.integers(400, 500, e)),
         "sample": (("epoch", "rank"), rng.integers(0, 10000, (e, k))),
         "target": (("epoch", "rank"), rng.integers(0, 10, (e, k))),
         "predicted": (("epoch", "rank"), rng.integers(0, 10, (e, k))),
         "image": (("epoch", "rank", "row", "col"), rng.normal(size=(e, k, size, size))),
         "ig": (("epoch", "rank", "row", "col"), rng.normal(size=(e, k, size, size)))},
        coords={"epoch": np.arange(e), "layer": LAYERS, "rank": np.arange(k)})


def forces(n_epochs: int, n_o: int = 4, n_u: int = 16, n_l: int = 10) -> xr.Dataset:
    rng = np.random.default_rng(1)
    pull = rng.normal(size=(n_epochs, n_o, n_u, n_l)) * 1e-3
    z = rng.normal(size=(n_epochs, n_o, n_l))
    prob = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return xr.Dataset(
        {"pull": (("epoch", "sample_o", "sample_u", "label"), pull),
         "predicted": (("epoch", "sample_o", "label"), pull.mean(2)),
         "actual": (("epoch", "sample_o", "label"), pull.mean(2) * 1.1),
         "prob": (("epoch", "sample_o", "label"), prob)},
        coords={"epoch": np.arange(n_epochs), "sample_o": [3, 17, 250, 9000],
                "sample_u": np.arange(n_u) * 37, "label": np.arange(n_l),
                "label_u": ("sample_u", rng.integers(0, 10, n_u)),
                "flipped": ("sample_u", np.arange(n_u) % 4 == 0),
                "target": ("sample_o", [1, 4, 7, 9])})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moves", type=int, default=40)
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    _log.start()
    data = {"attribution": (AttributionView, attribution(args.epochs)),
            "forces": (ForcesView, forces(args.epochs))}
    views = {}
    for name, (cls, ds) in data.items():
        views[(name, "in place")] = cls(ds, classes=CLASSES)
        rebuilt = cls(ds, classes=CLASSES)
        rebuilt.update = View.update.__get__(rebuilt)        # clear and draw again
        views[(name, "rebuilt")] = rebuilt
    times: dict = {key: [] for key in views}
    order = list(views)
    for move in range(args.moves):
        epoch = (move * 3 + 1) % args.epochs
        for key in (order if move % 2 == 0 else order[::-1]):
            views[key].state.epoch = epoch
            times[key].append(views[key].last_ms)
    load = os.getloadavg()
    lines = [f"# bench/views2_latency.py, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
             f"# {platform.node()} {platform.machine()}, {os.cpu_count()} cores, load average "
             f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end (the 2 cores are shared "
             f"with other agents: absolute times are inflated by the load; the ratios are "
             f"measured side by side)",
             f"# {args.moves} epoch moves per view, alternating order; ms = View.last_ms "
             f"(update + render to PNG), kernel side", ""]
    p95 = {}
    for name in data:
        row = {}
        for side in ("in place", "rebuilt"):
            t = np.asarray(times[(name, side)])
            row[side] = t
            lines.append(f"{name:12s} {side:9s} p50 {np.median(t):7.1f} ms   p95 "
                         f"{np.percentile(t, 95):7.1f} ms")
        ratio = np.median(row["rebuilt"]) / np.median(row["in place"])
        lines.append(f"{name:12s} rebuilt / in place (median): {ratio:.2f}x")
        p95[name] = float(np.percentile(row["in place"], 95))
    lines.append("")
    lines.append(f"views2_update_p95_ms: {max(p95.values()):.1f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
