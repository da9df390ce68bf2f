"""Figure: alpha over epochs of a clean and a label-noise run, and fc1's last ESD with its fit.

Reads /analysis/spectra of the runs (fill it first with ``workbench analyze RUN --only
spectra``); writes bench/figures/spectra_alpha.png and prints the fc1 alphas it drew.

Run:  PYTHONPATH=$PWD python bench/spectra_figure.py CLEAN_RUN NOISY_RUN
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from workbench import Run, plots  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", "spectra_alpha.png")


def main(clean, noisy):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, path in zip(axes[:2], (clean, noisy), strict=True):
        run = Run(path)
        ds = run.analysis("spectra")
        plots.alpha_over_epochs(ds.alpha, ax=ax)
        ax.set_title(f"label noise {run.config.label_noise:g}")
        print(f"{path}: fc1 alpha by epoch "
              f"{[round(float(a), 2) for a in ds.alpha.sel(layer='fc1').values]}")
    for path in (clean, noisy):
        last = Run(path).analysis("spectra").isel(epoch=-1).sel(layer="fc1")
        plots.esd(last.eigenvalues, alpha=last.alpha, xmin=last.xmin, ax=axes[2])
    axes[2].set_title("fc1 at the last epoch: clean (first), noisy (second)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fig.savefig(OUT, dpi=90)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
