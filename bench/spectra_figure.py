"""Figure: α over epochs of a clean and a label-noise run, and fc1's last ESD with its fit.

Reads /analysis/spectra of the two runs (fill it first with ``workbench analyze RUN --only
spectra``); writes ``bench/figures/spectra_alpha.png``, prints every group's α by epoch for
both runs, and, last, fc1's α at the last epoch, noisy minus clean (> 0: the noisy run's fc1
tail is lighter).

Make the runs (the default CNN; about 2 minutes each on 2 cores)::

    workbench train --epochs 5 --train-size 10000 --out /tmp/spec/clean
    workbench train --epochs 5 --train-size 10000 --label-noise 0.2 --out /tmp/spec/noisy
    workbench analyze /tmp/spec/clean --only spectra   # and the same for noisy

Run:  ``PYTHONPATH=$PWD python bench/spectra_figure.py CLEAN_RUN NOISY_RUN``. Every run is
appended to ``bench/logs/spectra_figure.log`` (``bench/_log.py``).
"""

import argparse
import os

import _log  # noqa: I001  (bench/_log.py: tee stdout to bench/logs/)
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from workbench import Run, plots  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", "spectra_alpha.png")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clean", help="a run without label noise, with /analysis/spectra")
    ap.add_argument("noisy", help="the same run with --label-noise, with /analysis/spectra")
    args = ap.parse_args(argv)
    _log.start()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    last = {}
    for ax, path in zip(axes[:2], (args.clean, args.noisy), strict=True):
        run = Run(path)
        ds = run.analysis("spectra")
        plots.alpha_over_epochs(ds.alpha, ax=ax)
        ax.set_title(f"label noise {run.config.label_noise:g}")
        size = run.config.train_size or "all"
        print(f"{path}: model {run.config.model}, {size} training images, "
              f"label noise {run.config.label_noise:g}")
        for layer in ds.alpha["layer"].values:
            a = ds.alpha.sel(layer=layer)
            n = int(ds["n_tail"].sel(layer=layer).isel(epoch=-1)) if "n_tail" in ds else None
            print(f"  {layer}: alpha by epoch {[round(float(x), 3) for x in a.values]}"
                  + (f" (tail of {n} eigenvalues at the last epoch)" if n is not None else ""))
        last[path] = float(ds.alpha.sel(layer="fc1").isel(epoch=-1))
        e = ds.isel(epoch=-1).sel(layer="fc1")
        plots.esd(e.eigenvalues, alpha=e.alpha, xmin=e.xmin, ax=axes[2])
    axes[2].set_title("fc1 at the last epoch: clean (first), noisy (second)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fig.savefig(OUT, dpi=90)
    print(f"wrote {OUT}")
    print(f"spectra_fc1_alpha_noisy_minus_clean: {last[args.noisy] - last[args.clean]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
