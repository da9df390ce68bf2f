"""α per layer through the grokking phases, read from the runs ``bench/grokking.py --keep``
left: the comparison with Prakash & Martin (2025, arXiv:2506.04434).

Prakash & Martin track WeightWatcher's power-law exponent α of each layer's ESD through
grokking and report that α separates pre-grokking, grokking and a late "anti-grokking"
collapse, which α < 2 heralds, while weight norms separate only the first two. This script
reads, for each kept seed, ``/analysis/spectra/alpha`` (the workbench's α of the tail of
each group's ESD, :func:`workbench.diagnostics.powerlaw_alpha`) and
``/analysis/spectra/n_tail`` where stored, and the phases from
:func:`workbench.diagnostics.grokking_phases`, then prints the median α of each group in
each phase, the smallest α of the run, and whether any α fell below 2.

It trains nothing (seconds); it is not a timing.

Run:  PYTHONPATH=$PWD python bench/grokking_alpha.py DIR   (DIR: the ``--keep`` folder)
Writes bench/logs/grokking_alpha.log; last line ``grokking_min_alpha: X`` (over every seed,
group and commit point with a finite α).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _log  # noqa: E402

from workbench import Run  # noqa: E402
from workbench.diagnostics import grokking_phases  # noqa: E402

ORDER = ("memorising", "plateau", "transition", "generalising")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="the folder bench/grokking.py --keep wrote (seed<N>/ inside)")
    args = ap.parse_args(argv)
    _log.start()
    seeds = sorted(Path(args.dir).glob("seed*"))
    if not seeds:
        raise SystemExit(f"no seed<N> runs under {args.dir}")
    lowest = np.inf
    print(f"{'seed':>4} {'layer':<14} " + " ".join(f"{p:>12}" for p in ORDER)
          + f" {'min α':>7} {'α<2 at':>8}")
    for where in seeds:
        tree = Run(where).tree
        ep = tree["epochs"]
        phase = grokking_phases(ep["train_acc"].load(), ep["test_acc"].load())
        alpha = tree["analysis"]["spectra"]["alpha"].load()
        labels = phase.sel(epoch=alpha["epoch"]).values
        for layer in alpha["layer"].values:
            a = alpha.sel(layer=layer).values
            if not np.isfinite(a).any():
                print(f"{where.name[4:]:>4} {layer:<14} (no α: no 2-D weight)")
                continue
            cells = []
            for p in ORDER:
                v = a[(labels == p) & np.isfinite(a)]
                cells.append(f"{np.median(v):12.2f}" if v.size else f"{'-':>12}")
            below = np.flatnonzero(np.isfinite(a) & (a < 2))
            at = f"{int(alpha['epoch'].values[below[0]]):>8}" if below.size else f"{'-':>8}"
            lowest = min(lowest, float(np.nanmin(a)))
            print(f"{where.name[4:]:>4} {layer:<14} " + " ".join(cells)
                  + f" {np.nanmin(a):7.2f} {at}")
    print("(median α of each group over the commit points of each phase; 'α<2 at': the "
          "first commit point with α < 2, '-' if none)")
    print(f"grokking_min_alpha: {lowest:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
