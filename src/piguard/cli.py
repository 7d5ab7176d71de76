"""Typer root: mounts each domain's sub-commands.

Errors come out in the one error shape (code, zh/en message, obligation ids) on stderr; no traces.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer.core import TyperGroup

from piguard.core.cli_render import render_error
from piguard.core.errors import PiguardError, database_unavailable
from piguard.core.modules import import_if_present


class _PiguardGroup(TyperGroup):
    """Renders a PiguardError from any sub-command in the one error shape, with its exit code,
    whether piguard runs as a program or under a test runner."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except PiguardError as err:
            render_error(err, as_json=_wants_json(ctx))
            ctx.exit(err.exit_code)
        except (OperationalError, ProgrammingError) as exc:
            # A database that is unreachable or not migrated: say what to do, never show SQL
            # (statements may carry parameters, i.e. personal information).
            unavailable = database_unavailable(exc)
            render_error(unavailable, as_json=_wants_json(ctx))
            ctx.exit(unavailable.exit_code)


def _wants_json(ctx: typer.Context) -> bool:
    args = list(getattr(ctx, "protected_args", []) or []) + list(ctx.args or [])
    args += sys.argv[1:]
    return any(a in ("--format=json", "--format=jsonl") for a in args) or any(
        a == "--format" and i + 1 < len(args) and args[i + 1] in ("json", "jsonl") for i, a in enumerate(args)
    )


app = typer.Typer(
    cls=_PiguardGroup,
    name="piguard",
    help="piguard: user personal-information protection (MIIT Orders 24/31, Cybersecurity Law).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# (command name, module exposing a Typer ``app``); modules not written yet are skipped.
DOMAIN_COMMANDS = [
    ("rules", "piguard.regulations.cli"),
    ("calendar", "piguard.core.calendar_cli"),
    ("db", "piguard.core.db_cli"),
    ("audit", "piguard.oversight.audit_cli"),
    ("staff", "piguard.identity.cli"),
    ("scan", "piguard.discovery.cli"),
    ("mask", "piguard.discovery.mask_cli"),
    ("inventory", "piguard.inventory.cli"),
    ("consent", "piguard.consent.cli"),
    ("sms", "piguard.messaging.cli"),
    ("serve", "piguard.serve_cli"),
    ("demo", "piguard.demo_cli"),
    ("worker", "piguard.worker"),
    ("policy", "piguard.inventory.lint_cli"),
]

for _name, _module in DOMAIN_COMMANDS:
    _mod = import_if_present(_module)
    if _mod is None:
        continue
    if hasattr(_mod, "command"):  # a single command, e.g. `piguard serve`
        app.command(_name)(_mod.command)
    else:
        app.add_typer(_mod.app, name=_name)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
