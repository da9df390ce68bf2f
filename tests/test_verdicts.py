"""The group rules and the overlap, written once: their answers, and every surface agrees."""

import contextlib
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from conftest import copy_run

from workbench.verdicts import (
    NO_OVERLAP,
    VERDICTS,
    overlap,
    overlap_text,
    problematic,
    with_verdict,
)


def test_importing_the_verdicts_does_not_import_torch():
    code = ("import sys, workbench.verdicts, workbench.diagnose; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# -- overlap: one definition, its empty-set case stated ------------------------------------
def test_overlap_of_two_empty_sets_is_undefined_not_one():
    assert math.isnan(overlap([], []))
    assert overlap_text(overlap(set(), ())) == NO_OVERLAP == \
        "undefined (neither run has a problematic group)"


def test_overlap_of_one_empty_set_is_zero():
    assert overlap(["fc"], []) == 0.0 and overlap([], ["conv1", "fc"]) == 0.0
    assert overlap_text(overlap(["fc"], [])) == "0.00"


def test_overlap_of_equal_sets_is_one():
    assert overlap(["conv1", "fc"], ["fc", "conv1"]) == 1.0
    assert overlap_text(1.0) == "1.00"


@pytest.mark.parametrize("a, b", [({"a", "b"}, {"b", "c"}), ({"a"}, {"a", "b", "c", "d"}),
                                  ({"x", "y", "z"}, {"y"})])
def test_overlap_is_jaccard_by_counting(a, b):
    common = sum(1 for g in a if g in b)
    union = len(a) + len(b) - common
    assert overlap(sorted(a), list(b)) == pytest.approx(common / union)
    assert overlap(a, b) == overlap(b, a)


def test_overlap_reads_verdicts_and_flags_over_layers():
    layers = ["conv1", "conv2", "fc"]
    verdict = xr.DataArray(["problematic", "healthy", "problematic"], dims="layer",
                           coords={"layer": layers})
    flags = xr.DataArray([False, True, True], dims="layer", coords={"layer": layers})
    ds = xr.Dataset({"verdict": verdict})
    assert overlap(verdict, flags) == pytest.approx(1 / 3)  # {conv1, fc} vs {conv2, fc}
    assert overlap(ds, ["fc", "conv1"]) == 1.0
    with pytest.raises(TypeError, match="got the string 'fc'"):
        overlap("fc", ["fc"])


# -- problematic: the stored verdicts' answer ----------------------------------------------
def _stored(verdicts, epochs=(0, 1, 2), layers=("conv1", "conv2", "fc")):
    return xr.Dataset({"verdict": (("epoch", "layer"), np.array(verdicts))},
                      coords={"epoch": list(epochs), "layer": list(layers)})


def test_problematic_is_each_epochs_problematic_verdicts():
    ds = _stored([["healthy", "problematic", "inconclusive"],
                  ["problematic", "healthy", "problematic"],
                  ["healthy", "healthy", "inconclusive"]], epochs=(3, 5, 8))
    assert problematic(ds, 3) == ["conv2"]
    assert problematic(ds, 5) == ["conv1", "fc"]
    assert problematic(ds, 8) == [] == problematic(ds, -1) == problematic(ds)
    assert problematic(ds, -2) == ["conv1", "fc"]
    assert with_verdict(ds, "inconclusive", 8) == ["fc"]
    assert problematic(ds.sel(epoch=5)) == ["conv1", "fc"]  # one epoch, no epoch dim
    # fixed-width bytes as a store may give them back
    assert problematic(ds.astype({"verdict": "S12"}), 5) == ["conv1", "fc"]


def test_problematic_names_what_is_wrong():
    ds = _stored([["healthy"] * 3] * 3)
    with pytest.raises(ValueError, match=r"epoch 7; analysed epochs: \[0, 1, 2\]"):
        problematic(ds, 7)
    with pytest.raises(ValueError, match=r"'verdict' variable.*got \['x'\]"):
        problematic(xr.Dataset({"x": ("layer", [1.0])}), 0)
    with pytest.raises(ValueError, match="verdict must be one of"):
        with_verdict(ds, "bad", 0)
    assert VERDICTS == ("healthy", "inconclusive", "problematic")


# -- every surface that shows an overlap calls it ------------------------------------------
BAD = {"none1": [], "none2": [], "two": ["fc1", "fc2"], "one": ["fc2"]}


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """Copies of the tiny run whose stored verdicts flag BAD[name] at every epoch."""
    from widgets import synthetic

    base = tmp_path_factory.mktemp("overlap")
    out = {}
    for name, bad in BAD.items():
        r = copy_run(tiny_run, base / name)
        synthetic.fill_analysis(r, names=("damping",))
        layers = [str(v) for v in r.tree["layers"]["layer"].values]
        n = len(layers)
        for e in r.epochs:
            ds = xr.Dataset(
                {"verdict": ("layer", np.array(["problematic" if g in bad else "healthy"
                                                for g in layers])),
                 "flag_frequency": ("layer", [1.0 if g in bad else 0.0 for g in layers]),
                 "log_ratio": ("layer", [2.0 if g in bad else 0.1 for g in layers]),
                 "param_share": ("layer", np.full(n, 1 / n)),
                 "n_misclassified": ((), 40), "n_correct": ((), 160)},
                coords={"layer": layers})
            r.store.append_analysis("attribution", ds.expand_dims(epoch=[e]))
        out[name] = r.refresh()
    return out


PAIRS = [("none1", "none2", NO_OVERLAP), ("two", "one", "0.50"), ("none1", "one", "0.00"),
         ("one", "one", "1.00")]


def _want(runs, a, b):
    """The overlap's own answer on the runs' stored verdicts."""
    return overlap_text(overlap(problematic(runs[a].analysis("attribution"), -1),
                                problematic(runs[b].analysis("attribution"), -1)))


@pytest.mark.parametrize("a, b, text", PAIRS)
def test_compare_shows_the_overlap(runs, a, b, text):
    from workbench.compare import compare, md_cell

    assert _want(runs, a, b) == text
    report = compare([runs[a], runs[b]])
    names = [a, b] if a != b else [a, f"{a}#2"]
    # the report says "no overlap" in words when neither run flags a group (issue 22)
    said = ("no group flagged in either run, so there is no overlap to measure"
            if text == NO_OVERLAP else text)
    cells = [md_cell(n) for n in names]  # Markdown-escaped, as in the report's tables
    assert f"- {cells[0]} vs {cells[1]}: {said}" in report.splitlines()


@pytest.mark.parametrize("a, b, text", PAIRS)
def test_diagnose_compare_shows_the_overlap(runs, a, b, text):
    from workbench.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["diagnose", str(runs[a].path), "--compare", str(runs[b].path)]) == 0
    assert f"overlap (Jaccard) of problematic groups: {text}" in buf.getvalue().splitlines()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["diagnose", str(runs[a].path), "--compare", str(runs[b].path),
                     "--json"]) == 0
    got = json.loads(buf.getvalue())["compare"]
    assert got["overlap"] == text
    assert got["jaccard"] is None if text == NO_OVERLAP else got["jaccard"] == float(text)


@pytest.mark.parametrize("a, b, text", PAIRS[:3])
def test_compare_view_shows_the_overlap_at_the_selected_epoch(runs, a, b, text):
    from workbench.widgets.compare import CompareView
    from workbench.widgets.state import Selection

    view = CompareView([runs[a], runs[b]], Selection())
    for epoch in runs[a].epochs:
        view.state.epoch = epoch
        assert view.overlaps() == {(a, b): text}
        assert f"{a} vs {b} {text}" in view.caption.value


def test_an_inconclusive_verdict_states_its_gap_against_the_bootstrap_spread():
    from workbench.verdicts import split_verdict, verdict_reason
    from workbench.widgets.attribution import verdict_reasons

    # group 0 is always the highest ratio (flagged in every resample), but the resamples
    # move it by far more than its lead over group 2: the split is not conclusive
    rng = np.random.default_rng(0)
    point = np.array([1.0, 0.0, 0.1])
    boot = point + rng.normal(0, 0.05, (400, 3))
    boot[:, 0] = boot[:, 2] + np.abs(rng.normal(0.9, 1.0, 400)) + 0.01
    rule = split_verdict(point, boot)
    assert rule["flag_frequency"][0] == 1.0 and not rule["conclusive"]
    assert rule["verdict"][0] == "inconclusive"
    gap, spread = rule["gap"], rule["spread"]
    assert gap <= spread
    # the spread is 1.96 sd of the gap over the resamples, computed here by hand
    flagged, top_other = 0, 2            # the lowest flagged and the highest unflagged group
    assert gap == pytest.approx(point[flagged] - point[top_other])
    assert spread == pytest.approx(1.96 * (boot[:, flagged] - boot[:, top_other]).std())
    why = verdict_reason("inconclusive", 1.0, gap=gap, spread=spread)
    assert "flagged in 100%" in why and f"gap {gap:.2f}" in why and f"±{spread:.2f}" in why
    at = xr.Dataset({"verdict": ("layer", rule["verdict"]),
                     "flag_frequency": ("layer", rule["flag_frequency"]),
                     "gap": gap, "spread": spread}, coords={"layer": ["conv2", "fc1", "fc2"]})
    html = verdict_reasons(at)
    assert "<b>conv2</b> inconclusive: flagged in 100%" in html and f"{gap:.2f}" in html
    # an older store without the numbers says so instead of staying silent
    assert "re-run analyze" in verdict_reasons(at.drop_vars(["gap", "spread"]))
