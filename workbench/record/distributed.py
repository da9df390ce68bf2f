"""Recording under ``torch.distributed`` (DistributedDataParallel started by ``torchrun``).

One process per device trains its share of every global batch; DDP averages the gradients
during ``backward()``. The record must not depend on how many processes there are, so:

- per-layer gradient, weight and update statistics are taken after ``backward()`` and the
  optimizer step, when every rank holds the same all-reduced gradient and the same weights;
- the batch loss, the batch size and the activation mean/std are combined over the ranks
  (one ``all_gather`` of a small tensor per recorded step): the loss is the mean over the
  global batch, the activation statistics those of the global batch;
- rank 0 alone writes the store and the checkpoints.

Examples
--------
>>> world()                       # no process group: a single process
World(rank=0, size=1)
>>> combine_moments(torch.tensor([[2., 1., 0.], [2., 3., 0.]]))   # n, mean, M2 of 2 ranks
tensor([4., 2., 4.])
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
import torch.distributed as dist

__all__ = ["World", "world", "init_from_env", "combine_moments", "gather"]


class World(NamedTuple):
    """This process's rank and the number of processes (1 without a process group)."""

    rank: int
    size: int

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def writer(self) -> bool:
        """Rank 0 writes the store."""
        return self.rank == 0


def world() -> World:
    """The current process group's rank and size, or ``World(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World(0, 1)


def init_from_env(device: torch.device) -> bool:
    """Start the default process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1).

    Uses NCCL on CUDA and gloo otherwise. Does nothing when a group is already initialised
    or the environment does not describe one.

    Returns
    -------
    bool
        True if this call initialised the group (the caller then destroys it).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available() \
            or dist.is_initialized():
        return False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def gather(t: torch.Tensor) -> torch.Tensor:
    """Stack ``t`` from every rank along a new first dim (rank order); ``t[None]`` alone."""
    w = world()
    if not w.distributed:
        return t[None]
    if dist.get_backend() == "nccl" and t.device.type != "cuda":
        t = t.cuda()
    out = [torch.empty_like(t) for _ in range(w.size)]
    dist.all_gather(out, t.contiguous())
    return torch.stack(out).to(t.device)


def combine_moments(parts: torch.Tensor) -> torch.Tensor:
    """Pool (count, mean, M2) of disjoint parts into the (count, mean, M2) of their union.

    Parameters
    ----------
    parts : torch.Tensor
        ``(..., part, 3)``: per part the count n, the mean and M2 = Σ (x − mean)². Parts with
        n = 0 are ignored (their mean may be NaN).

    Returns
    -------
    torch.Tensor
        ``(..., 3)``.

    Notes
    -----
    Chan, Golub and LeVeque's pairwise update, for all parts at once:
    :math:`N = \\sum_r n_r`, :math:`\\bar x = \\sum_r n_r \\bar x_r / N`,
    :math:`M_2 = \\sum_r [M_{2,r} + n_r (\\bar x_r - \\bar x)^2]`. The sample standard deviation
    of the union is :math:`\\sqrt{M_2 / (N - 1)}`. No sums of squares of raw values are
    formed, so there is no cancellation.
    """
    n, mean, m2 = parts.unbind(-1)
    has = n > 0
    mean = torch.where(has, mean, 0.0)
    m2 = torch.where(has, m2, 0.0)
    total = n.sum(-1)
    mu = (n * mean).sum(-1) / total
    spread = (m2 + n * (mean - mu[..., None]) ** 2).sum(-1)
    return torch.stack([total, mu, spread], -1)
