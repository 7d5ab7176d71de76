"""Audit log API (O24-13.6): ``GET /api/audit`` (search) and ``GET /api/audit/verify``.

For auditors, compliance officers and administrators: access goes through the identity room's
permission table (actions ``audit.read`` and ``audit.verify``, held by exactly those roles), so a
token's scopes and an agent's expiry are honoured too. Reading the log is itself recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from piguard.audit import service
from piguard.audit.models import ACTOR_TYPES, OUTCOMES
from piguard.audit.schemas import AuditEntryOut, AuditPage, VerifyOut
from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/audit", tags=["audit"])

#: The roles that may read the audit log (the identity room's table grants audit.read and
#: audit.verify to exactly these).
AUDIT_READERS = ("auditor", "compliance_officer", "admin")
OBLIGATIONS = ("O24-13.6",)


def _utc(value: datetime | None) -> datetime | None:
    # The query's times carry an offset (AwareDatetime): compare in UTC, as the log stores them.
    return None if value is None else value.astimezone(UTC)


def _record(
    session: Session, principal: Principal, action: str, outcome: str, detail: dict[str, Any]
) -> None:
    service.record(
        session,
        action=action,
        actor=principal.as_actor(),
        client_ip=principal.client_ip,
        terminal=principal.terminal,
        outcome=outcome,
        obligations=OBLIGATIONS,
        detail=detail,
    )


@router.get(
    "",
    response_model=AuditPage,
    summary="Search the audit log, newest first / 查询审计日志",
    description="Filters combine with AND. `action` matches by prefix; `since` is inclusive, `until` "
    "exclusive (UTC unless an offset is given). Page with `cursor` (the `next_cursor` of the previous "
    "page) or `offset`. Requires role auditor, compliance_officer or admin. (O24-13.6)",
)
@carries("O24-13.6")
def search_audit(
    actor_id: str | None = Query(None, max_length=128),
    actor_type: str | None = Query(None, description=", ".join(ACTOR_TYPES)),
    subject_ref: str | None = Query(None, max_length=128),
    action: str | None = Query(None, max_length=64, description="Prefix, e.g. `pi` or `auth.login`"),
    since: AwareDatetime | None = Query(None),
    until: AwareDatetime | None = Query(None),
    outcome: str | None = Query(None, description=", ".join(OUTCOMES)),
    limit: int = Query(100, ge=1, le=service.MAX_LIMIT),
    offset: int = Query(0, ge=0),
    cursor: int | None = Query(None, ge=1),
    principal: Principal = Depends(require_action("audit.read")),
    session: Session = Depends(db_session, scope="function"),
) -> AuditPage:
    filters: dict[str, Any] = {
        "actor_id": actor_id,
        "actor_type": actor_type,
        "subject_ref": subject_ref,
        "action": action,
        "since": _utc(since),
        "until": _utc(until),
        "outcome": outcome,
    }
    entries = service.search(session, **filters, limit=limit, offset=offset, cursor=cursor)
    items = [AuditEntryOut.model_validate(e) for e in entries]
    _record(
        session,
        principal,
        "audit.search",
        "ok",
        {
            "filters": {k: v for k, v in filters.items() if v is not None},
            "limit": limit,
            "offset": offset,
            "cursor": cursor,
            "returned": len(items),
        },
    )
    return AuditPage(
        items=items,
        limit=limit,
        offset=offset,
        next_cursor=items[-1].seq if len(items) == limit else None,
    )


@router.get(
    "/verify",
    response_model=VerifyOut,
    summary="Verify the hash chain, checkpoints and signed head / 校验审计日志完整性",
    description="`ok` is false when an entry was altered, deleted, reordered or the tail truncated; "
    "`first_bad_seq` and `problem` say where and how. Requires role auditor, compliance_officer or "
    "admin. (O24-13.6)",
)
@carries("O24-13.6")
def verify_audit(
    principal: Principal = Depends(require_action("audit.verify")),
    session: Session = Depends(db_session, scope="function"),
) -> VerifyOut:
    result = service.verify(session)
    service.record_verification(
        session, result, principal.as_actor(), client_ip=principal.client_ip, terminal=principal.terminal
    )
    return VerifyOut.of(result)
