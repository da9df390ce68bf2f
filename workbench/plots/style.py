"""One look for every figure: seaborn's colour-blind-safe palette and its ``ticks`` theme.

Set in this one place and applied inside :func:`context` (a ``matplotlib.rc_context``)
wherever the workbench builds or renders a figure: the views (around each redraw, so the
``"C0"``…``"C9"`` colours they set in place resolve the same way), the report figures and
``workbench forces``. Importing this module changes nothing global; a user's own pyplot
figures keep their own style.

The palette is seaborn's ``"colorblind"`` (Okabe–Ito-like: blue, orange, green,
vermillion, …), distinguishable under the common colour-vision deficiencies. Fonts, the
default image colour map and font sizes are left as matplotlib's, so text extents do not
depend on which fonts a machine has.

Examples
--------
>>> from matplotlib.colors import to_hex
>>> with context():
...     to_hex("C0") == palette()[0]
True
"""

from __future__ import annotations

import functools

#: seaborn palette every figure cycles through ("C0"…"C9").
PALETTE = "colorblind"
#: seaborn theme (axes style) every figure uses.
THEME = "ticks"
#: rc keys of the seaborn theme left as matplotlib has them (fonts: extents that do not
#: depend on installed fonts; the image colour map: every image names its own).
_KEEP = ("font.", "image.cmap")


@functools.cache
def palette() -> tuple[str, ...]:
    """The ten colours of :data:`PALETTE` as hex strings (``"C0"`` is the first)."""
    import seaborn as sns

    return tuple(sns.color_palette(PALETTE, 10).as_hex())


@functools.cache
def _rc() -> dict:
    import seaborn as sns
    from cycler import cycler

    theme = {k: v for k, v in sns.axes_style(THEME).items() if not k.startswith(_KEEP)}
    return {**theme, "axes.prop_cycle": cycler(color=list(palette())),
            "patch.edgecolor": "none"}


def rc() -> dict:
    """The rc parameters of the workbench's look (a copy: change it freely)."""
    return dict(_rc())


def context():
    """``with context(): ...`` builds and renders figures in the workbench's look, then puts
    matplotlib's settings back."""
    import matplotlib

    return matplotlib.rc_context(_rc())


def color(n: int) -> str:
    """The ``n``-th colour of the palette (``"C<n>"`` inside :func:`context`)."""
    return palette()[n % 10]


__all__ = ["PALETTE", "THEME", "color", "context", "palette", "rc"]
