"""Schema migrations (Alembic) driven from Python: `piguard db upgrade`, tests, the demo."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from piguard.core.errors import FieldError, PiguardError, validation_error

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    return cfg


def _run(engine: Engine, fn: str, revision: str, **kwargs: object) -> None:
    from alembic.util import CommandError

    cfg = alembic_config()
    if not revision.strip() or "\x00" in revision:
        raise _unknown_revision(revision)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            getattr(command, fn)(cfg, revision, **kwargs)
    except CommandError as exc:  # a revision that does not exist: nothing was migrated
        raise _unknown_revision(revision, str(exc)) from None


def _unknown_revision(revision: str, detail: str = "") -> PiguardError:
    shown = revision.replace("\x00", "\\0")[:80]
    return validation_error(
        [FieldError("revision", f"{detail or 'empty'} / 无此版本")],
        f"No migration {shown!r}: use a revision id, 'head' or 'base'; nothing was changed.",
        f"没有迁移版本 {shown!r}：请使用版本号、head 或 base；未做任何更改。",
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    _run(engine, "downgrade", revision)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def autogenerate(engine: Engine, message: str) -> None:
    """Developer tool: write a new revision from the difference between models and database."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)
