"""Sub-commands mounted from a list and imported only when they run (Click's lazy-group pattern).

A mounting list (``DOMAIN_COMMANDS`` in ``piguard/cli.py``, ``SMS_COMMANDS`` in
``messaging/cli.py``) holds ``(name, target, help)`` entries:

- ``target`` is ``"package.module"`` (the module's single-command function ``command``, else its
  Typer ``app``) or ``"package.module:attr"`` (a Typer app or a command function in that module);
  a module that does not exist yet is skipped, as before;
- ``help`` is the text a group's ``--help`` lists beside the name, so listing the commands imports
  none of them (``tests/core/test_cli_lazy.py`` checks it is the command's own help).

The module is imported when the command is run, when its own ``--help`` is asked for, or when
completion needs its sub-commands: ``piguard --help`` imports no domain (no SQLAlchemy, FastAPI,
Alembic or hyperscan), and ``piguard sms check`` imports only what ``check`` needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
from typer import _click as click  # Typer vendors its own Click; its classes must be these
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import TyperInfo

from piguard.core.modules import module_exists

LazyEntry = tuple[str, str, str]
"""``(command name, "package.module" or "package.module:attr", help shown in the listing)``."""


def present(entries: Sequence[LazyEntry]) -> list[LazyEntry]:
    """The entries whose module exists (domains not written yet are skipped)."""
    return [e for e in entries if module_exists(e[1].partition(":")[0])]


def load_command(
    name: str,
    target: str,
    *,
    rich_markup_mode: Any = "rich",
    suggest_commands: bool = True,
) -> click.Command:
    """Import ``target`` and build the Click command named ``name`` from it."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    obj = getattr(module, attr) if attr else getattr(module, "command", None) or module.app
    if isinstance(obj, typer.Typer):
        cmd = _from_typer(obj, rich_markup_mode=rich_markup_mode, suggest_commands=suggest_commands)
    elif callable(obj):
        wrapper = typer.Typer(rich_markup_mode=rich_markup_mode)
        wrapper.command(name)(obj)
        cmd = _from_typer(wrapper, rich_markup_mode=rich_markup_mode, suggest_commands=suggest_commands)
    else:  # pragma: no cover - a wrong entry in a mounting list is a programming error
        raise TypeError(f"{target} is neither a Typer app nor a command function")
    cmd.name = name
    return cmd


def _from_typer(app: typer.Typer, *, rich_markup_mode: Any, suggest_commands: bool) -> click.Command:
    """A Typer app as ``add_typer`` mounts it (a group), or its one command when it has only one;
    unlike ``typer.main.get_command`` no completion options are added (only the root has them)."""
    if (
        app.registered_callback
        or app.info.callback
        or app.registered_groups
        or len(app.registered_commands) != 1
    ):
        return get_group_from_info(
            TyperInfo(app),
            pretty_exceptions_short=app.pretty_exceptions_short,
            suggest_commands=suggest_commands,
            rich_markup_mode=rich_markup_mode,
        )
    return get_command_from_info(
        app.registered_commands[0],
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=rich_markup_mode,
    )


class LazyTyperGroup(TyperGroup):
    """A Typer group whose sub-commands come from ``lazy_commands`` and are imported on use.

    Subclass it with ``lazy_commands = [...]`` and pass it as ``typer.Typer(cls=...)``; commands
    declared on the app itself (``@app.command``) are listed first, as usual.
    """

    lazy_commands: ClassVar[Sequence[LazyEntry]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = {name: (target, help) for name, target, help in present(self.lazy_commands)}
        self._loaded: dict[str, click.Command] = {}
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return eager + [name for name in self._lazy if name not in self.commands]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in self._lazy:
            return cmd
        if cmd_name in self._loaded:
            return self._loaded[cmd_name]
        target, help = self._lazy[cmd_name]
        if self._listing:  # the listing needs only the name and its help
            return TyperCommand(cmd_name, help=help)
        cmd = self._loaded[cmd_name] = load_command(
            cmd_name,
            target,
            rich_markup_mode=self.rich_markup_mode,
            suggest_commands=self.suggest_commands,
        )
        return cmd

    @contextmanager
    def _listing_only(self) -> Iterator[None]:
        before, self._listing = self._listing, True
        try:
            yield
        finally:
            self._listing = before

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._listing_only():
            super().format_help(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._listing_only():
            super().format_commands(ctx, formatter)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        with self._listing_only():
            return super().shell_complete(ctx, incomplete)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as e:
            # Typer suggests only among the commands already built; suggest among the listed ones.
            if self.suggest_commands and args and "Did you mean" not in e.message:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(f"{m!r}" for m in matches)
                    e.message = f"{e.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


def lazy_group(
    entries: Sequence[LazyEntry], base: type[LazyTyperGroup] = LazyTyperGroup
) -> type[LazyTyperGroup]:
    """A group class mounting ``entries`` (for ``typer.Typer(cls=lazy_group(ENTRIES))``)."""
    return type(f"Lazy{base.__name__}", (base,), {"lazy_commands": entries})
