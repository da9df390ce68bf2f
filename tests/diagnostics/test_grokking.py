import numpy as np
import pytest
import xarray as xr

from workbench.diagnostics import grokking_phases, plateau_departure
from workbench.dims import DimsError


def curves(train, test, epochs=None):
    e = {"epoch": np.arange(len(train)) * 25 if epochs is None else epochs}
    return (xr.DataArray(np.asarray(train, float), dims="epoch", coords=e),
            xr.DataArray(np.asarray(test, float), dims="epoch", coords=e))


def brute_label(a, b, memorised_before=False):
    """The docstring's rules, one point at a time (``memorised_before``: an earlier point
    had train >= 0.99 with test measured)."""
    if np.isnan(a) or np.isnan(b):
        return "unknown"
    if b >= 0.95:
        return "generalising"
    if a < 0.99 and not memorised_before:
        return "memorising"
    return "plateau" if b < 0.5 else "transition"


def brute_labels(a, b):
    out, seen = [], False
    for x, y in zip(a, b, strict=True):
        seen = seen or (x >= 0.99 and not np.isnan(y))
        out.append(brute_label(x, y, seen))
    return out


def test_memorise_plateau_generalise():
    train, test = curves([0.1, 0.6, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0],
                         [0.01, 0.02, 0.03, 0.05, 0.2, 0.6, 0.94, 0.97])
    ph = grokking_phases(train, test)
    assert ph.values.tolist() == ["memorising"] * 2 + ["plateau"] * 3 + ["transition"] * 2 + \
        ["generalising"]
    assert ph.attrs["grokked"] is True
    assert ph.attrs["memorised_at"] == 50 and ph.attrs["generalised_at"] == 175
    assert ph.attrs["test_at_memorised"] == pytest.approx(0.03)
    assert ph["epoch"].values.tolist() == train["epoch"].values.tolist()


def test_never_groks():
    train, test = curves([0.2, 1.0, 1.0, 1.0], [0.01, 0.02, 0.05, 0.3])
    ph = grokking_phases(train, test)
    assert ph.values.tolist() == ["memorising", "plateau", "plateau", "plateau"]
    assert ph.attrs["grokked"] is False
    assert "did not generalise" in ph.attrs["reason"] and "0.300" in ph.attrs["reason"]
    assert ph.attrs["generalised_at"] is None


def test_never_memorises():
    train, test = curves([0.2, 0.5, 0.9], [0.1, 0.1, 0.1])
    ph = grokking_phases(train, test)
    assert set(ph.values.tolist()) == {"memorising"}
    assert ph.attrs["grokked"] is False and "never reached" in ph.attrs["reason"]
    assert ph.attrs["memorised_at"] is None and ph.attrs["test_at_memorised"] is None


def test_generalises_without_plateau():
    train, test = curves([0.3, 0.8, 1.0, 1.0], [0.2, 0.7, 0.9, 0.99])
    ph = grokking_phases(train, test)
    assert "plateau" not in ph.values.tolist()
    assert ph.values.tolist() == ["memorising", "memorising", "transition", "generalising"]
    assert ph.attrs["grokked"] is False and "no plateau" in ph.attrs["reason"]


def test_nan_epochs_are_unknown_and_skipped_by_the_verdict():
    train, test = curves([0.3, np.nan, 1.0, 1.0, 1.0, 1.0],
                         [0.01, 0.02, np.nan, 0.03, 0.98, np.nan])
    ph = grokking_phases(train, test)
    assert ph.values.tolist() == ["memorising", "unknown", "unknown", "plateau",
                                  "generalising", "unknown"]
    # the first memorised point with a test accuracy is epoch 75; the last measured is 100
    assert ph.attrs["memorised_at"] == 75 and ph.attrs["grokked"] is True


def test_all_nan():
    train, test = curves([np.nan] * 3, [np.nan] * 3)
    ph = grokking_phases(train, test)
    assert set(ph.values.tolist()) == {"unknown"} and ph.attrs["grokked"] is False


def test_a_dip_of_train_accuracy_after_memorising_stays_in_the_plateau():
    """Full-batch AdamW spikes: train accuracy dips below 99% in the plateau and after the
    jump. The run does not go back to memorising; the test accuracy says where it is."""
    train, test = curves([0.5, 1.0, 0.97, 1.0, 1.0, 0.9, 1.0, 0.98],
                         [0.01, 0.02, 0.03, 0.04, 0.7, 0.6, 0.99, 0.97])
    ph = grokking_phases(train, test)
    assert ph.values.tolist() == ["memorising", "plateau", "plateau", "plateau", "transition",
                                  "transition", "generalising", "generalising"]
    assert ph.attrs["grokked"] and ph.attrs["memorised_at"] == 25


@pytest.mark.parametrize("seed", range(4))
def test_labels_match_the_rules_point_by_point(seed):
    rng = np.random.default_rng(seed)
    a = rng.choice([0.5, 0.99, 1.0, np.nan], 40)
    b = rng.choice([0.0, 0.49, 0.5, 0.94, 0.95, 1.0, np.nan], 40)
    train, test = curves(a, b)
    want = brute_labels(a, b)
    assert grokking_phases(train, test).values.tolist() == want


def test_thresholds_are_parameters():
    train, test = curves([0.9, 0.9], [0.3, 0.8])
    ph = grokking_phases(train, test, memorised=0.9, plateau_below=0.4, generalised=0.8)
    assert ph.values.tolist() == ["plateau", "generalising"] and ph.attrs["grokked"]


def test_other_dim_name():
    train = xr.DataArray([0.5, 1.0, 1.0], dims="step")
    test = xr.DataArray([0.0, 0.0, 1.0], dims="step")
    ph = grokking_phases(train, test, dim="step")
    assert ph.dims == ("step",) and ph.attrs["memorised_at"] == 1


def test_missing_dim():
    train, test = curves([0.5, 1.0], [0.0, 0.0])
    with pytest.raises(DimsError, match="needs a 'step' dim"):
        grokking_phases(train, test, dim="step")


def test_mismatched_coords():
    train, _ = curves([0.5, 1.0], [0.0, 0.0])
    _, test = curves([0.5, 1.0], [0.0, 0.0], epochs=[0, 30])
    with pytest.raises(DimsError, match="same 'epoch' coords"):
        grokking_phases(train, test)


def test_mismatched_length():
    train, _ = curves([0.5, 1.0], [0.0, 0.0])
    _, test = curves([0.5, 1.0, 1.0], [0.0, 0.0, 0.0])
    with pytest.raises(DimsError, match="same length"):
        grokking_phases(train, test)


def test_percent_instead_of_fraction():
    train, test = curves([50.0, 100.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\].*percent"):
        grokking_phases(train, test)


def test_two_dims_refused():
    x = xr.DataArray(np.zeros((2, 3)), dims=("epoch", "seed"))
    with pytest.raises(DimsError, match="single dim 'epoch'"):
        grokking_phases(x, x)


def test_not_a_dataarray():
    with pytest.raises(TypeError, match="DataArray"):
        grokking_phases([0.5, 1.0], [0.0, 0.0])


# ---------------------------------------------------------------- plateau_departure


def brute_departure(x, n_base, k, persist):
    base = x[:n_base]
    m = np.median(base)
    h = k * 1.4826 * np.median(np.abs(base - m))
    for i in range(n_base, len(x) - persist + 1):
        if all(abs(x[j] - m) > h for j in range(i, i + persist)):
            return i
    return None


@pytest.mark.parametrize("seed", range(6))
def test_departure_matches_a_loop(seed):
    rng = np.random.default_rng(seed)
    n, jump = 120, int(rng.integers(50, 100))
    x = rng.normal(0.0, 0.1, n)
    x[jump:] += np.linspace(0.0, 2.0, n - jump)          # a drift away from the plateau
    da = xr.DataArray(x, dims="epoch", coords={"epoch": np.arange(n) * 10})
    out = plateau_departure(da, baseline=slice(0, 390))   # the first 40 points (inclusive)
    want = brute_departure(x, 40, 3.0, 3)
    assert want is not None and want >= jump              # noise alone rarely leaves the band
    assert float(out["departure"]) == want * 10
    assert float(out["center"]) == pytest.approx(np.median(x[:40]))


def test_departure_keeps_other_dims_and_nan_when_flat():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.1, (60, 2))
    x[45:, 1] += 5.0                                      # only layer "b" moves
    da = xr.DataArray(x, dims=("epoch", "layer"), coords={"layer": ["a", "b"]})
    out = plateau_departure(da, baseline=slice(0, 19))
    assert out["departure"].dims == ("layer",)
    assert np.isnan(float(out["departure"].sel(layer="a")))
    want = brute_departure(x[:, 1], 20, 3.0, 3)                  # positions 0..19 inclusive
    assert want in (43, 44, 45)            # 45, or a noise point just before it (seed 0: 44)
    assert float(out["departure"].sel(layer="b")) == want


def test_single_outlier_is_not_a_departure():
    x = np.r_[np.tile([1.0, 1.1, 0.9], 5), 9.0, np.tile([1.0, 1.1, 0.9], 3)]
    da = xr.DataArray(x, dims="epoch", coords={"epoch": np.arange(len(x))})
    assert np.isnan(float(plateau_departure(da, baseline=slice(0, 14))["departure"]))
    assert float(plateau_departure(da, baseline=slice(0, 14), persist=1)["departure"]) == 15


def test_departure_needs_a_baseline():
    da = xr.DataArray(np.arange(10.0), dims="epoch", coords={"epoch": np.arange(10)})
    with pytest.raises(DimsError, match="at least 3 finite points in the baseline"):
        plateau_departure(da, baseline=slice(0, 1))
