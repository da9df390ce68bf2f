"""bench/RESULTS.md quotes only figures that are in the log runs it cites (issue 21).

The first test runs ``bench/check_results.py`` on the repository's RESULTS.md and logs (CI
runs it through this file). The others build small RESULTS.md files and logs, each with one
offence, and check that the checker names it, and that it passes the same files without it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_results", ROOT / "bench" / "check_results.py")
check_results = sys.modules.setdefault("check_results", importlib.util.module_from_spec(spec))
spec.loader.exec_module(check_results)  # registered first: dataclasses look their module up

CLEAN = """# ===== run 2026-12-01 10:00:00 UTC =====
# git commit: 111111111111 (clean tree)
# load average (1 min) at start: 0.20 (quiet; the load includes this script once it runs)
speed: 1.0
# wall time: 1.0 s; load average (1 min) during the run: 0.20-0.30 (median 0.25) on 2 CPUs
a_speedup: 12.5
"""
LOADED_DIRTY = """
# ===== run 2026-12-02 11:30:05 UTC =====
# git commit: 222222222222 (DIRTY: uncommitted changes in tracked files: bench/a.py)
# load average (1 min) at start: 3.00 (LOADED: other jobs share the CPUs; the load ...)
# wall time: 1.0 s; load average (1 min) during the run: 3.00-3.10 (median 3.05) on 2 CPUs
a_speedup: 14.0 (5 rounds)
"""
LEGACY = "some output\nb_ratio: 0.53\n"


def _check(tmp_path, results: str, logs: dict[str, str], strict=False):
    d = tmp_path / "logs"
    d.mkdir(exist_ok=True)
    for name, text in logs.items():
        (d / name).write_text(text)
    (tmp_path / "RESULTS.md").write_text(results)
    return check_results.check(tmp_path / "RESULTS.md", d, strict=strict)


def _results(row: str, rest: str = "", remeasure: str = "") -> str:
    return ("# Results\n\n## Headlines\n\n| bench | headline | log |\n|---|---|---|\n"
            f"{row}\n\n{rest}\n\n## To re-measure\n\n{remeasure}\n")


def test_the_repository_results_keep_every_rule():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "check_results.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("check_results: 0 problem(s)")


def test_a_figure_in_its_run_passes_and_one_not_in_it_is_named(tmp_path):
    ok = _results("| a | `a_speedup: 12.5` | [log: a.log @ 2026-12-01 10:00] |")
    assert _check(tmp_path, ok, {"a.log": CLEAN}) == []
    bad = _results("| a | `a_speedup: 12.6` | [log: a.log @ 2026-12-01 10:00] |")
    problems = _check(tmp_path, bad, {"a.log": CLEAN})
    assert len(problems) == 1 and "`a_speedup: 12.6` is not in the run" in problems[0]
    assert problems[0].startswith("RESULTS.md:7:")  # the row's line


def test_a_figure_of_another_run_of_the_same_log_is_not_accepted(tmp_path):
    # 14.0 is in the log, but in the later run, not in the one cited
    text = _results("| a | `a_speedup: 14.0` | [log: a.log @ 2026-12-01 10:00] |")
    problems = _check(tmp_path, text, {"a.log": CLEAN + LOADED_DIRTY})
    assert any("`a_speedup: 14.0` is not in the run" in p for p in problems)


def test_a_cited_run_or_log_that_does_not_exist_is_named(tmp_path):
    text = _results("| a | `a_speedup: 12.5` | [log: a.log @ 2026-12-01 10:01] |",
                    rest="Prose `a_speedup: 12.5` [log: nothere.log @ 2026-12-01 10:00].")
    problems = _check(tmp_path, text, {"a.log": CLEAN})
    assert any("no run of a.log at 2026-12-01 10:01" in p for p in problems)
    assert any("no log" in p and "nothere.log" in p for p in problems)


def test_a_dirty_or_loaded_run_must_be_said_and_marked(tmp_path):
    logs = {"a.log": CLEAN + LOADED_DIRTY}
    unsaid = _results("| a | `a_speedup: 14.0` | [log: a.log @ 2026-12-02 11:30] |")
    problems = _check(tmp_path, unsaid, logs)
    assert any("header says dirty" in p for p in problems)
    assert any("header says loaded" in p for p in problems)
    assert any("comes from a run that is dirty" in p for p in problems)
    said = _results("| a | `a_speedup: 14.0` **to re-measure** | "
                    "[log: a.log @ 2026-12-02 11:30; loaded, dirty] |",
                    remeasure="- `a_speedup`: made on a dirty tree; `python bench/a.py` "
                              "re-makes it.")  # two code spans, no figure between them
    assert _check(tmp_path, said, logs) == []
    strict = _check(tmp_path, said, logs, strict=True)
    assert strict == ["RESULTS.md: `a_speedup` is still to re-measure (--strict)"]
    overstated = _results("| a | `a_speedup: 12.5` | [log: a.log @ 2026-12-01 10:00; dirty] |")
    assert any("says dirty, its header does not" in p
               for p in _check(tmp_path, overstated, {"a.log": CLEAN}))


def test_a_headline_row_must_quote_the_newest_run_or_be_marked(tmp_path):
    logs = {"a.log": CLEAN + LOADED_DIRTY}
    old = _results("| a | `a_speedup: 12.5` | [log: a.log @ 2026-12-01 10:00] |")
    problems = _check(tmp_path, old, logs)
    assert any("has a newer run (2026-12-02 11:30:05)" in p for p in problems)
    # the same older figure in prose (history) is fine
    prose = _results("| a | `a_speedup: 14.0` **to re-measure** | "
                     "[log: a.log @ 2026-12-02 11:30:05; loaded, dirty] |",
                     rest="Before: `a_speedup: 12.5` [log: a.log @ 2026-12-01 10:00].",
                     remeasure="- `a_speedup`")
    assert _check(tmp_path, prose, logs) == []


def test_marks_and_the_re_measure_list_agree(tmp_path):
    logs = {"a.log": CLEAN}
    unlisted = _results("| a | `a_speedup: 12.5` to re-measure | "
                        "[log: a.log @ 2026-12-01 10:00] |")
    assert any("not listed in '## To re-measure'" in p for p in _check(tmp_path, unlisted, logs))
    unmarked = _results("| a | `a_speedup: 12.5` | [log: a.log @ 2026-12-01 10:00] |",
                        remeasure="- `a_speedup`")
    assert any("no headline row with it is marked" in p for p in _check(tmp_path, unmarked, logs))


def test_an_undated_log_needs_no_header_said_and_a_mark(tmp_path):
    logs = {"b.log": LEGACY}
    assert [r.date for r in check_results.parse_log(LEGACY)] == ["undated"]
    unsaid = _results("| b | `b_ratio: 0.53` to re-measure | [log: b.log @ undated] |",
                      remeasure="- `b_ratio`")
    assert any("run has no header" in p for p in _check(tmp_path, unsaid, logs))
    said = _results("| b | `b_ratio: 0.53` to re-measure | [log: b.log @ undated; no header] |",
                    remeasure="- `b_ratio`")
    assert _check(tmp_path, said, logs) == []


@pytest.mark.parametrize("text", ["Prose quoting `a_speedup: 12.5` and no citation.",
                                  "| x | `a_speedup: 12.5` |"])
def test_a_figure_without_a_citation_is_named(tmp_path, text):
    problems = _check(tmp_path, _results(
        "| a | `a_speedup: 12.5` | [log: a.log @ 2026-12-01 10:00] |", rest=text),
        {"a.log": CLEAN})
    assert len(problems) == 1 and "`a_speedup: 12.5` cites no log run" in problems[0]


def test_the_command_exits_1_naming_each_offender(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a.log").write_text(CLEAN)
    (tmp_path / "R.md").write_text(_results(
        "| a | `a_speedup: 9.9` | [log: a.log @ 2026-12-01 10:00] |",
        rest="`a_speedup: 8.8` [log: a.log @ 2026-12-01 10:00]"))
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "check_results.py"),
                           "--results", str(tmp_path / "R.md"), "--logs", str(d)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "`a_speedup: 9.9`" in done.stdout and "`a_speedup: 8.8`" in done.stdout
    assert "check_results: 2 problem(s)" in done.stdout
