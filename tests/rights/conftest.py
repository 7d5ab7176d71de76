from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

POSTGRES_URL = os.environ.get("PIGUARD_TEST_POSTGRES_URL", "")


@pytest.fixture()
def target(db_engine: Engine, tmp_path: Path) -> Iterator[dict[str, object]]:
    """A second database, the operator's "customer system": a SQLite file, or a separate PostgreSQL schema."""
    if db_engine.dialect.name == "sqlite":
        yield {"url": f"sqlite:///{tmp_path / 'shop.db'}", "schema": None}
        return
    schema = f"shop_{uuid.uuid4().hex[:10]}"
    eng = create_engine(POSTGRES_URL)
    with eng.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield {"url": POSTGRES_URL, "schema": schema}
    with eng.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    eng.dispose()
