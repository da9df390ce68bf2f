"""``workbench train``: train a model and record the run."""

from __future__ import annotations

import argparse

from ..data import DATASETS
from ..models import MODELS
from ..optim import LR_SCHEDULES, OPTIMIZERS


class _Given(argparse.Action):
    """Store the value and note that the user gave this option (``args._given``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, True if self.nargs == 0 else values)
        given = set(getattr(namespace, "_given", ()) or ())
        given.add(self.dest)
        namespace._given = given


def add_train_arguments(p, *, defaults=None) -> None:
    d = defaults or {}

    def add(*flags, **kw):
        p.add_argument(*flags, action=_Given, **kw)

    add("--model", default=d.get("model", "cnn"), choices=MODELS,
        help="the network to train: a small CNN (19k parameters), ResNet-18, or an MLP")
    add("--data", default="fashion-mnist", choices=DATASETS,
        help="the dataset (Fashion-MNIST is embedded; CIFAR is downloaded by torchvision)")
    add("--data-root", default=None,
        help="folder of the data (default: the embedded data/ for Fashion-MNIST, "
             "~/.cache/workbench for CIFAR)")
    add("--epochs", type=int, default=d.get("epochs", 3),
        help="how many epochs to train (counted from 0: 3 epochs are 0, 1, 2)")
    add("--train-size", type=int, default=d.get("train_size"),
        help="stratified subset of the training split (default: all of it)")
    add("--test-size", type=int, default=d.get("test_size"),
        help="stratified subset of the test split (default: all of it)")
    add("--batch-size", type=int, default=128, help="training images per optimizer step")
    add("--lr", type=float, default=0.05,
        help="peak learning rate (the --lr-schedule scales it over the run)")
    add("--lr-schedule", default="cosine", choices=LR_SCHEDULES,
        help="learning rate over the steps: constant, cosine annealing to 0, step (divided "
             "by 10 at 1/3 and 2/3) or onecycle (warm-up, then annealing)")
    add("--optimizer", default="sgd", choices=OPTIMIZERS,
        help="SGD with the heavy-ball momentum of --momentum, or Adam (torch's usual betas; "
             "--momentum is not used)")
    add("--momentum", default="constant:0.9",
        help="momentum schedule: constant[:0.9] | nesterov[:0.9] | physics (critical "
             "damping, 1 - 2 sqrt(lr)) | hybrid (physics for the first half of the steps, "
             "then 0.9) | onecycle")
    add("--weight-decay", type=float, default=0.0, help="L2 weight decay of the optimizer")
    add("--label-noise", type=float, default=0.0,
        help="fraction of training labels flipped (seeded; indices recorded)")
    add("--seed", type=int, default=0,
        help="seeds the initial weights, the subsets, the label noise and the batch order")
    add("--device", default="auto", help="auto (CUDA when present) | cpu | cuda[:N]")
    add("--amp", nargs=0, default=False, help="mixed precision (CUDA only; off by default)")
    add("--probe-size", type=int, default=512,
        help="test images in the fixed probe set whose logits (and --features) are "
             "recorded every epoch")
    add("--features", default=d.get("features", ""),
        help="comma-separated layer groups whose probe-set outputs are recorded, for the "
             "separation analysis; empty: none (default: %(default)r)")
    add("--record-every", type=int, default=1,
        help="record the per-layer step values (norms, update cosine) every k steps")
    add("--signal-every", type=int, default=8,
        help="take the layer signal on the fixed probe batch every k steps")
    add("--eval-every", type=int, default=None,
        help="evaluate test accuracy every K optimizer steps on a fixed stratified test "
             "subset, stored in /evals (default: about 10 points an epoch; 0: none)")
    add("--eval-size", type=int, default=1000,
        help="images in that stratified test subset (default 1000; clipped to the test set)")
    add("--curvature-iters", type=int, default=20,
        help="Hessian power iterations per layer group in the damping analysis "
             "(workbench analyze; 0: no curvature)")
    add("--memory-budget-mb", type=float, default=2048.0,
        help="the most memory the recording may take; a configuration that needs more is "
             "refused before training")
    p.add_argument("--out", default=d.get("out"), required="out" not in d,
                   help="the run directory written (record.zarr, checkpoints/)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last committed checkpoint, with "
                        "its stored settings; options given here must agree with them "
                        "(except --epochs, --device, --data-root)")
    g.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--allow-change", action="store_true",
                   help="with --resume: allow changing the settings that only affect how "
                        "the run is recorded or computed (--memory-budget-mb, "
                        "--record-every, --signal-every, --amp)")


#: argparse dest → TrainConfig field, where they differ.
_FIELD = {"features": "feature_layers"}


def settings_from_args(args) -> tuple[dict, set]:
    """All TrainConfig fields from the parsed options, and the fields the user gave."""
    names = ("model", "data", "data_root", "epochs", "train_size", "test_size", "batch_size",
             "lr", "lr_schedule", "optimizer", "momentum", "weight_decay", "label_noise",
             "seed", "device", "amp", "probe_size", "features", "record_every",
             "signal_every", "memory_budget_mb", "curvature_iters", "eval_every", "eval_size")
    settings = {_FIELD.get(n, n): getattr(args, n) for n in names}
    settings["feature_layers"] = tuple(f for f in (settings["feature_layers"] or "").split(",")
                                       if f)
    settings["amp"] = bool(settings["amp"])
    given = {_FIELD.get(n, n) for n in (getattr(args, "_given", None) or ())}
    return settings, given


def config_from_args(args):
    """The TrainConfig to train: from the options, or, with ``--resume`` on an existing run,
    the stored settings with the options the user gave on top (and this user's
    ``--data-root`` and ``--device``, never the stored ones)."""
    import dataclasses

    from ..config import TrainConfig
    from ..record.store import RunStore

    settings, given = settings_from_args(args)
    store = RunStore(args.out) if args.out else None
    if getattr(args, "resume", False) and store is not None and store.exists():
        stored = TrainConfig.from_json(store.attrs()["config"])
        changes = {k: v for k, v in settings.items() if k in given}
        changes.update(data_root=settings["data_root"], device=settings["device"])
        return dataclasses.replace(stored, **changes)
    return TrainConfig(**settings)


def run(args) -> int:
    import os

    from ..train import train

    out = train(config_from_args(args), args.out, resume=args.resume, overwrite=args.overwrite,
                allow_changes=args.allow_change)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        print(f"recorded run in {out} (open it with workbench.record.open_run('{out}'))")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model and record the run",
                       description="Train a model and record per-layer dynamics into "
                                   "OUT/record.zarr, with a checkpoint per epoch.")
    add_train_arguments(p)
    p.set_defaults(func=run)
