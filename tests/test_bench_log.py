"""bench/_log.py appends every run to its log, under a dated header (issue 21).

A tiny script that uses a copy of ``_log.py`` runs several times in a temporary git
repository, so its ``LOGS`` folder (next to the copy) is in the temporary folder: the log must
then hold every run, oldest first, each with its dated header (clean or DIRTY tree), its
footer and its headline last.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = """import sys
import _log
_log.start()
print("working on", sys.argv[1])
if sys.argv[1] == "fail":
    raise RuntimeError("boom")
print(f"tiny_headline: {sys.argv[1]}")
"""
HEADER = re.compile(r"^# ===== run (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC =====$", re.M)
FOOTER = re.compile(r"^# wall time: [0-9.]+ s; load average \(1 min\) during the run: "
                    r"([0-9.]+)-([0-9.]+) \(median ([0-9.]+)\) on \d+ CPUs$")


def _check_results():
    spec = importlib.util.spec_from_file_location("check_results",
                                                  ROOT / "bench" / "check_results.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_results", mod)  # dataclasses look their module up there
    spec.loader.exec_module(sys.modules["check_results"])
    return sys.modules["check_results"]


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                   check=True, capture_output=True, timeout=60)


def _bench(tmp_path, git=True) -> Path:
    bench = tmp_path / "bench"
    bench.mkdir()
    shutil.copy(ROOT / "bench" / "_log.py", bench / "_log.py")
    (bench / "tiny.py").write_text(TINY)
    if git:
        _git(tmp_path, "init", "-q")
        _git(tmp_path, "add", "bench")
        _git(tmp_path, "commit", "-q", "-m", "tiny")
    return bench


def _run(bench, arg):
    return subprocess.run([sys.executable, str(bench / "tiny.py"), arg], cwd=bench.parent,
                          capture_output=True, text=True, timeout=120)


def _runs(log: str) -> list[str]:
    starts = [m.start() for m in HEADER.finditer(log)]
    return [log[a:b] for a, b in zip(starts, starts[1:] + [len(log)], strict=True)]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git (the header's commit)")
def test_two_runs_are_appended_with_header_footer_and_headline_last(tmp_path):
    bench = _bench(tmp_path)
    first = _run(bench, "1.5")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "tiny_headline: 1.5"  # stdout untouched
    log_path = bench / "logs" / "tiny.log"
    after_first = log_path.read_text()
    _git(tmp_path, "add", "bench/logs/tiny.log")
    _git(tmp_path, "commit", "-q", "-m", "log")
    for value in ("1.75", "2"):  # the second of these starts with only the log changed
        done = _run(bench, value)
        assert done.returncode == 0, done.stderr
    (bench / "tiny.py").write_text(TINY + "# an uncommitted change\n")
    last = _run(bench, "2.5")
    assert last.returncode == 0, last.stderr

    log = log_path.read_text()
    assert log.startswith(after_first)  # earlier runs kept as they were
    runs = _runs(log)
    dates = HEADER.findall(log)
    assert len(runs) == len(dates) == 4
    assert dates == sorted(dates)
    for run, value in zip(runs, ("1.5", "1.75", "2", "2.5"), strict=True):
        lines = [line for line in run.splitlines() if line.strip()]
        assert lines[-1] == f"tiny_headline: {value}"  # the headline is the run's last line
        m = FOOTER.match(lines[-2])  # the footer just before it
        assert m, lines[-2]
        low, high, median = map(float, m.groups())
        assert low <= median <= high
        assert f"working on {value}" in run
        assert f"# command: python {bench / 'tiny.py'} {value}" in run
        assert re.search(r"^# load average \(1 min\) at start: [0-9.]+ \((quiet|LOADED)", run,
                         re.M)
        assert re.search(r"^# machine: \d+ CPUs", run, re.M)
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert f"# git commit: {commit} (clean tree)" in runs[1]
    assert f"# git commit: {commit} (clean tree)" in runs[2]  # a changed log is not code
    assert re.search(r"^# git commit: \w+ \(DIRTY: uncommitted changes in tracked files: "
                     r"bench/tiny.py\)$", runs[3], re.M)  # the code, not the log
    assert log.rstrip("\n").splitlines()[-1] == "tiny_headline: 2.5"  # newest headline last

    # check_results.py reads the same runs, by their dates, with what their headers say
    parsed = _check_results().parse_log(log)
    assert [r.date for r in parsed] == dates
    assert [r.has(f"tiny_headline: {v}") for r in parsed for v in ("1.5", "2.5")] == [
        True, False, False, False, False, False, False, True]
    assert "dirty" in parsed[3].flags() and "dirty" not in parsed[2].flags()


def test_a_failed_run_says_so_and_no_git_is_not_clean(tmp_path):
    bench = _bench(tmp_path, git=False)
    done = _run(bench, "fail")
    assert done.returncode != 0 and "boom" in done.stderr
    run = _runs((bench / "logs" / "tiny.log").read_text())[0]
    lines = run.rstrip("\n").splitlines()
    assert lines[-2] == "# FAILED: RuntimeError: boom"
    assert FOOTER.match(lines[-1])
    assert lines[-3] == "working on fail"
    assert "# git commit: ? (tree unknown: git failed)" in run
    assert "clean tree" not in run
