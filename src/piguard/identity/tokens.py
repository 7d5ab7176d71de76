"""API tokens: ``pgt_<prefix>_<secret>``, shown once, stored as SHA-256, scoped, expiring (O24-13.3)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from piguard.core.db import utcnow
from piguard.core.errors import (
    FieldError,
    PiguardError,
    forbidden,
    not_found,
    refused,
    unauthenticated,
    validation_error,
)
from piguard.core.logging import get_logger
from piguard.core.reasons import Decision, Reason
from piguard.identity.access import (
    allowed_scopes,
    known_scopes,
)
from piguard.identity.accounts import (
    by_or_system,
    ensure_agent_current,
    principal_for_staff,
    record_event,
    sha256_hex,
    unauthenticated_because,
)
from piguard.identity.models import ApiToken, Staff
from piguard.identity.principal import Principal, scope_covers
from piguard.regulations.markers import carries

TOKEN_PREFIX = "pgt_"
TOKEN_MAX_LIFETIME = timedelta(days=366)
# touch last-used at most this often, so reads do not turn into a write per request
_TOUCH_EVERY = timedelta(seconds=60)

log = get_logger("piguard.identity")


def _parse_token(token: str) -> tuple[str, str] | None:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    parts = token.split("_", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return None
    return parts[1], token


def _check_scopes(
    staff: Staff, scopes: Iterable[str], holder_scopes: frozenset[str] | None
) -> frozenset[str]:
    wanted = frozenset(s.strip() for s in scopes if s and s.strip())
    if not wanted:
        raise validation_error([FieldError("scopes", "at least one scope / 至少一个权限范围")])
    unknown = wanted - known_scopes()
    if unknown:
        raise validation_error(
            [FieldError("scopes", f"unknown scopes / 未知权限范围: {', '.join(sorted(unknown))}")]
        )
    beyond = wanted - allowed_scopes(staff.roles)
    if holder_scopes is not None:
        beyond |= {s for s in wanted if not scope_covers(holder_scopes, s) and "*" not in holder_scopes}
    if beyond:
        raise forbidden(
            (
                Reason(
                    "scope_exceeds_roles",
                    ("O24-13.3",),
                    f"Scopes beyond what the account's roles allow: {', '.join(sorted(beyond))}.",
                    f"权限范围超出账号角色允许：{', '.join(sorted(beyond))}。",
                    {"scopes": sorted(beyond)},
                ),
            )
        )
    return wanted


#: the messaging registry's content providers, read by name (identity sits below messaging)
_CONTENT_PROVIDERS = table("msg_content_providers", column("id"), column("code"))


@carries("O31-13", "O31-10")
def content_provider_id_of(session: Session, code: str) -> int:
    """The id of the content provider ``code`` a token is bound to (404 when there is none)."""
    c = code.strip().lower() if isinstance(code, str) else ""
    found = (
        session.scalar(select(_CONTENT_PROVIDERS.c.id).where(_CONTENT_PROVIDERS.c.code == c)) if c else None
    )
    if found is None:
        raise not_found("Content provider", "内容提供者", str(code)[:64])
    return int(found)


def _bound_reason(held: int) -> Reason:
    return Reason(
        "token_bound_elsewhere",
        ("O31-13", "O31-10"),
        "A token bound to a content provider can only issue tokens bound to the same one.",
        "绑定内容提供者的令牌只能签发绑定同一内容提供者的令牌。",
        {"content_provider_id": held},
    )


@carries("O24-13.3", "O24-11", "O24-13.6")
def issue_token(
    session: Session,
    staff: Staff,
    scopes: Iterable[str],
    expires_in: timedelta,
    *,
    name: str = "",
    by: Principal | None = None,
    now: datetime | None = None,
    content_provider: str | None = None,
) -> tuple[str, ApiToken]:
    """Issue an API token for ``staff``: returns ``(plaintext, row)``; the plaintext is shown once.

    Scopes must lie within what the account's roles allow (and within the issuing token's scopes,
    when ``by`` is itself a token). An agent's token never outlives the agent's access (O24-11).
    ``content_provider`` (a code) binds the token to that content provider: it then sends only from
    that provider's ports (O31-13, O31-10). A bound token issues only tokens bound the same way.
    """
    now = now or utcnow()
    if not staff.active:
        raise PiguardError("inactive_account", "The account is deactivated.", "账号已停用。", http_status=409)
    if expires_in <= timedelta(0) or expires_in > TOKEN_MAX_LIFETIME:
        raise validation_error(
            [
                FieldError(
                    "expires_in",
                    f"between 1 second and {TOKEN_MAX_LIFETIME.days} days / "
                    f"须在 1 秒到 {TOKEN_MAX_LIFETIME.days} 天之间",
                )
            ]
        )
    holder = by.scopes if by is not None and by.via == "token" else None
    wanted = _check_scopes(staff, scopes, holder)
    cp_id = content_provider_id_of(session, content_provider) if content_provider is not None else None
    held = by.content_provider_id if by is not None and by.via == "token" else None
    if held is not None and cp_id != held:
        raise forbidden((_bound_reason(held),))
    expires_at = now + expires_in
    if staff.kind == "agent":
        if staff.access_expires_at is None or staff.access_expires_at <= now:
            raise refused(
                Decision.refuse(
                    Reason(
                        "agent_access_expired",
                        ("O24-11",),
                        "The agent's access has expired.",
                        "代理人员的访问授权已过期。",
                    )
                )
            )
        expires_at = min(expires_at, staff.access_expires_at)
    prefix = secrets.token_hex(6)
    plaintext = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        staff_id=staff.id,
        name=(name or "").strip()[:100],
        prefix=prefix,
        secret_hash=sha256_hex(plaintext),
        scopes_text=" ".join(sorted(wanted)),
        created_at=now,
        expires_at=expires_at,
        revoked=False,
        content_provider_id=cp_id,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        "identity.token.issued",
        by_or_system(by),
        subject=staff,
        detail={
            "token_id": row.id,
            "prefix": prefix,
            "scopes": sorted(wanted),
            "expires_at": expires_at.isoformat(),
            "content_provider_id": cp_id,
        },
    )
    log.info("token_issued", token_id=row.id, staff_id=staff.id)
    return plaintext, row


def get_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise not_found("API token", "API 令牌", str(token_id))
    return row


def list_tokens(session: Session, staff: Staff, *, include_revoked: bool = False) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.staff_id == staff.id).order_by(ApiToken.id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked.is_(False))
    return list(session.scalars(stmt))


@carries("O24-13.3", "O24-13.6")
def revoke_token(session: Session, token: ApiToken | int, *, by: Principal | None = None) -> ApiToken:
    row = get_token(session, token) if isinstance(token, int) else token
    if row.revoked:
        return row
    row.revoked = True
    row.revoked_at = utcnow()
    session.flush()
    record_event(
        session,
        "identity.token.revoked",
        by_or_system(by),
        subject=row.staff,
        detail={"token_id": row.id, "prefix": row.prefix},
    )
    return row


@carries("O24-13.3")
def principal_from_token(
    session: Session,
    token: str,
    *,
    client_ip: str | None = None,
    terminal: str | None = None,
    now: datetime | None = None,
) -> Principal:
    """The principal a bearer token stands for; ``unauthenticated`` (401) when it is not valid."""
    now = now or utcnow()
    parsed = _parse_token(token)
    if parsed is None:
        raise unauthenticated()
    prefix, full = parsed
    row = session.scalars(select(ApiToken).where(ApiToken.prefix == prefix)).one_or_none()
    if row is None or not hmac.compare_digest(row.secret_hash, sha256_hex(full)):
        raise unauthenticated()
    if row.revoked:
        raise unauthenticated_because(
            "token_revoked", ("O24-13.3",), "The token has been revoked.", "令牌已被撤销。"
        )
    if row.expires_at <= now:
        raise unauthenticated_because(
            "token_expired", ("O24-13.3",), "The token has expired.", "令牌已过期。"
        )
    if not row.staff.active:
        raise unauthenticated()
    ensure_agent_current(row.staff, now)
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
        row.last_used_at = now
        session.flush()
    return principal_for_staff(
        row.staff,
        via="token",
        scopes=row.scopes,
        client_ip=client_ip,
        terminal=terminal,
        token_id=row.id,
        content_provider_id=row.content_provider_id,
    )
