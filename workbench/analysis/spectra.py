"""``spectra``: each layer group's weight ESD and its power-law exponent α, per epoch.

WeightWatcher (Martin & Mahoney) fits one saved model; here the fit runs on every
checkpoint, so α can be followed over training. Values of α between 2 and 6 are read as
well-trained layers in that work; smaller α means a heavier tail (more correlated weights).
"""

from __future__ import annotations

import xarray as xr  # noqa: F401  (the return type)

from ..diagnostics.powerlaw import powerlaw_alpha
from ..probes.spectrum import EIGENVALUE, weight_spectrum
from .registry import register

#: Fewest eigenvalues a fitted tail may have (the definition's minimum; see powerlaw_alpha).
MIN_TAIL = 2


def spectra(run, epoch: int) -> xr.Dataset:
    """One epoch: ``alpha``, ``xmin``, ``ks_distance``, ``n_tail`` (layer) and the
    ``eigenvalues`` (layer, eigenvalue) they were fitted to.

    The eigenvalues are those of :func:`workbench.probes.weight_spectrum` on the epoch's
    checkpoint (``W^T W / N``, conv kernels as (out, in·kh·kw), a group's matrices pooled,
    attention's packed q/k/v split in three, embeddings included), per recorded group
    (``Run.groups``);
    the fit is :func:`workbench.diagnostics.powerlaw_alpha` (continuous MLE, xmin by the
    smallest KS distance, ``powerlaw``'s KS convention). Stored so that a view can draw the
    ESD with its fitted tail without loading checkpoints.
    """
    spec = weight_spectrum(run.model(epoch), groups=run.groups)
    fit = powerlaw_alpha(spec.eigenvalues, dim=EIGENVALUE, min_tail=MIN_TAIL)
    ds = fit.assign(eigenvalues=spec.eigenvalues, n_eigenvalues=spec.n_eigenvalues,
                    n_matrices=spec.n_matrices)
    ds.attrs = {"method": "alpha: continuous MLE, x_min by minimum KS distance (Clauset et "
                          "al. 2009), on the eigenvalues of W^T W / N per layer group",
                "ks": fit.attrs["ks"], "min_tail": MIN_TAIL}
    return ds


register("spectra", compute=spectra,
         description="weight ESD per layer group and its power-law tail exponent alpha "
                     "(WeightWatcher-style), per epoch",
         requires=("model",), view="workbench.widgets.explorer:spectra_tab")
