"""Does the stability-index volatility settle before test accuracy does? (La Quang et al. 2026)

Trains the default small CNN on embedded Fashion-MNIST for several seeds, recording every
layer's probe-batch signal at EVERY step (signal_every=1), then per seed:
windowed integration and metastability -> stability index S = I (1 - M) -> volatility
(rolling std of S) -> early_convergence_lead(volatility, test_acc).

Time axis: epochs completed. The volatility at step s (0-based) is placed at (s + 1) /
steps_per_epoch; test accuracy of epoch e (measured at its end) at e + 1. Rules: volatility
under ``--frac`` of its peak and staying there; accuracy within ``--band`` of its final value
and staying there (see workbench.diagnostics.stability). Different data and model than the
paper (CIFAR, ResNets, one point per epoch): say so next to the number.

Run:  PYTHONPATH=$PWD python bench/early_convergence.py [--seeds 3 --epochs 8 ...]
"""

import argparse
import tempfile
import time
from pathlib import Path

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np
import torch

from workbench.diagnostics import early_convergence_lead, stability
from workbench.models import build_model, count_parameters
from workbench.record.store import open_run, signals
from workbench.train import TrainConfig, train

FIG = Path(__file__).parent / "figures" / "early_convergence.png"


def one_seed(seed, args, root):
    cfg = TrainConfig(model="cnn", epochs=args.epochs, train_size=args.train_size,
                      test_size=args.test_size, batch_size=args.batch_size, lr=args.lr,
                      seed=seed, device="cpu", signal_every=1, probe_size=256)
    run = train(cfg, Path(root) / f"seed{seed}", progress=False)
    tree = open_run(run)
    spe = int(tree.attrs["steps_per_epoch"])
    x = signals(tree).load()
    ds = stability(x, window=args.window, stride=args.stride,
                   volatility_window=args.volatility_window)
    ds = ds.assign_coords(epoch=("step", (ds.step.values + 1) / spe)).swap_dims(step="epoch")
    acc = tree["epochs"]["test_acc"].load()
    acc = acc.assign_coords(epoch=acc.epoch.values + 1.0)
    lead = early_convergence_lead(ds.volatility, acc, frac=args.frac, band=args.band)
    return ds, acc, lead, x.sizes["step"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--train-size", type=int, default=3000)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--window", type=int, default=96)
    p.add_argument("--stride", type=int, default=12)
    p.add_argument("--volatility-window", type=int, default=4)
    p.add_argument("--frac", type=float, default=0.5)
    p.add_argument("--band", type=float, default=0.01)
    args = p.parse_args()
    _log.start()
    torch.set_num_threads(1)
    print(f"torch threads: 1; default CNN (P = {count_parameters(build_model('cnn'))}) on "
          f"Fashion-MNIST ({args.train_size} train, "
          f"{args.test_size} test), {args.epochs} epochs, batch {args.batch_size}, "
          f"lr {args.lr} cosine, momentum 0.9; window {args.window} steps, stride "
          f"{args.stride}, volatility over {args.volatility_window} windows; frac {args.frac}, "
          f"band {args.band}")
    results = []
    with tempfile.TemporaryDirectory() as root:
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            ds, acc, lead, n = one_seed(seed, args, root)
            results.append((ds, acc, lead))
            print(f"seed {seed}: {n} signal points; volatility settled at epoch "
                  f"{float(lead.volatility_settled):.2f}, accuracy at "
                  f"{float(lead.accuracy_settled):.0f} (final {float(acc[-1]):.3f}); lead "
                  f"{float(lead.lead):+.2f} epochs  [{time.perf_counter() - t0:.0f} s]")
    leads = np.array([float(r[2].lead) for r in results])
    _figure(results, args)
    ok = leads[~np.isnan(leads)]
    print(f"figure: {FIG}")
    if len(ok) == 0:
        print("no seed met both rules (run longer: more epochs or more steps per epoch)")
        print("early_convergence_lead_epochs: nan")
        return
    spread = ok.std(ddof=1) if len(ok) > 1 else float("nan")
    print(f"lead over {len(ok)}/{len(leads)} seeds: mean {ok.mean():+.2f}, std {spread:.2f}, "
          f"min {ok.min():+.2f}, max {ok.max():+.2f} epochs; positive in "
          f"{int((ok > 0).sum())}/{len(ok)}")
    print(f"early_convergence_lead_epochs: {ok.mean():+.2f} ± {spread:.2f} (n={len(ok)})")


def _figure(results, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    for seed, (ds, acc, lead) in enumerate(results):
        c = f"C{seed}"
        axes[0].plot(ds.epoch, ds.stability, color=c, label=f"seed {seed}")
        axes[1].plot(ds.epoch, ds.volatility, color=c)
        axes[2].plot(acc.epoch, acc, "o-", color=c)
        for ax, t in ((axes[1], lead.volatility_settled), (axes[2], lead.accuracy_settled)):
            if np.isfinite(float(t)):
                ax.axvline(float(t), color=c, ls="--", lw=1)
    axes[0].set_ylabel("stability S = I(1-M)")
    axes[1].set_ylabel("volatility")
    axes[2].set_ylabel("test accuracy")
    axes[2].set_xlabel("epochs completed")
    axes[0].legend(fontsize=8)
    axes[0].set_title("Volatility settles (dashed, top) vs accuracy settles (dashed, bottom)")
    FIG.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(FIG, dpi=110)


if __name__ == "__main__":
    main()
