"""What moves first when a transformer groks? Every diagnostic against the test-accuracy jump.

For each seed this runs the preset exactly as ``workbench demo --preset grokking --seed S``
does (:func:`workbench.presets_grokking.run_grokking` at size ``full``: it trains
``examples/grokking.py``, a+b mod p with a one-layer transformer and full-batch AdamW,
through ``workbench.watch``, runs every analysis and writes REPORT.md), times all of it
(``grokking_minutes``: training, recording, analysis and report), then reads back per commit
point ("epoch", every ``every`` steps):

=================  ==============================================  =========================
diagnostic         from the run store                              per commit point
=================  ==============================================  =========================
``alpha``          ``/analysis/spectra/alpha`` (epoch, layer)       as stored
``weight_norm``    ``/layers/weight_norm`` (step, layer)            at the epoch's last step
``update_cos``     ``/layers/update_cos`` (step, layer)             mean of the epoch's steps
``dfa``            ``/analysis/dynamics/dfa`` (epoch, layer)        as stored
``metastability``  ``/analysis/dynamics/metastability`` (epoch)     as stored
``damping_ratio``  ``/analysis/damping/damping_ratio`` (epoch, layer) as stored
=================  ==============================================  =========================

Definitions (used for every diagnostic, every layer group and every seed):

- **phases**: :func:`workbench.diagnostics.grokking_phases` on ``/epochs`` ``train_acc`` and
  ``test_acc`` (memorised: train ≥ 99%; plateau: test < 50%; generalised: test ≥ 95%).
- **test-accuracy jump**: the first commit point after memorisation with test accuracy
  ≥ 50% (the end of the plateau).
- **plateau**: the commit points from memorisation (included) to the jump (excluded).
- **plateau band**: the diagnostic's median over the *first half* of the plateau (at least 3
  points) ± 3 robust standard deviations, σ̂ = 1.4826 · MAD over that same half
  (:func:`workbench.diagnostics.plateau_departure`, ``k=3``).
- **leaves its plateau band**: the first commit point after that first half that starts a
  run of 3 consecutive points outside the band (``persist=3``); "-" if none.
- **lead**: jump step − departure step, in optimizer steps: > 0 the diagnostic moved
  before the test accuracy jumped, < 0 after.

A run that does not grok (no plateau, or no jump) is reported and left out of the table.

Run:  PYTHONPATH=$PWD python bench/grokking.py [--seeds 0,1,2] [--keep DIR]
Writes bench/logs/grokking.log; the last line is ``grokking_minutes: X`` (the slowest seed's
whole preset wall time, in minutes: the issue's budget is 10).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _log  # noqa: E402

from workbench.diagnostics import grokking_phases, plateau_departure  # noqa: E402
from workbench.dims import DimsError  # noqa: E402

K, PERSIST, MIN_BASELINE = 3.0, 3, 3


def epoch_series(tree: xr.DataTree) -> dict[str, xr.DataArray]:
    """Each diagnostic per commit point (dims ``epoch`` and maybe ``layer``), as tabled above.

    A diagnostic the run does not hold is left out (and reported by the caller).
    """
    out = {}
    analysis = tree["analysis"] if "analysis" in tree.children else None

    def stored(group, var):
        if analysis is not None and group in analysis.children and var in analysis[group]:
            out[var] = analysis[group][var].load()

    stored("spectra", "alpha")
    if "layers" in tree.children:
        layers = tree["layers"].to_dataset()
        steps_ep = tree["steps"]["epoch"].load()
        ep = ("step", steps_ep.sel(step=layers["step"].values).values)
        if "weight_norm" in layers:
            wn = layers["weight_norm"].load().assign_coords(epoch=ep)
            out["weight_norm"] = wn.groupby("epoch").last()
        if "update_cos" in layers:
            uc = layers["update_cos"].load().assign_coords(epoch=ep)
            out["update_cos"] = uc.groupby("epoch").mean("step")
    stored("dynamics", "dfa")
    stored("dynamics", "metastability")
    stored("damping", "damping_ratio")
    return out


def epoch_steps(tree: xr.DataTree) -> xr.DataArray:
    """The optimizer step at which each commit point was taken (the epoch's last step + 1)."""
    ep = tree["steps"]["epoch"].load()
    last = ep["step"].groupby(ep).max()
    return (last + 1).rename("step_of_epoch")


def baseline_window(phase: xr.DataArray, dim: str = "epoch"):
    """``(baseline slice, jump epoch)`` per the docstring, or ``(None, why)``."""
    if not phase.attrs["grokked"]:
        return None, phase.attrs["reason"]
    e = phase[dim].values
    v = phase.values
    i_mem = int(np.flatnonzero(e == phase.attrs["memorised_at"])[0])
    after = np.flatnonzero((np.arange(len(v)) > i_mem) & np.isin(v, ("transition",
                                                                       "generalising")))
    if not after.size:
        return None, "no commit point with test accuracy >= 50% after memorisation"
    i_jump = int(after[0])
    half = max(MIN_BASELINE, (i_jump - i_mem) // 2)
    if i_mem + half >= i_jump:
        return None, (f"plateau of {i_jump - i_mem} commit points: too short for a baseline "
                      f"of {MIN_BASELINE} and a departure before the jump")
    return slice(e[i_mem], e[i_mem + half - 1]), e[i_jump]


def moves_first(series: dict, phase: xr.DataArray, step_of: xr.DataArray) -> list[dict]:
    """One row per (diagnostic, layer): departure step, jump step and lead (in steps)."""
    base, jump = baseline_window(phase)
    if base is None:
        return []
    jump_step = int(step_of.sel(epoch=jump))
    rows = []
    for name, x in series.items():
        x = x.sel(epoch=slice(base.start, None))
        for layer in (x["layer"].values if "layer" in x.dims else [None]):
            xl = x.sel(layer=layer) if layer is not None else x
            try:
                d = float(plateau_departure(xl, baseline=base, k=K,
                                            persist=PERSIST)["departure"])
                why = "never left the band" if np.isnan(d) else ""
            except DimsError:  # fewer than 3 finite points in the baseline (NaN there)
                d, why = np.nan, "not measured on the plateau (NaN)"
            step = None if np.isnan(d) else int(step_of.sel(epoch=d))
            rows.append({"diagnostic": name, "layer": "" if layer is None else str(layer),
                         "departure_step": step, "jump_step": jump_step,
                         "lead": None if step is None else jump_step - step, "why": why})
    return rows


def one_seed(seed: int, root: Path, args) -> tuple[float, list[dict], xr.DataArray]:
    """Run ``workbench demo --preset grokking --seed <seed>`` (train, analyse, report) and
    time all of it; then read the run back."""
    import workbench
    from workbench.presets_grokking import run_grokking

    t0 = time.perf_counter()
    run_grokking(root, seed=seed, size="full", progress=False)
    minutes = (time.perf_counter() - t0) / 60
    tree = workbench.Run(root / f"seed{seed}").tree
    ep = tree["epochs"].to_dataset()
    phase = grokking_phases(ep["train_acc"].load(), ep["test_acc"].load())
    rows = moves_first(epoch_series(tree), phase, epoch_steps(tree))
    return minutes, rows, phase


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (3 or more)")
    ap.add_argument("--keep", default=None, help="keep the runs under this folder")
    args = ap.parse_args(argv)
    import workbench

    if not hasattr(workbench, "watch"):
        raise SystemExit("bench/grokking.py needs workbench.watch (issue 17); this checkout "
                         "has none")
    _log.start()
    seeds = [int(s) for s in args.seeds.split(",")]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="grokking_"))
    minutes, table = {}, []
    for seed in seeds:
        minutes[seed], rows, phase = one_seed(seed, root, args)
        a = phase.attrs
        print(f"seed {seed}: {minutes[seed]:.1f} min; grokked {a['grokked']} ({a['reason']}); "
              f"train >= 99% at epoch {a['memorised_at']}, test >= 95% at epoch "
              f"{a['generalised_at']}", flush=True)
        table += [{"seed": seed, **r} for r in rows]
    print(f"\n{'seed':>4} {'diagnostic':<14} {'layer':<12} {'leaves band':>11} "
          f"{'test jump':>9} {'lead':>6}")
    for r in table:
        dep = "-" if r["departure_step"] is None else r["departure_step"]
        lead = "-" if r["lead"] is None else f"{r['lead']:+d}"
        print(f"{r['seed']:>4} {r['diagnostic']:<14} {r['layer']:<12} {dep:>11} "
              f"{r['jump_step']:>9} {lead:>6}  {r['why']}")
    print("\nper diagnostic and layer, over seeds: leads (moved before the jump) / lags / "
          "never left the band; median lead in steps")
    keys = sorted({(r["diagnostic"], r["layer"]) for r in table})
    for key in keys:
        leads = [r["lead"] for r in table if (r["diagnostic"], r["layer"]) == key]
        moved = [x for x in leads if x is not None]
        med = f"{np.median(moved):+.0f}" if moved else "-"
        nan = sum(r["why"].startswith("not measured") for r in table
                  if (r["diagnostic"], r["layer"]) == key)
        print(f"  {key[0]:<14} {key[1]:<12} {sum(x > 0 for x in moved)} / "
              f"{sum(x <= 0 for x in moved)} / {len(leads) - len(moved)}   median {med}"
              + (f"   ({nan} not measured on the plateau)" if nan else ""))
    print(f"grokking_minutes: {max(minutes.values()):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
