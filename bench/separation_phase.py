"""Spring-block phase diagram: nonlinearity (friction) x noise (lubrication) vs the load curve.

Trains MLPs of depth 6 (LeakyReLU slope = the nonlinearity knob: 1 is linear, 0 is ReLU;
dropout = the noise knob) on embedded Fashion-MNIST, records every hidden layer's probe-set
features, and at the last epoch computes the separation fuzziness D_l (He & Su) of layers
1..6 (``--with-input``: also the raw pixels as l = 0), the normalised load curve and its RMS
deviation from the linear law. Also prints the signed mean deviation (curve minus straight
line): negative means the deep layers carry the load (the "friction" picture), positive that
shallow layers do.
Compares with the spring-block chain simulation (friction / noise) for the same depth.

Run:  PYTHONPATH=$PWD python bench/separation_phase.py [--epochs 5 ...]
"""

import argparse
import tempfile
import time
from pathlib import Path

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np
import torch
import xarray as xr

from workbench.data import load_dataset
from workbench.diagnostics import (
    linear_law_deviation,
    load_curve,
    separation_by_layer,
)
from workbench.record.recorder import NonFiniteLossError
from workbench.record.store import open_run
from workbench.theory import spring_block_chain
from workbench.train import TrainConfig, train

FIG = Path(__file__).parent / "figures" / "separation_phase.png"
DEPTH = 6


def fuzziness_of_run(run, test_images, with_input):
    tree = open_run(run)
    last = {f"layer{k}": tree[f"features/layer{k}"]["features"].isel(epoch=-1).load()
            for k in range(1, DEPTH + 1)}
    first = last["layer1"]
    pixels = test_images[first.sample.values].reshape(first.sizes["sample"], -1)
    feats = {"input": xr.DataArray(pixels, dims=("sample", "unit")), **last} if with_input \
        else last
    d = separation_by_layer(feats, first.target.values)
    return d, float(tree["epochs"]["test_acc"][-1])


def signed_deviation(d):
    curve = load_curve(d)
    return float((curve - np.linspace(0, 1, curve.sizes["layer"])).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slopes", type=float, nargs="+", default=[1.0, 0.3, 0.1, 0.0])
    p.add_argument("--dropouts", type=float, nargs="+", default=[0.0, 0.2, 0.4])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--train-size", type=int, default=2000)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--with-input", action="store_true",
                   help="start the load curve at the raw pixels instead of layer 1")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    _log.start()
    torch.set_num_threads(1)
    test_images = load_dataset("fashion-mnist", train=False).images.numpy()
    print(f"torch threads: 1; MLP depth {DEPTH} width {args.width}, Fashion-MNIST "
          f"{args.train_size} train, {args.epochs} epochs, {args.optimizer} lr {args.lr} cosine, "
          f"batch 32, probe 500 test samples; noise knob = dropout")
    rms = np.full((len(args.slopes), len(args.dropouts)), np.nan)
    signed = np.full_like(rms, np.nan)
    total = np.full_like(rms, np.nan)
    curves = {}
    with tempfile.TemporaryDirectory() as root:
        for i, slope in enumerate(args.slopes):
            for j, drop in enumerate(args.dropouts):
                t0 = time.perf_counter()
                cfg = TrainConfig(model="mlp", epochs=args.epochs, train_size=args.train_size,
                                  test_size=2000, batch_size=32, lr=args.lr, seed=args.seed,
                                  optimizer=args.optimizer,
                                  device="cpu", probe_size=500, signal_every=10_000,
                                  feature_layers=tuple(f"layer{k}" for k in
                                                       range(1, DEPTH + 1)),
                                  model_kwargs={"depth": DEPTH, "width": args.width,
                                                "slope": slope, "dropout": drop})
                try:
                    run = train(cfg, Path(root) / f"s{slope}_d{drop}", progress=False)
                except NonFiniteLossError as err:
                    print(f"slope {slope:4.2f} dropout {drop:3.1f}: diverged ({err})"[:120])
                    continue
                d, acc = fuzziness_of_run(run, test_images, args.with_input)
                rms[i, j] = float(linear_law_deviation(d))
                signed[i, j] = signed_deviation(d)
                total[i, j] = float(np.log(d[0]) - np.log(d[-1]))
                curves[slope, drop] = load_curve(d).values
                print(f"slope {slope:4.2f} dropout {drop:3.1f}: test acc {acc:.3f}; log D "
                      f"{np.round(np.log(d.values), 2).tolist()}; RMS dev {rms[i, j]:.3f}, "
                      f"signed {signed[i, j]:+.3f}  [{time.perf_counter() - t0:.0f} s]")

    print("\nRMS deviation from the linear law (rows: slope, cols: dropout)")
    print("slope\\drop " + " ".join(f"{d:7.1f}" for d in args.dropouts))
    for i, s in enumerate(args.slopes):
        print(f"{s:10.2f} " + " ".join(f"{v:7.3f}" for v in rms[i]))
    print("signed mean deviation (negative: load in deep layers)")
    for i, s in enumerate(args.slopes):
        print(f"{s:10.2f} " + " ".join(f"{v:+7.3f}" for v in signed[i]))

    gained = int((total > 0).sum())
    print(f"runs whose last layer separates the probe classes better than the first "
          f"(log D_first - log D_last > 0): {gained}/{np.isfinite(total).sum()}; the law and "
          f"the load curve only mean something in those")
    sim = {}
    for mu, noise in [(0.0, 0.0), (0.1, 0.0), (0.1, 1.0)]:
        ds = spring_block_chain(DEPTH, friction=mu, noise=noise, steps=20_000, dt=0.05)
        pos = ds.position_mean.pad(layer=(1, 0), constant_values=0.0) if args.with_input \
            else ds.position_mean  # block l <-> hidden layer l; the wall <-> the input
        sim[mu, noise] = load_curve(np.exp(-pos)).values
        dev = float(linear_law_deviation(np.exp(-pos)))
        print(f"spring-block chain friction {mu} noise {noise}: RMS deviation {dev:.3f}")
    _figure(args, rms, signed, curves, sim)
    friction = np.nanmean(signed[-1]) - np.nanmean(signed[0])
    lubrication = np.nanmean(rms[:, -1]) - np.nanmean(rms[:, 0])
    print(f"figure: {FIG}")
    print(f"effect of nonlinearity (signed dev, ReLU minus linear, mean over dropout): "
          f"{friction:+.3f}; effect of noise (RMS dev, max minus zero dropout, mean over "
          f"slopes): {lubrication:+.3f}")
    print(f"separation_phase_rms_deviation_range: {np.nanmin(rms):.3f}..{np.nanmax(rms):.3f}")


def _figure(args, rms, signed, curves, sim):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, data, title, cmap in ((axes[0], rms, "RMS deviation from linear law", "viridis"),
                                  (axes[1], signed, "signed deviation (<0: deep load)",
                                   "coolwarm")):
        sns.heatmap(data, annot=True, fmt=".3f", ax=ax, cmap=cmap,
                    xticklabels=[f"{d:.1f}" for d in args.dropouts],
                    yticklabels=[f"{s:.2f}" for s in args.slopes],
                    center=0 if cmap == "coolwarm" else None)
        ax.set_xlabel("dropout (noise)")
        ax.set_ylabel("LeakyReLU slope (1 = linear)")
        ax.set_title(title)
    ax = axes[2]
    depth = np.arange(DEPTH + 1) if args.with_input else np.arange(1, DEPTH + 1)
    for (slope, drop), c in curves.items():
        if drop in (args.dropouts[0], args.dropouts[-1]) and slope in (args.slopes[0],
                                                                       args.slopes[-1]):
            ax.plot(depth, c, "o-", label=f"MLP slope {slope}, dropout {drop}")
    for (mu, noise), c in sim.items():
        ax.plot(depth, c, "k--", alpha=0.3 + 0.3 * (mu > 0) + 0.3 * (noise > 0),
                label=f"chain friction {mu}, noise {noise}")
    ax.plot(depth, (depth - depth[0]) / (depth[-1] - depth[0]), color="gray", lw=0.8)
    ax.set_xlabel("depth (0 = input)" if args.with_input else "hidden layer")
    ax.set_ylabel("cumulative separation (normalised)")
    ax.legend(fontsize=7)
    ax.set_title("load curves")
    fig.tight_layout()
    FIG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIG, dpi=110)


if __name__ == "__main__":
    main()
