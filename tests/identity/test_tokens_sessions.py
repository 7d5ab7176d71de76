"""API tokens (hashed at rest, scoped, expiring, revocable) and console sessions (logout ends them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.identity import service
from piguard.identity.models import ApiToken, StaffSession

pytestmark = pytest.mark.obligation("O24-13.3")


def _all_text(session: Session, table: str) -> str:
    rows = session.execute(text(f"SELECT * FROM {table}")).all()
    return " ".join(str(v) for row in rows for v in row)


def test_token_is_shown_once_and_stored_only_as_a_hash(session: Session, make_staff, audit_entries) -> None:  # type: ignore[no-untyped-def]
    alice = make_staff("alice", ["auditor"])
    plaintext, row = service.issue_token(session, alice, ["audit:read"], timedelta(days=30), name="siem")
    session.commit()
    assert plaintext.startswith("pgt_" + row.prefix + "_") and len(plaintext) > 40
    secret = plaintext.split("_", 2)[2]
    for table in ("api_token", "audit_entry"):
        stored = _all_text(session, table)
        assert plaintext not in stored and secret not in stored
    assert len(row.secret_hash) == 64 and row.secret_hash != plaintext
    issued = audit_entries("identity.token.issued")[0]
    assert issued.detail["scopes"] == ["audit:read"] and issued.subject_ref == "staff:alice"


def test_token_authenticates_with_its_scopes(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    alice = make_staff("alice", ["auditor"])
    plaintext, row = service.issue_token(session, alice, ["audit:read"], timedelta(days=30))
    session.commit()
    p = service.principal_from_token(session, plaintext, client_ip="203.0.113.5")
    assert p.via == "token" and p.username == "alice" and p.token_id == row.id
    assert p.scopes == frozenset({"audit:read"}) and p.client_ip == "203.0.113.5"
    assert service.decide_access(p, "audit.read").allowed
    refused = service.decide_access(p, "rules.read")  # the role may, the token may not
    assert not refused.allowed and refused.reasons[0].code == "token_scope_missing"
    assert row.last_used_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda t: "pgt_000000000000_" + t.split("_", 2)[2],  # unknown prefix
        lambda t: t.replace("pgt_", "xyz_"),
        lambda t: "",
        lambda t: "pgt_" + "x" * 500,
    ],
)
def test_wrong_tokens_are_rejected(session: Session, make_staff, mangle) -> None:  # type: ignore[no-untyped-def]
    alice = make_staff("alice", ["auditor"])
    plaintext, _ = service.issue_token(session, alice, ["*"], timedelta(days=1))
    with pytest.raises(PiguardError) as err:
        service.principal_from_token(session, mangle(plaintext))
    assert err.value.code == "unauthenticated" and err.value.http_status == 401


def test_expired_and_revoked_tokens_are_rejected(session: Session, make_staff, audit_entries) -> None:  # type: ignore[no-untyped-def]
    alice = make_staff("alice", ["auditor"])
    plaintext, row = service.issue_token(session, alice, ["*"], timedelta(hours=1))
    session.commit()
    with pytest.raises(PiguardError) as err:
        service.principal_from_token(session, plaintext, now=utcnow() + timedelta(hours=1, seconds=1))
    assert err.value.reasons[0].code == "token_expired"
    service.revoke_token(session, row.id)
    session.commit()
    with pytest.raises(PiguardError) as err:
        service.principal_from_token(session, plaintext)
    assert err.value.code == "unauthenticated" and err.value.reasons[0].code == "token_revoked"
    assert audit_entries("identity.token.revoked")[0].detail["token_id"] == row.id


def test_scopes_must_lie_within_the_roles(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    auditor = make_staff("audrey", ["auditor"])
    with pytest.raises(PiguardError) as err:
        service.issue_token(session, auditor, ["sms:submit"], timedelta(days=1))
    assert err.value.code == "forbidden" and "O24-13.3" in err.value.obligations
    with pytest.raises(PiguardError) as err:
        service.issue_token(session, auditor, ["nonsense:scope"], timedelta(days=1))
    assert err.value.code == "validation_error"
    with pytest.raises(PiguardError):
        service.issue_token(session, auditor, ["audit:read"], timedelta(days=400))
    with pytest.raises(PiguardError):
        service.issue_token(session, auditor, [], timedelta(days=1))
    # wildcards are fine: a token never exceeds its holder's roles anyway
    plaintext, _ = service.issue_token(session, auditor, ["*"], timedelta(days=1))
    p = service.principal_from_token(session, plaintext)
    assert service.decide_access(p, "audit.read").allowed
    assert not service.decide_access(p, "sms.submit").allowed


def test_a_token_cannot_mint_a_broader_token(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    officer = make_staff("olga", ["compliance_officer"])
    plaintext, _ = service.issue_token(session, officer, ["audit:read", "token:self"], timedelta(days=1))
    p = service.principal_from_token(session, plaintext)
    with pytest.raises(PiguardError) as err:
        service.issue_token(session, officer, ["pi:export"], timedelta(days=1), by=p)
    assert err.value.code == "forbidden"
    service.issue_token(session, officer, ["audit:read"], timedelta(days=1), by=p)


@pytest.mark.obligation("O24-11")
def test_agent_token_never_outlives_the_agents_access(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    until = utcnow() + timedelta(days=3)
    agent = make_staff("agent1", ["agent"], kind="agent", agent_org="Outsourcer Ltd", access_expires_at=until)
    _, row = service.issue_token(session, agent, ["cases:read"], timedelta(days=30))
    assert row.expires_at == until


def test_deactivation_revokes_tokens_and_ends_sessions(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    make_staff("root", ["admin"])
    alice = make_staff("alice", ["operator"])
    plaintext, _ = service.issue_token(session, alice, ["*"], timedelta(days=1))
    cookie = service.start_session(session, service.authenticate(session, "alice", "correct horse battery"))
    session.commit()
    service.deactivate(session, alice)
    session.commit()
    for fn, value in ((service.principal_from_token, plaintext), (service.principal_from_session, cookie)):
        with pytest.raises(PiguardError) as err:
            fn(session, value)
        assert err.value.code == "unauthenticated"
    assert all(t.revoked for t in session.query(ApiToken).all())
    assert all(s.end_reason == "deactivated" for s in session.query(StaffSession).all())


def test_session_logout_really_ends_it(session: Session, make_staff, audit_entries) -> None:  # type: ignore[no-untyped-def]
    make_staff("alice", ["operator"])
    p = service.authenticate(session, "alice", "correct horse battery", "10.0.0.1")
    cookie = service.start_session(session, p)
    session.commit()
    again = service.principal_from_session(session, cookie, client_ip="10.0.0.1")
    assert again.username == "alice" and again.via == "session" and again.session_id is not None
    # the cookie carries a random key, signed; the table keeps only its hash
    assert cookie not in _all_text(session, "staff_session")
    assert service.end_session(session, cookie, client_ip="10.0.0.1") is True
    session.commit()
    with pytest.raises(PiguardError) as err:
        service.principal_from_session(session, cookie)
    assert err.value.code == "unauthenticated"
    assert service.end_session(session, cookie) is False
    [logout] = audit_entries("identity.logout")
    assert logout.actor_id == "alice" and logout.client_ip == "10.0.0.1"


def test_tampered_or_expired_session_cookies_are_rejected(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    make_staff("alice", ["operator"])
    cookie = service.start_session(session, service.authenticate(session, "alice", "correct horse battery"))
    session.commit()
    for bad in (cookie[:-2] + "xx", "not-a-cookie", "", "a" * 2000):
        with pytest.raises(PiguardError):
            service.principal_from_session(session, bad)
    with pytest.raises(PiguardError):
        service.principal_from_session(session, cookie, now=utcnow() + timedelta(days=2))
    assert service.prune_sessions(session, now=utcnow() + timedelta(days=3)) == 1


@pytest.mark.obligation("O24-11")
def test_agent_session_ends_with_the_agents_access(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    until = utcnow() + timedelta(minutes=30)
    make_staff("agent1", ["agent"], kind="agent", agent_org="Outsourcer Ltd", access_expires_at=until)
    cookie = service.start_session(session, service.authenticate(session, "agent1", "correct horse battery"))
    session.commit()
    assert service.principal_from_session(session, cookie).actor_type == "agent"
    with pytest.raises(PiguardError):
        service.principal_from_session(session, cookie, now=until + timedelta(seconds=1))
