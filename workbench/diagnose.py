"""A run's verdicts as data and as text: what ``workbench diagnose`` and ``report`` show.

The damping answer is :func:`workbench.diagnostics.damping.measured_verdict` of the run's
``damping`` analysis (the paper's convention follows it, labelled); the problematic
groups are :func:`workbench.verdicts.problematic` of the run's ``attribution`` analysis; the
overlap of two runs is :func:`workbench.verdicts.overlap`. The missing epochs of those
analyses are computed first (:func:`ensure_analyses`, with a progress bar) and stored.

Examples
--------
>>> from workbench import Run
>>> v = verdicts(Run("runs/demo"))                          # doctest: +SKIP
>>> print(group_table(v, "problematic groups"))             # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from .diagnostics.damping import COS_READING, EPOCH_VERDICT, PAPER_VERDICT
from .diagnostics.damping import LAYER_VERDICT as _LAYER
from .verdicts import overlap, overlap_text, problematic

__all__ = ["verdicts", "ensure_analyses", "compare_verdicts", "damping_table", "network_table",
           "layer_table", "group_table", "overlap_line", "fmt", "NETWORK_VERDICT",
           "LAYER_VERDICT", "GROUP_VERDICT"]

NETWORK_VERDICT = PAPER_VERDICT + "; critical band |zeta-1| <= 0.05"
LAYER_VERDICT = _LAYER + "; beside it the update cosine, measured, against its expected value"
GROUP_VERDICT = ("problematic-groups rule: two-means split of log(grad RMS misclassified / "
                 "correct) on the test set; bootstrap flag frequency; inconclusive when the "
                 "gap is within the bootstrap spread")
#: Why the per-layer damping is missing (nothing was analysed).
NOT_ANALYSED = "not analysed yet: run 'workbench analyze {run}' (or 'workbench diagnose {run}')"


def fmt(v, spec=".3f") -> str:
    """A number as the tables print it (``"nan"`` when not finite; text as given)."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "nan" if not np.isfinite(v) else format(v, spec)


def ensure_analyses(run, names=("damping", "attribution"), *, epochs=None,
                    progress=True):
    """Compute the missing epochs of ``names`` (stored in the run); return the run."""
    from .analysis import analyze

    missing = [n for n in names
               if set(run.epochs if epochs is None else epochs) - set(run.analysed_epochs(n))]
    if missing:
        analyze(run, only=missing, epochs=epochs, progress=progress)
        run.refresh()
    return run


def damping_verdicts(run) -> dict:
    """The damping part of :func:`verdicts` (``v["damping"]``), from the stored analysis.

    ``epochs`` and ``layers``: the answer (:func:`~workbench.diagnostics.damping.
    measured_verdict`); ``paper``: the paper's convention, second. Without a stored
    ``damping`` analysis, ``epochs`` and ``layers`` are empty and ``missing`` says why.
    """
    from .diagnostics.damping import epoch_damping, verdict_records

    dmp = run.analysis("damping")
    if dmp is None:
        rec = verdict_records(epoch_damping(run.tree["steps"].to_dataset()))
        missing = NOT_ANALYSED.format(run=run.path)
    else:
        rec, missing = verdict_records(dmp.compute()), None
    return {"verdict": EPOCH_VERDICT, "layer_verdict": LAYER_VERDICT,
            "update_cos": COS_READING, "epochs": rec["epochs"], "layers": rec["layers"],
            "missing": missing,
            "paper": {"verdict": NETWORK_VERDICT, "epochs": rec["paper"]}}


def verdicts(run, *, compute=True, progress=True) -> dict:
    """Every verdict of ``run`` as JSON-ready data (what ``diagnose --json`` prints).

    ``damping``: :func:`damping_verdicts` (the answer per epoch and per (epoch, layer), then
    the paper's convention); ``groups``: per layer at the last epoch (verdict, flag
    frequency, log ratio, share of parameters); ``problematic``: the names. With
    ``compute=False`` nothing is computed: what is not stored is ``None`` or empty, and
    ``damping.missing`` says what to run.
    """
    if compute:
        ensure_analyses(run, progress=progress)
    out = {"run": str(run.path), "damping": damping_verdicts(run), "groups": None,
           "problematic": None}
    att = run.analysis("attribution")
    if att is None:
        return out
    att = att.compute()
    last = int(att["epoch"].values[-1])
    a = att.sel(epoch=last)
    groups = []
    for name in a["layer"].values:
        g = a.sel(layer=name)
        groups.append({"layer": str(name), "verdict": str(g["verdict"].values),
                       "flag_frequency": float(g["flag_frequency"]),
                       "log_ratio": float(g["log_ratio"]),
                       "param_share": float(g["param_share"]) if "param_share" in g else None})
    out["groups"] = {"rule": GROUP_VERDICT, "epoch": last,
                     "n_misclassified": int(a["n_misclassified"]),
                     "n_correct": int(a["n_correct"]), "layers": groups}
    out["problematic"] = problematic(att, last)
    return out


def compare_verdicts(v: dict, other: dict) -> dict:
    """``v["compare"]``: the other run's problematic groups and the :func:`overlap`.

    ``jaccard`` is the overlap, ``None`` (JSON ``null``) where it is undefined (neither run
    has a problematic group, or a run has no attribution analysis); ``overlap`` is its text.
    """
    if v["problematic"] is None or other["problematic"] is None:
        value, text = None, "undefined (a run has no attribution analysis)"
    else:
        o = overlap(v["problematic"], other["problematic"])
        value, text = (o if np.isfinite(o) else None), overlap_text(o)
    return {"run": other["run"], "problematic": other["problematic"], "jaccard": value,
            "overlap": text}


def overlap_line(v: dict) -> str:
    """The overlap line of ``diagnose --compare`` (``v`` with :func:`compare_verdicts`)."""
    return f"overlap (Jaccard) of problematic groups: {v['compare']['overlap']}"


def damping_table(v) -> str:
    """The answer per epoch: the regime of the stiffest group (first in every text)."""
    d = v["damping"]
    if not d["epochs"]:
        return f"damping regime per epoch, {EPOCH_VERDICT}:\n  {d['missing']}"
    lines = [f"damping regime per epoch, {EPOCH_VERDICT}",
             f"  {'epoch':>5} {'lr':>9} {'momentum':>9} {'stiffest':<8} {'lambda_max':>10} "
             f"{'zeta':>7} regime"]
    for r in d["epochs"]:
        lines.append(f"  {r['epoch']:>5} {fmt(r.get('lr'), '.5f'):>9} "
                     f"{fmt(r.get('momentum')):>9} {r['layer'] or '-':<8} "
                     f"{fmt(r['curvature'], '.4g'):>10} {fmt(r['damping_ratio']):>7} "
                     f"{r['regime']}")
    return "\n".join(lines)


def network_table(v) -> str:
    """The paper's convention per epoch (curvature 1), labelled as such: second place."""
    lines = [f"for reference, {NETWORK_VERDICT} (not the answer above)",
             f"  {'epoch':>5} {'lr':>9} {'momentum':>9} {'mu_crit':>8} {'zeta':>7} regime"]
    paper = v["damping"]["paper"]["epochs"]
    for r in paper:
        lines.append(f"  {r['epoch']:>5} {fmt(r['lr'], '.5f'):>9} {fmt(r['momentum']):>9} "
                     f"{fmt(r['critical_momentum']):>8} "
                     f"{fmt(r['network_damping_ratio']):>7} {r['network_regime']}")
    if all(r["momentum"] is None for r in paper):
        lines.append("  (no SGD momentum recorded: an Adam run has no heavy-ball regime)")
    return "\n".join(lines)


def _cos_range(r) -> str:
    """The expected update cosine of a group: from its stiffest direction to a flat one."""
    lo, hi = r.get("update_cos_expected"), r.get("momentum")
    if lo is None or hi is None:
        return "-"
    return f"{lo:.2f} to {hi:.2f}"


def layer_table(v) -> str:
    """The answer per (epoch, layer), with the update cosine as a measured quantity."""
    d = v["damping"]
    if not d["layers"]:
        return f"damping per (epoch, layer), {_LAYER}:\n  {d['missing']}"
    mu = {r["epoch"]: r.get("momentum") for r in d["epochs"]}
    lines = [f"damping per (epoch, layer), {LAYER_VERDICT}",
             f"  {'epoch':>5} {'layer':<8} {'curvature':>10} {'zeta':>8} {'regime':<12} "
             f"{'cos':>6}  cos expected (stiffest to flat direction)"]
    for r in d["layers"]:
        cos = fmt(r.get("update_cos_mean"), ".2f") if "update_cos_mean" in r else "-"
        lines.append(f"  {r['epoch']:>5} {r['layer']:<8} {fmt(r['curvature'], '.4g'):>10} "
                     f"{fmt(r['damping_ratio']):>8} {r['regime']:<12} {cos:>6}  "
                     f"{_cos_range({**r, 'momentum': mu.get(r['epoch'])})}")
    lines.append(f"  {COS_READING}")
    if any(r["curvature"] is None for r in d["layers"]):
        lines.append("  (curvature nan: not measured for that group, e.g. no trainable "
                     "parameters or curvature_iters = 0; its regime is undefined)")
    return "\n".join(lines)


def group_table(v, title) -> str:
    g = v["groups"]
    lines = [f"{title}, epoch {g['epoch']}: {g['n_misclassified']} misclassified, "
             f"{g['n_correct']} correct test examples; {GROUP_VERDICT}",
             f"  {'layer':<8} {'log ratio':>9} {'flag freq':>9} {'params':>7}  verdict"]
    for r in g["layers"]:
        lines.append(f"  {r['layer']:<8} {fmt(r['log_ratio']):>9} "
                     f"{fmt(r['flag_frequency'], '.2f'):>9} "
                     f"{fmt(r['param_share'], '.0%'):>7}  {r['verdict']}")
    lines.append(f"problematic groups: {', '.join(v['problematic']) or '(none conclusive)'}")
    return "\n".join(lines)
