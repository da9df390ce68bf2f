"""Recording overhead: plain against recorded training of the default CNN, interleaved.

Each round trains one epoch without recording and one epoch with the Recorder (per-step
statistics of every layer group, the probe-batch signal every 8 steps, and the epoch end:
probe-set logits, a checkpoint and the zarr commit), alternating, on identical batches, from
identical weights. Both epochs end with the same test-set evaluation. The ratio of the median
epoch times is the overhead; interleaving keeps machine noise out of the ratio.

Usage: python bench/recording_overhead.py [--rounds 3] [--train-size 60000] [--model cnn]
       [--device auto] [--batch-size 128]
Last line: ``recording_overhead_ratio: X`` (goal <= 1.10 on CPU; ResNet-18 at batch 256 on a
GPU <= 1.05).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import torch
import torch.nn.functional as F

from workbench.data import load_dataset, probe_indices, train_subset
from workbench.models import build_model
from workbench.record import Probe, Recorder, RunStore, every
from workbench.train import evaluate, resolve_device


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def one_epoch(model, opt, x, y, batch, device, recorder=None, test=None, step0=0):
    sync(device)
    t0 = time.perf_counter()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).to(device)
    step = step0
    for i in range(0, len(y), batch):
        idx = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        if recorder is not None:
            recorder.step(step, loss=loss, lr=0.05, momentum=0.9, batch_size=len(idx))
        step += 1
    test_loss, test_acc = evaluate(model, *test)
    if recorder is not None:
        recorder.end_epoch(step0 // 10**6, metrics={"test_loss": test_loss, "test_acc": test_acc},
                           checkpoint={"model": model.state_dict()})
    sync(device)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--train-size", type=int, default=60000)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    _log.start()
    device = resolve_device(args.device)
    train = train_subset(load_dataset("fashion-mnist", train=True), args.train_size)
    test = load_dataset("fashion-mnist", train=False)
    pidx = probe_indices(test.targets.numpy(), size=512)
    probe = Probe(test.images[pidx], test.targets[pidx], test.indices[pidx], test.classes)
    x, y = train.images.to(device), train.targets.to(device)
    torch.manual_seed(0)
    base = build_model(args.model, in_channels=1).to(device)
    plain_t, rec_t = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            # plain
            model = copy.deepcopy(base)
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            plain_t.append(one_epoch(model, opt, x, y, args.batch_size, device,
                                     test=(test.images, test.targets)))
            # recorded
            model = copy.deepcopy(base)
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            store = RunStore(f"{tmp}/run{r}")
            store.create({"config": "{}"})
            with Recorder(model, store=store, probe=probe, signal_schedule=every(8),
                          steps_per_epoch=len(y) // args.batch_size + 1) as rec:
                rec_t.append(one_epoch(model, opt, x, y, args.batch_size, device, recorder=rec,
                                       test=(test.images, test.targets)))
            print(f"round {r}: plain {plain_t[-1]:.2f}s  recorded {rec_t[-1]:.2f}s  "
                  f"ratio {rec_t[-1] / plain_t[-1]:.3f}", flush=True)
    ratio = statistics.median(rec_t) / statistics.median(plain_t)
    print(f"model {args.model}, device {device}, batch {args.batch_size}, "
          f"{len(y)} samples/epoch, {args.rounds} rounds, torch threads "
          f"{torch.get_num_threads()}")
    print(f"median epoch: plain {statistics.median(plain_t):.2f}s, recorded "
          f"{statistics.median(rec_t):.2f}s")
    print(f"recording_overhead_ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
