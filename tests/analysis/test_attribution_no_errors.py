"""An epoch whose test set has no misclassified example (a grokked model is right on all of
it): the attribution analysis stores the groups with NaN numbers, the verdict
"inconclusive" and the reason, instead of failing the whole analysis."""

import functools

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from tests.conftest import GROK_SEED
from workbench import Run
from workbench.analysis.attribution import attribution
from workbench.presets_grokking import SIZES, example
from workbench.verdicts import INCONCLUSIVE, problematic


def test_an_epoch_without_errors_is_stored_with_its_reason(grokking_preset):
    kw = SIZES["tiny"]
    make_model = functools.partial(example("make_model"), p=kw["p"])
    train, test = example("datasets")(kw["p"], kw["frac"], GROK_SEED)
    path = grokking_preset / f"seed{GROK_SEED}"
    model = Run(path, model=make_model, data=(train, test)).model(-1)
    x, y = train.tensors
    with torch.no_grad():
        right = model(x).argmax(-1) == y
    assert right.sum() > 10
    # the "test" set: the training examples the last epoch gets right
    only_right = TensorDataset(x[right], y[right])
    run = Run(path, model=make_model, data=(train, only_right))
    ds = attribution(run, int(run.tree["epochs"]["epoch"].values[-1]))
    assert int(ds["n_misclassified"]) == 0 and int(ds["n_correct"]) == int(right.sum())
    assert set(ds["verdict"].values.tolist()) == {INCONCLUSIVE}
    assert np.isnan(ds["log_ratio"].values).all()
    assert "no misclassified examples" in ds.attrs["reason"]
    assert list(ds["layer"].values) == list(run.groups)
    assert float(ds["param_share"].sum()) == pytest.approx(1.0)
    assert problematic(ds.expand_dims(epoch=[0])) == []
