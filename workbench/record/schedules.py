"""When to record: plain callables ``step -> bool``.

Examples
--------
>>> s = every(4)
>>> [t for t in range(10) if s(t)]
[0, 4, 8]
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class every:  # noqa: N801  (reads as a schedule: every(4))
    """True on steps 0, n, 2n, ... (``n >= 1``)."""

    n: int

    def __post_init__(self):
        if int(self.n) < 1:
            raise ValueError(f"every(n) needs n >= 1; got {self.n}")

    def __call__(self, step: int) -> bool:
        return step % self.n == 0


def never(step: int) -> bool:
    """Record nothing."""
    return False
