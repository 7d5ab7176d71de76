"""Audit fixtures: write entries, tamper with rows behind the service's back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.config import reset_settings


@pytest.fixture()
def write_entries(session: Session) -> Callable[..., None]:
    """Record ``n`` entries, ``per_commit`` to a transaction, and commit them."""

    def write(n: int, per_commit: int = 1000, **kw: Any) -> None:
        for i in range(n):
            record(
                session,
                action=kw.get("action", "pi.read"),
                actor=kw.get("actor", Actor("staff", f"staff-{i % 3}")),
                subject_ref=kw.get("subject_ref", f"user-{i}"),
                data_categories=("user.contact.phone",),
                purpose="customer_service",
                client_ip="10.0.0.7",
                terminal="desk-12",
                obligations=("O24-13.6",),
                detail={"i": i, "note": "masked view"},
            )
            if (i + 1) % per_commit == 0:
                session.commit()
        session.commit()

    return write


@pytest.fixture()
def tamper(db_engine: Engine) -> Callable[..., None]:
    """Run SQL directly against the database (as an intruder with database access would)."""

    def run(sql: str, **params: Any) -> None:
        with db_engine.begin() as conn:
            conn.execute(text(sql), params)

    return run


@pytest.fixture()
def checkpoint_every(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    def set_every(n: int) -> None:
        monkeypatch.setenv("PIGUARD_AUDIT_CHECKPOINT_EVERY", str(n))
        reset_settings()

    yield set_every
    reset_settings()
