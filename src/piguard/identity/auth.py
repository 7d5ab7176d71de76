"""Login, with a lockout kept in the database so that it holds across processes (O24-13.3, O24-13.6).

Every attempt is audited: failed (wrong password, unknown username: the typed name only in a
redacted, length-limited form), lockout reached, refused while locked, refused agent, succeeded.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.core.config import get_settings
from piguard.core.db import utcnow
from piguard.core.errors import (
    PiguardError,
    refused,
)
from piguard.core.logging import get_logger
from piguard.core.reasons import Decision, Reason
from piguard.identity import passwords
from piguard.identity.access import (
    AccessRequest,
    check_agent,
)
from piguard.identity.accounts import (
    LOGIN_OBLIGATIONS,
    get_staff_by_username,
    normalise_username,
    principal_for_staff,
    record_event,
    rowcount,
    typed_username_hint,
    username_digest,
)
from piguard.identity.models import LoginFailure, Staff
from piguard.identity.passwords import hash_password, verify_password
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries

log = get_logger("piguard.identity")


def login_failed() -> PiguardError:
    return PiguardError(
        "login_failed",
        "Wrong username or password.",
        "用户名或密码错误。",
        obligations=("O24-13.3",),
        http_status=401,
        exit_code=2,
    )


def rate_limited(retry_after: int) -> PiguardError:
    reason = Reason(
        "login_rate_limited",
        ("O24-13.3",),
        f"Too many failed logins; try again in {retry_after} seconds.",
        f"登录失败次数过多，请在 {retry_after} 秒后重试。",
        {"retry_after_seconds": retry_after},
    )
    return PiguardError(
        "rate_limited",
        reason.message_en,
        reason.message_zh,
        obligations=("O24-13.3",),
        reasons=(reason,),
        http_status=429,
        exit_code=1,
    )


def retry_after_seconds(err: PiguardError) -> int | None:
    """The wait a ``rate_limited`` error asks for (the API puts it in ``Retry-After``)."""
    for r in err.reasons:
        if "retry_after_seconds" in r.detail:
            return int(r.detail["retry_after_seconds"])
    return None


def _lock_remaining(times: list[datetime], now: datetime, window: timedelta, limit: int) -> int:
    """Seconds until fewer than ``limit`` failures remain in the window (0 when not locked)."""
    if len(times) < limit:
        return 0
    times = sorted(times)
    # the lock lifts when the (len - limit)-th oldest failure leaves the window
    lifts_at = times[len(times) - limit] + window
    return max(1, math.ceil((lifts_at - now).total_seconds()))


def _lockout(session: Session, digest: str, client_ip: str | None, now: datetime) -> tuple[int, str | None]:
    settings = get_settings()
    window = timedelta(seconds=settings.login_failure_window_seconds)
    limit = max(1, settings.login_max_failures)
    since = now - window
    by_user = list(
        session.scalars(
            select(LoginFailure.occurred_at).where(
                LoginFailure.username_digest == digest, LoginFailure.occurred_at > since
            )
        )
    )
    wait, scope = _lock_remaining(by_user, now, window, limit), "username"
    if client_ip:
        # The address gets a short throttle of its own: failures from one address (a shared NAT, a
        # fuzzer on the same host) must not lock every account behind it out for the whole window.
        ip_window = timedelta(seconds=max(1, settings.login_address_window_seconds))
        by_ip = list(
            session.scalars(
                select(LoginFailure.occurred_at).where(
                    LoginFailure.client_ip == client_ip, LoginFailure.occurred_at > now - ip_window
                )
            )
        )
        ip_wait = _lock_remaining(by_ip, now, ip_window, max(1, settings.login_address_max_failures))
        if ip_wait > wait:
            wait, scope = ip_wait, "client_ip"
    return wait, (scope if wait else None)


@carries("O24-13.3", "O24-11", "O24-13.6")
def authenticate(
    session: Session,
    username: str,
    password: str,
    client_ip: str | None = None,
    *,
    terminal: str | None = None,
    now: datetime | None = None,
) -> Principal:
    """Check a username and password; return the principal (``via="session"``).

    Wrong password and unknown username give the same error (``login_failed``, 401) in about the
    same time. At ``login_max_failures`` failures within ``login_failure_window_seconds`` for the
    username or for the client address, further attempts get ``rate_limited`` (429) until the
    window moves on. The failure row and audit entries are written before raising: commit them.
    """
    now = now or utcnow()
    raw = username if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    name = normalise_username(raw)
    digest = username_digest(name)
    ip_key = client_ip[:64] if client_ip else None
    where: dict[str, Any] = {"client_ip": client_ip, "terminal": terminal, "obligations": LOGIN_OBLIGATIONS}

    wait, scope = _lockout(session, digest, ip_key, now)
    if wait:
        record_event(
            session,
            "identity.login.rate_limited",
            _ANONYMOUS,
            outcome="refused",
            **where,
            detail={
                "typed_username": typed_username_hint(raw),
                "locked_by": scope,
                "retry_after_seconds": wait,
            },
        )
        log.warning("login_rate_limited", locked_by=scope, retry_after_seconds=wait)
        raise rate_limited(wait)

    staff = get_staff_by_username(session, name) if len(name) <= 64 else None
    if staff is None:
        passwords.burn_time(password)
        ok, why = False, "unknown_username"
    else:
        ok = verify_password(staff.password_hash, password)
        why = "wrong_password"
        if ok and not staff.active:
            ok, why = False, "inactive_account"

    if not ok:
        session.add(LoginFailure(username_digest=digest, client_ip=ip_key, occurred_at=now))
        session.flush()
        who: dict[str, Any] = (
            {"username": staff.username}
            if staff is not None
            else {"typed_username": typed_username_hint(raw)}
        )
        record_event(
            session,
            "identity.login.failed",
            _claimed(staff),
            subject=staff,
            outcome="failed",
            **where,
            detail={**who, "cause": why},
        )
        log.info("login_failed", cause=why)
        wait, scope = _lockout(session, digest, ip_key, now)
        if wait:
            settings = get_settings()
            record_event(
                session,
                "identity.login.lockout",
                _ANONYMOUS,
                subject=staff,
                outcome="refused",
                **where,
                detail={
                    **who,
                    "locked_by": scope,
                    "retry_after_seconds": wait,
                    "max_failures": settings.login_max_failures,
                    "window_seconds": settings.login_failure_window_seconds,
                },
            )
            log.warning("login_lockout", locked_by=scope, retry_after_seconds=wait)
        raise login_failed()

    assert staff is not None
    principal = principal_for_staff(staff, via="session", client_ip=client_ip, terminal=terminal)
    if staff.kind == "agent":
        objection = check_agent(AccessRequest(principal, "identity.login", None, (), {}, now))
        if isinstance(objection, Reason):
            record_event(
                session,
                "identity.login.refused",
                principal,
                subject=staff,
                outcome="refused",
                obligations=("O24-11", *LOGIN_OBLIGATIONS),
                detail={"reason": objection.code},
            )
            raise refused(
                Decision.refuse(objection),
                "The agent's access is not current.",
                "代理人员的访问授权无效或已过期。",
            )

    # a success clears the username's failures (the address keeps its count)
    session.execute(delete(LoginFailure).where(LoginFailure.username_digest == digest))
    if passwords.needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    staff.last_login_at = now
    session.flush()
    record_event(session, "identity.login.succeeded", principal, subject=staff, obligations=LOGIN_OBLIGATIONS)
    log.info("login_succeeded", staff_id=staff.id)
    return principal


_ANONYMOUS = Actor(type="staff", id=None)


def _claimed(staff: Staff | None) -> Actor:
    """The account a failed attempt claimed to be (unauthenticated), or nobody."""
    if staff is None:
        return _ANONYMOUS
    return Actor(type="agent" if staff.kind == "agent" else "staff", id=staff.username)


def prune_login_failures(session: Session, *, now: datetime | None = None) -> int:
    """Delete failed-login rows older than the window (a scheduled job may call this)."""
    now = now or utcnow()
    since = now - timedelta(seconds=get_settings().login_failure_window_seconds)
    return rowcount(session.execute(delete(LoginFailure).where(LoginFailure.occurred_at <= since)))
