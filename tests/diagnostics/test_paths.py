import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from workbench.diagnostics.paths import path_length, path_ratio, probabilities, zigzag
from workbench.dims import DimsError


def da(paths):
    """paths: list over samples of (T, L) arrays -> (epoch, sample, label)."""
    return xr.DataArray(np.stack(paths, axis=1), dims=("epoch", "sample", "label"))


def straight(start, end, ts):
    start, end = np.asarray(start, float), np.asarray(end, float)
    return np.stack([start + t * (end - start) for t in ts])


def test_straight_path_has_ratio_one_and_no_zigzag():
    # uneven speed, still straight; heading to class 1 from uniform
    p = da([straight([1 / 3] * 3, [0.05, 0.9, 0.05], [0, 0.1, 0.15, 0.7, 1.0])])
    assert_allclose(path_ratio(p).values, [1.0])
    assert_allclose(path_length(p).values, np.linalg.norm([1 / 3 - 0.05, 0.9 - 1 / 3,
                                                           1 / 3 - 0.05]))
    assert_allclose(zigzag(p).values, [0.0])


def test_detour_path_known_score_and_ratio():
    # uniform -> towards class 0 (0.7) -> class 2
    pts = np.array([[1 / 3, 1 / 3, 1 / 3], [0.7, 0.15, 0.15], [0.4, 0.1, 0.5],
                    [0.1, 0.05, 0.85]])
    p = da([pts])
    assert_allclose(zigzag(p).values, [0.7 - 1 / 3])
    # brute-force length and ratio
    steps = sum(np.linalg.norm(pts[t + 1] - pts[t]) for t in range(3))
    assert_allclose(path_length(p).values, [steps])
    assert_allclose(path_ratio(p).values, [steps / np.linalg.norm(pts[-1] - pts[0])])
    # the detour after convergence does not count: class 2 is arg-max from t=2 on
    pts2 = np.array([[1 / 3, 1 / 3, 1 / 3], [0.3, 0.2, 0.5], [0.45, 0.05, 0.5],
                     [0.1, 0.05, 0.85]])
    assert_allclose(zigzag(da([pts2])).values, [0.0])


def test_zigzag_with_given_labels_and_brute_force_loop():
    rng = np.random.default_rng(0)
    p = xr.DataArray(rng.dirichlet(np.ones(4), size=(6, 20)), dims=("epoch", "sample", "label"))
    labels = xr.DataArray(rng.integers(0, 4, 20), dims="sample")
    got = zigzag(p, labels=labels).values
    for s in range(20):
        q, r = p.values[:, s], int(labels.values[s])
        t_conv = 5
        for t in range(6):
            if all(q[k].argmax() == r for k in range(t, 6)):
                t_conv = t
                break
        best = 0.0
        for t in range(t_conv + 1):
            for c in range(4):
                if c != r:
                    best = max(best, q[t, c] - q[0, c])
        assert got[s] == pytest.approx(best)


def test_probabilities_softmax_and_lazy_equals_eager():
    rng = np.random.default_rng(1)
    z = xr.DataArray(rng.normal(size=(5, 12, 3)) * 3, dims=("epoch", "sample", "label"))
    p = probabilities(z)
    e = np.exp(z.values)
    assert_allclose(p.values, e / e.sum(-1, keepdims=True))
    lazy = z.chunk({"sample": 4})
    for fn in (path_length, path_ratio, zigzag):
        out = fn(probabilities(lazy))
        assert out.chunks is not None
        assert_allclose(out.compute().values, fn(p).values)


def test_errors():
    x = xr.DataArray(np.zeros((3, 2)), dims=("step", "label"))
    with pytest.raises(DimsError, match="path_length\\(\\) needs a 'epoch' dim"):
        path_length(x)
    assert path_length(x, dim="step").dims == ()
    with pytest.raises(TypeError, match="labels"):
        zigzag(x, dim="step", labels=np.array(1))
    assert np.isnan(path_ratio(x, dim="step").item())
