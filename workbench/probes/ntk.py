"""Empirical neural tangent kernel (eNTK) of a classifier's logits, with torch.func."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.func import jacrev, jvp, vjp, vmap

from ..batches import logits, n_samples
from ..dims import LABEL, LABEL_I, LABEL_J, SAMPLE_I, SAMPLE_J, choice
from ._functional import (
    as_input,
    batch_output,
    model_device_dtype,
    probe_mode,
    sample_shape,
    single_output,
    split_state,
    vmappable,
)

METHODS = ("jacobian", "ntk_vp")
MODES = ("full", "trace", "diagonal")
DEFAULT_MEMORY_BUDGET = 2 * 2**30  # bytes of Jacobian held at once


def empirical_ntk(model: nn.Module, x_i: torch.Tensor, x_j: torch.Tensor | None = None, *,
                  method: str = "jacobian", mode: str = "full",
                  chunk_size: int | None = None,
                  memory_budget: int = DEFAULT_MEMORY_BUDGET,
                  sample_i=None, sample_j=None, progress: bool = False,
                  forward=None) -> xr.DataArray:
    """Empirical NTK ``K(x_i, x_j) = J(x_i) J(x_j)ᵀ`` of the model's logits.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch ``(N, ...)`` to logits ``(N, O)`` (read from its output by
        :func:`workbench.batches.output_tensor`: ``.logits``, a tuple's first tensor…). It is
        run in eval mode (BatchNorm uses its running statistics, dropout is off) and each
        submodule's mode is restored afterwards. The kernel is computed on the model's
        device and dtype.
    x_i, x_j : torch.Tensor or dict of tensors
        Batches ``(N_i, ...)`` and ``(N_j, ...)``: images, integer token ids (kept integer),
        or a dict of tensors sharing the sample dim (``{"input_ids", "attention_mask"}``,
        passed as ``model(**x)``). ``x_j=None`` means ``x_j = x_i``, and the symmetry of
        ``K(x, x)`` saves work: only the chunk pairs on and above the diagonal are computed
        (the rest is their transpose); with ``method="jacobian"`` each Jacobian of a
        diagonal chunk is built once and ``J Jᵀ`` takes about half the flops of a general
        product (:func:`_gram`).
    method : {"jacobian", "ntk_vp"}
        ``"jacobian"``: per-sample Jacobians with ``vmap(jacrev)``, each parameter block
        flattened to an ``(n·O, P_a)`` matrix and contracted with one matmul per block,
        ``K = Σ_a J_a(x_i) J_a(x_j)ᵀ``. ``"ntk_vp"``: NTK-vector products (a ``vjp`` of
        ``x_j``'s logits then a ``jvp`` of ``x_i``'s), which never holds a Jacobian of more
        than one chunk of ``x_j``; slower, for models whose Jacobian is too big.
    mode : {"full", "trace", "diagonal"}
        What to return (see Returns). With ``"jacobian"``, ``"trace"`` and ``"diagonal"``
        cost about ``O`` times fewer flops than ``"full"``; with ``"ntk_vp"`` they are
        reductions of the full kernel.
    chunk_size : int, optional
        Samples per Jacobian chunk. By default the largest chunk that fits
        ``memory_budget`` (estimated as ``chunk × O × P × itemsize`` bytes, two chunks held
        at once unless every sample fits in one).
    memory_budget : int
        Bytes of Jacobian allowed at once (default 2 GiB).
    sample_i, sample_j : array-like, optional
        Coordinates for the sample axes (e.g. dataset indices); default ``0..N-1``.
    progress : bool
        Show a tqdm bar over chunk pairs.
    forward : callable, optional
        ``forward(model, x) -> output`` when the model is not called as ``model(x)`` /
        ``model(**x)`` (see :func:`workbench.batches.call`).

    Returns
    -------
    xarray.DataArray
        - ``mode="full"``: dims ``(sample_i, label_i, sample_j, label_j)``,
          ``K[i, a, j, b] = Σ_p ∂z_a(x_i)/∂θ_p · ∂z_b(x_j)/∂θ_p``.
        - ``mode="trace"``: dims ``(sample_i, sample_j)``, the trace over classes,
          ``Σ_a K[i, a, j, a]``.
        - ``mode="diagonal"``: dims ``(sample_i, sample_j, label)``, only the entries with
          ``label_i == label_j == label``: ``K[i, c, j, c]``. The off-diagonal class
          entries ``label_i != label_j`` are not computed.

    Raises
    ------
    ValueError
        On an unknown method or mode, or a ``memory_budget`` too small for one sample's
        Jacobian (``O × P × itemsize`` bytes).

    Notes
    -----
    With logits ``z(x) ∈ R^O`` and trainable parameters ``θ ∈ R^P``, ``J(x) = ∂z/∂θ`` is
    ``O × P`` and ``K(x_i, x_j) = J(x_i) J(x_j)ᵀ`` is ``O × O`` (Jacot et al. 2018; the
    empirical kernel at the current weights as in Ren & Sutherland, ICLR 2025).
    Only parameters with ``requires_grad`` count. Result is float64 numpy on the CPU.

    Examples
    --------
    >>> from workbench.models import build_model
    >>> m = build_model("mlp", image_size=4, depth=1, width=8)
    >>> empirical_ntk(m, torch.randn(3, 1, 4, 4)).dims
    ('sample_i', 'label_i', 'sample_j', 'label_j')
    >>> empirical_ntk(m, torch.randn(3, 1, 4, 4), mode="diagonal").dims
    ('sample_i', 'sample_j', 'label')
    """
    choice(method, METHODS, "eNTK method")
    choice(mode, MODES, "eNTK mode")
    device, dtype = model_device_dtype(model)
    xi = as_input(x_i, device, dtype, "empirical_ntk", "x_i")
    symmetric = x_j is None
    xj = xi if symmetric else as_input(x_j, device, dtype, "empirical_ntk", "x_j")
    if sample_shape(xi) != sample_shape(xj):
        raise ValueError(f"empirical_ntk() needs x_i and x_j with the same sample shape; "
                         f"got {sample_shape(xi)} and {sample_shape(xj)}")
    n_i, n_j = n_samples(xi), n_samples(xj)
    with probe_mode(model), torch.no_grad():
        params, rest = split_state(model)
        n_out = logits(model, xi[:1], forward).shape[-1]
    n_params = sum(p.numel() for p in params.values())
    chunk = _chunk_size(chunk_size, memory_budget, n_out, n_params, dtype, n_i, symmetric)
    with probe_mode(model):
        if method == "jacobian":
            k = _by_jacobian(model, params, rest, xi, xj, symmetric, mode, chunk, progress,
                             forward)
        else:
            k = _by_ntk_vp(model, params, rest, xi, xj, symmetric, mode, chunk, progress,
                           forward)
    if symmetric and sample_j is None:
        sample_j = sample_i
    return _to_dataarray(k.detach().to("cpu", torch.float64).numpy(), mode, n_out,
                         sample_i, sample_j, n_i, n_j, method, chunk)


def _chunk_size(chunk_size, budget, n_out, n_params, dtype, n_i, symmetric) -> int:
    """Step 1: samples per chunk from the memory budget."""
    per_sample = n_out * n_params * torch.empty((), dtype=dtype).element_size()
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1; got {chunk_size}")
        return int(chunk_size)
    if symmetric and n_i * per_sample <= budget:
        return n_i
    chunk = int(budget // (2 * per_sample))
    if chunk < 1:
        raise ValueError(
            f"memory_budget={budget} bytes is too small for the Jacobian of one sample "
            f"({n_out} outputs × {n_params} parameters × itemsize = {per_sample} bytes, and "
            f"two chunks are held at once); raise memory_budget to at least "
            f"{2 * per_sample} or pass chunk_size=1 explicitly")
    return chunk


def _jacobian(model, params, rest, x, flat: str, forward=None):
    """Step 2: per-sample Jacobian blocks; ``flat`` picks the matrix each block becomes."""
    xs, in_dim = vmappable(x)
    jac = vmap(jacrev(single_output(model, rest, forward)), in_dims=(None, in_dim))(params, xs)
    n = n_samples(x)
    out = []
    for name in params:
        block = jac[name]
        n_out = block.shape[1]
        if flat == "rows":            # (n·O, P_a): full kernel
            out.append(block.reshape(n * n_out, -1))
        elif flat == "samples":       # (n, O·P_a): trace
            out.append(block.reshape(n, -1))
        else:                         # (O, n, P_a): diagonal, batched over classes
            out.append(block.reshape(n, n_out, -1).transpose(0, 1))
    return out


def _contract(ja, jb, mode):
    """Step 3: Σ over parameter blocks of J_a J_bᵀ (one matmul per block)."""
    out = None
    for a, b in zip(ja, jb, strict=True):
        term = torch.matmul(a, b.transpose(-1, -2))
        out = term if out is None else out.add_(term)
    return out


#: Row blocks of the symmetric product (see :func:`_gram`): about 8, of at least 32 rows.
GRAM_BLOCKS, GRAM_MIN_ROWS = 8, 32


def _gram(ja):
    """Step 3, x_j = x_i: Σ over parameter blocks of J_a J_aᵀ, using its symmetry.

    The rows of each block (sample·class rows, or samples, per class) are cut into about
    :data:`GRAM_BLOCKS` row blocks ``r``; only ``J[r] J[r:]ᵀ`` (the blocks on and to the
    right of the diagonal) are multiplied, accumulated in place, and the upper triangle is
    mirrored at the end: ``(B + 1) / 2B`` of the flops of ``J Jᵀ`` for ``B`` row blocks
    (56% for 8), the work of a BLAS ``syrk`` with torch's own matmul, on any device.
    """
    rows = ja[0].shape[-2]
    step = max(-(-rows // GRAM_BLOCKS), GRAM_MIN_ROWS)
    out = ja[0].new_zeros(*ja[0].shape[:-2], rows, rows)
    for a in ja:
        for s in range(0, rows, step):
            e = min(s + step, rows)
            dst = out[..., s:e, s:]
            dst += torch.matmul(a[..., s:e, :], a[..., s:, :].transpose(-1, -2))
    return torch.triu(out).add_(torch.triu(out, 1).transpose(-1, -2))


def _chunks(n, chunk):
    return [(s, min(s + chunk, n)) for s in range(0, n, chunk)]


def _by_jacobian(model, params, rest, xi, xj, symmetric, mode, chunk, progress, forward):
    flat = {"full": "rows", "trace": "samples", "diagonal": "classes"}[mode]
    ci, cj = _chunks(n_samples(xi), chunk), _chunks(n_samples(xj), chunk)
    pairs = [(a, b) for a in range(len(ci)) for b in range(len(cj))
             if not symmetric or b >= a]
    blocks = {}
    bar = _bar(len(pairs), progress)
    current = None
    for a, b in pairs:
        if current is None or current[0] != a:
            s, e = ci[a]
            current = (a, _jacobian(model, params, rest, xi[s:e], flat, forward))
        ja = current[1]
        if symmetric and a == b:
            blocks[a, b] = _gram(ja)
        else:
            s, e = cj[b]
            jb = _jacobian(model, params, rest, xj[s:e], flat, forward)
            blocks[a, b] = _contract(ja, jb, mode)
        bar.update(1)
    bar.close()
    return _assemble(blocks, ci, cj, symmetric, mode)


def _assemble(blocks, ci, cj, symmetric, mode):
    """Step 4: put the chunk-pair blocks into one kernel tensor."""
    rows = []
    for a in range(len(ci)):
        row = []
        for b in range(len(cj)):
            blk = blocks[a, b] if (a, b) in blocks else blocks[b, a].transpose(-1, -2)
            row.append(blk)
        rows.append(torch.cat(row, dim=-1))
    return torch.cat(rows, dim=-2)


def _by_ntk_vp(model, params, rest, xi, xj, symmetric, mode, chunk, progress, forward):
    f1, fb = single_output(model, rest, forward), batch_output(model, rest, forward)
    ci, cj = _chunks(n_samples(xi), chunk), _chunks(n_samples(xj), chunk)
    pairs = [(a, b) for a in range(len(ci)) for b in range(len(cj))
             if not symmetric or b >= a]
    n_out = None
    bar = _bar(len(pairs), progress)
    blocks = {}
    for a, b in pairs:
        (s_i, e_i), (s_j, e_j) = ci[a], cj[b]
        x_a = xi[s_i:e_i]

        def per_j(x_one, x_a=x_a):
            out, vjp_fn = vjp(lambda p: f1(p, x_one), params)
            eye = torch.eye(out.shape[-1], dtype=out.dtype, device=out.device)

            def column(v):
                (g,) = vjp_fn(v)
                return jvp(lambda p: fb(p, x_a), (params,), (g,))[1]

            return vmap(column)(eye)            # (O_j, n_i, O_i)

        xs, in_dim = vmappable(xj[s_j:e_j])
        blk = vmap(per_j, in_dims=(in_dim,))(xs)  # (n_j, O_j, n_i, O_i)
        n_out = blk.shape[1]
        blocks[a, b] = blk.permute(2, 3, 0, 1).reshape((e_i - s_i) * n_out, -1)
        bar.update(1)
    bar.close()
    k = _assemble(blocks, ci, cj, symmetric, "full")  # (n_i·O, n_j·O)
    if mode == "full":
        return k
    k = k.reshape(n_samples(xi), n_out, n_samples(xj), n_out)
    diag = torch.diagonal(k, dim1=1, dim2=3)        # (n_i, n_j, O)
    return diag.sum(-1) if mode == "trace" else diag.permute(2, 0, 1)


def _to_dataarray(k, mode, n_out, sample_i, sample_j, n_i, n_j, method, chunk):
    si = np.arange(n_i) if sample_i is None else np.asarray(sample_i)
    sj = np.arange(n_j) if sample_j is None else np.asarray(sample_j)
    labels = np.arange(n_out)
    if mode == "full":
        data = k.reshape(n_i, n_out, n_j, n_out)
        dims = (SAMPLE_I, LABEL_I, SAMPLE_J, LABEL_J)
        coords = {SAMPLE_I: si, LABEL_I: labels, SAMPLE_J: sj, LABEL_J: labels}
    elif mode == "trace":
        data, dims = k, (SAMPLE_I, SAMPLE_J)
        coords = {SAMPLE_I: si, SAMPLE_J: sj}
    else:
        data = np.moveaxis(k, 0, -1)
        dims = (SAMPLE_I, SAMPLE_J, LABEL)
        coords = {SAMPLE_I: si, SAMPLE_J: sj, LABEL: labels}
    long = {"full": "empirical NTK", "trace": "empirical NTK, trace over classes",
            "diagonal": "empirical NTK, class-diagonal entries"}[mode]
    return xr.DataArray(data, dims=dims, coords=coords, name="ntk",
                        attrs={"long_name": long, "units": "logit²", "method": method,
                               "mode": mode, "chunk_size": int(chunk)})


def _bar(total, progress):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not progress or total <= 1, desc="eNTK")


__all__ = ["empirical_ntk", "METHODS", "MODES", "DEFAULT_MEMORY_BUDGET"]
