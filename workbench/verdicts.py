"""The group rules and the overlap of two runs, written once (no torch).

Every surface that shows a problematic group, a surgical fix's choice or the overlap of two
runs (``workbench diagnose``, ``fix``, ``compare``, ``report``, the attribution and compare
views, the presets) calls these functions; the torch code that measures the gradients is
:func:`workbench.probes.attribution.problematic_groups`.

Source: Pasichnyk 2026, "Beta-Scheduling" (arXiv:2603.28921), "diagnosis on misclassified
examples" and "cross-optimizer invariance". The split rule and the share budget are ours.

Examples
--------
>>> import xarray as xr
>>> ds = xr.Dataset({"verdict": (("epoch", "layer"), [["healthy", "problematic"],
...                                                   ["problematic", "problematic"]])},
...                 coords={"epoch": [0, 1], "layer": ["conv", "fc"]})
>>> problematic(ds, 0), problematic(ds, -1)
(['fc'], ['conv', 'fc'])
>>> overlap(problematic(ds, 0), problematic(ds, 1))
0.5
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .dims import EPOCH, LAYER

__all__ = ["VERDICTS", "HEALTHY", "INCONCLUSIVE", "PROBLEMATIC", "CONFIDENT", "SURGICAL_SHARE",
           "two_means_split", "split_verdict", "chosen_groups", "problematic", "with_verdict",
           "overlap", "overlap_text", "NO_OVERLAP", "texts", "verdict_reason"]

#: The three verdicts of a layer group, in order of concern (the compare view's strip order).
VERDICTS = ("healthy", "inconclusive", "problematic")
HEALTHY, INCONCLUSIVE, PROBLEMATIC = VERDICTS
#: Flag frequency at or above which a group is "problematic" (and at or below 1 - this,
#: "healthy"), when the split itself is conclusive.
CONFIDENT = 0.9
#: The most a surgical fix trains by default: a share of the model's parameters (the paper
#: trains 18%; 0.4 is a clear minority and, on the default CNN, fits its largest group).
SURGICAL_SHARE = 0.4
#: What the overlap of two runs says when neither has a problematic group.
NO_OVERLAP = "undefined (neither run has a problematic group)"


def texts(values) -> list[str]:
    """Stored text (fixed-width str, bytes or object) as a flat list of str."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def verdict_reason(verdict: str, flag_frequency: float, *, gap: float, spread: float,
                   confident: float = CONFIDENT) -> str:
    """Why a group got its verdict, in words, from the numbers :func:`split_verdict` gives.

    An "inconclusive" group says which test failed: its flag frequency sits between the
    two bounds, or it is flagged often enough but the split's ``gap`` is within its
    bootstrap ``spread`` (1.96 sd of the gap over the resamples).

    Examples
    --------
    >>> why = verdict_reason("inconclusive", 1.0, gap=0.12, spread=0.31)
    >>> for part in why.split(", but "):
    ...     print(part)
    inconclusive: flagged in 100% of bootstrap resamples
    the split is not conclusive: its gap 0.12 is within the bootstrap spread ±0.31 (1.96 sd)
    >>> verdict_reason("inconclusive", 0.5, gap=1.0, spread=0.2)
    'inconclusive: flagged in 50% of bootstrap resamples, between 10% and 90%'
    >>> verdict_reason("problematic", 0.95, gap=1.0, spread=0.2)
    'problematic: flagged in 95% of bootstrap resamples; gap 1.00 beyond the spread ±0.20'
    """
    freq = (f"flagged in {flag_frequency:.0%} of bootstrap resamples"
            if math.isfinite(flag_frequency) else "no bootstrap flag frequency")
    lo, hi = f"{1 - confident:.0%}", f"{confident:.0%}"
    if verdict == PROBLEMATIC:
        return f"{verdict}: {freq}; gap {gap:.2f} beyond the spread ±{spread:.2f}"
    if verdict == HEALTHY:
        return f"{verdict}: {freq} (at most {lo})"
    if math.isfinite(flag_frequency) and 1 - confident < flag_frequency < confident:
        return f"{verdict}: {freq}, between {lo} and {hi}"
    if not (math.isfinite(gap) and math.isfinite(spread)):
        return (f"{verdict}: {freq}, but the split's gap against its bootstrap spread is "
                f"unknown (gap {gap:.2f}, spread {spread:.2f})")
    return (f"{verdict}: {freq}, but the split is not conclusive: its gap {gap:.2f} is "
            f"within the bootstrap spread ±{spread:.2f} (1.96 sd)")


def two_means_split(values):
    """Exact 1-D two-means: the threshold minimising the within-cluster sum of squares.

    Returns ``(high, threshold)``: a boolean mask of the upper cluster, and the midpoint
    between the two clusters' nearest members. NaN values are never in the upper cluster.
    Degenerate cases (fewer than two finite values, or all equal): no split, ``high`` all
    False and ``threshold`` NaN.

    Examples
    --------
    >>> high, t = two_means_split([0.1, 0.2, 2.0, 2.2])
    >>> high.tolist(), round(t, 2)
    ([False, False, True, True], 1.1)
    """
    v = np.asarray(values, dtype=float)
    high = np.zeros(v.shape, dtype=bool)
    finite = np.isfinite(v)
    x = np.sort(v[finite])
    if len(x) < 2 or np.ptp(x) <= 1e-12 * max(1.0, np.abs(x).max()):
        return high, float("nan")
    best, cut = np.inf, 1
    for k in range(1, len(x)):  # lower cluster x[:k], upper x[k:]
        if x[k] == x[k - 1]:
            continue
        sse = ((x[:k] - x[:k].mean()) ** 2).sum() + ((x[k:] - x[k:].mean()) ** 2).sum()
        if sse < best:
            best, cut = sse, k
    threshold = 0.5 * (x[cut - 1] + x[cut])
    high[finite] = v[finite] > threshold
    return high, float(threshold)


def split_verdict(log_ratio, boot, *, confident=CONFIDENT):
    r"""The problematic-groups rule on log ratios and their bootstrap replicates.

    Parameters
    ----------
    log_ratio : array (groups,)
        Point estimates of each group's log gradient ratio (misclassified / correct).
    boot : array (replicates, groups)
        The same statistic on bootstrap resamples of the examples.
    confident : float
        Flag frequency needed for a confident call (default 0.9).

    Returns
    -------
    dict
        ``flag`` (the point split), ``flag_frequency``, ``verdict`` (``"problematic"`` |
        ``"healthy"`` | ``"inconclusive"``), ``threshold``, ``gap``, ``spread``,
        ``conclusive``.

    Notes
    -----
    The split is exact 1-D two-means (:func:`two_means_split`) on the point log ratios.
    Its ``gap`` is the distance between the lowest flagged and the highest unflagged group;
    its ``spread`` is :math:`1.96\,\mathrm{sd}` of that same difference over the bootstrap
    replicates. The split is conclusive when ``gap > spread`` (the 95% interval of the gap
    excludes zero). Each replicate is split again; a group's ``flag_frequency`` is the
    fraction of replicates that flag it. Verdict: ``"problematic"`` when the split is
    conclusive and the frequency is at least ``confident``; ``"healthy"`` when the frequency
    is at most ``1 - confident``; otherwise ``"inconclusive"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> boot = np.array([3.0, 1.0, 1.1]) + 0.05 * rng.standard_normal((200, 3))
    >>> split_verdict(np.array([3.0, 1.0, 1.1]), boot)["verdict"].tolist()
    ['problematic', 'healthy', 'healthy']
    """
    log_ratio = np.asarray(log_ratio, dtype=float)
    boot = np.asarray(boot, dtype=float)
    flag, threshold = two_means_split(log_ratio)
    flags = np.array([two_means_split(b)[0] for b in boot]) if len(boot) else \
        np.zeros((0, len(log_ratio)), bool)
    freq = flags.mean(0) if len(boot) else np.full(len(log_ratio), np.nan)
    gap = spread = float("nan")
    if flag.any() and (~flag & np.isfinite(log_ratio)).any():
        masked = np.where(np.isfinite(log_ratio), log_ratio, np.nan)
        hi = int(np.nanargmin(np.where(flag, masked, np.nan)))
        lo = int(np.nanargmax(np.where(~flag, masked, np.nan)))
        gap = float(log_ratio[hi] - log_ratio[lo])
        diff = boot[:, hi] - boot[:, lo]
        diff = diff[np.isfinite(diff)]
        spread = float(1.96 * diff.std()) if len(diff) > 1 else float("nan")
    conclusive = bool(np.isfinite(gap) and np.isfinite(spread) and gap > spread)
    verdict = np.full(len(log_ratio), INCONCLUSIVE, dtype="<U12")
    verdict[freq <= 1 - confident] = HEALTHY
    if conclusive:
        verdict[freq >= confident] = PROBLEMATIC
    return {"flag": flag, "flag_frequency": freq, "verdict": verdict, "threshold": threshold,
            "gap": gap, "spread": spread, "conclusive": conclusive}


def _at_epoch(ds: xr.Dataset, epoch: int | None) -> xr.Dataset:
    """One epoch of ``ds`` (``None`` or negative: counted from the last analysed epoch)."""
    if EPOCH not in ds.dims:
        if epoch not in (None, -1):
            raise ValueError(f"epoch {epoch} asked of verdicts without an 'epoch' dim "
                             f"(dims {tuple(ds.dims)})")
        return ds
    have = [int(e) for e in ds[EPOCH].values]
    if not have:
        raise ValueError("no attribution analysed: the 'epoch' dim is empty")
    epoch = -1 if epoch is None else int(epoch)
    if epoch < 0 and -epoch <= len(have):
        return ds.isel({EPOCH: epoch})
    if epoch not in have:
        raise ValueError(f"no attribution analysed for epoch {epoch}; analysed epochs: {have}")
    return ds.sel({EPOCH: epoch})


def with_verdict(ds: xr.Dataset, verdict: str, epoch: int | None = None) -> list[str]:
    """The groups whose stored verdict at ``epoch`` is ``verdict``, in layer order.

    ``ds`` is ``/analysis/attribution`` (epoch, layer) or one epoch of it (layer), or the
    result of :func:`~workbench.probes.attribution.problematic_groups`; ``epoch=None`` or a
    negative number counts from the last analysed epoch.

    Examples
    --------
    >>> ds = xr.Dataset({"verdict": ("layer", ["inconclusive", "healthy"])},
    ...                 coords={"layer": ["conv", "fc"]})
    >>> with_verdict(ds, "inconclusive")
    ['conv']
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}; got {verdict!r}")
    if not isinstance(ds, xr.Dataset) or "verdict" not in ds.variables:
        found = list(ds.data_vars) if isinstance(ds, xr.Dataset) else type(ds).__name__
        raise ValueError(f"verdicts need a Dataset with a 'verdict' variable per layer "
                         f"(/analysis/attribution); got {found}")
    at = _at_epoch(ds, epoch)["verdict"]
    if at.dims != (LAYER,):
        raise ValueError(f"the verdicts of one epoch must have dims ('layer',); got {at.dims}")
    return [str(g) for g, v in zip(at[LAYER].values, texts(at.values), strict=True)
            if v == verdict]


def problematic(ds: xr.Dataset, epoch: int | None = None) -> list[str]:
    """THE problematic groups of a stored attribution at ``epoch``: its verdicts' answer.

    Parameters
    ----------
    ds : Dataset (epoch, layer) or (layer)
        ``Run.analysis("attribution")``, one epoch of it, or
        :func:`~workbench.probes.attribution.problematic_groups`' result.
    epoch : int, optional
        An analysed epoch (``None`` or -1: the last one; negative counts from the end).

    Returns
    -------
    list of str
        In layer order; empty when no group is problematic (all healthy or inconclusive).

    Raises
    ------
    ValueError
        No ``verdict`` variable; ``epoch`` not analysed (the analysed epochs are listed).

    Examples
    --------
    >>> ds = xr.Dataset({"verdict": (("epoch", "layer"), [["healthy", "problematic"]])},
    ...                 coords={"epoch": [3], "layer": ["conv1", "fc"]})
    >>> problematic(ds, 3)
    ['fc']
    """
    return with_verdict(ds, PROBLEMATIC, epoch)


def _as_set(x) -> set[str]:
    """Group names from names, a ``problematic`` flag / verdict DataArray, or a Dataset."""
    if isinstance(x, xr.Dataset):
        return set(problematic(x))
    if isinstance(x, xr.DataArray):
        if x.dims != (LAYER,):
            raise ValueError(f"a DataArray of groups must have dims ('layer',); got {x.dims}")
        flags = x.values if x.dtype == bool else np.asarray(texts(x.values)) == PROBLEMATIC
        return {str(n) for n, f in zip(x[LAYER].values, flags, strict=True) if f}
    if isinstance(x, str):
        raise TypeError(f"overlap takes collections of group names; got the string {x!r}")
    return {str(n) for n in x}


def overlap(a, b) -> float:
    r"""THE overlap of two runs' problematic groups: Jaccard :math:`|A\cap B| / |A\cup B|`.

    Parameters
    ----------
    a, b : iterable of str, xarray.Dataset or DataArray
        Group names; or a stored attribution / :func:`problematic_groups` result (its
        :func:`problematic` groups, the last epoch of an ``epoch`` dim); or a ``problematic``
        flag or ``verdict`` DataArray over ``layer``.

    Returns
    -------
    float
        In [0, 1]: 1 for the same groups, 0 when they share none (so also when one run has
        a problematic group and the other has none). **NaN when neither run has a
        problematic group**: there is nothing to compare, and agreeing on nothing is no
        evidence that the runs blame the same groups, so it is not 1. Shown as
        :data:`NO_OVERLAP` by :func:`overlap_text` (and as ``null`` in JSON).

    Examples
    --------
    >>> overlap(["conv1", "layer2", "layer3"], ["conv1", "layer2"])
    0.6666666666666666
    >>> overlap(["fc"], []), overlap([], [])
    (0.0, nan)
    """
    sa, sb = _as_set(a), _as_set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else float("nan")


def overlap_text(value: float | None, spec: str = ".2f") -> str:
    """An :func:`overlap` as every text surface shows it (NaN or None: :data:`NO_OVERLAP`).

    >>> overlap_text(0.5), overlap_text(float("nan"))
    ('0.50', 'undefined (neither run has a problematic group)')
    """
    if value is None or not math.isfinite(float(value)):
        return NO_OVERLAP
    return format(float(value), spec)


def chosen_groups(ds, *, max_share: float = SURGICAL_SHARE) -> tuple[list[str], str]:
    """The groups a surgical fix trains, from the verdicts of one epoch.

    ``workbench fix --groups auto``, the Fix button of the attribution view and
    ``bench/surgical.py`` all call this one function (through
    :func:`workbench.finetune.fix_run`).

    Parameters
    ----------
    ds : xarray.Dataset (layer)
        :func:`~workbench.probes.attribution.problematic_groups`' result, or one epoch of
        ``/analysis/attribution``: ``verdict``, ``flag_frequency``, ``log_ratio`` and
        ``param_share``.
    max_share : float
        The most of the model's parameters the chosen groups may hold (default
        :data:`SURGICAL_SHARE`); 1 takes every candidate.

    Returns
    -------
    (groups, why)
        ``groups`` in layer order; ``why`` says which case applied.

    Notes
    -----
    The candidates are the ``"problematic"`` groups; if none is problematic, those flagged
    in more than half of the bootstrap replicates; if none, the group with the highest flag
    frequency. They are taken most surely flagged first (flag frequency, then log ratio);
    a candidate that would bring the share of trained parameters above ``max_share`` is
    left out (and named in ``why``), so a fix stays surgical when the rule flags much of
    the model. If even the first candidate holds more than ``max_share`` it is taken
    alone, and ``why`` says so.

    Examples
    --------
    >>> ds = xr.Dataset({"verdict": ("layer", ["problematic", "problematic", "healthy"]),
    ...                  "flag_frequency": ("layer", [1.0, 0.95, 0.0]),
    ...                  "log_ratio": ("layer", [2.0, 1.9, 1.0]),
    ...                  "param_share": ("layer", [0.3, 0.3, 0.4])},
    ...                 coords={"layer": ["conv", "fc1", "fc2"]})
    >>> chosen_groups(ds)[0], chosen_groups(ds, max_share=1.0)[0]
    (['conv'], ['conv', 'fc1'])
    """
    if not 0 < max_share <= 1:
        raise ValueError(f"max_share is a share of the parameters in (0, 1]; got {max_share}")
    missing = [v for v in ("verdict", "flag_frequency", "log_ratio", "param_share")
               if v not in ds.variables]
    if missing:
        raise ValueError(f"chosen_groups needs problematic_groups' result (verdict, "
                         f"flag_frequency, log_ratio, param_share per layer); missing {missing}")
    names = [str(n) for n in ds[LAYER].values]
    freq = np.asarray(ds["flag_frequency"].values, dtype=float).ravel()
    ratio = np.asarray(ds["log_ratio"].values, dtype=float).ravel()
    share = dict(zip(names, np.asarray(ds["param_share"].values, dtype=float).ravel(),
                     strict=True))
    sure = problematic(ds)
    majority = [n for n, f in zip(names, freq, strict=True) if f > 0.5]
    if sure:
        candidates, why = sure, (f"the problematic groups (conclusive split, flag frequency "
                                 f">= {CONFIDENT:g})")
    elif majority:
        candidates, why = majority, ("no conclusive problematic group; took those flagged in "
                                     "more than half of the bootstrap replicates")
    else:
        key = np.nan_to_num(freq, nan=-1.0) * 1e6 + np.nan_to_num(ratio, nan=-1e300)
        candidates, why = [names[int(np.argmax(key))]], ("no group flagged in most replicates; "
                                                        "took the one flagged most often")
    pos = {n: i for i, n in enumerate(names)}
    order = sorted(candidates, key=lambda n: (-np.nan_to_num(freq[pos[n]], nan=-1.0),
                                              -np.nan_to_num(ratio[pos[n]], nan=-1e300)))
    taken, left, total = [], [], 0.0
    for n in order:
        if not taken or total + share[n] <= max_share + 1e-12:
            taken.append(n)
            total += share[n]
        else:
            left.append(n)
    if left:
        why += (f"; left out {', '.join(left)} to train at most {max_share:.0%} of the "
                f"parameters (most surely flagged first)")
    if total > max_share + 1e-12:
        why += (f"; {taken[0]} alone holds {total:.0%} of the parameters, above the "
                f"{max_share:.0%} of a surgical fix")
    return [n for n in names if n in taken], why
