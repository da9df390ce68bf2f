"""The ``grokking`` preset: the user's own model (``examples/grokking.py``), recorded,
analysed and reported.

``workbench demo --preset grokking`` loads ``main``, ``make_model`` and ``datasets`` from the
checkout's ``examples/grokking.py`` (with :func:`workbench.usercode.load_callable`: the
package never imports the example), trains one seed through ``workbench.watch``, opens the
run with ``Run(out, model=..., data=...)``, analyses it, and writes ``REPORT.md``: the
phases from :func:`workbench.diagnostics.grokking_phases` and whether the run grokked.

Grokked (issue 18's definition): test accuracy below 50% at the first commit point where
training accuracy reaches 99%, and at least 95% at the end.

Examples
--------
>>> sorted(SIZES)
['full', 'tiny']
>>> SIZES["tiny"]["p"], SIZES["tiny"]["steps"]
(23, 300)
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from .dims import choice

#: ``main`` keywords per size: ``full`` groks on 2 CPU cores (the example's defaults, see
#: its docstring); ``tiny`` is the CI size (checks the pipeline, not grokking).
SIZES = {"full": {"p": 47, "frac": 0.4, "steps": 3000, "every": 100},
         "tiny": {"p": 23, "frac": 0.4, "steps": 300, "every": 25}}
#: The example, from the checkout (the repository root holds ``workbench/`` and ``examples/``).
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grokking.py"


def example(name: str, path=None):
    """``name`` from the example file (``main``, ``make_model`` or ``datasets``)."""
    from .usercode import load_callable

    path = Path(path or EXAMPLE)
    if not path.is_file():
        raise FileNotFoundError(f"the grokking preset needs examples/grokking.py from the "
                                f"workbench checkout; found no file {path}")
    return load_callable(f"{path}:{name}", "--preset grokking")


def run_grokking(out=None, *, seed: int = 0, size: str = "full", progress: bool = True,
                 analyses=None) -> Path:
    """Train the example at ``size`` with ``seed`` under ``out``, analyse, write REPORT.md.

    Parameters
    ----------
    out : path, optional
        Default ``runs/grokking``; the run itself goes to ``out/seed<seed>`` (kept if it is
        already there, so an analysis can be re-run without re-training).
    seed : int
    size : {"full", "tiny"}
    progress : bool
    analyses : sequence of str, optional
        Analyses to compute (default: every one the run allows). One that fails is listed in
        the report with its error; the others are kept.

    Returns
    -------
    Path
        ``out/REPORT.md``.
    """
    from .analysis import analyze, load_all
    from .record import safe
    from .run import Run

    kw = SIZES[choice(size, tuple(SIZES), "size")]
    main, make_model, datasets = (example(n) for n in ("main", "make_model", "datasets"))
    out = Path(out or Path("runs") / "grokking")
    out.mkdir(parents=True, exist_ok=True)
    where = out / f"seed{seed}"
    t0 = time.perf_counter()
    train_min = None  # a run already there is kept: its training time is not known here
    if not (where / "record.zarr").exists():
        main(where, seed=seed, progress=progress, **kw)
        train_min = (time.perf_counter() - t0) / 60
    run = Run(where, model=functools.partial(make_model, p=kw["p"]),
              data=datasets(kw["p"], kw["frac"], seed))
    done = {}
    for name in (analyses or list(load_all())):
        try:
            done.update(analyze(run, only=[name], progress=progress))
        except Exception as e:  # noqa: BLE001 - one analysis failing must not lose the rest
            done[name] = f"failed: {type(e).__name__}: {e}"
    run = run.refresh()
    done = {n: (f"{len(run.analysed_epochs(n))} epochs" if isinstance(v, list) else v)
            for n, v in done.items()}  # computed now or kept from before
    text = report(run, seed=seed, size=size, every=kw["every"], analyses=done,
                  minutes=(time.perf_counter() - t0) / 60, train_minutes=train_min)
    path = out / "REPORT.md"
    safe.write_bytes(out, path, text.encode())
    return path


def _cell(v) -> str:
    """One table cell: numbers rounded, None as "-", pipes escaped."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def table(header, rows) -> list[str]:
    """A Markdown table, one cell per value."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)]


def phase_rows(phases, every: int) -> list[tuple]:
    """``(phase, first epoch, last epoch, first step, last step, commit points)`` for each
    run of equal labels; commit point ``e`` is after optimizer step ``(e + 1) * every``."""
    ep = phases["epoch"].values
    labels = phases.values.astype(str)
    rows, i = [], 0
    while i < len(labels):
        j = i
        while j + 1 < len(labels) and labels[j + 1] == labels[i]:
            j += 1
        rows.append((labels[i], int(ep[i]), int(ep[j]), (int(ep[i]) + 1) * every,
                     (int(ep[j]) + 1) * every, j - i + 1))
        i = j + 1
    return rows


def seeds_section(out, every: int) -> list[str]:
    """Every seed recorded under ``out`` so far (``seed<N>`` folders): did it grok, and did
    it hold for all of them? Lines of Markdown, ending with an empty line."""
    from .diagnostics.grokking import grokking_phases
    from .run import Run

    rows, grokked = [], 0
    seeds = sorted((int(d.name[4:]), d) for d in Path(out).glob("seed*")
                   if d.name[4:].isdigit() and (d / "record.zarr").exists())
    for s, where in seeds:
        try:
            ep = Run(where).tree["epochs"]
            a = grokking_phases(ep["train_acc"].load(), ep["test_acc"].load()).attrs
        except Exception as e:  # noqa: BLE001 - a damaged run is named, not fatal
            rows.append((s, f"unreadable: {type(e).__name__}", None, None, None, None))
            continue
        grokked += bool(a["grokked"])
        mem = a["memorised_at"]
        rows.append((s, "yes" if a["grokked"] else "no",
                     None if mem is None else (int(mem) + 1) * every, a["test_at_memorised"],
                     float(ep["test_acc"].values[-1]), a["reason"]))
    n = len(rows)
    held = ("it held on every seed" if grokked == n else
            f"it did not hold on {n - grokked} of them")
    return ["## Every seed run here", "",
            f"Grokked on {grokked} of {n} seed{'s' if n != 1 else ''} ({held}). The issue's "
            "check is 3 of 3: run `workbench demo --preset grokking --seed N` for N = 0, 1, 2 "
            "(or `bench/grokking.py`).", "",
            *table(["seed", "grokked", "train ≥ 99% at step", "test acc then",
                    "final test acc", "why"], rows), ""]


def report(run, *, seed, size, every, analyses, minutes, train_minutes) -> str:
    """The preset's REPORT.md: the verdict, the phases, the analyses (name → what was
    stored, or why not) and the wall time."""
    from .diagnostics.grokking import grokking_phases

    ep = run.tree["epochs"]
    ph = grokking_phases(ep["train_acc"].load(), ep["test_acc"].load())
    a = ph.attrs

    def step(e):
        return None if e is None else (int(e) + 1) * every

    lines = ["# Preset `grokking`", "",
             "A one-layer transformer (examples/grokking.py, the user's own model and loop "
             "recorded through `workbench.watch`) learns a+b mod p with full-batch AdamW. It "
             "groks when test accuracy is below 50% at the first commit point where training "
             "accuracy reaches 99%, and at least 95% at the end.", "",
             *table(["seed", "size", "grokked", "train ≥ 99% at step", "test acc then",
                     "test ≥ 95% at step", "final train acc", "final test acc",
                     "training wall min", "total wall min"],
                    [(seed, size, "yes" if a["grokked"] else "no", step(a["memorised_at"]),
                      a["test_at_memorised"], step(a["generalised_at"]),
                      float(ep["train_acc"].values[-1]), float(ep["test_acc"].values[-1]),
                      train_minutes, minutes)]),
             "", f"Verdict: {a['reason']}.", "", *seeds_section(run.path.parent, every),
             f"## Phases of seed {seed} (grokking_phases)", "",
             *table(["phase", "first epoch", "last epoch", "first step", "last step",
                     "commit points"], phase_rows(ph, every)),
             "", "## Analyses", "",
             *table(["analysis", "result"],
                    list(analyses.items())),
             "", f"Wall minutes are seed {seed}'s, on this machine, as loaded as it was "
             f"(training \"-\": a run already recorded was kept). Each `--seed` adds its run "
             f"to the seeds table above."]
    return "\n".join(lines) + "\n"


__all__ = ["EXAMPLE", "SIZES", "example", "phase_rows", "report", "run_grokking",
           "seeds_section", "table"]
