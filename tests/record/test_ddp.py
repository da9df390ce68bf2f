"""Recording under DistributedDataParallel: 2 CPU processes (gloo) started by torchrun.

The record of a 2-process run must equal a single-process run over the same global batches:
the gradients DDP averages are the global batch's, the loss and activation statistics are
pooled over the ranks, and rank 0 alone writes.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from workbench.record import load_checkpoint, open_run
from workbench.record.distributed import World, combine_moments, world
from workbench.train import TrainConfig, train

#: 300 images in global batches of 45: ranks get 23 + 22 images, the last batch 15 + 15.
#: An MLP: BatchNorm (in the default CNN) normalises over each rank's share of the batch on
#: CPU (SyncBatchNorm needs CUDA), so only a model without it can equal one process exactly.
ARGS = {"model": "mlp", "epochs": 2, "train_size": 300, "test_size": 200, "probe_size": 64,
        "batch_size": 45, "signal_every": 1, "curvature_iters": 0}


def torchrun(*args, timeout=300):
    """``torchrun --standalone --nproc_per_node 2 ARGS`` with one torch thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", *map(str, args)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def cli_args(cfg: dict) -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items()]


@pytest.mark.slow
def test_ddp_record_equals_single_process(tmp_path):
    torchrun("-m", "workbench", "train", *cli_args(ARGS), "--out", tmp_path / "ddp")
    train(TrainConfig(**ARGS), tmp_path / "one", progress=False)
    d, s = open_run(tmp_path / "ddp"), open_run(tmp_path / "one")
    assert d.attrs["committed_epochs"] == s.attrs["committed_epochs"] == 2
    np.testing.assert_array_equal(d["steps"]["step"].values, np.arange(14))
    np.testing.assert_array_equal(d["steps"]["batch_size"].values,
                                  s["steps"]["batch_size"].values)  # the global batch
    np.testing.assert_allclose(d["steps"]["loss"].values, s["steps"]["loss"].values,
                               rtol=1e-5)
    for var in ("grad_norm", "weight_norm", "update_norm", "act_mean", "act_std", "signal"):
        np.testing.assert_allclose(d["layers"][var].values, s["layers"][var].values,
                                   rtol=1e-5, atol=1e-7, err_msg=var)
    cos_d, cos_s = d["layers"]["update_cos"].values, s["layers"]["update_cos"].values
    np.testing.assert_allclose(cos_d, cos_s, rtol=1e-4, atol=1e-5, equal_nan=True)
    for var in ("train_loss", "train_acc", "test_loss", "test_acc"):
        np.testing.assert_allclose(d["epochs"][var].values, s["epochs"][var].values,
                                   rtol=1e-5, err_msg=var)
    np.testing.assert_allclose(d["probe"]["logits"].values, s["probe"]["logits"].values,
                               rtol=1e-4, atol=1e-5)
    md, ms = load_checkpoint(tmp_path / "ddp")[0], load_checkpoint(tmp_path / "one")[0]
    for (name, p), q in zip(md.named_parameters(), ms.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
    assert "ranks" not in d.children  # per-rank statistics are off by default


WORKER = """
import sys, torch, torch.distributed as dist, torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from workbench.models import build_model
from workbench.record import Recorder, RunStore

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = build_model("mlp", in_channels=6, image_size=1, num_classes=3, depth=2, width=8)
net = DistributedDataParallel(model)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(40, 6, generator=torch.Generator().manual_seed(1)), torch.arange(40) % 3
store = RunStore(sys.argv[1])
if rank == 0:
    store.create({"config": "{}"})
with Recorder(model, store=store, per_rank=True) as rec:
    for step, size in enumerate((7, 10, 13)):          # uneven global batches
        xb, yb = x[:size].tensor_split(2)[rank], y[:size].tensor_split(2)[rank]
        opt.zero_grad()
        loss = F.cross_entropy(net(xb), yb)
        (loss * len(yb) * 2 / size).backward()
        opt.step()
        rec.step(step, loss=loss, lr=0.1, batch_size=len(yb))
    rec.end_epoch(0, metrics={})
dist.barrier()  # both ranks done (rank 0 writes last) before gloo is torn down: without it
dist.destroy_process_group()  # rank 1 aborted once in teardown ("terminate called ...")
"""


@pytest.mark.slow
def test_per_rank_statistics_pool_to_the_global_record(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    torchrun(script, tmp_path / "run")
    tree = open_run(tmp_path / "run")
    ranks, layers, steps = tree["ranks"], tree["layers"], tree["steps"]
    assert dict(ranks.sizes) == {"step": 3, "rank": 2, "layer": 3}
    np.testing.assert_array_equal(ranks["batch_size"].values, [[4, 3], [5, 5], [7, 6]])
    np.testing.assert_array_equal(steps["batch_size"].values, [7, 10, 13])
    b = ranks["batch_size"]
    np.testing.assert_allclose(steps["loss"].values,
                               ((ranks["loss"] * b).sum("rank") / b.sum("rank")).values,
                               rtol=1e-6)
    # every layer's output has the same number of elements per sample: weights are batch sizes
    pooled = (ranks["act_mean"] * b).sum("rank") / b.sum("rank")
    np.testing.assert_allclose(layers["act_mean"].values, pooled.values, rtol=1e-5)
    assert not np.allclose(ranks["act_mean"].isel(rank=0), ranks["act_mean"].isel(rank=1))


def test_combine_moments_equals_the_union_of_the_parts():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3.0, 2.0, n) for n in (5, 1, 17, 0)]
    table = torch.tensor([[len(p), p.mean() if len(p) else np.nan,
                           ((p - p.mean()) ** 2).sum() if len(p) else 0.0] for p in parts])
    n, mean, m2 = combine_moments(table).tolist()
    union = np.concatenate(parts)
    assert n == len(union)
    np.testing.assert_allclose(mean, union.mean(), rtol=1e-12)
    np.testing.assert_allclose(m2, ((union - union.mean()) ** 2).sum(), rtol=1e-12)
    # analytic: {0, 2} and {4, 6}: mean 3, M2 = 9 + 1 + 1 + 9 = 20
    two = torch.tensor([[2.0, 1.0, 2.0], [2.0, 5.0, 2.0]], dtype=torch.float64)
    assert combine_moments(two).tolist() == [4.0, 3.0, 20.0]


def test_without_a_process_group_the_world_is_one_writer():
    assert world() == World(0, 1)
    assert world().writer and not world().distributed
