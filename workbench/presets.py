"""Classroom presets: the runs a lesson needs, trained and analysed on the embedded data.

``workbench demo --preset NAME`` calls :func:`run_preset`. Each preset trains its runs on
CPU (measured: :data:`workbench.commands.demo.PRESET_TIME`), analyses them, and writes
``REPORT.md`` with what
it measured and whether the direction the lesson teaches held *on these runs*: a negative
result is reported as one.

- ``momentum``: constant 0.9, physics 1 − 2√lr and hybrid momentum, each at its own best
  learning rate from a small grid (rule: lowest final training loss; the test set plays no
  part in the choice), compared on optimizer steps to test-accuracy thresholds, read from
  ``/evals`` (test accuracy about ten times an epoch on a fixed stratified subset of 1,000
  test images; the report states the resolution used).
- ``label-noise``: the same CNN on clean labels and with 20% flipped labels: accuracy, DFA
  integration (noisy runs integrate more: bench/RESULTS.md) and the AKG pull of flipped
  against clean update examples.
- ``depth``: 6-layer MLPs with friction (the LeakyReLU slope: 0 is ReLU, 1 is linear) and
  noise (the learning rate) turned: the load curve and its deviation from the linear law.

Examples
--------
>>> sorted(PRESETS)
['depth', 'label-noise', 'momentum']
>>> PRESETS["momentum"].grid
{'lr': (0.01, 0.03, 0.1)}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dims import choice

#: What every preset run shares: the embedded Fashion-MNIST, a subset, CPU-sized.
BASE = {"epochs": 3, "train_size": 10_000, "test_size": 2_000, "batch_size": 128,
        "probe_size": 256, "signal_every": 4, "lr_schedule": "cosine", "device": "cpu"}


def _mlp(*, slope: float, depth: int = 6, **kw) -> dict:
    """A depth-``depth`` MLP run recording every hidden layer's probe features."""
    return {"model": "mlp", "model_kwargs": {"depth": depth, "slope": slope},
            "feature_layers": tuple(f"layer{k}" for k in range(1, depth + 1)), **kw}


def _rows(runs) -> dict:
    """run name → :func:`workbench.compare.summary` of that run."""
    from .compare import summary

    return {r.path.name: summary(r) for r in runs}


def _steps_text(steps: float, threshold: str) -> str:
    """Steps to a threshold in words: ``"316 steps"``, or that it was never reached."""
    return f"{steps:g} steps" if np.isfinite(steps) else f"never reached {threshold}"


def _momentum_findings(runs) -> list:
    """Physics and hybrid momentum reach 80%, 85% and 90% test accuracy in fewer steps than
    constant 0.9, at the resolution of the runs' accuracy curves
    (:func:`workbench.compare.accuracy_curve`: ``/evals`` when recorded, else once an epoch).
    """
    rows, out = _rows(runs), []
    base = rows["constant"]
    for other in ("physics", "hybrid"):
        for t in ("80%", "85%", "90%"):
            a, b = rows[other][f"steps_to_{t}"], base[f"steps_to_{t}"]
            if np.isnan(a) and np.isnan(b):
                held = None
            else:
                held = bool(np.nan_to_num(a, nan=np.inf) < np.nan_to_num(b, nan=np.inf))
            out.append((f"{other} reaches {t} test accuracy in fewer steps than constant "
                        f"0.9", held, f"{other} {_steps_text(a, t)}, constant "
                        f"{_steps_text(b, t)}; test accuracy measured "
                        f"{rows[other]['steps_resolution']}"))
    return out


def _label_noise_findings(runs) -> list:
    """Noise lowers accuracy, raises DFA integration, and flipped examples pull harder."""
    rows, out = _rows(runs), []
    c, n = rows["clean"], rows["noisy"]
    out.append(("label noise lowers the final test accuracy",
                bool(n["final_test_acc"] < c["final_test_acc"]),
                f"clean {c['final_test_acc']:.4f}, noisy {n['final_test_acc']:.4f}"))
    if "integration" in c and "integration" in n and np.isfinite(c["integration"]) \
            and np.isfinite(n["integration"]):
        out.append(("the noisy run integrates more (higher DFA exponent of the "
                    "collective signal)", bool(n["integration"] > c["integration"]),
                    f"clean {c['integration']:.3f}, noisy {n['integration']:.3f}"))
    else:
        why = "; ".join(f"{k}: " + r.get("integration_why", "dynamics not analysed")
                        for k, r in (("clean", c), ("noisy", n))
                        if not np.isfinite(r.get("integration", np.nan)))
        out.append(("the noisy run integrates more", None,
                    f"DFA integration not available ({why})"))
    noisy = next(r for r in runs if r.path.name == "noisy")
    forces = noisy.analysis("forces")
    if forces is not None and "flipped" in forces.coords and "pull" in forces:
        pull = np.abs(forces["pull"]).sum("label").mean(("epoch", "sample_o"))
        flipped = forces["flipped"].values.astype(bool)
        if flipped.any() and (~flipped).any():
            a, b = float(pull[flipped].mean()), float(pull[~flipped].mean())
            out.append(("flipped update examples pull harder on other samples than clean "
                        "ones (mean |AKG pull|)", bool(a > b),
                        f"flipped {a:.3e}, clean {b:.3e}"))
    return out


def _depth_findings(runs) -> list:
    """Noise and less friction bring the load curve closer to the linear law than ReLU."""
    rows, out, dev = _rows(runs), [], {}
    for r in runs:
        sep = r.analysis("separation")
        if sep is not None and "linear_law_deviation" in sep:
            dev[r.path.name] = float(sep["linear_law_deviation"].values[-1])
    # a run at chance accuracy (diverged, or did not learn) has no load curve to read
    chance = {n for n, r in rows.items() if r["final_test_acc"] <= 0.15}

    def compare_to_relu(other, claim):
        if not {"relu", other} <= set(dev):
            return
        ev = f"deviation relu {dev['relu']:.3f}, {other} {dev[other]:.3f}"
        if chance & {"relu", other}:
            out.append((claim, None, ev + "; at chance accuracy: " + ", ".join(
                f"{n} {rows[n]['final_test_acc']:.3f}" for n in sorted(chance))))
        else:
            out.append((claim, bool(dev[other] < dev["relu"]), ev))

    compare_to_relu("relu-noisy", "noise (smaller batches) brings the load curve closer "
                                  "to the linear law")
    compare_to_relu("leaky", "less friction (LeakyReLU 0.5) brings the load curve closer "
                             "to the linear law than ReLU")
    if not dev:
        out.append(("load curves measured", None, "no separation analysis stored"))
    return out


def _no_findings(runs) -> list:
    return []


@dataclass(frozen=True)
class Preset:
    """A lesson's runs.

    Attributes
    ----------
    name, lesson : str
    runs : dict
        run name → :class:`~workbench.config.TrainConfig` fields (over :data:`BASE`).
    grid : dict
        field → values tried for every run; the best by ``rule`` is kept.
    rule : str
        How the best grid point is chosen (written in the report).
    analyses : tuple of str
        Analyses computed on the kept runs.
    findings : callable
        ``findings(runs) -> [(claim, held, evidence)]``: the direction the lesson teaches,
        measured on the kept runs (``held`` True, False, or None when it cannot be told).
    """

    name: str
    lesson: str
    runs: dict
    grid: dict = field(default_factory=dict)
    rule: str = ""
    analyses: tuple = ()
    findings: Callable[[list], list] = _no_findings


PRESETS = {
    "momentum": Preset(
        "momentum",
        "Momentum as a damped oscillator: does the critical-damping schedule 1 − 2√lr (and "
        "the hybrid that switches to 0.9 halfway) reach a given accuracy in fewer steps than "
        "constant 0.9, each at its own best learning rate?",
        runs={"constant": {"momentum": "constant:0.9"}, "physics": {"momentum": "physics"},
              "hybrid": {"momentum": "hybrid"}},
        grid={"lr": (0.01, 0.03, 0.1)},
        rule="for each schedule, the learning rate of the grid with the lowest final training "
             "loss (the test set plays no part in the choice)",
        analyses=("damping", "attribution", "dynamics"),
        findings=_momentum_findings),
    "label-noise": Preset(
        "label-noise",
        "Clean against 20% flipped labels: what the noise does to accuracy, to how the layers "
        "integrate over training (DFA), and how flipped examples pull on others (AKG).",
        # the signal at every step: DFA integration needs at least 64 points in the window
        # (3 epochs of 79 steps give 59 at the default signal_every=4)
        runs={"clean": {"label_noise": 0.0, "signal_every": 1},
              "noisy": {"label_noise": 0.2, "signal_every": 1}},
        analyses=("damping", "dynamics", "forces", "attribution"),
        findings=_label_noise_findings),
    "depth": Preset(
        "depth",
        "The spring-block picture of depth: nonlinearity is friction (load piles up in deep "
        "layers), noise is lubrication (the load evens out toward the linear law).",
        runs={"relu": _mlp(slope=0.0, lr=0.05),
              # noise: 8x the gradient noise of "relu" (batch 16 instead of 128, same lr);
              # lr 0.2 at batch 32 diverged to chance accuracy at the lesson's size
              "relu-noisy": _mlp(slope=0.0, lr=0.05, batch_size=16),
              "leaky": _mlp(slope=0.5, lr=0.05),
              "linear": _mlp(slope=1.0, lr=0.05)},
        analyses=("separation",),
        findings=_depth_findings),
}


def preset_configs(name: str, *, scale: float = 1.0, seed: int = 0) -> dict:
    """run name → list of ``(grid point, TrainConfig)`` for preset ``name``.

    ``scale`` < 1 shrinks the training set and epochs (for tests); 1 is the lesson's size.
    ``seed`` seeds every run (initial weights, subset, batches; ``bench/presets.py`` repeats
    a preset over seeds for the spread).
    """
    from .config import TrainConfig

    preset = PRESETS[choice(name, tuple(PRESETS), "preset")]
    base = {**BASE, "seed": int(seed)}
    if scale != 1.0:
        base.update(train_size=max(300, int(base["train_size"] * scale)),
                    test_size=max(200, int(base["test_size"] * scale)),
                    probe_size=100, epochs=max(2, int(round(base["epochs"] * min(1, scale * 4)))),
                    signal_every=1, curvature_iters=3)
    out = {}
    for run, kw in preset.runs.items():
        points = [{}]
        for key, values in preset.grid.items():
            points = [{**p, key: v} for p in points for v in values]
        out[run] = [(p, TrainConfig(**{**base, **kw, **p})) for p in points]
    return out


def _label(point: dict) -> str:
    return "_".join(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}"
                    for k, v in point.items())


def run_preset(name: str, out=None, *, scale: float = 1.0, progress: bool = True,
               seed: int = 0) -> Path:
    """Train, analyse and report preset ``name`` under ``out`` (``runs/<name>``).

    Runs already complete in ``out`` are kept (so an interrupted preset resumes). Grid runs
    go under ``out/grid/``; the kept run of each name is ``out/<run>`` (a copy of its best
    grid point, or the run itself when there is no grid).

    Returns
    -------
    Path
        ``out/REPORT.md``.
    """
    import shutil

    from .analysis import analyze
    from .record import safe
    from .record.store import RunStore
    from .run import Run
    from .train import train

    preset = PRESETS[choice(name, tuple(PRESETS), "preset")]
    out = Path(out or Path("runs") / name)
    out.mkdir(parents=True, exist_ok=True)
    chosen, grid_rows = {}, []
    for run_name, points in preset_configs(name, scale=scale, seed=seed).items():
        results = []
        for point, cfg in points:
            where = out / "grid" / f"{run_name}_{_label(point)}" if point else out / run_name
            store = RunStore(where)
            done = store.exists() and int(store.attrs().get("committed_epochs", 0)) >= cfg.epochs
            if not done:
                if progress:
                    print(f"preset {name}: training {where.name}")
                train(cfg, where, resume=store.exists(), progress=progress)
            r = Run(where)
            loss = float(r.tree["epochs"]["train_loss"].values[-1])
            results.append((loss, point, where))
            grid_rows.append((run_name, point, loss,
                              float(r.tree["epochs"]["test_acc"].values[-1])))
        loss, point, where = min(results, key=lambda t: (np.nan_to_num(t[0], nan=np.inf)))
        if point:
            keep = out / run_name
            if keep.exists():
                safe.rmtree(out, keep)  # never through a link, never outside ``out``
            shutil.copytree(where, keep)
        chosen[run_name] = point
    runs = [Run(out / r) for r in preset.runs]
    for r in runs:
        analyze(r, only=list(preset.analyses), progress=progress)
    runs = [r.refresh() for r in runs]
    _write_figure(out, runs)
    text = report(name, runs, chosen=chosen, grid=grid_rows, figure=FIGURE)
    path = out / "REPORT.md"
    safe.write_bytes(out, path, text.encode())
    return path


#: The preset's figure beside its REPORT.md.
FIGURE = "comparison.png"


def _write_figure(out: Path, runs) -> Path:
    """The runs' test accuracy and training loss over epochs (seaborn) as ``out/FIGURE``."""
    import io

    from .compare import compare_figure
    from .record import safe

    buf = io.BytesIO()
    compare_figure(runs).savefig(buf, dpi=110, format="png")
    path = out / FIGURE
    safe.write_bytes(out, path, buf.getvalue())
    return path


def findings(name: str, runs) -> list[tuple[str, bool | None, str]]:
    """``(claim, held, evidence)`` for the direction preset ``name`` teaches: its own
    :attr:`Preset.findings` function on ``runs``.

    ``held`` is True or False as measured on ``runs``, None when it cannot be told (an
    analysis missing, a threshold never reached by either run).
    """
    return PRESETS[choice(name, tuple(PRESETS), "preset")].findings(runs)


def report(name: str, runs, *, chosen=None, grid=(), figure=None) -> str:
    """The preset's ``REPORT.md``: the lesson, the grid and rule, the comparison (Markdown
    tables from :func:`workbench.compare.compare`, and ``figure`` when given), findings."""
    from .compare import compare

    preset = PRESETS[name]
    lines = [f"# Preset `{name}`", "", preset.lesson, ""]
    if preset.grid:
        lines += [f"Grid: {json.dumps(preset.grid)}. Rule: {preset.rule}.", "",
                  "| run | grid point | final train loss | final test acc |",
                  "|---|---|---|---|"]
        lines += [f"| {r} | {json.dumps(p)} | {loss:.4f} | {acc:.4f} |"
                  for r, p, loss, acc in grid]
        lines += ["", "Chosen: " + ", ".join(f"{r} {json.dumps(p)}"
                                              for r, p in (chosen or {}).items()), ""]
    lines += ["## The runs side by side", "", compare(runs), ""]
    if figure:
        lines += [f"![test accuracy and training loss of the runs over epochs]({figure})", ""]
    lines += ["## What these runs show", ""]
    for claim, held, evidence in findings(name, runs):
        verdict = {True: "holds", False: "does NOT hold", None: "cannot be told"}[held]
        lines.append(f"- {claim}: **{verdict}** ({evidence})")
    cfg = runs[0].config
    lines += ["", f"Settings: {cfg.train_size} training images, {cfg.epochs} epochs, batch "
              f"{cfg.batch_size}, seed {cfg.seed}; one seed per run, so read differences "
              f"smaller than a point or two of accuracy as noise."]
    return "\n".join(lines) + "\n"



def report_markdown(path):
    """A preset's ``REPORT.md`` for a notebook: an ``IPython.display.Markdown`` (tables render
    as tables), its figure linked relative to the notebook's working directory.

    ``path`` is the preset's directory (holding ``REPORT.md``).
    """
    import os

    from IPython.display import Markdown

    path = Path(path)
    text = (path / "REPORT.md").read_text()
    fig = Path(os.path.relpath(path / FIGURE)).as_posix()
    return Markdown(text.replace(f"]({FIGURE})", f"]({fig})"))


def ensure_preset(name: str, path=None, *, scale: float = 1.0, progress: bool = True):
    """The kept runs of preset ``name`` under ``path``, trained and analysed first if the
    preset has no ``REPORT.md`` there yet (a notebook's first cell calls this).

    Returns
    -------
    list of Run
        One per run of the preset, in its order.
    """
    from .run import Run

    path = Path(path or Path("runs") / name)
    if not (path / "REPORT.md").exists():
        print(f"no preset {name!r} in {path}; training it there (once)")
        run_preset(name, path, scale=scale, progress=progress)
    return [Run(path / r) for r in PRESETS[name].runs]


__all__ = ["PRESETS", "Preset", "BASE", "preset_configs", "run_preset", "ensure_preset",
           "findings", "report", "report_markdown"]
