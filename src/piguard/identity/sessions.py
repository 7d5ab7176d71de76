"""Console sessions: a signed cookie naming a server-side session, so logout really ends it."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.core.config import get_settings
from piguard.core.db import utcnow
from piguard.core.errors import (
    unauthenticated,
)
from piguard.identity.accounts import (
    LOGIN_OBLIGATIONS,
    ensure_agent_current,
    principal_for_staff,
    record_event,
    rowcount,
    sha256_hex,
)
from piguard.identity.models import StaffSession
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries

_TOUCH_EVERY = timedelta(seconds=60)
_SESSION_SALT = "piguard.staff-session"
# ----------------------------------------------------------------------------------- sessions


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SESSION_SALT)


@carries("O24-13.3", "O24-11")
def start_session(session: Session, principal: Principal, *, now: datetime | None = None) -> str:
    """Open a console session for an authenticated principal; returns the signed cookie value."""
    if principal.staff_id is None:
        raise unauthenticated()
    now = now or utcnow()
    key = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=get_settings().session_max_age_seconds)
    if principal.actor_type == "agent" and principal.access_expires_at is not None:
        expires_at = min(expires_at, principal.access_expires_at)
    row = StaffSession(
        key_hash=sha256_hex(key),
        staff_id=principal.staff_id,
        created_at=now,
        expires_at=expires_at,
        last_seen_at=now,
        client_ip=principal.client_ip,
        terminal=principal.terminal,
    )
    session.add(row)
    session.flush()
    return _serializer().dumps(key)


def _session_row(session: Session, cookie_value: str) -> StaffSession | None:
    if not isinstance(cookie_value, str) or not cookie_value or len(cookie_value) > 512:
        return None
    try:
        key = _serializer().loads(cookie_value, max_age=get_settings().session_max_age_seconds)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(key, str):
        return None
    return session.scalars(select(StaffSession).where(StaffSession.key_hash == sha256_hex(key))).one_or_none()


@carries("O24-13.3")
def principal_from_session(
    session: Session,
    cookie_value: str,
    *,
    client_ip: str | None = None,
    terminal: str | None = None,
    now: datetime | None = None,
) -> Principal:
    """The principal of a console session cookie; ``unauthenticated`` (401) when ended or expired."""
    now = now or utcnow()
    row = _session_row(session, cookie_value)
    if row is None or row.ended_at is not None or row.expires_at <= now or not row.staff.active:
        raise unauthenticated()
    ensure_agent_current(row.staff, now)
    if row.last_seen_at is None or now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return principal_for_staff(
        row.staff, via="session", client_ip=client_ip, terminal=terminal, session_id=row.id
    )


@carries("O24-13.6")
def end_session(
    session: Session,
    cookie_value: str,
    *,
    client_ip: str | None = None,
    terminal: str | None = None,
    reason: str = "logout",
) -> bool:
    """End the session the cookie names (logout). Returns False when there was none to end."""
    row = _session_row(session, cookie_value)
    if row is None or row.ended_at is not None:
        return False
    row.ended_at = utcnow()
    row.end_reason = reason[:32]
    session.flush()
    actor = Actor(type="agent" if row.staff.kind == "agent" else "staff", id=row.staff.username)
    record_event(
        session,
        "identity.logout",
        actor,
        subject=row.staff,
        obligations=LOGIN_OBLIGATIONS,
        client_ip=client_ip,
        terminal=terminal,
        detail={"reason": row.end_reason},
    )
    return True


def prune_sessions(session: Session, *, now: datetime | None = None) -> int:
    """Delete sessions that expired or ended more than a day ago (a scheduled job may call this)."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    result = session.execute(
        delete(StaffSession).where((StaffSession.expires_at <= cutoff) | (StaffSession.ended_at <= cutoff))
    )
    return rowcount(result)
