"""Alembic environment: runs on the connection piguard hands it (see piguard.core.migrate)."""

from __future__ import annotations

from alembic import context

from piguard.migrations import pg_partitions
from piguard.models import metadata

config = context.config
connection = config.attributes.get("connection")


def run() -> None:
    if connection is None:
        raise RuntimeError("piguard migrations run through `piguard db upgrade` (piguard.core.migrate)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # msg_records' monthly partitions are kept by the worker, not by revisions.
        include_name=pg_partitions.include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
