"""``watch`` with ``optimizer.step(closure)`` (how Lightning steps) and with metrics whose
names or presence change between epochs (Lightning's ``val/loss``, a validation every other
epoch)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import workbench
from workbench import Run


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


@pytest.mark.parametrize("how", ["keyword", "positional"])
def test_closure_step_records_the_gradients_the_step_uses(tmp_path, how):
    """The gradients exist only once the closure has run inside ``step``: the recorded
    grad_norm is that of the (clipped) gradients the step used, computed by hand here."""
    model = _net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(24, 5, generator=g), torch.randint(0, 3, (24,), generator=g)
    seen = []  # per step: (group 0 norm, group 2 norm) of the gradients after clipping

    def closure_for(xb, yb):
        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.05)  # binds: norms differ
            seen.append([torch.cat([p.grad.reshape(-1) for p in m.parameters()]).norm().item()
                         for m in (model[0], model[2])])
            rec.log(loss=loss)
            return loss
        return closure

    with workbench.watch(model, opt, tmp_path / "run", progress=False) as rec:
        for i in range(0, 24, 6):
            closure = closure_for(x[i:i + 6], y[i:i + 6])
            opt.step(closure=closure) if how == "keyword" else opt.step(closure)
        rec.end_epoch()
    got = Run(tmp_path / "run").tree["layers"]["grad_norm"].to_numpy()
    np.testing.assert_allclose(got, np.array(seen), rtol=1e-6)
    assert not np.isnan(Run(tmp_path / "run").tree["steps"]["loss"].to_numpy()).any()


def test_metric_names_with_slash_and_changing_sets_keep_the_run_readable(tmp_path):
    """'val/acc' is stored as 'val_acc'; a metric missing at an epoch is NaN; one that first
    appears later is left out with one warning, and the run still opens."""
    model = _net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    given = [{"train/loss": 1.0, "val/acc": 0.5}, {"train/loss": 0.9, "late": 3.0},
             {"train/loss": 0.8, "val/acc": 0.7, "late": 2.0}]
    with workbench.watch(model, opt, tmp_path / "run", progress=False) as rec:
        for epoch, metrics in enumerate(given):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if epoch == 1:
                with pytest.warns(RuntimeWarning, match=r"\['late'\].*first committed epoch"):
                    rec.end_epoch(metrics=metrics)
            else:
                rec.end_epoch(metrics=metrics)
    epochs = Run(tmp_path / "run").tree["epochs"].to_dataset()
    assert "late" not in epochs and "val/acc" not in epochs
    assert epochs["train_loss"].values.tolist() == [1.0, 0.9, 0.8]
    acc = epochs["val_acc"].values
    assert acc[0] == 0.5 and math.isnan(acc[1]) and acc[2] == 0.7
