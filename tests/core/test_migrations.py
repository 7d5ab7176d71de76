"""Migrations: up and down on every backend, and models and migrations never disagree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from piguard.core import migrate
from piguard.migrations import pg_partitions
from piguard.models import metadata


def test_upgrade_downgrade_upgrade(backend: str, make_backend_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_backend_engine(backend)
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.current(engine) is not None


def test_models_match_migrations(backend: str, make_backend_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_backend_engine(backend)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": pg_partitions.include_name}
        )
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"models and migrations disagree; generate a migration: {diff}"
