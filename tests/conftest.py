"""Shared fixtures: every storage test runs on SQLite and, when PIGUARD_TEST_POSTGRES_URL is set,
on PostgreSQL too (each test session gets its own schema, dropped at the end)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from piguard.core import db
from piguard.core.config import reset_settings
from piguard.models import metadata

# CI gets the same examples on every run (a property that fails there fails again on a re-run and
# prints how to reproduce it); developers' runs keep exploring new ones, which is where new bugs
# come from (the a.b.c.0 generalisation case in tests/discovery/test_deid.py was found that way).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

POSTGRES_URL = os.environ.get("PIGUARD_TEST_POSTGRES_URL", "")
# PIGUARD_TEST_FAKE_NOW=2026-12-31T23:30:00Z runs the whole session with the clock travelled to that
# instant (ticking on from it): the suite must pass at any hour and on any day it is run.
FAKE_NOW = os.environ.get("PIGUARD_TEST_FAKE_NOW", "").strip()
_traveller: object | None = None
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    global _traveller
    if not FAKE_NOW or _traveller is not None:
        return
    from datetime import datetime

    import time_machine

    try:
        instant = datetime.fromisoformat(FAKE_NOW.replace("Z", "+00:00"))
    except ValueError as exc:
        raise pytest.UsageError(f"PIGUARD_TEST_FAKE_NOW={FAKE_NOW!r} is not an ISO 8601 instant") from exc
    if instant.tzinfo is None:
        raise pytest.UsageError(f"PIGUARD_TEST_FAKE_NOW={FAKE_NOW!r} needs a UTC offset (e.g. a final Z)")
    traveller = time_machine.travel(instant, tick=True)
    traveller.start()
    _traveller = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    global _traveller
    if _traveller is not None:
        _traveller.stop()  # type: ignore[attr-defined]
        _traveller = None


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"clock travelled to {FAKE_NOW} (PIGUARD_TEST_FAKE_NOW)" if FAKE_NOW else None


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's environment or writes into ./var."""
    monkeypatch.setenv("PIGUARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PIGUARD_DATABASE_URL", raising=False)
    reset_settings()
    yield
    reset_settings()


def _postgres_engine(schema: str) -> Engine:
    admin = db.make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return db.make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})


def _drop_postgres_schema(schema: str) -> None:
    admin = db.make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def make_backend_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Factory for an empty database on a backend: ``make_backend_engine("sqlite")``."""
    schemas: list[str] = []
    engines: list[Engine] = []

    def make(backend: str) -> Engine:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "piguard.db"
            engine = db.make_engine(f"sqlite:///{path}")
        else:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            schemas.append(schema)
            engine = _postgres_engine(schema)
        engines.append(engine)
        return engine

    yield make
    for e in engines:
        e.dispose()
    for s in schemas:
        _drop_postgres_schema(s)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each storage backend's name, for tests that make their own databases."""
    return str(request.param)


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest, make_backend_engine: object) -> Iterator[Engine]:
    """An engine with the whole schema, one per backend for the session."""
    eng: Engine = make_backend_engine(request.param)  # type: ignore[operator]
    metadata.create_all(eng)
    yield eng


def _clear(engine: Engine) -> None:
    tables = list(reversed(metadata.sorted_tables))
    if not tables:
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(t.delete())


@pytest.fixture()
def db_engine(engine: Engine) -> Iterator[Engine]:
    """The backend's engine, made the process default, emptied after the test."""
    db.set_engine(engine)
    yield engine
    db.set_engine(None)
    _clear(engine)


@pytest.fixture()
def session(db_engine: Engine) -> Iterator[Session]:
    """A session on each backend; the test commits what it wants kept."""
    s = sessionmaker(bind=db_engine, expire_on_commit=False)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture()
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED}")
    return SHARED
