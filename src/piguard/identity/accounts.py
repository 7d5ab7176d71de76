"""Staff and agent accounts: create, roles, details, password, deactivate (O24-13.3, O24-11).

Every change is audited (O24-13.6). Service functions: they take a session and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from piguard.audit.guard import looks_like_pi
from piguard.audit.service import Actor, record
from piguard.core.config import get_settings
from piguard.core.db import utcnow
from piguard.core.errors import (
    FieldError,
    PiguardError,
    forbidden,
    not_found,
    unauthenticated,
    validation_error,
)
from piguard.core.logging import get_logger, redact
from piguard.core.reasons import Reason
from piguard.identity.access import (
    ADMIN,
    AGENT,
    AGENT_ROLES,
    ALL_ROLES,
)
from piguard.identity.models import ApiToken, Staff, StaffRoleGrant, StaffSession
from piguard.identity.passwords import check_password_policy, hash_password
from piguard.identity.principal import Principal, system_principal
from piguard.regulations.markers import carries

log = get_logger("piguard.identity")

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
KINDS = ("staff", "agent")
LOGIN_OBLIGATIONS = ("O24-13.3", "O24-13.6")
ACCOUNT_OBLIGATIONS = ("O24-13.3", "O24-13.6")
TERMINAL_MAX = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# ------------------------------------------------------------------------------------ helpers


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    """The normalised username, or a validation error. A username that looks like personal
    information (a phone number, an ID number) is refused: it is written in every audit entry."""
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise validation_error(
            [
                FieldError(
                    "username",
                    "3-64 characters: lowercase letters, digits, '.', '_', '-', starting with a letter or digit / "
                    "3-64 个字符：小写字母、数字、'.'、'_'、'-'，以字母或数字开头",
                )
            ]
        )
    if looks_like_pi(name):
        raise validation_error(
            [FieldError("username", "must not be a phone, ID or card number / 不得使用手机号、证件号或卡号")]
        )
    return name


def safe_text(raw: str, limit: int = 32) -> str:
    """A length-limited, PI-redacted, printable form of free text (for errors and audit details)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in raw.strip()[:limit])
    text = redact(text)
    return text + ("…" if len(raw.strip()) > limit else "")


def typed_username_hint(raw: str) -> dict[str, str | int]:
    """What the audit log keeps of a username typed at login that names no account.

    Never the text: people type their password (or phone number) into the username field. Its
    first two letters or digits, its length, and a keyed digest (HMAC with the secret key), so an
    investigator can check whether a given name was tried without the log holding what was typed.
    """
    text = raw.strip()
    head = "".join(ch if ch.isascii() and ch.isalnum() else "?" for ch in text[:2])
    return {"hint": f"{head}…", "length": len(text), "digest": username_digest(text)[:16]}


def username_digest(username: str) -> str:
    """Keyed digest of a typed username: the key of failed-login rows (never the text)."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"login:" + normalise_username(username)[:256].encode(), hashlib.sha256).hexdigest()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def clean_ip(value: str | None) -> str | None:
    """A client address as the audit log takes it: a valid IP address, or None."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def clean_terminal(value: str | None) -> str | None:
    """Where from (workstation, User-Agent…): printable, at most 128 characters, PI-looking spans masked."""
    if not value:
        return None
    text = _CONTROL.sub("?", value)[:TERMINAL_MAX]
    if looks_like_pi(text, allow_ip=True):
        text = redact(text)[:TERMINAL_MAX]
    return text or None


def rowcount(result: Any) -> int:
    """Rows a bulk UPDATE/DELETE touched (``CursorResult.rowcount``)."""
    return int(getattr(result, "rowcount", 0) or 0)


def by_or_system(by: Principal | None) -> Principal:
    return by if by is not None else system_principal()


def record_event(
    session: Session,
    action: str,
    by: Principal | Actor,
    *,
    subject: Staff | None = None,
    outcome: str = "ok",
    obligations: Sequence[str] = ACCOUNT_OBLIGATIONS,
    client_ip: str | None = None,
    terminal: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit an identity event (O24-13.6); the address and terminal are cleaned for the log."""
    if isinstance(by, Principal):
        actor = by.as_actor()
        client_ip = client_ip or by.client_ip
        terminal = terminal or by.terminal
    else:
        actor = by
    record(
        session,
        action=action,
        actor=actor,
        subject_ref=f"staff:{subject.username}" if subject is not None else None,
        outcome=outcome,
        obligations=tuple(obligations),
        client_ip=clean_ip(client_ip),
        terminal=clean_terminal(terminal),
        detail=detail,
    )


def _check_roles(roles: Iterable[str], kind: str) -> frozenset[str]:
    wanted = frozenset(r.strip() for r in roles)
    unknown = wanted - ALL_ROLES
    if unknown:
        raise validation_error(
            [
                FieldError(
                    "roles",
                    f"unknown roles / 未知角色: {', '.join(sorted(unknown))}; "
                    f"known / 可选: {', '.join(sorted(ALL_ROLES))}",
                )
            ]
        )
    if not wanted:
        raise validation_error([FieldError("roles", "at least one role / 至少一个角色")])
    if kind == "agent" and not wanted <= AGENT_ROLES:
        raise validation_error(
            [
                FieldError(
                    "roles",
                    f"an outsourced agent may hold only / 代理人员只能拥有: {', '.join(sorted(AGENT_ROLES))} (O24-11)",
                )
            ]
        )
    if kind != "agent" and AGENT in wanted:
        raise validation_error(
            [
                FieldError(
                    "roles",
                    "the 'agent' role is for agent accounts (kind=agent) / 'agent' 角色仅限代理人员账号",
                )
            ]
        )
    return wanted


def _check_agent_fields(kind: str, agent_org: str | None, access_expires_at: datetime | None) -> None:
    if kind not in KINDS:
        raise validation_error([FieldError("kind", "staff or agent / 仅限 staff 或 agent")])
    if kind == "agent":
        errors = []
        if not agent_org or not agent_org.strip():
            errors.append(FieldError("agent_org", "required for agents / 代理人员必须登记所属机构 (O24-11)"))
        if access_expires_at is None:
            errors.append(
                FieldError("access_expires_at", "required for agents / 代理人员必须设定授权期限 (O24-11)")
            )
        elif access_expires_at.tzinfo is None:
            errors.append(FieldError("access_expires_at", "must carry a time zone / 必须带时区"))
        if errors:
            raise validation_error(errors)
    elif agent_org is not None or access_expires_at is not None:
        raise validation_error(
            [FieldError("kind", "agent_org and access_expires_at apply only to agents / 仅适用于代理人员")]
        )


# ----------------------------------------------------------------------------------- accounts


def get_staff(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise not_found("Staff account", "人员账号", str(staff_id))
    return staff


def get_staff_by_username(session: Session, username: str) -> Staff | None:
    return session.scalars(
        select(Staff).where(Staff.username == normalise_username(username)[:64])
    ).one_or_none()


def require_staff(session: Session, username: str) -> Staff:
    staff = get_staff_by_username(session, username)
    if staff is None:
        raise not_found("Staff account", "人员账号", safe_text(username))
    return staff


def list_staff(session: Session, *, include_inactive: bool = True, role: str | None = None) -> list[Staff]:
    stmt = select(Staff).order_by(Staff.username)
    if not include_inactive:
        stmt = stmt.where(Staff.active.is_(True))
    if role is not None:
        stmt = stmt.where(Staff.id.in_(select(StaffRoleGrant.staff_id).where(StaffRoleGrant.role == role)))
    return list(session.scalars(stmt))


@carries("O24-13.3", "O24-11", "O24-13.6")
def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    display_name: str = "",
    kind: str = "staff",
    agent_org: str | None = None,
    access_expires_at: datetime | None = None,
    by: Principal | None = None,
) -> Staff:
    """Create an account. Agents (``kind="agent"``, O24-11) need an organisation and an expiry."""
    name = check_username(username)
    check_password_policy(password)
    _check_agent_fields(kind, agent_org, access_expires_at)
    wanted = _check_roles(roles, kind)
    if get_staff_by_username(session, name) is not None:
        raise PiguardError(
            "conflict",
            f"Username {name!r} is taken.",
            f"用户名 {name!r} 已被使用。",
            fields=[FieldError("username", "taken / 已存在")],
            http_status=409,
        )
    actor = by_or_system(by)
    now = utcnow()
    staff = Staff(
        username=name,
        display_name=(display_name or "").strip()[:128],
        password_hash=hash_password(password),
        kind=kind,
        agent_org=agent_org.strip()[:200] if agent_org else None,
        access_expires_at=access_expires_at,
        active=True,
        password_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    staff.role_grants = [
        StaffRoleGrant(role=r, granted_at=now, granted_by=actor.actor_id) for r in sorted(wanted)
    ]
    session.add(staff)
    session.flush()
    obligations = (*ACCOUNT_OBLIGATIONS, "O24-11") if kind == "agent" else ACCOUNT_OBLIGATIONS
    record_event(
        session,
        "identity.staff.created",
        actor,
        subject=staff,
        obligations=obligations,
        detail={
            "roles": sorted(wanted),
            "kind": kind,
            "agent_org": staff.agent_org,
            "access_expires_at": access_expires_at.isoformat() if access_expires_at else None,
        },
    )
    log.info("staff_created", staff_id=staff.id, kind=kind, roles=sorted(wanted))
    return staff


def ensure_staff(
    session: Session, username: str, password: str, roles: Sequence[str], display_name: str = ""
) -> Staff:
    """Create the account if it does not exist; an existing account is returned unchanged."""
    existing = get_staff_by_username(session, username)
    if existing is not None:
        return existing
    return create_staff(session, username=username, password=password, roles=roles, display_name=display_name)


def _active_admin_count(session: Session, excluding: int | None = None) -> int:
    stmt = (
        select(func.count())
        .select_from(Staff)
        .join(StaffRoleGrant)
        .where(Staff.active.is_(True), StaffRoleGrant.role == ADMIN)
    )
    if excluding is not None:
        stmt = stmt.where(Staff.id != excluding)
    return int(session.scalar(stmt) or 0)


def _guard_last_admin(session: Session, staff: Staff) -> None:
    if ADMIN in staff.roles and staff.active and _active_admin_count(session, excluding=staff.id) == 0:
        raise PiguardError(
            "last_admin",
            "This is the last active administrator; keep at least one.",
            "这是最后一个有效的管理员账号，至少须保留一个。",
            obligations=("O24-13.3",),
            http_status=409,
        )


@carries("O24-13.3", "O24-13.6")
def set_roles(session: Session, staff: Staff, roles: Iterable[str], *, by: Principal | None = None) -> None:
    wanted = _check_roles(roles, staff.kind)
    before = staff.roles
    if wanted == before:
        return
    if ADMIN in before and ADMIN not in wanted:
        _guard_last_admin(session, staff)
    if by is not None and by.staff_id is not None and by.staff_id == staff.id and wanted - before:
        # Separation of duties: nobody widens their own access; another person grants it.
        reason = Reason(
            "self_role_grant",
            ("O24-13.3",),
            "You cannot grant roles to your own account: another administrator must do it.",
            "不能为自己的账号授予角色：须由另一名管理员授予。",
            {"added": sorted(wanted - before)},
        )
        raise forbidden((reason,))
    actor = by_or_system(by)
    now = utcnow()
    staff.role_grants = [g for g in staff.role_grants if g.role in wanted] + [
        StaffRoleGrant(role=r, granted_at=now, granted_by=actor.actor_id) for r in sorted(wanted - before)
    ]
    staff.updated_at = now
    session.flush()
    record_event(
        session,
        "identity.staff.roles_changed",
        actor,
        subject=staff,
        detail={
            "added": sorted(wanted - before),
            "removed": sorted(before - wanted),
            "roles": sorted(wanted),
        },
    )


_UNSET: Any = object()


@carries("O24-11", "O24-13.6")
def update_staff(
    session: Session,
    staff: Staff,
    *,
    display_name: str | None = _UNSET,
    agent_org: str | None = _UNSET,
    access_expires_at: datetime | None = _UNSET,
    by: Principal | None = None,
) -> None:
    """Change the display name or (for agents) the organisation and access expiry."""
    changes: dict[str, Any] = {}
    if display_name is not _UNSET and display_name is not None:
        staff.display_name = display_name.strip()[:128]
        changes["display_name"] = True
    new_org = staff.agent_org if agent_org is _UNSET else agent_org
    new_exp = staff.access_expires_at if access_expires_at is _UNSET else access_expires_at
    if agent_org is not _UNSET or access_expires_at is not _UNSET:
        _check_agent_fields(staff.kind, new_org, new_exp)
        if new_org != staff.agent_org:
            changes["agent_org"] = new_org
        if new_exp != staff.access_expires_at:
            changes["access_expires_at"] = new_exp.isoformat() if new_exp else None
        staff.agent_org, staff.access_expires_at = new_org, new_exp
    if not changes:
        return
    staff.updated_at = utcnow()
    session.flush()
    obligations = (*ACCOUNT_OBLIGATIONS, "O24-11") if staff.kind == "agent" else ACCOUNT_OBLIGATIONS
    record_event(
        session,
        "identity.staff.updated",
        by_or_system(by),
        subject=staff,
        obligations=obligations,
        detail=changes,
    )


@carries("O24-13.6")
def set_password(session: Session, staff: Staff, password: str, *, by: Principal | None = None) -> None:
    check_password_policy(password)
    now = utcnow()
    staff.password_hash = hash_password(password)
    staff.password_changed_at = now
    staff.updated_at = now
    session.flush()
    record_event(session, "identity.staff.password_set", by_or_system(by), subject=staff)


@carries("O24-13.3", "O24-11", "O24-13.6")
def deactivate(
    session: Session, staff: Staff, *, by: Principal | None = None, reason: str | None = None
) -> None:
    """Deactivate an account: its tokens are revoked and its sessions ended at once."""
    if not staff.active:
        return
    _guard_last_admin(session, staff)
    now = utcnow()
    staff.active = False
    staff.updated_at = now
    revoked = rowcount(
        session.execute(
            update(ApiToken)
            .where(ApiToken.staff_id == staff.id, ApiToken.revoked.is_(False))
            .values(revoked=True, revoked_at=now)
        )
    )
    ended = rowcount(
        session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == staff.id, StaffSession.ended_at.is_(None))
            .values(ended_at=now, end_reason="deactivated")
        )
    )
    session.flush()
    obligations = (*ACCOUNT_OBLIGATIONS, "O24-11") if staff.kind == "agent" else ACCOUNT_OBLIGATIONS
    record_event(
        session,
        "identity.staff.deactivated",
        by_or_system(by),
        subject=staff,
        obligations=obligations,
        detail={
            "tokens_revoked": revoked,
            "sessions_ended": ended,
            **({"reason": safe_text(reason, 200)} if reason else {}),
        },
    )


@carries("O24-13.3", "O24-13.6")
def reactivate(session: Session, staff: Staff, *, by: Principal | None = None) -> None:
    if staff.active:
        return
    staff.active = True
    staff.updated_at = utcnow()
    session.flush()
    record_event(session, "identity.staff.reactivated", by_or_system(by), subject=staff)


def unauthenticated_because(code: str, obligations: tuple[str, ...], en: str, zh: str) -> PiguardError:
    """401 ``unauthenticated`` with a reason (for credentials that are real but no longer good)."""
    err = unauthenticated()
    err.reasons = (Reason(code, obligations, en, zh),)
    err.obligations = obligations
    return err


@carries("O24-11")
def ensure_agent_current(staff: Staff, now: datetime) -> None:
    """An agent whose access has lapsed (or who has no organisation) is signed out at once (O24-11)."""
    if staff.kind != "agent":
        return
    if not staff.agent_org or staff.access_expires_at is None or staff.access_expires_at <= now:
        raise unauthenticated_because(
            "agent_access_expired",
            ("O24-11",),
            "The agent's access has expired.",
            "代理人员的访问授权已过期。",
        )


def principal_for_staff(
    staff: Staff,
    *,
    via: str,
    scopes: frozenset[str] = frozenset({"*"}),
    client_ip: str | None = None,
    terminal: str | None = None,
    token_id: int | None = None,
    session_id: int | None = None,
    content_provider_id: int | None = None,
) -> Principal:
    """The principal an account stands for; the address and terminal are cleaned for the audit log."""
    return Principal(
        actor_type="agent" if staff.kind == "agent" else "staff",
        actor_id=staff.username,
        username=staff.username,
        roles=staff.roles,
        scopes=scopes,
        client_ip=clean_ip(client_ip),
        terminal=clean_terminal(terminal),
        via=via,
        display_name=staff.display_name,
        agent_org=staff.agent_org,
        access_expires_at=staff.access_expires_at,
        staff_id=staff.id,
        token_id=token_id,
        session_id=session_id,
        content_provider_id=content_provider_id,
    )
