"""``workbench diagnose RUN [--compare RUN2] [--json]``: the run's verdicts.

The damping verdict is :func:`workbench.diagnostics.damping.epoch_damping` and the
problematic groups are :func:`workbench.probes.attribution.problematic_groups`, read from
the run's ``damping`` and ``attribution`` analyses (the missing epochs are computed first,
with a progress bar, and stored).
"""

from __future__ import annotations

import json

import numpy as np

NETWORK_VERDICT = ("the paper's network-wide verdict (curvature 1; lr and momentum = median "
                   "over each epoch's steps; critical band |zeta-1| <= 0.05)")
LAYER_VERDICT = ("per layer, from the measured curvature (top Hessian eigenvalue at each "
                 "epoch's checkpoint), with the curvature-free update-cosine signal")
GROUP_VERDICT = ("problematic-groups rule: two-means split of log(grad RMS misclassified / "
                 "correct) on the test set; bootstrap flag frequency; inconclusive when the "
                 "gap is within the bootstrap spread")


def _fmt(v, spec=".3f"):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "nan" if not np.isfinite(v) else format(v, spec)


def ensure_analyses(run, names=("damping", "attribution"), *, epochs=None,
                    progress=True):
    """Compute the missing epochs of ``names`` (stored in the run); return the run."""
    from ..analysis import analyze

    missing = [n for n in names
               if set(run.epochs if epochs is None else epochs) - set(run.analysed_epochs(n))]
    if missing:
        analyze(run, only=missing, epochs=epochs, progress=progress)
        run.refresh()
    return run


def verdicts(run, *, compute=True, progress=True) -> dict:
    """Every verdict of ``run`` as JSON-ready data (what ``diagnose --json`` prints).

    ``damping.network``: per epoch; ``damping.layers``: per (epoch, layer) with the
    disagreement reason; ``groups``: per layer at the last epoch (verdict, flag frequency,
    log ratio, share of parameters); ``problematic``: the names. With ``compute=False``
    nothing is computed: without stored analyses only the network verdict (from /steps)
    is given.
    """
    from ..diagnostics.damping import disagreement_reason, epoch_damping, verdict_records

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
        "problematic": [g["layer"] for g in groups if g["verdict"] == "problematic"],
    }


_DAMPING_VARS = ("lr", "momentum", "critical_momentum", "network_damping_ratio",
                 "network_regime", "curvature", "damping_ratio", "regime", "update_cos_mean",
                 "update_cos_regime", "agrees")


def network_table(v) -> str:
    lines = [f"damping regime per epoch: {NETWORK_VERDICT}",
             f"  {'epoch':>5} {'lr':>9} {'momentum':>9} {'mu_crit':>8} {'zeta':>7} regime"]
    for r in v["damping"]["network"]:
        lines.append(f"  {r['epoch']:>5} {_fmt(r['lr'], '.5f'):>9} {_fmt(r['momentum']):>9} "
                     f"{_fmt(r['critical_momentum']):>8} "
                     f"{_fmt(r['network_damping_ratio']):>7} {r['network_regime']}")
    if all(r["momentum"] is None for r in v["damping"]["network"]):
        lines.append("  (no SGD momentum recorded: an Adam run has no heavy-ball regime)")
    return "\n".join(lines)


def layer_table(v) -> str:
    lines = [f"damping per (epoch, layer): {LAYER_VERDICT}",
             f"  {'epoch':>5} {'layer':<8} {'curvature':>10} {'zeta':>8} {'regime':<12} "
             f"{'cos':>6} {'cos regime':<12} agrees"]
    notes = {}
    for r in v["damping"]["layers"]:
        lines.append(f"  {r['epoch']:>5} {r['layer']:<8} {_fmt(r['curvature'], '.4g'):>10} "
                     f"{_fmt(r['damping_ratio']):>8} {r['regime']:<12} "
                     f"{_fmt(r['update_cos_mean'], '.2f'):>6} {r['update_cos_regime']:<12} "
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
        lines.append(f"  {r['layer']:<8} {_fmt(r['log_ratio']):>9} "
                     f"{_fmt(r['flag_frequency'], '.2f'):>9} "
                     f"{_fmt(r['param_share'], '.0%'):>7}  {r['verdict']}")
    lines.append(f"problematic groups: {', '.join(v['problematic']) or '(none conclusive)'}")
    return "\n".join(lines)


def run(args) -> int:
    from ..probes.attribution import problematic_overlap
    from ..run import Run

    progress = not args.json
    v = verdicts(Run(args.run), progress=progress)
    other = verdicts(Run(args.compare), progress=progress) if args.compare else None
    if other is not None:
        overlap = problematic_overlap(v["problematic"], other["problematic"])
        v["compare"] = {"run": other["run"], "problematic": other["problematic"],
                        "jaccard": None if not np.isfinite(overlap) else overlap}
    if args.json:
        print(json.dumps(v, indent=1))
        return 0
    print(network_table(v))
    print()
    print(layer_table(v))
    print()
    print(group_table(v, f"problematic groups of {args.run}"))
    if other is not None:
        print()
        print(group_table(other, f"problematic groups of {args.compare}"))
        print(f"overlap (Jaccard) of problematic groups: "
              f"{_fmt(v['compare']['jaccard'], '.2f')}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("diagnose", help="damping verdicts and problematic layer groups",
                       description="Print the run's damping verdicts (the paper's network-wide "
                                   "one per epoch; per (epoch, layer) from the measured "
                                   "curvature, against the update-cosine signal) and its "
                                   "problematic layer groups with their bootstrap flag "
                                   "frequencies. Reads the run's damping and attribution "
                                   "analyses, computing (and storing) missing epochs first.")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.add_argument("--compare", default=None,
                   help="a second run (e.g. trained with Adam): report the overlap of the "
                        "problematic groups")
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    p.set_defaults(func=run)
