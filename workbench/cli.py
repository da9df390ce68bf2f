"""Command line: ``workbench train | report | demo | lab | ...`` (also ``python -m workbench``).

Subcommands live in :mod:`workbench.commands`, one module each, with a ``register(subparsers)``
function; this module discovers them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pickle
import pkgutil
import sys
import zipfile


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default: ``(default: ...)`` is added unless the help
    already says what the default is (``default``), or the option is a switch (off unless
    given) or required. A default of None is never shown as "None": its help says in words
    what happens without the option (``tests/test_cli_help.py`` checks both)."""

    def _get_help_string(self, action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.nargs == 0 or action.required
                or action.default is argparse.SUPPRESS or "default" in text.lower()):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    parser = argparse.ArgumentParser(
        prog="workbench", formatter_class=HelpFormatter,
        description="See inside neural-network training through physics, and repair a trained "
                    "model without retraining it.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    for p in sub.choices.values():
        p.formatter_class = HelpFormatter
    return parser


class _PrintableStream:
    """A text stream that neutralises control characters (terminal escapes) in what is
    written (:func:`workbench.record.text.printable`; newlines and tabs kept): every
    command's output shows store text (class names, config, layers) through it."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s):
        from .record.text import printable

        return self._stream.write(printable(s, keep="\n\t"))

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _one_line_warning(message, category, filename, lineno, line=None):
    """Warnings as one line, without the Python source line they were raised from."""
    from .record.text import printable

    return f"workbench: warning: {printable(' '.join(str(message).split()))}\n"


def main(argv=None) -> int:
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    stdout, formatwarning = sys.stdout, warnings.formatwarning
    sys.stdout, warnings.formatwarning = _PrintableStream(stdout), _one_line_warning
    try:
        with warnings.catch_warnings():
            for message in ZARR_NOISE:  # zarr's notes on its own format: nothing to act on
                warnings.filterwarnings("ignore", message=message)
            return _run(args)
    finally:
        sys.stdout, warnings.formatwarning = stdout, formatwarning


#: zarr's warnings about its own format (consolidated metadata, fixed-width text), which a
#: user of the workbench cannot act on.
ZARR_NOISE = ("Consolidated metadata is currently not part",
              ".*does not have a Zarr V3 specification")


def _run(args) -> int:
    from .record.text import printable

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted: every finished epoch is saved; continue with --resume",
              file=sys.stderr)
        return 130
    except (ValueError, OSError, KeyError, RuntimeError, FloatingPointError, EOFError,
            pickle.UnpicklingError, zipfile.BadZipFile) as e:
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        line = printable(_damage_line(args) or error_line(e))
        print(f"workbench {args.command}: error: {line}", file=sys.stderr)
        return 1


def _damage_line(args) -> str | None:
    """When a command on a run fails, and the run is damaged, say which files are."""
    from .record.integrity import StoreDamagedError, verify

    run = getattr(args, "run", None)
    if not isinstance(run, str) or args.command == "verify":
        return None
    try:
        damage = verify(run)
    except Exception:  # noqa: BLE001  (not a run, or unreadable: the original error stands)
        return None
    return str(StoreDamagedError(run, damage)) if damage else None


def error_line(e: BaseException) -> str:
    """One line that names the file and what to do, for the errors a user can meet."""
    import errno

    if isinstance(e, OSError) and not isinstance(e, (FileNotFoundError, FileExistsError)) \
            and e.errno is not None:
        where = f" {e.filename}" if e.filename else ""
        hint = {errno.ENOSPC: "free some disk space, then continue with --resume",
                errno.EACCES: "check the permissions of that path, or choose another one",
                errno.EPERM: "check the permissions of that path, or choose another one",
                errno.ENOTDIR: "a path component is a file, not a directory: choose another "
                               "path",
                errno.EROFS: "the file system is read-only: choose another path"}.get(
            e.errno, "check that path")
        return f"{e.strerror or type(e).__name__}:{where}; {hint}"
    if isinstance(e, KeyError):
        return (f"the run has no {e.args[0]!r} (it holds no committed epoch yet, or was not "
                f"written by 'workbench train'); train it first or check the path")
    if isinstance(e, pickle.UnpicklingError):
        return f"{e}".splitlines()[0]
    text = " ".join(str(e).split()) or type(e).__name__
    if type(e).__module__ == "builtins" and not isinstance(
            e, (ValueError, FileNotFoundError, FileExistsError, RuntimeError,
                FloatingPointError)):
        text = f"{type(e).__name__}: {text}"
    return text


if __name__ == "__main__":
    sys.exit(main())
