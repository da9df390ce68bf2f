"""Check that every figure ``bench/RESULTS.md`` quotes is in the log run it cites.

Run:  python bench/check_results.py [--strict] [--results bench/RESULTS.md] [--logs bench/logs]
Exit status 0 when every rule holds; otherwise 1, after one line per offence naming the
place in RESULTS.md (line number), the figure or citation, and what is wrong. CI runs it
through ``tests/test_bench_results.py``.

**Citations.** A run of a log is cited by its date (UTC), as its header gives it::

    [log: ntk.log @ 2026-11-23 14:47]                  a run of bench/logs/ntk.log
    [log: ntk.log @ 2026-11-23 14:47:40; loaded, dirty] flags repeating what its header says
    [log: dfa.log @ undated; no header]                a log written before bench/_log.py

The date may stop at the minute (it must then name one run of the log) or give the seconds.
A log holds runs: each begins with ``# ===== run YYYY-MM-DD HH:MM:SS UTC =====``
(``bench/_log.py``); what precedes the first such line is one older run, dated by its
``# date:`` line, else by the first date and time in its first 5 lines, else ``undated``.

**Flags** after ``;`` repeat the run's header: ``dirty`` exactly when its ``# git commit:``
line says DIRTY (or "uncommitted changes"), ``loaded`` exactly when its load line says
LOADED, ``no header`` exactly when it has no ``# git commit:`` line (then nobody can tell the
commit, the tree or the load).

**Figures.** A figure is a code span that holds ``": "``, as ```name: value``` (a bench's
headline line) or any other line of a log quoted as it stands; its name is what precedes the
first ``": "``. Each must be in a run cited in its block: a row of the Headlines table, else
its paragraph (lines between blank lines, so a whole table or list). It is in the run when a
line of the run, stripped, is the figure or begins with the figure and a space. So RESULTS.md
puts no other code span with ``": "`` in it.

**Headlines** (the first table after ``## Headlines``): every row quotes a figure and cites a
run of the log it comes from; that run must be the newest run of that log that prints the
figure's name (a newer run must be quoted, or the row marked). A row marked ``to re-measure``
(its text holds these words) must be listed, by its figure's name in a code span (the first
code span of a list item, a line that begins with ``- ``), in the section
``## To re-measure`` at the end, and every name listed there must belong to a marked row. A
row whose cited run is dirty or has no header must be marked. ``--strict`` also fails on
every marked row: the state to reach once every headline is re-measured.

Examples
--------
>>> runs = parse_log("# ===== run 2026-12-02 15:49:01 UTC =====\\n# git commit: abc "
...                  "(clean tree)\\nx: 1\\n")
>>> runs[0].date, runs[0].has("x: 1")
('2026-12-02 15:49:01', True)
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN_HEADER = re.compile(r"^# ===== run (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC =====\s*$")
DATE_LINE = re.compile(r"^# date: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")
ANY_DATE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?)")
CITATION = re.compile(r"\[log: ([\w.+-]+\.log) @ ([^\];]+?)\s*(?:;\s*([^\]]*))?\]")
CODE_SPAN = re.compile(r"`([^`\n]+)`")  # paired left to right, as Markdown pairs them
FLAGS = ("dirty", "loaded", "no header")
MARK = "to re-measure"


@dataclass
class Run:
    """One run of a log: its date (``YYYY-MM-DD HH:MM[:SS]`` or ``undated``) and lines."""

    date: str
    lines: list[str] = field(default_factory=list)

    def header(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)

    def flags(self) -> set[str]:
        """What the header says: ``dirty``, ``loaded``, ``no header``."""
        commit = self.header("# git commit:")
        if commit is None:
            return {"no header"}
        load = self.header("# load average (1 min) at start:") or ""
        out = set()
        if "DIRTY" in commit or "uncommitted changes" in commit:
            out.add("dirty")
        if "LOADED" in load:
            out.add("loaded")
        return out

    def has(self, figure: str) -> bool:
        return any(line.strip() == figure or line.strip().startswith(figure + " ")
                   for line in self.lines)

    def gives(self, name: str) -> bool:
        """Whether a line of the run gives a figure of that name (``name: ...``)."""
        return any(line.strip().startswith(name + ": ") for line in self.lines)


def parse_log(text: str) -> list[Run]:
    """The runs of a log, oldest first (see the module's docstring)."""
    runs: list[Run] = []
    legacy = Run("undated")
    for line in text.splitlines():
        m = RUN_HEADER.match(line)
        if m:
            runs.append(Run(m.group(1)))
        (runs[-1] if runs else legacy).lines.append(line)
    if any(line.strip() for line in legacy.lines):
        dated = next((DATE_LINE.match(line) for line in legacy.lines if DATE_LINE.match(line)),
                     None)
        loose = next((ANY_DATE.search(line) for line in legacy.lines[:5]
                      if ANY_DATE.search(line)), None)
        legacy.date = (dated or loose).group(1) if (dated or loose) else "undated"
        runs.insert(0, legacy)
    return runs


@dataclass
class Citation:
    log: str
    date: str
    flags: set[str]
    line: int
    text: str


@dataclass
class Block:
    """Lines of RESULTS.md read together: a paragraph, or one row of the Headlines table."""

    start: int
    text: str
    headline_row: bool = False

    def citations(self) -> list[Citation]:
        out = []
        for m in CITATION.finditer(self.text):
            flags = {f.strip().lower() for f in (m.group(3) or "").split(",") if f.strip()}
            line = self.start + self.text[:m.start()].count("\n")
            out.append(Citation(m.group(1), m.group(2).strip(), flags, line, m.group(0)))
        return out

    def figures(self) -> list[tuple[int, str]]:
        return [(self.start + self.text[:m.start()].count("\n"), m.group(1).strip())
                for m in CODE_SPAN.finditer(self.text) if ": " in m.group(1)]


def blocks(text: str) -> list[Block]:
    """Paragraphs of ``text``, the rows of the first table after ``## Headlines`` apart."""
    out: list[Block] = []
    in_headlines, table_rows, current = False, 0, None
    for i, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            in_headlines, table_rows = line.strip() == "## Headlines", 0
        if in_headlines and line.startswith("|"):
            table_rows += 1
            current = None
            if table_rows > 2:  # not the table's head nor its |---| line
                out.append(Block(i, line, headline_row=True))
            continue
        if in_headlines and table_rows:
            in_headlines = False  # only the first table
        if not line.strip():
            current = None
        elif current is None:
            current = Block(i, line)
            out.append(current)
        else:
            current.text += "\n" + line
    return out


def remeasure_list(text: str) -> set[str]:
    """Figure names listed in the ``## To re-measure`` section: each item's first code span."""
    m = re.search(r"^## To re-measure\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not m:
        return set()
    return {span.group(1) for line in m.group(1).splitlines()
            if line.startswith("- ") and (span := re.search(r"`([^`]+)`", line))}


def check(results: Path, logs: Path, strict: bool = False) -> list[str]:
    """Every offence, one line each (empty when RESULTS.md keeps every rule)."""
    text = results.read_text()
    where = results.name
    cache: dict[str, list[Run] | None] = {}
    problems: list[str] = []

    def runs_of(name: str) -> list[Run] | None:
        if name not in cache:
            path = logs / name
            cache[name] = parse_log(path.read_text()) if path.is_file() else None
        return cache[name]

    def resolve(c: Citation) -> Run | None:
        runs = runs_of(c.log)
        if runs is None:
            problems.append(f"{where}:{c.line}: {c.text}: no log {logs / c.log}")
            return None
        hits = [r for r in runs if r.date == c.date or (c.date != "undated"
                                                          and r.date.startswith(c.date + ":"))]
        if len(hits) != 1:
            dates = ", ".join(r.date for r in runs)
            what = "no run" if not hits else f"{len(hits)} runs (give the seconds)"
            problems.append(f"{where}:{c.line}: {c.text}: {what} of {c.log} at {c.date} "
                            f"(its runs: {dates})")
            return None
        run = hits[0]
        unknown = c.flags - set(FLAGS)
        if unknown:
            problems.append(f"{where}:{c.line}: {c.text}: unknown flag(s) {sorted(unknown)} "
                            f"(known: {', '.join(FLAGS)})")
        said = run.flags()
        for flag in FLAGS:
            if flag in said and flag not in c.flags:
                says = "has no header" if flag == "no header" else f"header says {flag}"
                problems.append(f"{where}:{c.line}: {c.text}: the run {says}; "
                                f"the citation must repeat it ('; {flag}')")
            if flag in c.flags and flag not in said:
                problems.append(f"{where}:{c.line}: {c.text}: says {flag}, its header does not")
        return run

    listed = remeasure_list(text)
    marked: set[str] = set()
    for block in blocks(text):
        cited = [(c, resolve(c)) for c in block.citations()]
        figures = block.figures()
        for line, fig in figures:
            if not cited:
                problems.append(f"{where}:{line}: `{fig}` cites no log run "
                                f"(add [log: NAME.log @ DATE])")
            elif not any(r is not None and r.has(fig) for _, r in cited):
                logs_ = ", ".join(f"{c.log} @ {c.date}" for c, _ in cited)
                problems.append(f"{where}:{line}: `{fig}` is not in the run(s) cited "
                                f"({logs_})")
        if not block.headline_row:
            continue
        is_marked = MARK in block.text.lower()
        if not figures or not cited:
            problems.append(f"{where}:{block.start}: headline row without a `name: value` "
                            f"figure or without a citation")
            continue
        for _, fig in figures:
            name = fig.split(": ", 1)[0]
            if is_marked:
                marked.add(name)
            for c, run in cited:
                if run is None or not run.has(fig):
                    continue
                runs = runs_of(c.log)
                at = next(k for k, r in enumerate(runs) if r is run)
                newer = [r for r in runs[at + 1:] if r.gives(name)]
                if newer and not is_marked:
                    problems.append(f"{where}:{block.start}: `{name}`: {c.log} has a newer run "
                                    f"({newer[-1].date}) than the one cited ({run.date}); "
                                    f"quote it, or mark the row '{MARK}'")
                if ({"dirty", "no header"} & run.flags()) and not is_marked:
                    problems.append(f"{where}:{block.start}: `{name}` comes from a run that is "
                                    f"{' and '.join(sorted({'dirty', 'no header'} & run.flags()))}"
                                    f": mark the row '{MARK}'")
    for name in sorted(marked - listed):
        problems.append(f"{where}: `{name}` is marked '{MARK}' but not listed in "
                        f"'## To re-measure'")
    for name in sorted(listed - marked):
        problems.append(f"{where}: `{name}` is listed in '## To re-measure' but no headline "
                        f"row with it is marked '{MARK}'")
    if strict:
        problems += [f"{where}: `{name}` is still to re-measure (--strict)"
                     for name in sorted(marked)]
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--logs", type=Path, default=HERE / "logs")
    ap.add_argument("--strict", action="store_true",
                    help=f"also fail on headline rows marked '{MARK}'")
    args = ap.parse_args(argv)
    problems = check(args.results, args.logs, strict=args.strict)
    for p in problems:
        print(p)
    print(f"check_results: {len(problems)} problem(s) in {args.results}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
