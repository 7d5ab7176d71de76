"""X-Forwarded-For is believed only from configured proxies (issue 14.6, O24-13.6, O24-13.3).

uvicorn's default believes the header from any loopback caller: a local client could then evade the
per-address login throttle and make the audit log store an address of its choosing. The real
server (uvicorn with piguard's options) is started on a free loopback port.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from piguard.audit.models import AuditEntry
from piguard.core import db
from piguard.core.config import reset_settings

from .browser import serving

pytestmark = pytest.mark.obligation("O24-13.6", "O24-13.3")


def _login_address(base: str) -> str | None:
    r = httpx.post(
        f"{base}/api/auth/login",
        json={"username": "nobody-here", "password": "wrong password!"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert r.status_code == 401
    with db.unit_of_work() as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "identity.login.failed")
            .order_by(AuditEntry.seq.desc())
        ).first()
        assert entry is not None
        return entry.client_ip


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(db_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PIGUARD_TRUSTED_PROXIES", raising=False)
    reset_settings()
    with serving() as base:
        assert _login_address(base) == "127.0.0.1"


def test_a_configured_proxy_is_believed(db_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PIGUARD_TRUSTED_PROXIES", "127.0.0.1")
    reset_settings()
    try:
        with serving() as base:
            assert _login_address(base) == "203.0.113.9"
    finally:
        monkeypatch.delenv("PIGUARD_TRUSTED_PROXIES")
        reset_settings()
