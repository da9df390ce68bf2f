import numpy as np
import pytest

from workbench.diagnostics.auc import auc


def brute(score, pos):
    wins = 0.0
    for a in score[pos]:
        for b in score[~pos]:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (pos.sum() * (~pos).sum())


@pytest.mark.parametrize("seed", range(5))
def test_matches_pair_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 6, 40).astype(float)  # many ties
    pos = rng.random(40) < 0.3
    pos[0], pos[1] = True, False
    assert auc(score, pos) == pytest.approx(brute(score, pos))


@pytest.mark.parametrize("score, pos, want", [
    ([1, 2, 3, 4], [0, 0, 1, 1], 1.0),
    ([4, 3, 2, 1], [0, 0, 1, 1], 0.0),
    ([1, 1, 1, 1], [0, 1, 0, 1], 0.5),
])
def test_known_values(score, pos, want):
    assert auc(score, pos) == want


def test_errors():
    with pytest.raises(ValueError, match="at least one positive"):
        auc([1, 2], [0, 0])
    with pytest.raises(ValueError, match="same size"):
        auc([1, 2, 3], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        auc([1, np.nan], [0, 1])
