"""Runs side by side: :func:`stack` aligns several runs along a ``run`` dim, and
:func:`compare` reports how they differ.

Examples
--------
>>> from workbench import Run
>>> a, b = Run("runs/constant"), Run("runs/physics")          # doctest: +SKIP
>>> stack([a, b], "epochs")["test_acc"].dims                   # doctest: +SKIP
('run', 'epoch')
>>> print(compare([a, b]))                                     # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .dims import EPOCH, EVAL_STEP, LAYER, STEP, choice
from .verdicts import INCONCLUSIVE, overlap, overlap_text, problematic, with_verdict

#: Where a run's epoch count and layer set must match to stack without ``join``.
JOINS = ("exact", "inner", "outer")
RUN = "run"


def run_names(runs) -> list[str]:
    """Each run's directory name, made unique with ``#2``, ``#3``… where names repeat."""
    names, seen = [], {}
    for r in runs:
        base = r.path.name or str(r.path)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return names


def stack(runs, group: str, *, dim: str = RUN, join: str = "exact") -> xr.Dataset:
    """Align one group of several runs along a new ``run`` dim.

    Parameters
    ----------
    runs : sequence of Run or paths
    group : str
        ``"epochs"``, ``"steps"``, ``"layers"``, ``"probe"``, ``"epochs_layers"`` or
        ``"analysis/<name>"``.
    dim : str
        Name of the new dim; its coord holds the runs' names (:func:`run_names`).
    join : {"exact", "inner", "outer"}
        ``"exact"`` (default) refuses runs whose epochs, steps or layers differ, naming
        them; ``"inner"`` keeps what all runs share; ``"outer"`` keeps everything, NaN
        where a run has no value.

    Returns
    -------
    xarray.Dataset
        ``dim`` first, then the group's own dims. Every value of every run is kept
        (with ``"exact"`` or ``"outer"``).

    Examples
    --------
    >>> stack(["runs/a", "runs/b"], "epochs")["test_acc"].dims     # doctest: +SKIP
    ('run', 'epoch')
    """
    from .run import Run

    choice(join, JOINS, "join")
    runs = [r if isinstance(r, Run) else Run(r) for r in runs]
    if len(runs) < 1:
        raise ValueError("stack needs at least one run; got none")
    names = run_names(runs)
    parts = [r.group(group) for r in runs]
    if join == "exact":
        for d in (EPOCH, STEP, LAYER):
            coords = [tuple(p[d].values.tolist()) if d in p.coords else None for p in parts]
            if len({c for c in coords}) > 1:
                desc = "; ".join(f"{n}: {_describe(c)}" for n, c in zip(names, coords,
                                                                           strict=True))
                raise ValueError(f"cannot stack {group!r}: the runs differ in {d!r} ({desc}); "
                                 f"pass join='inner' to keep the shared {d}s or join='outer' "
                                 f"to pad with NaN")
    out = xr.concat(parts, dim=xr.DataArray(names, dims=dim, name=dim),
                    join="outer" if join == "exact" else join, combine_attrs="drop_conflicts",
                    coords="minimal", compat="override")
    return out.transpose(dim, ...)


def _describe(coord) -> str:
    if coord is None:
        return "absent"
    if len(coord) and all(isinstance(v, (int, np.integer)) for v in coord):
        return f"{len(coord)} values {coord[0]}..{coord[-1]}"
    return ", ".join(map(str, coord))


def steps_to(curve: xr.Dataset, threshold: float, *, steps_per_epoch: int | None = None,
             metric: str | None = None) -> float:
    """Optimizer steps until a test accuracy first reaches ``threshold`` (NaN if never).

    Parameters
    ----------
    curve : xarray.Dataset
        A run's ``/evals`` (dim ``eval_step``, the optimizer steps taken at each point;
        ``metric`` defaults to ``"acc"``, on the fixed stratified test subset): the first
        ``eval_step`` whose accuracy is at or above ``threshold``. Or its ``/epochs`` (dim
        ``epoch``; ``metric`` defaults to ``"test_acc"``, the full test set):
        ``(e + 1) · steps_per_epoch`` for the first such epoch ``e``.
        :func:`accuracy_curve` picks the finer one a run holds and says which.
    threshold : float
    steps_per_epoch : int
        Needed for ``/epochs``.
    metric : str, optional

    The answer is exact only to the curve's resolution: the spacing of its points.

    Examples
    --------
    >>> ep = xr.Dataset({"test_acc": ("epoch", [0.7, 0.85, 0.9])}, coords={"epoch": [0, 1, 2]})
    >>> steps_to(ep, 0.8, steps_per_epoch=100)
    200.0
    >>> ev = xr.Dataset({"acc": ("eval_step", [0.7, 0.82, 0.79, 0.9])},
    ...                 coords={"eval_step": [10, 20, 30, 40]})
    >>> steps_to(ev, 0.8), steps_to(ev, 0.85)
    (20.0, 40.0)
    """
    by_eval = EVAL_STEP in curve.dims
    metric = metric or ("acc" if by_eval else "test_acc")
    if metric not in curve:
        raise ValueError(f"steps_to needs the variable {metric!r}; the curve holds "
                         f"{sorted(map(str, curve.data_vars))}")
    acc = np.asarray(curve[metric].values, dtype=float)
    hit = np.flatnonzero(acc >= threshold)
    if not hit.size:
        return float("nan")
    if by_eval:
        return float(curve[EVAL_STEP].values[hit[0]])
    if EPOCH not in curve.dims or steps_per_epoch is None:
        raise ValueError(f"steps_to needs an 'eval_step' curve (/evals), or an 'epoch' curve "
                         f"(/epochs) with steps_per_epoch; got dims {tuple(curve.dims)}, "
                         f"steps_per_epoch={steps_per_epoch}")
    return float((int(curve[EPOCH].values[hit[0]]) + 1) * steps_per_epoch)


def accuracy_curve(tree: xr.DataTree) -> tuple[xr.Dataset, str]:
    """The finest test-accuracy curve a run holds, and its resolution in words.

    ``/evals`` when the run has points there (test accuracy every K steps on a fixed
    stratified subset), else ``/epochs`` (full test set, once an epoch). The words name the
    group, the spacing in steps (read from the points themselves) and the test set.

    Examples
    --------
    >>> tree = xr.DataTree.from_dict({"/epochs": xr.Dataset(
    ...     {"test_acc": ("epoch", [0.8, 0.9])}, coords={"epoch": [0, 1]})})
    >>> tree.attrs["steps_per_epoch"] = 79
    >>> accuracy_curve(tree)[1]
    'once an epoch (every 79 steps) on the full test set (/epochs; the run has no /evals)'
    """
    if "evals" in tree.children and tree["evals"].to_dataset().sizes.get(EVAL_STEP, 0):
        ev = tree["evals"].to_dataset()
        gaps = np.unique(np.diff(np.r_[0, ev[EVAL_STEP].values.astype(np.int64)]))
        every = f"{gaps[0]}" if len(gaps) == 1 else f"{gaps.min()}-{gaps.max()}"
        size = ev.attrs.get("subset_size", "?")
        return ev, (f"every {every} steps on a fixed stratified subset of {size} test "
                    f"samples (/evals)")
    spe = int(tree.attrs.get("steps_per_epoch", 0) or 0)
    return tree["epochs"].to_dataset(), (f"once an epoch (every {spe} steps) on the full "
                                         f"test set (/epochs; the run has no /evals)")


#: The overlap of two runs' problematic groups: :func:`workbench.verdicts.overlap` (NaN when
#: neither run has one). Kept under this name for back-compatibility.
jaccard = overlap


def nan_reason(dynamics, name: str) -> str:
    """Why the last epoch's ``dynamics`` value ``name`` is NaN, in words.

    Examples
    --------
    >>> ds = xr.Dataset({"integration": ((), np.nan), "n_points": ((), 58)})
    >>> nan_reason(ds, "integration")
    'too few signal points: 58 of 64'
    """
    from .diagnostics.dfa import MIN_POINTS

    n = int(dynamics["n_points"]) if "n_points" in dynamics else None
    need = {"integration": MIN_POINTS, "metastability": 16, "synchrony": 16}.get(name)
    if n is not None and need is not None and n < need:
        return f"too few signal points: {n} of {need}"
    if name in ("metastability", "synchrony") and dynamics.sizes.get(LAYER, 2) < 2:
        return "fewer than 2 layers"
    return str(dynamics[name].attrs.get("nan_when", "not finite"))


def summary(run, *, thresholds=(0.8, 0.85, 0.9)) -> dict:
    """What :func:`compare` reports of one run, as plain values.

    ``damping``: the epoch's word per epoch (its stiffest group, from the measured
    curvature), ``damping_layers``: layer → word at the last epoch (both from
    :func:`~workbench.diagnostics.damping.measured_verdict`), ``paper_regimes``: the paper's
    convention per epoch; ``<name>_why``: why a dynamics value is NaN.
    """
    from .diagnostics.damping import measured_verdict

    ep = run.tree["epochs"].to_dataset()
    spe = int(run.tree.attrs.get("steps_per_epoch", 0))
    curve, resolution = accuracy_curve(run.tree)
    out = {"name": run.path.name, "model": run.config.model,
           "optimizer": run.config.optimizer, "momentum": run.config.momentum,
           "lr": run.config.lr, "label_noise": run.config.label_noise,
           "epochs": int(ep.sizes.get(EPOCH, 0)),
           "final_test_acc": float(ep["test_acc"].values[-1]) if ep.sizes.get(EPOCH) else
           float("nan"),
           "best_test_acc": float(ep["test_acc"].max()) if ep.sizes.get(EPOCH) else
           float("nan")}
    for t in thresholds:
        out[f"steps_to_{t:.0%}"] = steps_to(curve, t, steps_per_epoch=spe)
    out["steps_resolution"] = resolution
    damping = run.analysis("damping")
    if damping is not None and "damping_ratio" in damping:
        answer = measured_verdict(damping.compute())
        out["damping"] = {int(e): str(w) for e, w in zip(answer[EPOCH].values,
                                                        answer["epoch_word"].values,
                                                        strict=True)}
        last = answer.isel({EPOCH: -1})
        out["damping_epoch"] = int(last[EPOCH])
        out["damping_layers"] = {str(n): str(w) for n, w in zip(last[LAYER].values,
                                                               last["word"].values,
                                                               strict=True)}
    if damping is not None and "network_regime" in damping:
        out["paper_regimes"] = {int(e): str(w) for e, w in zip(
            damping[EPOCH].values, damping["network_regime"].values, strict=True)}
    attribution = run.analysis("attribution")
    if attribution is not None and "verdict" in attribution:
        out["problematic"] = problematic(attribution, -1)
        out["inconclusive"] = with_verdict(attribution, INCONCLUSIVE, -1)
    dynamics = run.analysis("dynamics")
    if dynamics is not None:
        last = dynamics.isel({EPOCH: -1})
        for k in ("integration", "metastability"):
            if k in last:
                out[k] = float(last[k])
                if not np.isfinite(out[k]):
                    out[f"{k}_why"] = nan_reason(last, k)
    return out


def md_cell(value) -> str:
    r"""A value as one Markdown table cell: escaped, so text from a run is never markup.

    Examples
    --------
    >>> md_cell("a|b <i>")
    'a\\|b &lt;i&gt;'
    """
    import html

    text = html.escape(str(value), quote=False).replace("\n", " ")
    for ch in "\\`*_[]|#":
        text = text.replace(ch, "\\" + ch)
    return text


def md_table(header, rows) -> list[str]:
    """A Markdown table: one cell per value (each escaped by :func:`md_cell`)."""
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a table row needs {len(header)} cells; got {len(row)}: {row}")
        lines.append("| " + " | ".join(md_cell(c) for c in row) + " |")
    return lines


_LABELS = {"model": "model", "optimizer": "optimizer", "momentum": "momentum",
           "lr": "learning rate", "label_noise": "label noise", "epochs": "epochs",
           "final_test_acc": "final test accuracy", "best_test_acc": "best test accuracy",
           "integration": "DFA integration (last epoch)",
           "metastability": "metastability (last epoch)"}


def compare(runs, *, thresholds=(0.8, 0.85, 0.9)) -> str:
    """A Markdown report of how several runs differ: real tables, one cell per value.

    Accuracy (final and best), optimizer steps to each accuracy threshold, the damping
    regime from the measured curvature (per epoch: the stiffest group; per layer at the last
    epoch; both from :func:`~workbench.diagnostics.damping.measured_verdict`), then the
    paper's convention (λ = 1), the problematic groups with their pairwise overlap
    (:func:`workbench.verdicts.overlap`, said in words when neither run flags a group),
    and the last epoch's DFA integration and metastability. A missing value says why:
    a threshold never reached, too few signal points (with the counts), or the command
    that computes what a run has not analysed yet.
    """
    from .run import Run

    runs = [r if isinstance(r, Run) else Run(r) for r in runs]
    if len(runs) < 2:
        raise ValueError(f"compare needs at least two runs; got {len(runs)}")
    names = run_names(runs)
    rows = [summary(r, thresholds=thresholds) for r in runs]
    todo = "not analysed yet: workbench analyze {}"

    def fmt(r, k, run):
        v = r.get(k)
        if k.startswith("steps_to_"):
            return f"never reached ({r['epochs']} epochs)" if not np.isfinite(v) else f"{v:.0f}"
        if k in ("integration", "metastability"):
            if v is None:
                return todo.format(run.path)
            return f"nan: {r[k + '_why']}" if not np.isfinite(v) else f"{v:.3f}"
        if isinstance(v, float):
            return "nan" if not np.isfinite(v) else (f"{v:.4f}" if abs(v) < 10 else f"{v:g}")
        return str(v)

    keys = ["model", "optimizer", "momentum", "lr", "label_noise", "epochs", "final_test_acc",
            "best_test_acc", *[f"steps_to_{t:.0%}" for t in thresholds], "integration",
            "metastability"]
    body = []
    for k in keys:
        vals = [fmt(r, k, run) for r, run in zip(rows, runs, strict=True)]
        same = {v.replace(str(run.path), "RUN") for v, run in zip(vals, runs, strict=True)}
        label = _LABELS.get(k) or f"steps to {k.removeprefix('steps_to_')} test accuracy"
        body.append([label, *vals, "" if len(same) == 1 else "yes"])
    lines = md_table(["", *names, "differs"], body)
    res = [r["steps_resolution"] for r in rows]
    lines += ["", "Steps to a threshold: the first evaluated step at or above it; test "
              "accuracy measured " + md_cell(res[0] if len(set(res)) == 1 else "; ".join(
                  f"{n}: {r}" for n, r in zip(names, res, strict=True))) + "."]

    lines += ["", "**Damping regime** from the measured curvature, per epoch: the stiffest "
              "group (the largest top Hessian eigenvalue over the groups, each measured on its "
              "own block at the epoch's checkpoint).", ""]
    if all("damping" in r for r in rows):
        epochs = sorted({e for r in rows for e in r["damping"]})
        lines += md_table(["epoch", *names], [
            [e, *[r["damping"].get(e, "not recorded") for r in rows]] for e in epochs])
        layers = list(dict.fromkeys(n for r in rows for n in r["damping_layers"]))
        lines += ["", "Per layer group, at each run's last analysed epoch ("
                  + ", ".join(f"{n} {r['damping_epoch']}" for n, r in zip(names, rows,
                                                                          strict=True))
                  + "):", ""]
        lines += md_table(["layer", *names], [
            [g, *[r["damping_layers"].get(g, "no such group") for r in rows]] for g in layers])
    else:
        lines.append("Not analysed yet: " + "; ".join(
            md_cell(f"workbench analyze {run.path}") for r, run in zip(rows, runs, strict=True)
            if "damping" not in r) + ".")
    if all("paper_regimes" in r for r in rows):
        epochs = sorted({e for r in rows for e in r["paper_regimes"]})
        lines += ["", "For reference, the paper's convention (curvature 1 for the whole "
                  "network; not the answer above):", ""]
        lines += md_table(["epoch", *names], [
            [e, *[r["paper_regimes"].get(e, "not recorded") for r in rows]] for e in epochs])

    lines += ["", "**Problematic groups** at the last analysed epoch:", ""]
    if all("problematic" in r for r in rows):
        lines += md_table(["", *names], [
            ["problematic", *[", ".join(r["problematic"]) or "none" for r in rows]],
            ["inconclusive", *[", ".join(r["inconclusive"]) or "none" for r in rows]]])
        lines += ["", "Overlap of the problematic groups (Jaccard):", ""]
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                a, b = rows[i]["problematic"], rows[j]["problematic"]
                text = ("no group flagged in either run, so there is no overlap to measure"
                        if not a and not b else overlap_text(overlap(a, b)))
                lines.append(f"- {md_cell(names[i])} vs {md_cell(names[j])}: {text}")
    else:
        lines.append("Not analysed yet: " + "; ".join(
            md_cell(f"workbench analyze {run.path}") for r, run in zip(rows, runs, strict=True)
            if "problematic" not in r) + ".")
    return "\n".join(lines)


def tidy(runs, group: str = "epochs"):
    """``Run.to_dataframe(group)`` of every run in one tidy frame, with ``run`` and ``seed``.

    ``run`` is the run's directory name, so the same run trained over seeds
    (``seed0/constant``, ``seed1/constant``) shares one name and seaborn draws their spread.
    Two runs of the same name and seed are refused (their spread would mean nothing).

    Examples
    --------
    >>> tidy(["runs/s0/constant", "runs/s1/constant"]).columns[:3].tolist()  # doctest: +SKIP
    ['epoch', 'train_loss', 'train_acc']
    """
    import pandas as pd

    from .run import Run

    runs = [r if isinstance(r, Run) else Run(r) for r in runs]
    parts, seen = [], {}
    for r in runs:
        key = (r.path.name, int(r.config.seed))
        if key in seen:
            raise ValueError(f"two runs named {key[0]!r} with seed {key[1]}: {seen[key]} and "
                             f"{r.path}; a band over seeds needs one run per seed")
        seen[key] = r.path
        parts.append(r.to_dataframe(group).assign(run=key[0], seed=key[1]))
    return pd.concat(parts, ignore_index=True)


def compare_figure(runs, path=None):
    """Test accuracy and training loss over epochs of several runs (seaborn, seeds as bands).

    Returns the matplotlib Figure (no pyplot); with ``path``, also writes it as PNG.
    """
    from matplotlib.figure import Figure

    from .plots.runs import over_seeds

    frame = tidy(runs)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_a, ax_l = fig.subplots(1, 2)
    over_seeds(frame, "test_acc", ax=ax_a, label="test accuracy")
    over_seeds(frame, "train_loss", ax=ax_l, label="training loss")
    if path is not None:
        fig.savefig(path, dpi=110, format="png")
    return fig


__all__ = ["stack", "compare", "summary", "tidy", "compare_figure", "steps_to",
           "accuracy_curve", "jaccard", "run_names", "md_table", "md_cell", "nan_reason"]
