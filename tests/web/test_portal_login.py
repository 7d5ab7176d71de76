"""End-user portal login over HTTP: phone number + one-time code through piguard's own gateway.

The code reaches the outbox (the demo's SMS centre) and nowhere else in clear: the code table keeps
a keyed hash, the message record a masked text, the audit log nothing. Bad input: malformed number,
unknown number (same answer as a known one), wrong, expired and replayed codes, the lock after N
wrong tries, the send limits per number and per address, a tampered cookie, a cross-site post."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.core import db
from piguard.core.config import reset_settings
from piguard.demo import load_demo
from piguard.identity.models import PortalCode, PortalFailure, PortalSession
from piguard.identity.portal import PORTAL_COOKIE
from piguard.messaging.models import MessageRecord, OutboxMessage
from piguard.messaging.records import protect

pytestmark = pytest.mark.obligation("O24-10", "CSL-40", "O24-13.6")

KNOWN = "13800138000"  # a demo user with consents and subscriptions
UNKNOWN = "13900139123"  # nobody piguard knows


@pytest.fixture()
def client(db_engine, monkeypatch) -> TestClient:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PIGUARD_PORTAL_SMS_SENDER", "10690002")
    monkeypatch.setenv("PIGUARD_PORTAL_SMS_SIGNATURE", "优品商城")
    reset_settings()
    with db.unit_of_work() as session:
        load_demo(session)
    return TestClient(create_app(), follow_redirects=False)


def code_from_outbox(number: str) -> str:
    """The newest code sent to ``number``, read where the SMS centre would take it."""
    with db.unit_of_work() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).all()
        for row in rows:
            if protect.decrypt(row.recipient_enc) == "+86" + number or protect.decrypt(
                row.recipient_enc
            ).endswith(number):
                m = re.search(r"验证码是(\d{6})", row.content)
                if m:
                    return m.group(1)
    raise AssertionError("no code in the outbox")


def ask(client: TestClient, number: str) -> object:
    return client.post("/portal/login/code", data={"phone": number})


def sign_in(client: TestClient, number: str, code: str) -> object:
    return client.post("/portal/login", data={"phone": number, "code": code})


def test_code_from_the_outbox_logs_in_and_is_kept_only_hashed(client: TestClient) -> None:
    r = ask(client, KNOWN)
    assert r.status_code == 200 and 'id="code-form"' in r.text
    code = code_from_outbox(KNOWN)
    with db.unit_of_work() as session:
        row = session.scalars(select(PortalCode)).one()
        assert code not in row.code_hash and len(row.code_hash) == 64
        record = session.scalars(select(MessageRecord).where(MessageRecord.ref == row.message_ref)).one()
        assert code not in record.content and "******" in record.content  # the record keeps it masked
        assert record.kind == "verification_code" and record.outcome == "allow"
        for entry in session.scalars(select(AuditEntry)):
            assert code not in str(entry.detail) and KNOWN not in str(entry.detail)
    r = sign_in(client, KNOWN, code)
    assert r.status_code == 303 and r.headers["location"] == "/portal"
    cookie = r.headers["set-cookie"]
    assert PORTAL_COOKIE in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # demo/development; production sets Secure (test below)
    home = client.get("/portal")
    assert home.status_code == 200 and "138****8000" in home.text and KNOWN not in home.text
    with db.unit_of_work() as session:
        actions = [
            (e.action, e.actor_type)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("portal.%")))
        ]
    assert ("portal.code.sent", "end_user") in actions and ("portal.login", "end_user") in actions


def test_unknown_number_gets_the_same_answer_as_a_known_one(client: TestClient) -> None:
    known, unknown = ask(client, KNOWN), ask(client, UNKNOWN)
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(KNOWN, "N") == unknown.text.replace(UNKNOWN, "N")
    # and a wrong code is answered alike for both
    a, b = sign_in(client, KNOWN, "000000"), sign_in(client, UNKNOWN, "000000")
    assert a.status_code == b.status_code == 401
    assert a.text.replace(KNOWN, "N") == b.text.replace(UNKNOWN, "N")


@pytest.mark.parametrize("bad", ["12345", "1380013800a", "+1 415 555 0100", "", "x" * 60, "13800138000'--"])
def test_malformed_number_is_a_clear_error_that_does_not_echo_it(client: TestClient, bad: str) -> None:
    r = ask(client, bad)
    assert r.status_code == 422
    assert "11 位中国大陆手机号码" in r.text
    if bad.strip():
        assert bad not in r.text
    with db.unit_of_work() as session:
        assert session.scalars(select(PortalCode)).first() is None


def test_wrong_code_locks_after_n_tries_even_for_the_right_code(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PIGUARD_PORTAL_CODE_MAX_FAILURES", "3")
    reset_settings()
    ask(client, KNOWN)
    code = code_from_outbox(KNOWN)
    wrong = "111111" if code != "111111" else "222222"
    for _ in range(2):
        r = sign_in(client, KNOWN, wrong)
        assert r.status_code == 401 and 'data-code="portal_code_invalid"' in r.text
    r = sign_in(client, KNOWN, wrong)
    assert r.status_code == 429 and 'data-code="portal_locked"' in r.text
    r = sign_in(client, KNOWN, code)  # locked: the right code no longer opens it
    assert r.status_code == 429 and PORTAL_COOKIE not in r.headers.get("set-cookie", "")
    assert ask(client, KNOWN).status_code == 429  # and no new code is sent while locked
    with db.unit_of_work() as session:
        assert len(session.scalars(select(PortalFailure)).all()) == 3
        failed = session.scalars(select(AuditEntry).where(AuditEntry.action == "portal.login.failed")).all()
        assert [e.detail["why"] for e in failed] == ["wrong", "wrong", "wrong"]
        # the lock passes with its window
        for f in session.scalars(select(PortalFailure)):
            f.occurred_at -= timedelta(hours=1)
    assert sign_in(client, KNOWN, code).status_code == 303


def test_expired_and_replayed_codes_are_refused(client: TestClient) -> None:
    ask(client, KNOWN)
    code = code_from_outbox(KNOWN)
    assert sign_in(client, KNOWN, code).status_code == 303
    other = TestClient(client.app, follow_redirects=False)
    r = sign_in(other, KNOWN, code)  # replayed
    assert r.status_code == 401 and 'data-code="portal_code_invalid"' in r.text
    ask(other, KNOWN)
    code2 = code_from_outbox(KNOWN)
    with db.unit_of_work() as session:
        for c in session.scalars(select(PortalCode)):
            c.expires_at = c.created_at - timedelta(seconds=1)
    r = sign_in(other, KNOWN, code2)
    assert r.status_code == 401 and 'data-code="portal_code_invalid"' in r.text
    with db.unit_of_work() as session:
        whys = [
            e.detail["why"]
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "portal.login.failed"))
        ]
    assert whys == ["replayed", "expired"]


def test_a_new_code_replaces_the_earlier_one(client: TestClient) -> None:
    ask(client, KNOWN)
    first = code_from_outbox(KNOWN)
    ask(client, KNOWN)
    second = code_from_outbox(KNOWN)
    if first != second:
        assert sign_in(client, KNOWN, first).status_code == 401
    assert sign_in(client, KNOWN, second).status_code == 303


@pytest.mark.parametrize("code", ["12345", "abcdef", "１２３４５６", "1234567"])
def test_malformed_code_is_a_clear_error_and_not_a_failure(client: TestClient, code: str) -> None:
    ask(client, KNOWN)
    r = sign_in(client, KNOWN, code)
    assert r.status_code == 422 and "6 位数字" in r.text
    with db.unit_of_work() as session:
        assert session.scalars(select(PortalFailure)).first() is None


def test_codes_are_limited_per_number_and_per_address(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PIGUARD_PORTAL_CODES_PER_NUMBER", "2")
    monkeypatch.setenv("PIGUARD_PORTAL_CODES_PER_ADDRESS", "3")
    reset_settings()
    assert ask(client, KNOWN).status_code == 200
    assert ask(client, KNOWN).status_code == 200
    r = ask(client, KNOWN)
    assert r.status_code == 429 and 'data-code="portal_rate_limited"' in r.text
    assert ask(client, UNKNOWN).status_code == 200  # the third from this address
    r = ask(client, "13700137000")
    assert r.status_code == 429 and 'data-code="portal_rate_limited"' in r.text
    with db.unit_of_work() as session:
        assert len(session.scalars(select(PortalCode)).all()) == 3
        whys = [
            e.detail["why"]
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "portal.code.refused"))
        ]
    assert whys == ["rate_number", "rate_address"]


def test_tampered_cookie_is_sent_to_the_login_page(client: TestClient) -> None:
    ask(client, KNOWN)
    assert sign_in(client, KNOWN, code_from_outbox(KNOWN)).status_code == 303
    value = client.cookies.get(PORTAL_COOKIE)
    assert value
    client.cookies.clear()
    client.cookies.set(
        PORTAL_COOKIE, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"), path="/portal"
    )
    r = client.get("/portal")
    assert r.status_code == 303 and r.headers["location"] == "/portal/login"
    # nor does the console's cookie open the portal, or the portal's the console
    client.cookies.clear()
    client.cookies.set("piguard_session", value)
    assert client.get("/portal").status_code == 303
    client.cookies.clear()
    client.cookies.set(PORTAL_COOKIE, value, path="/portal")
    assert client.get("/console").headers["location"].startswith("/login")


def test_logout_ends_the_session(client: TestClient) -> None:
    ask(client, KNOWN)
    sign_in(client, KNOWN, code_from_outbox(KNOWN))
    value = client.cookies.get(PORTAL_COOKIE)
    assert client.post("/portal/logout").status_code == 303
    client.cookies.set(PORTAL_COOKIE, value or "", path="/portal")
    assert client.get("/portal").status_code == 303
    with db.unit_of_work() as session:
        assert session.scalars(select(PortalSession)).one().ended_at is not None


def test_cross_site_post_with_the_portal_cookie_is_refused(client: TestClient) -> None:
    ask(client, KNOWN)
    sign_in(client, KNOWN, code_from_outbox(KNOWN))
    r = client.post(
        "/portal/consents/withdraw",
        data={"target": "purpose:marketing"},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert "O24-13.3" in r.json()["error"]["obligations"]


def test_production_cookie_is_secure(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from starlette.responses import Response

    from piguard.web import portal_views

    monkeypatch.setenv("PIGUARD_ENV", "production")
    for name in ("SECRET_KEY", "AUDIT_HMAC_KEY", "FIELD_KEY", "PSEUDONYM_KEY"):
        monkeypatch.setenv(f"PIGUARD_{name}", "k" * 40)
    reset_settings()
    response = Response()
    portal_views._set_cookie(response, "value")
    header = response.headers["set-cookie"]
    assert "Secure" in header and "HttpOnly" in header and "Path=/portal" in header
