"""`piguard db …`: create and migrate the database."""

from __future__ import annotations

import typer
from rich.console import Console

from piguard.core import db, migrate

app = typer.Typer(help="Database schema (Alembic migrations). / 数据库结构迁移。", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision / 目标版本")) -> None:
    """Create or migrate the database to the latest schema. / 创建数据库或迁移至最新结构。"""
    engine = db.get_engine()
    migrate.upgrade(engine, revision)
    Console().print(
        f"database at revision {migrate.current(engine)} ({engine.url.render_as_string(hide_password=True)})"
    )


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, or 'base' / 目标版本，或 'base'"),
) -> None:
    """Migrate the database down to REVISION. / 将数据库回退至 REVISION。"""
    engine = db.get_engine()
    migrate.downgrade(engine, revision)
    Console().print(f"database at revision {migrate.current(engine)}")


@app.command()
def current() -> None:
    """Print the database's schema revision. / 显示数据库当前的结构版本。"""
    Console().print(migrate.current(db.get_engine()) or "(empty)")
