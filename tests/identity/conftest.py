"""Identity fixtures: cheap argon2 parameters (same algorithm), account makers, audit readers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.identity import service
from piguard.identity.models import Staff

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hasher() -> Iterator[None]:
    """argon2id with small parameters: the real hasher, minus 150 ms a hash on a shared machine."""
    previous = service.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    service.use_password_hasher(previous)


@pytest.fixture()
def login_limits(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, int], None]:
    from piguard.core.config import reset_settings

    def set_limits(
        max_failures: int, window_seconds: int = 900, address_max: int = 30, address_window: int = 60
    ) -> None:
        monkeypatch.setenv("PIGUARD_LOGIN_MAX_FAILURES", str(max_failures))
        monkeypatch.setenv("PIGUARD_LOGIN_FAILURE_WINDOW_SECONDS", str(window_seconds))
        monkeypatch.setenv("PIGUARD_LOGIN_ADDRESS_MAX_FAILURES", str(address_max))
        monkeypatch.setenv("PIGUARD_LOGIN_ADDRESS_WINDOW_SECONDS", str(address_window))
        reset_settings()

    return set_limits


@pytest.fixture()
def make_staff(session: Session) -> Callable[..., Staff]:
    def make(
        username: str, roles: tuple[str, ...] | list[str] = ("operator",), password: str = PASSWORD, **kw: Any
    ) -> Staff:
        staff = service.create_staff(session, username=username, password=password, roles=roles, **kw)
        session.commit()
        return staff

    return make


@pytest.fixture()
def audit_entries(db_engine: Any) -> Callable[..., list[AuditEntry]]:
    """Committed audit entries (read in a fresh session), optionally for one action."""
    from piguard.core import db

    def read(action: str | None = None) -> list[AuditEntry]:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        with db.unit_of_work() as s:
            return list(s.scalars(stmt))

    return read
