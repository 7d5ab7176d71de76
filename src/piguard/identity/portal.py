"""End-user login for the portal: a phone number and a one-time code sent through piguard's gateway.

Identity sits below the gateway and the consent ledger, so it never sees the number: the caller
(the portal, :mod:`piguard.web.portal`) parses it into the ledger's subject (keyed hash and masked
form) and hands :func:`request_code` a ``deliver`` function that sends the text through the
messaging façade. What identity keeps:

* the code as an HMAC-SHA-256 (secret key) over a per-row salt, the subject hash and the code, with
  its expiry (``PIGUARD_PORTAL_CODE_TTL_SECONDS``); it is never stored, logged or audited in clear;
* each wrong, expired or replayed code as a failure row: after ``PIGUARD_PORTAL_CODE_MAX_FAILURES``
  within ``PIGUARD_PORTAL_LOCK_SECONDS`` the number is locked (even the right code is refused)
  until the window passes;
* how many codes went to a number and from a client address in ``PIGUARD_PORTAL_SEND_WINDOW_SECONDS``
  (``PIGUARD_PORTAL_CODES_PER_NUMBER``, ``PIGUARD_PORTAL_CODES_PER_ADDRESS``);
* portal sessions, apart from the console's: a signed cookie naming a random key whose SHA-256 is
  the row's key, the subject hash and masked number, an expiry
  (``PIGUARD_PORTAL_SESSION_MAX_AGE_SECONDS``).

Answers reveal nothing about whether a number is known: every valid number gets the same answer and
the same code; every failed check the same ``portal_code_invalid`` error. Every step is audited
with the actor ``Actor("end_user", <subject hash>)``. Functions take a session and do not commit;
a caller must commit a failure before raising its error (:func:`verify_code` says which).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.config import get_settings
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, unauthenticated, validation_error
from piguard.identity.models import PortalCode, PortalFailure, PortalSession
from piguard.regulations.markers import carries

#: the obligations a portal login answers to: only the person sees their information (O24-10,
#: CSL-40), and every step is on the audit log (O24-13.6)
LOGIN_OBLIGATIONS = ("O24-10", "CSL-40", "O24-13.6")
PORTAL_COOKIE = "piguard_portal"
_SESSION_SALT = "piguard.portal-session"
_SUBJECT_HEX = frozenset("0123456789abcdef")


def end_user(subject_hash: str) -> Actor:
    """The audit actor of an end user: the subject's keyed hash, never the number."""
    return Actor("end_user", subject_hash)


def _check_subject(subject_hash: object) -> str:
    if (
        not isinstance(subject_hash, str)
        or not 16 <= len(subject_hash) <= 64
        or not set(subject_hash) <= _SUBJECT_HEX
    ):
        raise ValueError("subject_hash must be the ledger's hex subject hash")
    return subject_hash


def _digest(salt: str, subject_hash: str, code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(
        key, f"portal-code\x00{salt}\x00{subject_hash}\x00{code}".encode(), hashlib.sha256
    ).hexdigest()


def code_invalid() -> PiguardError:
    """The one answer to a wrong, expired, replayed or missing code (it reveals which to nobody)."""
    return PiguardError(
        "portal_code_invalid",
        "The code is wrong or no longer valid. Ask for a new code.",
        "验证码错误或已失效，请重新获取验证码。",
        obligations=LOGIN_OBLIGATIONS,
        fields=[FieldError("code", "wrong or expired / 错误或已失效")],
        http_status=401,
        exit_code=2,
    )


def locked() -> PiguardError:
    minutes = max(1, get_settings().portal_lock_seconds // 60)
    return PiguardError(
        "portal_locked",
        f"Too many wrong codes for this number: try again in {minutes} minutes.",
        f"该号码验证码错误次数过多，请 {minutes} 分钟后再试。",
        obligations=LOGIN_OBLIGATIONS,
        http_status=429,
        exit_code=1,
    )


def rate_limited() -> PiguardError:
    return PiguardError(
        "portal_rate_limited",
        "Too many codes were asked for: try again later.",
        "获取验证码过于频繁，请稍后再试。",
        obligations=LOGIN_OBLIGATIONS,
        http_status=429,
        exit_code=1,
    )


def bad_code_format(digits: int) -> PiguardError:
    return validation_error(
        [FieldError("code", f"{digits} digits / {digits} 位数字")],
        f"The code is {digits} digits.",
        f"验证码为 {digits} 位数字。",
    )


def _audit(
    session: Session,
    action: str,
    subject_hash: str,
    *,
    outcome: str = "ok",
    client_ip: str | None,
    detail: dict[str, object] | None = None,
) -> None:
    record(
        session,
        action=action,
        actor=end_user(subject_hash),
        subject_ref=f"subject:{subject_hash}",
        outcome=outcome,
        obligations=LOGIN_OBLIGATIONS,
        client_ip=ip_or_none(client_ip),
        terminal="portal",
        detail=detail or {},
    )


def ip_or_none(value: str | None) -> str | None:
    """An address the audit log accepts (a test client or a proxy may give something else)."""
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return None
    return value


def _failures(session: Session, subject_hash: str, now: datetime) -> int:
    since = now - timedelta(seconds=get_settings().portal_lock_seconds)
    return int(
        session.scalar(
            select(func.count())
            .select_from(PortalFailure)
            .where(PortalFailure.subject_hash == subject_hash, PortalFailure.occurred_at > since)
        )
        or 0
    )


def is_locked(session: Session, subject_hash: str, *, now: datetime | None = None) -> bool:
    return _failures(session, subject_hash, now or utcnow()) >= get_settings().portal_code_max_failures


@dataclass(frozen=True, slots=True)
class CodeSent:
    """What :func:`request_code` did; the portal answers the same whatever it holds."""

    sent: bool
    message_ref: str | None
    expires_at: datetime


@carries("O24-10", "CSL-40", "O24-13.6")
def request_code(
    session: Session,
    subject_hash: str,
    deliver: Callable[[str], str | None],
    *,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> CodeSent:
    """Make a code for this number and hand its text to ``deliver`` (which sends it through the
    gateway and returns the message reference, or None when the gateway did not send it).

    Refused with ``portal_locked`` while the number is locked and ``portal_rate_limited`` beyond the
    per-number or per-address allowance (each refusal audited; nothing else written). A new code
    replaces the number's earlier ones."""
    subject_hash = _check_subject(subject_hash)
    settings = get_settings()
    now = now or utcnow()
    if is_locked(session, subject_hash, now=now):
        _audit(
            session,
            "portal.code.refused",
            subject_hash,
            outcome="refused",
            client_ip=client_ip,
            detail={"why": "locked"},
        )
        raise locked()
    since = now - timedelta(seconds=settings.portal_send_window_seconds)
    per_number = session.scalar(
        select(func.count())
        .select_from(PortalCode)
        .where(PortalCode.subject_hash == subject_hash, PortalCode.created_at > since)
    )
    per_address = (
        session.scalar(
            select(func.count())
            .select_from(PortalCode)
            .where(PortalCode.client_ip == client_ip, PortalCode.created_at > since)
        )
        if client_ip
        else 0
    )
    if (per_number or 0) >= settings.portal_codes_per_number or (
        per_address or 0
    ) >= settings.portal_codes_per_address:
        why = "number" if (per_number or 0) >= settings.portal_codes_per_number else "address"
        _audit(
            session,
            "portal.code.refused",
            subject_hash,
            outcome="refused",
            client_ip=client_ip,
            detail={"why": f"rate_{why}"},
        )
        raise rate_limited()
    # earlier live codes of this number end: only the newest one logs in
    for old in session.scalars(
        select(PortalCode).where(
            PortalCode.subject_hash == subject_hash, PortalCode.used_at.is_(None), PortalCode.expires_at > now
        )
    ):
        old.expires_at = now
    code = "".join(secrets.choice("0123456789") for _ in range(settings.portal_code_digits))
    salt = secrets.token_hex(16)
    row = PortalCode(
        subject_hash=subject_hash,
        code_hash=_digest(salt, subject_hash, code),
        salt=salt,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.portal_code_ttl_seconds),
        client_ip=client_ip,
    )
    session.add(row)
    session.flush()
    ref = deliver(code)
    del code
    row.message_ref = ref
    _audit(
        session,
        "portal.code.sent",
        subject_hash,
        outcome="ok" if ref else "failed",
        client_ip=client_ip,
        detail={"message_ref": ref, "sent": bool(ref)},
    )
    return CodeSent(bool(ref), ref, row.expires_at)


@carries("O24-10", "CSL-40", "O24-13.6")
def verify_code(
    session: Session,
    subject_hash: str,
    code: str,
    masked: str,
    *,
    client_ip: str | None = None,
    contact_enc: str | None = None,
    now: datetime | None = None,
) -> str:
    """Check the code and open a portal session; returns the signed cookie value. ``contact_enc``
    (the caller's ciphertext of the number, opaque here) is kept with the session.

    A wrong, expired or replayed code raises ``portal_code_invalid`` after writing a failure row
    (the caller commits before answering, or the lock would not count it); past the allowed
    failures ``portal_locked``. The audit entry says which check failed; the answer never does."""
    subject_hash = _check_subject(subject_hash)
    settings = get_settings()
    now = now or utcnow()
    digits = settings.portal_code_digits
    code = code.strip() if isinstance(code, str) else ""
    if len(code) != digits or not code.isascii() or not code.isdigit():
        raise bad_code_format(digits)
    if is_locked(session, subject_hash, now=now):
        _audit(
            session,
            "portal.login.refused",
            subject_hash,
            outcome="refused",
            client_ip=client_ip,
            detail={"why": "locked"},
        )
        raise locked()
    candidates = list(
        session.scalars(
            select(PortalCode)
            .where(PortalCode.subject_hash == subject_hash)
            .order_by(PortalCode.created_at.desc(), PortalCode.id.desc())
            .limit(settings.portal_codes_per_number + 1)
        )
    )
    match = next(
        (c for c in candidates if hmac.compare_digest(c.code_hash, _digest(c.salt, subject_hash, code))), None
    )
    why = None
    if match is None:
        why = "wrong" if candidates else "no_code"
    elif match.used_at is not None:
        why = "replayed"
    elif match.expires_at <= now:
        why = "expired"
    if why is not None or match is None:
        session.add(PortalFailure(subject_hash=subject_hash, client_ip=client_ip, occurred_at=now))
        session.flush()
        now_locked = is_locked(session, subject_hash, now=now)
        _audit(
            session,
            "portal.login.failed",
            subject_hash,
            outcome="refused",
            client_ip=client_ip,
            detail={"why": why, "locked": now_locked},
        )
        raise locked() if now_locked else code_invalid()
    match.used_at = now
    cookie = start_session(
        session, subject_hash, masked, client_ip=client_ip, contact_enc=contact_enc, now=now
    )
    _audit(session, "portal.login", subject_hash, client_ip=client_ip)
    return cookie


# ----------------------------------------------------------------------------------- sessions


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SESSION_SALT)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start_session(
    session: Session,
    subject_hash: str,
    masked: str,
    *,
    client_ip: str | None = None,
    contact_enc: str | None = None,
    now: datetime | None = None,
) -> str:
    now = now or utcnow()
    key = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            key_hash=_sha(key),
            subject_hash=_check_subject(subject_hash),
            subject_masked=str(masked)[:64],
            created_at=now,
            expires_at=now + timedelta(seconds=get_settings().portal_session_max_age_seconds),
            client_ip=client_ip,
            contact_enc=contact_enc,
        )
    )
    session.flush()
    return _serializer().dumps(key)


@dataclass(frozen=True, slots=True)
class PortalUser:
    """Who is signed in to the portal: the subject's hash (what every query and audit entry uses)
    and the masked number (what the page shows)."""

    subject_hash: str
    masked: str
    session_id: int
    client_ip: str | None = None
    #: the caller's ciphertext of the number (see :func:`verify_code`), or None
    contact_enc: str | None = None

    @property
    def actor(self) -> Actor:
        return end_user(self.subject_hash)


def _row(session: Session, cookie_value: object) -> PortalSession | None:
    if not isinstance(cookie_value, str) or not cookie_value or len(cookie_value) > 512:
        return None
    try:
        key = _serializer().loads(cookie_value, max_age=get_settings().portal_session_max_age_seconds)
    except BadSignature:  # also SignatureExpired: a tampered or stale cookie
        return None
    if not isinstance(key, str):
        return None
    return session.scalars(select(PortalSession).where(PortalSession.key_hash == _sha(key))).one_or_none()


@carries("O24-10")
def user_from_cookie(
    session: Session, cookie_value: object, *, client_ip: str | None = None, now: datetime | None = None
) -> PortalUser:
    """The signed-in end user; ``unauthenticated`` for a missing, tampered, ended or expired cookie."""
    row = _row(session, cookie_value)
    now = now or utcnow()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        raise unauthenticated()
    return PortalUser(row.subject_hash, row.subject_masked, row.id, client_ip, row.contact_enc)


def end_session(session: Session, cookie_value: object, *, client_ip: str | None = None) -> bool:
    row = _row(session, cookie_value)
    if row is None or row.ended_at is not None:
        return False
    row.ended_at = utcnow()
    _audit(session, "portal.logout", row.subject_hash, client_ip=client_ip)
    return True
