"""Filter-KD: a teacher signal that low-pass filters each sample's predictions over training."""

from __future__ import annotations

import torch


class PredictionEMA:
    """Exponential moving average of each training sample's predicted distribution.

    Parameters
    ----------
    n_samples : int
        Size of the training set (positions ``0..n_samples-1``).
    num_classes : int
    alpha : float
        Memory of the filter in [0, 1): ``q ← α·q + (1 − α)·π``. Larger is smoother.
    init : torch.Tensor, optional
        Starting targets ``(n_samples, num_classes)``; default uniform.

    Notes
    -----
    Ren et al., "Better Supervisory Signals by Observing Learning Paths" (ICLR 2022): the
    predictions on a hard or mislabelled sample zig-zag, first toward the class similar
    samples push it to (often the true one), later toward the (noisy) label once memorised.
    The EMA ``q_t = α q_{t−1} + (1 − α) π_t`` keeps the early, better part of the path; a
    student distilled from ``q`` beats one distilled from the final teacher under label
    noise. Each sample's average advances only when it is updated (we update all samples
    once per epoch in the bench).

    Examples
    --------
    >>> ema = PredictionEMA(4, 3, alpha=0.5)
    >>> ema.update(torch.tensor([0, 2]), torch.tensor([[1.0, 0, 0], [0, 0, 1.0]]))
    >>> ema.targets[0].tolist()
    [0.6666666865348816, 0.1666666716337204, 0.1666666716337204]
    """

    def __init__(self, n_samples: int, num_classes: int, *, alpha: float = 0.7,
                 init: torch.Tensor | None = None):
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"PredictionEMA alpha must be in [0, 1); got {alpha}")
        self.alpha = float(alpha)
        self.targets = (torch.full((n_samples, num_classes), 1.0 / num_classes)
                        if init is None else init.detach().clone().float())
        if self.targets.shape != (n_samples, num_classes):
            raise ValueError(f"PredictionEMA init must have shape ({n_samples}, "
                             f"{num_classes}); got {tuple(self.targets.shape)}")

    @torch.no_grad()
    def update(self, indices: torch.Tensor, probs: torch.Tensor) -> None:
        """Fold the predictions ``probs (n, C)`` of samples ``indices (n,)`` into the EMA."""
        idx = torch.as_tensor(indices, dtype=torch.long).cpu()
        p = probs.detach().float().cpu()
        self.targets[idx] = self.alpha * self.targets[idx] + (1.0 - self.alpha) * p


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``−Σ_c q_c log softmax(z)_c`` (distillation loss).

    Examples
    --------
    >>> z = torch.zeros(2, 4)
    >>> round(float(soft_cross_entropy(z, torch.full((2, 4), 0.25))), 4)
    1.3863
    """
    return -(targets * torch.log_softmax(logits, -1)).sum(-1).mean()


__all__ = ["PredictionEMA", "soft_cross_entropy"]
