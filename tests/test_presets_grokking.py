"""The grokking preset at the CI size (p=23, 300 steps): trained from examples/grokking.py,
analysed, and reported; the verdict and phases checked against the definition, by hand."""

import shutil

import numpy as np
import pytest
import torch

from workbench import Run
from workbench.presets_grokking import SIZES, example, run_grokking


def _tables(text):
    """Every Markdown table of ``text`` as a list of rows (lists of cells), header first."""
    tables, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                cur.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif cur:
            tables.append(cur)
            cur = []
    return tables


def _phase(tr, te, memorised_before):
    """The phase definition of issue 18, written out independently (memorisation is left
    once: after the first point with train >= 99%, the test accuracy alone decides)."""
    if te >= 0.95:
        return "generalising"
    if tr < 0.99 and not memorised_before:
        return "memorising"
    return "plateau" if te < 0.5 else "transition"


@pytest.mark.slow
def test_tiny_grokking_preset_reports_the_phases_of_its_accuracies(grokking_preset, tmp_path):
    shutil.copytree(grokking_preset, tmp_path / "g")
    path = tmp_path / "g" / "REPORT.md"
    run = Run(tmp_path / "g" / "seed1")
    every = SIZES["tiny"]["every"]
    tr = run.tree["epochs"]["train_acc"].values
    te = run.tree["epochs"]["test_acc"].values
    assert len(tr) == SIZES["tiny"]["steps"] // every and run.config.user["seed"] == 1
    tables = _tables(path.read_text())
    summary, seeds, phases, analyses = tables
    # one cell per value, every row as wide as its header
    for t in tables:
        assert {len(r) for r in t} == {len(t[0])}
    row = dict(zip(summary[0], summary[1], strict=True))
    first = int(np.argmax(tr >= 0.99)) if (tr >= 0.99).any() else None
    grokked = first is not None and te[first] < 0.5 and te[-1] >= 0.95
    assert row["grokked"] == ("yes" if grokked else "no")
    assert row["train ≥ 99% at step"] == ("-" if first is None else str((first + 1) * every))
    assert float(row["final test acc"]) == pytest.approx(te[-1], abs=5e-4)
    assert float(row["total wall min"]) >= float(row["training wall min"]) > 0
    # the seeds table: one row per seed run here, the same verdict
    assert [r[:2] for r in seeds[1:]] == [["1", row["grokked"]]]
    n_grok = int(grokked)
    assert f"Grokked on {n_grok} of 1 seed (" in path.read_text()
    # run again with a second seed's run beside it (a copy): the recorded run is kept (not
    # retrained), the report says so, and the seeds table now holds both
    shutil.copytree(tmp_path / "g" / "seed1", tmp_path / "g" / "seed7")
    text = run_grokking(tmp_path / "g", seed=1, size="tiny", progress=False).read_text()
    again, seeds = _tables(text)[:2]
    assert again[1][again[0].index("training wall min")] == "-"
    assert [r[:2] for r in seeds[1:]] == [["1", row["grokked"]], ["7", row["grokked"]]]
    assert f"Grokked on {2 * n_grok} of 2 seeds (" in text
    # the phases: runs of equal labels covering every commit point, in order
    labels = [_phase(a, b, bool((tr[:i + 1] >= 0.99).any()))
              for i, (a, b) in enumerate(zip(tr, te, strict=True))]
    got = []
    for name, e0, e1, s0, s1, n in phases[1:]:
        e0, e1, s0, s1, n = map(int, (e0, e1, s0, s1, n))
        assert n == e1 - e0 + 1 and (s0, s1) == ((e0 + 1) * every, (e1 + 1) * every)
        got += [name] * n
    assert got == labels
    # every registered analysis is listed, computed or with the reason it was not
    stored = dict(analyses[1:])
    for name in ("damping", "spectra", "dynamics"):
        assert stored[name] == f"{len(run.refresh().analysed_epochs(name))} epochs" \
            == f"{len(tr)} epochs"


def test_the_example_is_loaded_from_the_checkout_and_a_missing_one_is_named(tmp_path):
    make_model = example("make_model")
    assert make_model(p=23)(torch.zeros(2, 3, dtype=torch.long)).shape == (2, 23)
    with pytest.raises(FileNotFoundError, match="examples/grokking.py.*nope.py"):
        example("main", tmp_path / "nope.py")
