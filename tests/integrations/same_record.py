"""Compare the record of a run made through a callback with that of the plain loop."""

from __future__ import annotations

import numpy as np

from workbench import Run

#: Per-step, per-group statistics compared (``signal`` needs a probe, not given here).
LAYER_STATS = ("grad_norm", "weight_norm", "update_norm", "update_cos", "act_mean", "act_std")
STEP_STATS = ("loss", "lr", "momentum", "batch_size")


def assert_same_record(path, plain_path, *, factory, tol=1e-6) -> Run:
    """The two runs hold the same steps, groups and statistics, to ``tol`` (relative and
    absolute). Every statistic is checked to be finite where the plain loop's is (NaN equal
    to NaN would hide a statistic that neither run recorded). Returns the first run."""
    run, plain = Run(path, model=factory), Run(plain_path, model=factory)
    got, want = run.tree["layers"].to_dataset(), plain.tree["layers"].to_dataset()
    assert list(got["layer"].values) == list(want["layer"].values)
    assert got["step"].values.tolist() == want["step"].values.tolist()
    assert run.epochs == plain.epochs
    for name in LAYER_STATS:
        a, b = got[name].values, want[name].values
        first = 1 if name == "update_cos" else 0  # no previous update at the first step
        assert np.isfinite(b[first:]).all(), f"the plain loop recorded no {name}"
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)
    got, want = run.tree["steps"].to_dataset(), plain.tree["steps"].to_dataset()
    for name in STEP_STATS:
        assert np.isfinite(want[name].values.astype(float)).all(), name
        np.testing.assert_allclose(got[name].values, want[name].values, rtol=tol, atol=tol,
                                   err_msg=name)
    assert got["epoch"].values.tolist() == want["epoch"].values.tolist()
    return run
