"""Text read from a run store, made harmless: control characters neutralised, sizes bounded.

A store may come from someone else, so its strings (class names, layer names, config values,
the lock's holder) may hold terminal escapes (``\\x1b[2J`` clears the screen, ``\\x1b[8m``
hides what follows) or be megabytes long. :func:`printable` is the terminal's twin of
``html.escape``: every command line output that shows store text passes through it (the CLI
filters its whole standard output and its error lines with it). :func:`check_attrs` refuses,
naming the attr, a store whose config strings, class names or layer names are longer than
:data:`LIMITS`.

Examples
--------
>>> printable("cat\\x1b[2J")
'cat\\\\x1b[2J'
>>> printable("two\\nlines", keep="\\n")
'two\\nlines'
"""

from __future__ import annotations

import json
import unicodedata

#: Longest allowed: one config value as text, the whole config JSON, a class name, a layer
#: name, and how many classes.
LIMITS = {"config value": 1_000, "config": 100_000, "class name": 200, "layer name": 500,
          "classes": 100_000}


class StoreAttrError(ValueError):
    """A store attr of a size or kind no workbench writes."""


def _escape(c: str) -> str:
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else (f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")


def printable(text, *, keep: str = "") -> str:
    """``text`` with control and format characters (C0, DEL, C1, bidi overrides, zero-width)
    written as visible escapes (``\\x1b``), except those in ``keep`` (e.g. ``"\\n"``)."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c in keep or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co")
                   else _escape(c) for c in s)


def _too_long(what: str, name: str, value: str) -> StoreAttrError:
    return StoreAttrError(f"the store's {name} is {len(value):,} characters; a {what} has at "
                          f"most {LIMITS[what]:,} (the store was not written by workbench, or "
                          f"was altered)")


def check_attrs(attrs: dict, *, layers=()) -> None:
    """Refuse config strings, class names and layer names longer than :data:`LIMITS`.

    Raises
    ------
    StoreAttrError
        Naming the attr (``config['momentum']``, ``classes[3]``, ``layer 'conv1…'``) and
        its length.
    """
    raw = attrs.get("config")
    try:
        cfg = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        cfg = None
    for key, value in (cfg.items() if isinstance(cfg, dict) else ()):
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > LIMITS["config value"]:
            raise _too_long("config value", f"config[{printable(key)[:40]!r}]", text)
    if isinstance(raw, str) and len(raw) > LIMITS["config"]:
        raise _too_long("config", "attr 'config'", raw)
    raw = attrs.get("classes")
    try:
        classes = json.loads(raw) if isinstance(raw, str) else (raw or [])
    except ValueError:
        classes = []
    classes = classes if isinstance(classes, list) else []
    if len(classes) > LIMITS["classes"]:
        raise StoreAttrError(f"the store's attr 'classes' names {len(classes):,} classes; at "
                             f"most {LIMITS['classes']:,} are read")
    for i, c in enumerate(classes):
        if len(str(c)) > LIMITS["class name"]:
            raise _too_long("class name", f"classes[{i}]", str(c))
    for name in layers:
        if len(str(name)) > LIMITS["layer name"]:
            raise _too_long("layer name", f"layer {printable(str(name))[:30]!r}…", str(name))


__all__ = ["printable", "check_attrs", "StoreAttrError", "LIMITS"]
