"""User-facing text in Simplified Chinese and English: every command's, group's and option's help.

The help a listing shows beside a command's name is the first paragraph of its help (its
docstring's); that paragraph and every other one of the help must hold both languages, so
``piguard … --help`` reads in either; so must the help of every option and argument a command has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from typer._click import core as click_core
from typer.core import TyperGroup
from typer.main import get_command

from piguard.cli import DOMAIN_COMMANDS, app
from piguard.core.cli_lazy import load_command, present

HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{2}")


def _walk(cmd: click_core.Command, path: list[str]) -> Iterator[tuple[str, click_core.Command]]:
    yield " ".join(path), cmd
    if isinstance(cmd, TyperGroup):
        ctx = click_core.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                yield from _walk(sub, [*path, name])


def _commands() -> Iterator[tuple[str, click_core.Command]]:
    yield "piguard", get_command(app)  # the root's own help (its sub-commands are walked below)
    for name, target, _ in present(DOMAIN_COMMANDS):
        yield from _walk(load_command(name, target), [name])


def _paragraphs(cmd: click_core.Command) -> list[str]:
    return (cmd.help or "").strip().split("\n\n")


def _lacks(text: str) -> str:
    """ "" when ``text`` has both languages, else which it lacks."""
    return " or ".join(lang for lang, rx in (("Chinese", HAN), ("English", LATIN)) if not rx.search(text))


def test_the_walk_reaches_the_nested_commands() -> None:
    names = {path for path, _ in _commands()}
    assert {"piguard", "scan", "sms registry add-port", "training course add", "oversight evidence"} <= names


def test_every_command_help_is_in_chinese_and_english() -> None:
    missing = []
    for path, cmd in _commands():
        for n, paragraph in enumerate(_paragraphs(cmd), 1):
            if lacks := _lacks(paragraph):
                missing.append(f"{path}: no {lacks} in paragraph {n}, {paragraph[:60]!r}")
    assert missing == [], "add the other language to the help of:\n" + "\n".join(missing)


def test_every_option_and_argument_help_is_in_chinese_and_english() -> None:
    checked, missing = 0, []
    for path, cmd in _commands():
        if isinstance(cmd, TyperGroup):
            continue
        for param in cmd.params:
            text = getattr(param, "help", None)
            if not text:  # an option without help has nothing to translate
                continue
            checked += 1
            if lacks := _lacks(text):
                missing.append(f"{path} {param.name}: no {lacks} in {text[:60]!r}")
    assert checked > 400  # the walk reached the commands' options
    assert missing == [], "add the other language to the help of:\n" + "\n".join(missing)
