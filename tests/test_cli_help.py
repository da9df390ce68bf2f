"""``workbench COMMAND --help``: every command says what it does, and every option what it
sets and its default (issue 22: ``--epochs``, ``--lr``, ``--model`` had no text and no
default; ``demo``, ``report``, ``lab`` and ``forces`` had no description)."""

import argparse

import pytest

from workbench.cli import build_parser

COMMANDS = {"train", "analyze", "report", "diagnose", "fix", "forces", "compare", "verify",
            "demo", "lab"}


def _commands() -> dict:
    parser = build_parser()
    sub, = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _shown(parser, action) -> str:
    """The action's help as ``--help`` prints it (defaults filled in), on one line."""
    return " ".join(parser._get_formatter()._expand_help(action).split())


def test_every_command_of_the_design_is_there():
    assert set(_commands()) >= COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_description_and_every_option_a_sentence(name):
    p = _commands()[name]
    assert len((p.description or "").split()) >= 8, f"{name}: description {p.description!r}"
    for a in p._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        what = "/".join(a.option_strings) or a.dest
        assert len((a.help or "").split()) >= 3, f"{name} {what}: help {a.help!r}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_shows_its_default(name):
    """An option that takes a value states its default: the real one, never "None"."""
    p = _commands()[name]
    for a in p._actions:
        if not a.option_strings or a.nargs == 0 or a.required \
                or isinstance(a, argparse._HelpAction):
            continue  # positionals, switches (off unless given), required options
        shown = _shown(p, a)
        what = "/".join(a.option_strings)
        assert "default" in shown.lower(), f"{name} {what}: {shown!r}"
        assert "None" not in shown, f"{name} {what}: a default of None in words, please"
        if a.default not in (None, ""):
            assert str(a.default) in shown, f"{name} {what}: default {a.default!r} not in " \
                                            f"{shown!r}"
    assert "(default: None)" not in " ".join(p.format_help().split())


def test_defaults_shown_are_the_parsed_ones():
    """What ``--help`` says the default is, is what the command gets without the option."""
    p = _commands()["train"]
    args = build_parser().parse_args(["train", "--out", "x"])
    for a in p._actions:
        if a.option_strings and a.dest in ("epochs", "lr", "batch_size", "momentum", "seed"):
            assert f"(default: {getattr(args, a.dest)})" in _shown(p, a)
