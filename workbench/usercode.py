"""The user's own code, named on the command line: ``pkg.module:factory`` or ``file.py:name``.

Only the user names code: ``workbench analyze RUN --model mypkg.models:make_model --data
mypkg.data:datasets``. A run store never does (its attrs are plain data, and nothing here
reads them). :func:`open_run` is what the commands call.

Examples
--------
>>> load_callable("math:sqrt", "--model")(4.0)
2.0
>>> load_callable("math", "--model")
Traceback (most recent call last):
...
ValueError: --model must be 'package.module:name' or 'path/to/file.py:name'; got 'math'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path


def load_callable(spec: str, option: str):
    """The callable named by ``spec`` (``module:attr`` or ``file.py:attr``).

    Raises
    ------
    ValueError
        When the spec is malformed, the module or file cannot be imported, or the name is
        missing or not callable; the message names the option and what was found.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"{option} must be 'package.module:name' or 'path/to/file.py:name'; "
                         f"got {spec!r}")
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise ValueError(f"{option} must be 'package.module:name' or 'path/to/file.py:name'; "
                         f"got {spec!r}")
    try:
        if where.endswith(".py"):
            path = Path(where).resolve()
            if not path.is_file():
                raise FileNotFoundError(f"no file {path}")
            mod_name = f"workbench_user_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[mod_name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except Exception as e:
        raise ValueError(f"{option} {spec}: cannot import {where!r}: {type(e).__name__}: {e}"
                         ) from None
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{option} {spec}: {where!r} has no {name!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{option} {spec}: {name!r} is a {type(obj).__name__}, not a callable")
    return obj


def open_run(path, *, model: str | None = None, data: str | None = None, **kwargs):
    """:class:`~workbench.run.Run` of ``path`` with the user's ``--model`` factory and
    ``--data`` callable (returning ``(train, test)``), each given as a spec string."""
    from .run import Run

    factory = load_callable(model, "--model") if model else None
    pair = None
    if data:
        pair = load_callable(data, "--data")()
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"--data {data} must return a pair (train, test) of torch "
                             f"Datasets; it returned {type(pair).__name__}")
    return Run(path, model=factory, data=pair, **kwargs)


def add_arguments(parser) -> None:
    """The ``--model`` and ``--data`` options of every command that opens a run."""
    parser.add_argument("--model", default=None, metavar="MODULE:FACTORY",
                        help="your model factory, for runs recorded with workbench.watch "
                             "(e.g. mypkg.models:make_model or examples/grokking.py:"
                             "make_model); default: none (runs of 'workbench train' need "
                             "none)")
    parser.add_argument("--data", default=None, metavar="MODULE:DATASETS",
                        help="a callable returning your (train, test) torch Datasets, for "
                             "runs recorded with workbench.watch; default: none")


__all__ = ["load_callable", "open_run", "add_arguments"]
