"""Classroom presets at a reduced size: the grid rule, and findings that match the numbers."""

import json

import numpy as np
import pytest
from conftest import PRESET_SCALE

from workbench import Run
from workbench.presets import PRESETS, findings, preset_configs, run_preset


def test_preset_configs_cover_the_grid_and_refuse_unknown_names():
    cfg = preset_configs("momentum")
    assert set(cfg) == {"constant", "physics", "hybrid"}
    assert [p["lr"] for p, _ in cfg["physics"]] == list(PRESETS["momentum"].grid["lr"])
    assert all(c.momentum == "physics" for _, c in cfg["physics"])
    depth = preset_configs("depth")
    assert {c.model_kwargs["slope"] for (_, c), in depth.values()} == {0.0, 0.5, 1.0}
    with pytest.raises(ValueError, match="unknown preset 'nosuch'"):
        preset_configs("nosuch")


def _held_word(text, claim):
    line = next(ln for ln in text.splitlines() if ln.startswith(f"- {claim}"))
    return {"holds": True, "does NOT hold": False, "cannot be told": None}[
        line.split("**")[1]]


@pytest.mark.slow
def test_momentum_preset_keeps_each_schedules_best_lr_and_reports_what_held(momentum_preset):
    runs = {name: Run(momentum_preset / name) for name in PRESETS["momentum"].runs}
    # the rule: the grid point with the lowest final training loss is kept
    for name, run in runs.items():
        losses = {}
        for lr in PRESETS["momentum"].grid["lr"]:
            grid = Run(momentum_preset / "grid" / f"{name}_lr{lr:g}")
            losses[lr] = float(grid.tree["epochs"]["train_loss"].values[-1])
        assert run.config.lr == min(losses, key=losses.get)
    report = (momentum_preset / "REPORT.md").read_text()
    assert "Rule:" in report and json.dumps(PRESETS["momentum"].grid) in report
    # each finding agrees with the steps recomputed here from the runs' /evals (test
    # accuracy every K steps on the stratified subset), and the report says the same
    found = findings("momentum", list(runs.values()))
    assert {c.split()[2] for c, _, _ in found} == {"80%", "85%", "90%"}
    for claim, held, evidence in found:
        other, t = claim.split()[0], claim.split()[2]
        thr = float(t.rstrip("%")) / 100
        mine = {}
        for k in (other, "constant"):
            ev = runs[k].tree["evals"].to_dataset()
            assert ev.sizes["eval_step"] >= 2 * runs[k].config.epochs  # finer than epochs
            hit = np.flatnonzero(ev["acc"].values >= thr)
            mine[k] = float(ev["eval_step"].values[hit[0]]) if hit.size else np.nan
        assert "/evals" in evidence  # the resolution used is stated
        expect = None if np.isnan(mine[other]) and np.isnan(mine["constant"]) else \
            bool(np.nan_to_num(mine[other], nan=np.inf) < np.nan_to_num(mine["constant"],
                                                                          nan=np.inf))
        assert held is expect
        assert _held_word(report, claim) is expect
    for name in ("damping", "attribution", "dynamics"):
        assert runs["physics"].analysed_epochs(name) == runs["physics"].epochs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["label-noise", "depth"])
def test_other_presets_record_their_direction(name, tmp_path):
    path = run_preset(name, tmp_path / name, scale=PRESET_SCALE, progress=False)
    runs = [Run(tmp_path / name / r) for r in PRESETS[name].runs]
    report = path.read_text()
    found = findings(name, runs)
    assert found, "every preset states at least one measured finding"
    for claim, held, evidence in found:
        assert _held_word(report, claim) is held and evidence in report
    if name == "label-noise":
        clean, noisy = runs
        assert noisy.flipped.size > 0 and clean.flipped.size == 0
        acc = [float(r.tree["epochs"]["test_acc"].values[-1]) for r in runs]
        assert found[0][1] is bool(acc[1] < acc[0])
    else:
        dev = {r.path.name: float(r.analysis("separation")["linear_law_deviation"].values[-1])
               for r in runs}
        acc = {r.path.name: float(r.tree["epochs"]["test_acc"].values[-1]) for r in runs}
        noisy = next(h for c, h, _ in found if c.startswith("noise"))
        if min(acc["relu"], acc["relu-noisy"]) <= 0.15:   # a run at chance: no load curve
            assert noisy is None
        else:
            assert noisy is bool(dev["relu-noisy"] < dev["relu"])
