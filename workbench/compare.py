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


def summary(run, *, thresholds=(0.8, 0.85, 0.9)) -> dict:
    """What :func:`compare` reports of one run, as plain values."""
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
    if damping is not None and "network_regime" in damping:
        out["regimes"] = [str(v) for v in damping["network_regime"].values]
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
    return out


def compare(runs, *, thresholds=(0.8, 0.85, 0.9)) -> str:
    """A text report of how several runs differ.

    Accuracy (final and best), optimizer steps to each accuracy threshold, the network-wide
    damping regime per epoch, problematic groups with their pairwise overlap
    (:func:`workbench.verdicts.overlap`: Jaccard, undefined when neither run has a
    problematic group), and the last epoch's DFA integration and metastability. What a run
    has not analysed yet is shown as ``-`` with the command that fills it.
    """
    from .run import Run

    runs = [r if isinstance(r, Run) else Run(r) for r in runs]
    if len(runs) < 2:
        raise ValueError(f"compare needs at least two runs; got {len(runs)}")
    names = run_names(runs)
    rows = [summary(r, thresholds=thresholds) for r in runs]
    width = max(12, *(len(n) for n in names))

    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return "-" if not np.isfinite(v) else (f"{v:.4f}" if abs(v) < 10 else f"{v:.0f}")
        if isinstance(v, (list, tuple)):
            return ",".join(map(str, v)) or "(none)"
        return str(v)

    keys = ["model", "optimizer", "momentum", "lr", "label_noise", "epochs", "final_test_acc",
            "best_test_acc", *[f"steps_to_{t:.0%}" for t in thresholds], "regimes",
            "problematic", "inconclusive", "integration", "metastability"]
    lines = [f"{'':<18}" + "".join(f"{n:>{width + 2}}" for n in names)]
    for k in keys:
        vals = [fmt(r.get(k)) for r in rows]
        mark = "  " if len(set(vals)) == 1 else " *"
        lines.append(f"{k:<16}{mark}" + "".join(f"{v:>{width + 2}}" for v in vals))
    lines.append("(* = differs between the runs; '-' = not recorded or not analysed yet: "
                 "run 'workbench analyze RUN')")
    res = [r["steps_resolution"] for r in rows]
    lines.append("steps_to: the first evaluated step at or above the threshold; test accuracy "
                 "measured " + (res[0] if len(set(res)) == 1 else "; ".join(
                     f"{n}: {r}" for n, r in zip(names, res, strict=True))))
    if all("problematic" in r for r in rows):
        lines.append("problematic groups, Jaccard overlap:")
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                value = overlap(rows[i]["problematic"], rows[j]["problematic"])
                lines.append(f"  {names[i]} vs {names[j]}: {overlap_text(value)}")
    return "\n".join(lines)


__all__ = ["stack", "compare", "summary", "steps_to", "accuracy_curve", "jaccard",
           "run_names"]
