"""Passwords and tokens never reach the logs (O24-10, CSL-40) nor the audit log (O24-13.6)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.core.logging import configure_logging
from piguard.identity import service

pytestmark = pytest.mark.obligation("O24-10", "O24-13.6", "O24-13.3")

SECRET_PASSWORD = "Sup3r-Secret-Passw0rd"
WRONG_PASSWORD = "Wr0ng-But-Also-Secret"


@pytest.fixture()
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    configure_logging("INFO")


def test_no_password_or_token_in_logs_or_audit(
    session: Session, db_engine, log_stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    service.create_staff(session, username="root", password=SECRET_PASSWORD, roles=["admin"])
    alice = service.create_staff(session, username="alice", password=SECRET_PASSWORD, roles=["auditor"])
    session.commit()
    plaintext, _ = service.issue_token(session, alice, ["audit:read"], timedelta(days=1))
    session.commit()

    app = create_app()
    configure_logging("DEBUG", stream=log_stream)  # create_app configured its own handler
    client = TestClient(app, client=("198.51.100.20", 1234))
    client.post("/api/auth/login", json={"username": "alice", "password": WRONG_PASSWORD})
    client.post("/api/auth/login", json={"username": SECRET_PASSWORD, "password": SECRET_PASSWORD})
    client.post("/api/auth/login", json={"username": "alice", "password": SECRET_PASSWORD})
    client.get("/api/auth/me", headers={"Authorization": f"Bearer {plaintext}"})
    client.get("/api/auth/me", headers={"Authorization": f"Bearer {plaintext}x"})
    client.post("/api/staff", json={"username": "bob", "password": SECRET_PASSWORD, "roles": ["operator"]})
    client.post(
        "/api/staff", json={"username": "bad name", "password": SECRET_PASSWORD, "roles": ["operator"]}
    )

    logged = log_stream.getvalue() + caplog.text
    assert "login_failed" in logged and "login_succeeded" in logged  # we did log the events
    secret_part = plaintext.split("_", 2)[2]
    for secret in (SECRET_PASSWORD, WRONG_PASSWORD, plaintext, secret_part):
        assert secret not in logged
    audit_text = " ".join(
        str(v) for row in session.execute(text("SELECT * FROM audit_entry")).all() for v in row
    )
    for secret in (SECRET_PASSWORD, WRONG_PASSWORD, plaintext, secret_part):
        assert secret not in audit_text
