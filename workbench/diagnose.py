"""A run's verdicts as data and as text: what ``workbench diagnose`` and ``report`` show.

The damping verdict is :func:`workbench.diagnostics.damping.epoch_damping`; the problematic
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

from .verdicts import overlap, overlap_text, problematic

__all__ = ["verdicts", "ensure_analyses", "compare_verdicts", "network_table", "layer_table",
           "group_table", "overlap_line", "fmt", "NETWORK_VERDICT", "LAYER_VERDICT",
           "GROUP_VERDICT"]

NETWORK_VERDICT = ("the paper's network-wide verdict (curvature 1; lr and momentum = median "
                   "over each epoch's steps; critical band |zeta-1| <= 0.05)")
LAYER_VERDICT = ("per layer, from the measured curvature (top Hessian eigenvalue at each "
                 "epoch's checkpoint), with the curvature-free update-cosine signal")
GROUP_VERDICT = ("problematic-groups rule: two-means split of log(grad RMS misclassified / "
                 "correct) on the test set; bootstrap flag frequency; inconclusive when the "
                 "gap is within the bootstrap spread")


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


_DAMPING_VARS = ("lr", "momentum", "critical_momentum", "network_damping_ratio",
                 "network_regime", "curvature", "damping_ratio", "regime", "update_cos_mean",
                 "update_cos_regime", "agrees")


def verdicts(run, *, compute=True, progress=True) -> dict:
    """Every verdict of ``run`` as JSON-ready data (what ``diagnose --json`` prints).

    ``damping.network``: per epoch; ``damping.layers``: per (epoch, layer) with the
    disagreement reason; ``groups``: per layer at the last epoch (verdict, flag frequency,
    log ratio, share of parameters); ``problematic``: the names. With ``compute=False``
    nothing is computed: without stored analyses only the network verdict (from /steps)
    is given.
    """
    from .diagnostics.damping import disagreement_reason, epoch_damping, verdict_records

    if compute:
        ensure_analyses(run, progress=progress)
    if run.analysis("damping") is None or run.analysis("attribution") is None:
        rec = verdict_records(epoch_damping(run.tree["steps"].to_dataset()))
        return {"run": str(run.path),
                "damping": {"network_verdict": NETWORK_VERDICT, **rec}, "groups": None,
                "problematic": None}
    dmp = run.analysis("damping").compute()
    rec = verdict_records(dmp.drop_vars([v for v in dmp.data_vars
                                         if v not in _DAMPING_VARS]))
    for r in rec["layers"]:
        r["why"] = disagreement_reason(r.get("regime", "undefined"),
                                       r.get("update_cos_regime", "undefined"))
    att = run.analysis("attribution").compute()
    last = int(att["epoch"].values[-1])
    a = att.sel(epoch=last)
    groups = []
    for name in a["layer"].values:
        g = a.sel(layer=name)
        groups.append({"layer": str(name), "verdict": str(g["verdict"].values),
                       "flag_frequency": float(g["flag_frequency"]),
                       "log_ratio": float(g["log_ratio"]),
                       "param_share": float(g["param_share"]) if "param_share" in g else None})
    return {
        "run": str(run.path),
        "damping": {"network_verdict": NETWORK_VERDICT, "layer_verdict": LAYER_VERDICT,
                    **rec},
        "groups": {"rule": GROUP_VERDICT, "epoch": last,
                   "n_misclassified": int(a["n_misclassified"]),
                   "n_correct": int(a["n_correct"]), "layers": groups},
        "problematic": problematic(att, last),
    }


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


def network_table(v) -> str:
    lines = [f"damping regime per epoch: {NETWORK_VERDICT}",
             f"  {'epoch':>5} {'lr':>9} {'momentum':>9} {'mu_crit':>8} {'zeta':>7} regime"]
    for r in v["damping"]["network"]:
        lines.append(f"  {r['epoch']:>5} {fmt(r['lr'], '.5f'):>9} {fmt(r['momentum']):>9} "
                     f"{fmt(r['critical_momentum']):>8} "
                     f"{fmt(r['network_damping_ratio']):>7} {r['network_regime']}")
    if all(r["momentum"] is None for r in v["damping"]["network"]):
        lines.append("  (no SGD momentum recorded: an Adam run has no heavy-ball regime)")
    return "\n".join(lines)


def layer_table(v) -> str:
    lines = [f"damping per (epoch, layer): {LAYER_VERDICT}",
             f"  {'epoch':>5} {'layer':<8} {'curvature':>10} {'zeta':>8} {'regime':<12} "
             f"{'cos':>6} {'cos regime':<12} agrees"]
    notes = {}
    for r in v["damping"]["layers"]:
        lines.append(f"  {r['epoch']:>5} {r['layer']:<8} {fmt(r['curvature'], '.4g'):>10} "
                     f"{fmt(r['damping_ratio']):>8} {r['regime']:<12} "
                     f"{fmt(r['update_cos_mean'], '.2f'):>6} {r['update_cos_regime']:<12} "
                     f"{'yes' if r['agrees'] else 'no'}")
        if r["why"]:
            notes.setdefault(r["why"], []).append(f"{r['epoch']}/{r['layer']}")
    for why, where in notes.items():
        lines.append(f"  where they disagree ({', '.join(where)}): {why}")
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
