"""The GPU path: recording on CUDA agrees with CPU, AMP trains, DDP over NCCL.

Marked ``cuda``: skipped with a visible reason (``pytest -rs``) where there is no GPU. Where
one is lent, run ``pytest -m cuda`` and ``python bench/recording_overhead.py --model resnet18
--batch-size 256 --device cuda`` (goal <= 1.05).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbench.models import build_model
from workbench.record import Recorder, RunStore, every, open_run

pytestmark = pytest.mark.cuda


def _record(device, tmp_path, steps=6):
    torch.manual_seed(0)
    model = build_model("cnn", in_channels=1).to(device).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(steps, 16, 1, 28, 28, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (steps, 16), generator=gen)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    store = RunStore(tmp_path / device)
    store.create({"config": "{}"})
    with Recorder(model, store=store, signal_batch=x[0, :4].to(device),
                  signal_schedule=every(2)) as rec:
        for s in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(model(x[s].to(device)), y[s].to(device))
            loss.backward()
            opt.step()
            rec.step(s, loss=loss, lr=0.05, momentum=0.9, batch_size=16)
        rec.end_epoch(0, metrics={"m": 1.0})
    return open_run(tmp_path / device)


def test_recording_on_cuda_equals_cpu(tmp_path):
    gpu, cpu = _record("cuda", tmp_path), _record("cpu", tmp_path)
    for var in ("grad_norm", "weight_norm", "update_norm", "update_cos", "act_mean", "act_std",
                "signal"):
        np.testing.assert_allclose(gpu["layers"][var].values, cpu["layers"][var].values,
                                   rtol=1e-6, atol=1e-9, equal_nan=True, err_msg=var)
    np.testing.assert_allclose(gpu["steps"]["loss"].values, cpu["steps"]["loss"].values,
                               rtol=1e-9)


def test_amp_training_on_cuda_records_finite_statistics(tmp_path):
    import dataclasses

    from workbench.train import TrainConfig, train

    no_curv = {"curvature_iters": 0} if "curvature_iters" in {
        f.name for f in dataclasses.fields(TrainConfig)} else {}
    cfg = TrainConfig(epochs=1, train_size=512, test_size=256, probe_size=64, batch_size=64,
                      amp=True, device="cuda", **no_curv)
    tree = open_run(train(cfg, tmp_path / "amp", progress=False))
    assert tree.attrs["device"].startswith("cuda")
    assert np.isfinite(tree["layers"]["grad_norm"].values).all()
    assert tree["epochs"]["test_acc"].values[-1] > 0.2
