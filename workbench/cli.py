"""Command line: ``workbench train | report | demo | lab | ...`` (also ``python -m workbench``).

Subcommands live in :mod:`workbench.commands`, one module each, with a ``register(subparsers)``
function; this module discovers them.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    parser = argparse.ArgumentParser(
        prog="workbench",
        description="See inside neural-network training through physics, and repair a trained "
                    "model without retraining it.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted: every finished epoch is saved; continue with --resume",
              file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, FloatingPointError,
            RuntimeError) as e:
        print(f"workbench {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
