"""Area under the ROC curve from ranks (Mann-Whitney U), in numpy."""

from __future__ import annotations

import numpy as np


def auc(score, is_positive) -> float:
    """ROC AUC of ``score`` for separating positives from negatives.

    Parameters
    ----------
    score : array-like of float
        One score per item (higher = more likely positive). A DataArray is flattened.
    is_positive : array-like of bool
        Same shape as ``score``.

    Returns
    -------
    float
        ``P(score_pos > score_neg) + ½ P(score_pos = score_neg)`` in [0, 1]; 0.5 is chance.

    Raises
    ------
    ValueError
        On mismatched shapes, NaN scores, or no positives or no negatives.

    Notes
    -----
    Mann-Whitney: with average ranks ``R`` of all scores (ties get the mean rank),
    ``AUC = (Σ_{pos} R − n₊(n₊+1)/2) / (n₊ n₋)``.

    Examples
    --------
    >>> auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    s = np.asarray(score, dtype=float).reshape(-1)
    pos = np.asarray(is_positive).astype(bool).reshape(-1)
    if s.shape != pos.shape:
        raise ValueError(f"auc() needs score and is_positive of the same size; got {s.size} "
                         f"and {pos.size}")
    if np.isnan(s).any():
        raise ValueError(f"auc() needs finite scores; got {int(np.isnan(s).sum())} NaN")
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auc() needs at least one positive and one negative; got "
                         f"{n_pos} positive and {n_neg} negative")
    from scipy.stats import rankdata

    ranks = rankdata(s)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


__all__ = ["auc"]
