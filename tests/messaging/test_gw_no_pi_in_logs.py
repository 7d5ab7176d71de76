"""No personal information in logs, ever, along the whole gateway path (O24-10, CSL-40): submit,
refusals, inbound opt-out and records search, with every logger at DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.core.logging import configure_logging
from piguard.identity import service as identity

from .gw_setup import AD, COMMERCIAL_PORT, USER, build_registry, give_consent

pytestmark = pytest.mark.obligation("O24-10", "CSL-40", "O31-11")

PASSWORD = "correct horse battery"
SECOND_USER = "13912345678"
ID_NUMBER = "110101199003074514"


@pytest.fixture(autouse=True)
def _fast_hasher() -> Iterator[None]:
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(previous)


def test_gateway_logs_hold_no_numbers_texts_or_ids(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    reg = build_registry(session)
    give_consent(session, reg)
    identity.create_staff(
        session, username="otto", password=PASSWORD, roles=["operator", "compliance_officer"]
    )
    session.commit()

    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    for name in ("sqlalchemy.engine", "uvicorn", "httpx"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        client = TestClient(create_app())
        # create_app configures logging again; point it back at our stream.
        configure_logging("DEBUG", stream=stream)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
        assert (
            client.post("/api/auth/login", json={"username": "otto", "password": PASSWORD}).status_code == 200
        )
        batch = [
            {"sender": COMMERCIAL_PORT + "07", "recipient": USER, "text": AD, "message_type": "promotions"},
            {
                "sender": COMMERCIAL_PORT + "07",
                "recipient": SECOND_USER,
                "text": AD,
                "message_type": "promotions",
            },
            {
                "sender": COMMERCIAL_PORT + "07",
                "recipient": USER,
                "text": f"【优品商城】您的身份证{ID_NUMBER}已登记",
                "message_type": "promotions",
            },
            {"sender": "nonsense", "recipient": SECOND_USER, "text": "hi"},
        ]
        r = client.post("/api/sms/submit/batch", json={"messages": batch})
        assert r.status_code == 200, r.text
        r = client.post(
            "/api/sms/inbound", json={"sender": USER, "to": COMMERCIAL_PORT + "07", "text": "退订"}
        )
        assert r.status_code in (200, 201), r.text
        assert (
            client.get("/api/sms/records", params={"purpose": "complaint_handling", "limit": 50}).status_code
            == 200
        )
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
        configure_logging("INFO")

    logged = stream.getvalue()
    assert logged, "expected log lines at DEBUG"
    for value in (USER, SECOND_USER, ID_NUMBER, "+86" + USER, "会员专享", PASSWORD):
        if value in logged:
            i = logged.index(value)
            raise AssertionError(f"{value!r} reached the logs: ...{logged[max(0, i - 300) : i + 80]}")
