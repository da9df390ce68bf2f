"""Empirical spectral densities (ESD) of a model's weight matrices, per layer group."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch import nn

from ..dims import LAYER
from ..groups import group_parameter_names, owned_parameters, unwrap

__all__ = ["weight_spectrum", "weight_matrices", "EIGENVALUE"]

#: Dim of the eigenvalues of one layer group's correlation matrices.
EIGENVALUE = "eigenvalue"


def _matrix_eigenvalues(w: torch.Tensor) -> np.ndarray:
    """Eigenvalues of X = W^T W / N for W (out, in*kh*kw) oriented so that N >= M."""
    w = w.detach().to("cpu", torch.float64).reshape(w.shape[0], -1)
    n = max(w.shape)
    s = torch.linalg.svdvals(w)  # the min(N, M) singular values
    return (s * s / n).numpy()


def weight_matrices(model: nn.Module, names) -> list[torch.Tensor]:
    """The weight matrices among the parameters ``names`` of ``model`` (see
    :func:`weight_spectrum`'s Notes for which parameters are matrices)."""
    model = unwrap(model)
    params = owned_parameters(model)
    modules = dict(model.named_modules())
    mats = []
    for name in names:
        p = params[name]
        owner, _, leaf = name.rpartition(".")
        module = modules.get(owner)
        if isinstance(module, nn.MultiheadAttention) and leaf == "in_proj_weight":
            mats += list(p.chunk(3, dim=0))           # W_q, W_k, W_v: three matrices
            continue
        if leaf != "weight":                          # a bare parameter: (1, L, d) -> (L, d)
            while p.ndim > 2 and p.shape[0] == 1:
                p = p[0]
        if p.ndim >= 2:
            mats.append(p)
    return mats


def weight_spectrum(model: nn.Module, *, groups=None) -> xr.Dataset:
    """Eigenvalues of ``W^T W / N`` of every weight matrix, gathered per layer group.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; its layer groups come from :func:`workbench.groups.resolve_groups`
        (``model.groups`` for the built-in models, else the automatic groups).
    groups : mapping or sequence of str, optional
        A mapping name → module/parameter prefixes (``Run.groups``), or names of the
        model's groups (default: all).

    Returns
    -------
    xarray.Dataset
        ``eigenvalues`` (layer, eigenvalue): each group's eigenvalues in decreasing order,
        padded with NaN to the longest group; ``n_eigenvalues`` (layer) and ``n_matrices``
        (layer). A group with no weight matrix (only biases or norm scales, e.g. ResNet's
        ``bn1``) has no eigenvalue: all NaN, counts 0.

    Notes
    -----
    As in WeightWatcher (Martin & Mahoney 2021): a weight ``W`` with ``N x M`` entries,
    ``N >= M`` (transposed if needed), has the correlation matrix :math:`X = W^T W / N`
    (M x M), whose M eigenvalues are :math:`\\sigma_i^2 / N` for the singular values
    :math:`\\sigma_i` of W (computed in float64). Conv kernels (out, in, kh, kw) are
    reshaped to (out, in·kh·kw) first. Parameters with fewer than 2 dims (biases,
    normalisation scales) are not matrices and are left out.

    **Transformers.** Every 2-D weight counts, attention projections included:
    ``nn.MultiheadAttention``'s packed ``in_proj_weight`` (3d × d) is **split into its three
    matrices** W_q, W_k, W_v (d × d each), as they are three linear maps (and separate
    matrices in most other implementations); its ``out_proj`` is a Linear like any other.
    **Embeddings are included**: an ``nn.Embedding`` weight (vocabulary × d) is a 2-D weight
    matrix, as is a bare positional-embedding parameter, whose leading singleton dims are
    dropped first ((1, L, d) → (L, d)). A module's ``weight`` keeps the conv reshape above.

    **A group with several weight matrices** (a ResNet stage: its convolutions and its
    down-sampling shortcut) gets the union of its matrices' eigenvalues: each matrix is
    normalised by its own N, and the group's ESD is the pooled list (the ESD of the
    block-diagonal matrix of the group's X's). Nothing is averaged, so a power-law fit of
    the group sees every matrix's tail. Matrices of different shapes have their bulks at
    different scales, so a pooled ESD can show a tail that no single matrix has (at
    initialisation, ResNet-18's ``layer2``-``layer4`` pooled give alpha ~2.2; see
    ``bench/RESULTS.md``): follow such a group's alpha over epochs rather than comparing it
    with WeightWatcher's per-matrix values.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> m = nn.Sequential(nn.Linear(3, 2, bias=False))
    >>> with torch.no_grad():
    ...     _ = m[0].weight.copy_(torch.tensor([[2.0, 0, 0], [0, 1.0, 0]]))
    >>> ds = weight_spectrum(m)
    >>> ds.eigenvalues.dims
    ('layer', 'eigenvalue')
    >>> [round(v, 6) for v in ds.eigenvalues.sel(layer="0").values.tolist()]
    [1.333333, 0.333333]
    """
    names = group_parameter_names(model, groups)
    values, counts = {}, {}
    for name, pnames in names.items():
        mats = weight_matrices(model, pnames)
        eig = (np.concatenate([_matrix_eigenvalues(p) for p in mats]) if mats
               else np.empty(0))
        values[name] = np.sort(eig)[::-1]
        counts[name] = len(mats)
    width = max([len(v) for v in values.values()] + [1])
    table = np.full((len(values), width), np.nan)
    for i, v in enumerate(values.values()):
        table[i, : len(v)] = v
    names = list(values)
    ds = xr.Dataset(
        {"eigenvalues": ((LAYER, EIGENVALUE), table,
                         {"long_name": "eigenvalue of WᵀW/N", "units": "1"}),
         "n_eigenvalues": ((LAYER,), np.array([len(v) for v in values.values()]),
                           {"long_name": "eigenvalues in the group", "units": "1"}),
         "n_matrices": ((LAYER,), np.array(list(counts.values())),
                        {"long_name": "weight matrices in the group", "units": "1"})},
        coords={LAYER: names, EIGENVALUE: np.arange(width)})
    ds.attrs["method"] = ("eigenvalues of W^T W / N (N >= M) per weight matrix, conv kernels "
                          "as (out, in*kh*kw); pooled per layer group, decreasing, NaN-padded")
    return ds
