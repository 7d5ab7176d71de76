"""Oversight fixtures: cheap password hashing, a registry with one delivered notice, accounts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.messaging.gw_setup import BUSINESS_PORT, NOTICE, USER, build_registry

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.core.db import utcnow
from piguard.identity import service as identity
from piguard.oversight import agents, training

PASSWORD = "a long oversight password 1"
ACTOR = Actor.system("test")
FIRM = "kefu"


@pytest.fixture(autouse=True)
def _fast_hasher() -> Iterator[None]:
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(previous)


@pytest.fixture()
def demo_in_midyear(session: Session) -> Iterator[Session]:
    """The demo, loaded and looked at on 1 July (12:00 in Asia/Shanghai), the clock ticking on.

    The demo dates its data up to 20 days back from when it is loaded, and a self-inspection covers
    the year in China: in the first days of a year (e.g. 31 Dec 20:00 UTC, New Year in Shanghai)
    part of the demo lies in the year before, and no one year's report shows all of it."""
    from piguard.demo import load_demo

    with time_machine.travel(datetime(2026, 7, 1, 4, 0, tzinfo=UTC), tick=True):
        load_demo(session)
        session.commit()
        yield session


@pytest.fixture()
def app_client(db_engine: Any) -> TestClient:
    return TestClient(create_app(), follow_redirects=False)


@pytest.fixture()
def course(session: Session) -> str:
    training.add_course(
        session, code="pi-basics", title_zh="个人信息保护基础", title_en="PI basics", actor=ACTOR
    )
    session.commit()
    return "pi-basics"


@pytest.fixture()
def firm(session: Session) -> str:
    now = utcnow()
    agents.register_firm(
        session,
        code=FIRM,
        name="外包客服有限公司",
        contract_no="WB-2026-01",
        contract_start=now - timedelta(days=10),
        contract_end=now + timedelta(days=100),
        scope_categories=["phone_mobile"],
        scope_purposes=["complaint_handling"],
        scope_systems=["sms"],
        actor=ACTOR,
    )
    session.commit()
    return FIRM


@pytest.fixture()
def account(session: Session, course: str) -> Callable[..., dict[str, str]]:
    """``account(name, role, trained_at=now, agent=False)`` -> bearer headers for a new account."""

    def make(name: str, role: str, trained_at: datetime | None = None, agent: bool = False) -> dict[str, str]:
        staff = identity.create_staff(
            session,
            username=name,
            password=PASSWORD,
            roles=[role],
            kind="agent" if agent else "staff",
            agent_org=FIRM if agent else None,
            access_expires_at=utcnow() + timedelta(days=30) if agent else None,
        )
        if trained_at is not None:
            training.record_completion(
                session, username=name, course=course, completed_at=trained_at, actor=ACTOR
            )
        token, _ = identity.issue_token(session, staff, ["*"], timedelta(days=1))
        session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture()
def notice(session: Session, app_client: TestClient, account: Callable[..., dict[str, str]]) -> str:
    """One notice sent to USER through the API (the record holds the number encrypted)."""
    build_registry(session)
    session.commit()
    sender = account("sender", "operator", utcnow())
    r = app_client.post(
        "/api/sms/submit", json={"sender": BUSINESS_PORT, "recipient": USER, "text": NOTICE}, headers=sender
    )
    assert r.status_code == 200 and r.json()["outcome"] == "allow", r.text
    return str(r.json()["ref"])


def pi_reads(session: Session) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.action == "pi.read").order_by(AuditEntry.seq))
    )
