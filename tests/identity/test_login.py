"""Passwords, login, lockout (O24-13.3) and the audit of each attempt (O24-13.6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.identity import service
from piguard.identity.models import LoginFailure, Staff

from .conftest import PASSWORD

pytestmark = pytest.mark.obligation("O24-13.3", "O24-13.6")


def test_password_is_hashed_with_argon2id_and_verifies(make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = make_staff("alice")
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash
    assert service.verify_password(staff.password_hash, PASSWORD)
    assert not service.verify_password(staff.password_hash, PASSWORD + "x")
    assert not service.verify_password("not-a-hash", PASSWORD)


def test_default_hasher_is_strong_and_old_hashes_are_upgraded_on_login(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = make_staff("alice")  # made with the cheap test parameters
    previous = service.use_password_hasher(PasswordHasher())
    try:
        service.authenticate(session, "alice", PASSWORD, "10.0.0.1")
        session.commit()
        assert "m=65536" in staff.password_hash  # rehashed with the production parameters
        assert service.verify_password(staff.password_hash, PASSWORD)
    finally:
        service.use_password_hasher(previous)


@pytest.mark.parametrize("bad", ["short", "          ", "aaaaaaaaaaaa", "x" * 2000])
def test_weak_or_absurd_passwords_are_refused(session: Session, bad: str) -> None:
    with pytest.raises(PiguardError) as err:
        service.create_staff(session, username="alice", password=bad, roles=["operator"])
    assert err.value.code == "validation_error" and err.value.http_status == 422
    assert err.value.fields[0].field == "password"


@pytest.mark.parametrize("bad", ["ab", "Al ice", "-alice", "张三", "a" * 65, "alice;drop"])
def test_usernames_are_validated(session: Session, bad: str) -> None:
    with pytest.raises(PiguardError) as err:
        service.create_staff(session, username=bad, password=PASSWORD, roles=["operator"])
    assert err.value.code == "validation_error"
    assert err.value.fields[0].field == "username"


def test_roles_are_validated(session: Session) -> None:
    for roles in ([], ["root"], ["agent"]):
        with pytest.raises(PiguardError) as err:
            service.create_staff(session, username="alice", password=PASSWORD, roles=roles)
        assert err.value.fields[0].field == "roles"


def test_duplicate_username_is_a_conflict(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    make_staff("alice")
    with pytest.raises(PiguardError) as err:
        service.create_staff(session, username="ALICE", password=PASSWORD, roles=["operator"])
    assert err.value.code == "conflict" and err.value.http_status == 409


def test_successful_login_returns_principal_and_is_audited(
    session: Session, make_staff, audit_entries
) -> None:  # type: ignore[no-untyped-def]
    make_staff("alice", ["compliance_officer", "auditor"], display_name="Alice")
    p = service.authenticate(session, " Alice ", PASSWORD, "10.0.0.1", terminal="desk-7")
    session.commit()
    assert p.username == "alice" and p.actor_type == "staff" and p.actor_id == "alice"
    assert p.roles == frozenset({"compliance_officer", "auditor"})
    assert p.via == "session" and p.client_ip == "10.0.0.1" and p.terminal == "desk-7"
    actor = p.as_actor()
    assert (actor.type, actor.id) == ("staff", "alice")
    [entry] = audit_entries("identity.login.succeeded")
    assert entry.actor_id == "alice" and entry.client_ip == "10.0.0.1" and entry.terminal == "desk-7"
    assert "O24-13.6" in entry.obligations and entry.outcome == "ok"


def test_wrong_password_and_unknown_user_look_the_same(session: Session, make_staff, audit_entries) -> None:  # type: ignore[no-untyped-def]
    make_staff("alice")
    errors = []
    for username, password in (("alice", "wrong password!"), ("nobody", "wrong password!")):
        with pytest.raises(PiguardError) as err:
            service.authenticate(session, username, password, "10.0.0.1")
        session.commit()
        errors.append(err.value)
    assert errors[0].to_dict() == errors[1].to_dict()
    assert errors[0].code == "login_failed" and errors[0].http_status == 401
    failed = audit_entries("identity.login.failed")
    assert [e.detail["cause"] for e in failed] == ["wrong_password", "unknown_username"]
    assert all(e.outcome == "failed" and "O24-13.6" in e.obligations for e in failed)


def test_unknown_username_is_audited_only_in_a_safe_form(session: Session, audit_entries) -> None:  # type: ignore[no-untyped-def]
    """People type passwords and phone numbers into the username field: the log keeps neither."""
    for typed in ("13812345678 " + "x" * 300 + "\x00\n", "My-Password-In-The-Wrong-Field"):
        with pytest.raises(PiguardError):
            service.authenticate(session, typed, "a password that is wrong", "10.0.0.1")
        session.commit()
    first, second = audit_entries("identity.login.failed")
    for entry, typed in ((first, "13812345678"), (second, "Password-In-The-Wrong")):
        shown = entry.detail["typed_username"]
        assert typed not in str(entry.detail) and "a password that is wrong" not in str(entry.detail)
        assert len(shown["hint"]) <= 3 and len(shown["digest"]) == 16
        assert entry.subject_ref is None and entry.actor_id is None
    assert second.detail["typed_username"]["length"] == len("My-Password-In-The-Wrong-Field")
    # an investigator holding the secret key can check whether a given name was tried
    assert second.detail["typed_username"] == service.typed_username_hint(
        "my-password-in-the-wrong-field"
    ) | {"hint": "My…"}
    rows = session.scalars(select(LoginFailure)).all()
    assert len(rows) == 2 and all("1381234" not in r.username_digest for r in rows)


def test_inactive_account_cannot_log_in(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    make_staff("admin0", ["admin"])
    alice = make_staff("alice")
    service.deactivate(session, alice)
    session.commit()
    with pytest.raises(PiguardError) as err:
        service.authenticate(session, "alice", PASSWORD, "10.0.0.1")
    assert err.value.code == "login_failed"


def _fail(session: Session, username: str, ip: str | None, **kw) -> PiguardError:  # type: ignore[no-untyped-def]
    with pytest.raises(PiguardError) as err:
        service.authenticate(session, username, "definitely wrong", ip, **kw)
    session.commit()
    return err.value


def test_lockout_per_username_after_max_failures(
    session: Session, make_staff, login_limits, audit_entries
) -> None:  # type: ignore[no-untyped-def]
    login_limits(3, 600)
    make_staff("alice")
    for i in range(3):
        assert _fail(session, "alice", f"10.0.0.{i}").code == "login_failed"  # three addresses
    # now even the right password is refused, from a fresh address
    with pytest.raises(PiguardError) as err:
        service.authenticate(session, "alice", PASSWORD, "10.9.9.9")
    session.commit()
    assert err.value.code == "rate_limited" and err.value.http_status == 429
    wait = service.retry_after_seconds(err.value)
    assert wait is not None and 0 < wait <= 600
    assert "O24-13.3" in err.value.obligations
    [lock] = audit_entries("identity.login.lockout")
    assert lock.detail["locked_by"] == "username" and lock.subject_ref == "staff:alice"
    [limited] = audit_entries("identity.login.rate_limited")
    assert limited.outcome == "refused" and limited.client_ip == "10.9.9.9"
    # other accounts are untouched
    make_staff("bob")
    assert service.authenticate(session, "bob", PASSWORD, "10.9.9.9").username == "bob"


def test_throttle_per_client_address(session: Session, make_staff, login_limits, audit_entries) -> None:  # type: ignore[no-untyped-def]
    login_limits(3, 600, address_max=3, address_window=30)
    make_staff("alice")
    t0 = utcnow()
    for name in ("u1", "u2", "u3"):
        _fail(session, name, "192.0.2.7", now=t0)
    err = _fail(session, "alice", "192.0.2.7", now=t0)  # right account, but the address is throttled
    assert err.code == "rate_limited"
    assert audit_entries("identity.login.lockout")[-1].detail["locked_by"] == "client_ip"
    assert service.retry_after_seconds(err) is not None and service.retry_after_seconds(err) <= 30
    # the same account from another address is fine
    assert service.authenticate(session, "alice", PASSWORD, "192.0.2.8", now=t0).username == "alice"


def test_failures_from_one_address_never_lock_an_account_out_for_the_window(
    session: Session, make_staff, login_limits
) -> None:  # type: ignore[no-untyped-def]
    """Issue 14.6: a fuzzer's failures from 127.0.0.1 locked the demo user out for 15 minutes."""
    login_limits(5, 900, address_max=10, address_window=60)
    make_staff("alice")
    t0 = utcnow()
    for i in range(40):  # many usernames, one address
        with pytest.raises(PiguardError):
            service.authenticate(session, f"fuzz{i}", "x", "127.0.0.1", now=t0)
        session.commit()
    # a minute later (not fifteen) the real user logs in from the same address
    p = service.authenticate(session, "alice", PASSWORD, "127.0.0.1", now=t0 + timedelta(seconds=61))
    assert p.username == "alice"


def test_lockout_lifts_when_the_window_moves_on(session: Session, make_staff, login_limits) -> None:  # type: ignore[no-untyped-def]
    login_limits(2, 60)
    make_staff("alice")
    t0 = utcnow()
    _fail(session, "alice", "10.0.0.1", now=t0)
    _fail(session, "alice", "10.0.0.1", now=t0 + timedelta(seconds=10))
    with pytest.raises(PiguardError) as err:
        service.authenticate(session, "alice", PASSWORD, "10.0.0.1", now=t0 + timedelta(seconds=20))
    assert service.retry_after_seconds(err.value) == 40
    p = service.authenticate(session, "alice", PASSWORD, "10.0.0.1", now=t0 + timedelta(seconds=61))
    assert p.username == "alice"


def test_lockout_holds_across_processes(session: Session, db_engine, make_staff, login_limits) -> None:  # type: ignore[no-untyped-def]
    """Failures live in the database: a second connection (another worker) sees them."""
    login_limits(2)
    make_staff("alice")
    other = sessionmaker(bind=db_engine)()
    try:
        _fail(other, "alice", "10.0.0.1")
        _fail(session, "alice", "10.0.0.2")
        assert _fail(other, "alice", "10.0.0.3").code == "rate_limited"
    finally:
        other.close()


def test_success_clears_the_usernames_failures(session: Session, make_staff, login_limits) -> None:  # type: ignore[no-untyped-def]
    login_limits(3)
    make_staff("alice")
    _fail(session, "alice", "10.0.0.1")
    _fail(session, "alice", "10.0.0.2")
    service.authenticate(session, "alice", PASSWORD, "10.0.0.3")
    session.commit()
    _fail(session, "alice", "10.0.0.4")
    _fail(session, "alice", "10.0.0.5")
    assert _fail(session, "alice", "10.0.0.6").code == "login_failed"  # count restarted after the success


def test_prune_login_failures(session: Session, make_staff, login_limits) -> None:  # type: ignore[no-untyped-def]
    login_limits(5, 60)
    old = utcnow() - timedelta(seconds=120)
    _fail(session, "ghost", "10.0.0.1", now=old)
    _fail(session, "ghost", "10.0.0.1")
    assert service.prune_login_failures(session) == 1
    session.commit()
    assert len(session.scalars(select(LoginFailure)).all()) == 1


@pytest.mark.obligation("O24-11")
def test_expired_agent_cannot_log_in(session: Session, make_staff, audit_entries) -> None:  # type: ignore[no-untyped-def]
    staff = make_staff(
        "agent1",
        ["agent"],
        kind="agent",
        agent_org="Outsourcer Ltd",
        access_expires_at=utcnow() + timedelta(days=1),
    )
    assert service.authenticate(session, "agent1", PASSWORD, "10.0.0.1").actor_type == "agent"
    session.commit()
    service.update_staff(session, staff, access_expires_at=utcnow() - timedelta(seconds=1))
    session.commit()
    with pytest.raises(PiguardError) as err:
        service.authenticate(session, "agent1", PASSWORD, "10.0.0.1")
    session.commit()
    assert err.value.code == "refused" and "O24-11" in err.value.obligations
    assert err.value.reasons[0].code == "agent_access_expired"
    assert audit_entries("identity.login.refused")[0].outcome == "refused"


@pytest.mark.obligation("O24-11")
def test_agent_accounts_need_an_organisation_and_expiry_and_limited_roles(session: Session) -> None:
    base = {"username": "agent1", "password": PASSWORD, "kind": "agent"}
    with pytest.raises(PiguardError) as err:
        service.create_staff(session, roles=["agent"], **base)  # type: ignore[arg-type]
    assert {f.field for f in err.value.fields} == {"agent_org", "access_expires_at"}
    with pytest.raises(PiguardError) as err:
        service.create_staff(
            session, roles=["admin"], agent_org="X", access_expires_at=utcnow() + timedelta(days=1), **base
        )  # type: ignore[arg-type]
    assert err.value.fields[0].field == "roles" and "O24-11" in err.value.fields[0].message


def test_ensure_staff_is_idempotent(session: Session) -> None:
    a = service.ensure_staff(session, "demo", PASSWORD, ["admin"], "Demo")
    session.commit()
    b = service.ensure_staff(session, "demo", "another password 123", ["auditor"], "Other")
    session.commit()
    assert a.id == b.id and b.roles == {"admin"}
    assert len(session.scalars(select(Staff)).all()) == 1
    assert service.verify_password(b.password_hash, PASSWORD)


def test_role_change_and_deactivation_are_audited(session: Session, make_staff, audit_entries) -> None:  # type: ignore[no-untyped-def]
    make_staff("root", ["admin"])
    alice = make_staff("alice", ["operator"])
    service.set_roles(session, alice, ["operator", "compliance_officer"])
    service.deactivate(session, alice, reason="left the company")
    session.commit()
    assert [e.action for e in audit_entries()][-3:] == [
        "identity.staff.created",
        "identity.staff.roles_changed",
        "identity.staff.deactivated",
    ]
    changed = audit_entries("identity.staff.roles_changed")[0]
    assert changed.detail["added"] == ["compliance_officer"] and changed.subject_ref == "staff:alice"
    assert "O24-13.3" in changed.obligations and "O24-13.6" in changed.obligations


def test_last_admin_cannot_be_removed(session: Session, make_staff) -> None:  # type: ignore[no-untyped-def]
    root = make_staff("root", ["admin"])
    with pytest.raises(PiguardError) as err:
        service.set_roles(session, root, ["auditor"])
    assert err.value.code == "last_admin"
    with pytest.raises(PiguardError):
        service.deactivate(session, root)
    make_staff("root2", ["admin"])
    service.deactivate(session, root)
    assert not root.active
