"""CLI subcommands: each module defines ``register(subparsers)``; ``workbench.cli`` finds them."""
