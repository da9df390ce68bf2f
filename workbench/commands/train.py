"""``workbench train``: train a model and record the run."""

from __future__ import annotations

from ..data import DATASETS
from ..models import MODELS
from ..optim import LR_SCHEDULES, OPTIMIZERS


def add_train_arguments(p, *, defaults=None) -> None:
    d = defaults or {}
    p.add_argument("--model", default=d.get("model", "cnn"), choices=MODELS)
    p.add_argument("--data", default="fashion-mnist", choices=DATASETS)
    p.add_argument("--data-root", default=None,
                   help="folder of the data (default: the embedded data/ for Fashion-MNIST, "
                        "~/.cache/workbench for CIFAR)")
    p.add_argument("--epochs", type=int, default=d.get("epochs", 3))
    p.add_argument("--train-size", type=int, default=d.get("train_size"),
                   help="stratified subset of the training split (default: all)")
    p.add_argument("--test-size", type=int, default=d.get("test_size"))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--lr-schedule", default="cosine", choices=LR_SCHEDULES)
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--momentum", default="constant:0.9",
                   help="constant[:0.9] | nesterov[:0.9] | physics | hybrid | onecycle")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--label-noise", type=float, default=0.0,
                   help="fraction of training labels flipped (seeded; indices recorded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda[:N]")
    p.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    p.add_argument("--probe-size", type=int, default=512)
    p.add_argument("--features", default=d.get("features", ""),
                   help="comma-separated layer groups whose probe-set outputs are recorded")
    p.add_argument("--record-every", type=int, default=1)
    p.add_argument("--signal-every", type=int, default=8,
                   help="take the layer signal on the fixed probe batch every k steps")
    p.add_argument("--curvature-iters", type=int, default=20,
                   help="Hessian power iterations per layer group in the damping analysis "
                        "(workbench analyze; 0: no curvature)")
    p.add_argument("--memory-budget-mb", type=float, default=2048.0)
    p.add_argument("--out", default=d.get("out"), required="out" not in d)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    g.add_argument("--overwrite", action="store_true", help="replace the run in --out")


def config_from_args(args):
    from ..train import TrainConfig

    return TrainConfig(
        model=args.model, data=args.data, data_root=args.data_root, epochs=args.epochs,
        train_size=args.train_size, test_size=args.test_size, batch_size=args.batch_size,
        lr=args.lr, lr_schedule=args.lr_schedule, optimizer=args.optimizer,
        momentum=args.momentum, weight_decay=args.weight_decay, label_noise=args.label_noise,
        seed=args.seed, device=args.device, amp=args.amp, probe_size=args.probe_size,
        feature_layers=tuple(f for f in args.features.split(",") if f),
        record_every=args.record_every, signal_every=args.signal_every,
        memory_budget_mb=args.memory_budget_mb, curvature_iters=args.curvature_iters)


def run(args) -> int:
    from ..train import train

    out = train(config_from_args(args), args.out, resume=args.resume, overwrite=args.overwrite)
    print(f"recorded run in {out} (open it with workbench.record.open_run('{out}'))")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model and record the run",
                       description="Train a model and record per-layer dynamics into "
                                   "OUT/record.zarr, with a checkpoint per epoch.")
    add_train_arguments(p)
    p.set_defaults(func=run)
