import numpy as np
import pytest
import xarray as xr

from workbench.dims import DimsError, choice, require


@pytest.mark.parametrize("dims, sizes, need, min_size, fragment", [
    (("epoch",), (12,), ["step"], {"step": 64}, "needs a 'step' dim with at least 64 points"),
    (("step",), (12,), ["step"], {"step": 64}, "got dims ('step',) with sizes {'step': 12}"),
    (("step", "layer"), (5, 3), ["layer", "sample"], None, "needs a 'sample' dim; got dims"),
])
def test_require_names_expected_and_found(dims, sizes, need, min_size, fragment):
    x = xr.DataArray(np.zeros(sizes), dims=dims)
    with pytest.raises(DimsError, match="^dfa\\(\\)") as e:
        require(x, "dfa", need, min_size=min_size)
    assert fragment in str(e.value)


def test_require_passes_and_rejects_numpy():
    require(xr.DataArray(np.zeros(70), dims="step"), "dfa", ["step"], min_size={"step": 64})
    with pytest.raises(TypeError, match="xarray.DataArray.*got ndarray"):
        require(np.zeros(70), "dfa", ["step"])


def test_choice_lists_valid_names():
    assert choice("b", ["a", "b"], "thing") == "b"
    with pytest.raises(ValueError, match="unknown thing 'c'; expected one of: a, b"):
        choice("c", ["a", "b"], "thing")
