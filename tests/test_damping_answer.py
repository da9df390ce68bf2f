"""One damping answer on screen (issue 22): the same word for the same (run, epoch, layer) in
the damping view, ``diagnose --json``, ``report``, REPORT.md, ``compare`` and CompareView,
and reports whose Markdown tables have one cell per value."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil

import numpy as np
import pytest

from workbench import Run
from workbench.cli import main

pytestmark = pytest.mark.slow

NAMES = ("constant", "physics", "hybrid")  # the momentum preset's runs, for its REPORT.md
REGIMES = ("underdamped", "critical", "overdamped", "undefined")


@pytest.fixture(scope="module")
def runs(analysed_tiny, tmp_path_factory):
    """Three copies of the analysed tiny run under the momentum preset's names, through
    ``workbench diagnose`` (which finds damping and attribution computed) and copied."""
    base = tmp_path_factory.mktemp("answer")
    first = base / NAMES[0]
    shutil.copytree(analysed_tiny, first)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["diagnose", str(first), "--json"]) == 0
    for name in NAMES[1:]:
        shutil.copytree(first, base / name)
    return [Run(base / n) for n in NAMES]


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table of ``text``: rows of cells (header first, separator dropped).

    A row is split on ``|`` not escaped by a backslash; every row must have as many cells as
    its header (the test of issue 22's item 2).
    """
    out, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            rows = [[c.strip() for c in re.split(r"(?<!\\)\|", ln.strip())[1:-1]]
                    for ln in block]
            assert re.fullmatch(r"\|(---\|)+", block[1]), block[1]
            header, body = rows[0], rows[2:]
            for row in body:
                assert len(row) == len(header), f"{row} has not the {len(header)} cells " \
                                                f"of its header {header}"
            out.append([header, *body])
            block = []
    return out


def table_with(text: str, first: str) -> list[list[str]]:
    found = [t for t in tables(text) if t[0][0] == first]
    assert found, f"no table whose header starts with {first!r}"
    return found[0]


def test_every_surface_shows_the_same_word(runs):
    from workbench.compare import compare
    from workbench.diagnostics.damping import damping_word
    from workbench.presets import report
    from workbench.report import verdict_text
    from workbench.widgets.compare import CompareView
    from workbench.widgets.damping import DampingView

    run = runs[0]
    dmp = run.analysis("damping").compute()
    epochs, layers = run.epochs, [str(v) for v in dmp["layer"].values]
    # the one function, by hand: the stiffest group's regime from its zeta
    for e in epochs:
        zeta = dmp["damping_ratio"].sel(epoch=e).values
        z = np.nanmin(zeta)
        hand = "underdamped" if z < 0.95 else ("overdamped" if z > 1.05 else "critical")
        assert damping_word(dmp, e) == hand
    words = {(e, g): damping_word(dmp, e, g) for e in epochs for g in layers}
    epoch_words = {e: damping_word(dmp, e) for e in epochs}
    assert set(words.values()) <= set(REGIMES)

    # 1. the damping view's caption
    view = DampingView(dmp)
    for e in epochs:
        view.state.epoch = e
        lead = view.caption.value.split("the paper's convention")[0]
        assert f"<b>{epoch_words[e]}</b>: its stiffest group" in lead
        for g in layers:
            assert f"{g} <b>{words[e, g]}</b>" in lead
    # 2. diagnose --json
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["diagnose", str(run.path), "--json"]) == 0
    d = json.loads(buf.getvalue())["damping"]
    assert {(r["epoch"], r["layer"]): r["regime"] for r in d["layers"]} == words
    assert {r["epoch"]: r["regime"] for r in d["epochs"]} == epoch_words
    # 3. report (the text tables: epoch, layer, curvature, zeta, regime ...)
    text = verdict_text(run)
    got = {}
    for line in text.splitlines():
        tok = line.split()
        if len(tok) >= 5 and tok[0].isdigit() and tok[1] in layers:
            got[int(tok[0]), tok[1]] = tok[4]
    assert got == words
    head = text.split("\n\n")[0]  # the per-epoch answer comes first
    assert {int(t[0]): t[-1] for t in (ln.split() for ln in head.splitlines())
            if t and t[0].isdigit()} == epoch_words
    # 4. compare and 5. REPORT.md: Markdown tables, one column per run
    for md in (compare(runs), report("momentum", runs)):
        per_epoch = table_with(md, "epoch")
        assert per_epoch[0] == ["epoch", *NAMES]
        assert {int(r[0]): r[1] for r in per_epoch[1:]} == epoch_words
        assert all(r[1] == r[2] == r[3] for r in per_epoch[1:])  # identical copies
        per_layer = table_with(md, "layer")
        last = epochs[-1]
        assert {r[0]: r[1] for r in per_layer[1:]} == {g: words[last, g] for g in layers}
        assert "agrees" not in md and "```" not in md
    # 6. CompareView: the strip's codes and the caption's epoch words
    from workbench import plots

    cmp = CompareView(runs)
    for e in epochs:
        cmp.state.epoch = e
        shown = cmp.shown("regime").sel(run=NAMES[0])
        assert [plots.REGIMES[int(c)] for c in shown.values] == [words[e, g] for g in layers]
        assert f"{NAMES[1]} <b>{epoch_words[e]}</b>" in cmp.caption.value


def test_reports_render_as_tables_and_say_why(runs, tmp_path):
    from workbench.compare import compare
    from workbench.presets import report

    # the overlap of two runs that flag no group is said in words, not as a Jaccard value
    text = compare(runs)
    flagged = [r.analysis("attribution")["verdict"].isel(epoch=-1).values.tolist()
               for r in runs]
    if not any("problematic" in f for f in flagged):
        assert "no group flagged in either run" in text and "1.00" not in text
    md = report("momentum", runs)
    assert len(tables(md)) >= 4  # grid, runs, damping per epoch and per layer, paper's ...
    # steps never reached are said in words, never "nan steps"
    assert "nan steps" not in md
    # the regimes are one cell per value: no comma-joined words in any cell
    assert not re.search(r"(underdamped|critical|overdamped),(under|crit|over)", md)
    # compare --out writes the Markdown; --figure the seaborn figure
    out, fig = tmp_path / "cmp.md", tmp_path / "cmp.png"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["compare", *[str(r.path) for r in runs], "--out", str(out),
                     "--figure", str(fig)]) == 0
    tables(out.read_text())
    assert fig.read_bytes()[:4] == b"\x89PNG"
