"""Consent-request API (O31-18.2, O31-9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.messaging import consent, registry, schemas
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/sms", tags=["sms gateway"])


@router.post(
    "/consent-requests", status_code=201, summary="Ask a recipient for consent (type, frequency, period)"
)
@carries("O31-18.2", "O31-9")
def create(
    body: schemas.ConsentRequestIn,
    principal: Principal = Depends(require_action("sms.submit")),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    res = consent.create_request(session, **body.model_dump(), principal=principal)
    return consent.request_to_dict(res.request)


@router.get("/consent-requests", summary="Consent requests (recipients masked)")
def list_requests(
    status: str | None = None,
    content_provider: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(require_action("sms.read")),
    session: Session = Depends(db_session),
) -> list[dict[str, Any]]:
    cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
    return [
        consent.request_to_dict(r)
        for r in consent.list_requests(session, status=status, content_provider_id=cp_id, limit=limit)
    ]


def _ledger_query(
    session: Session,
    content_provider: str | None,
    recipient: str | None,
    recipient_hash: str | None,
    channel: str,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> consent.LedgerQuery:
    cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
    return consent.LedgerQuery(cp_id, recipient, recipient_hash, channel, status, since, until, limit, offset)


def _audit_lookup(session: Session, principal: Principal, what: str, n: int) -> None:
    record(
        session,
        action=f"sms.{what}.searched",
        actor=principal.as_actor(),
        purpose="records_lookup",
        obligations=("O24-13.6", "O31-11"),
        client_ip=principal.client_ip,
        detail={"by_recipient": True, "results": n},
    )


@router.get("/consents", summary="The consent ledger (recipients masked; filter by number or keyed hash)")
@carries("O31-11", "O31-18.1")
def list_consents(
    content_provider: str | None = None,
    recipient: str | None = Query(None, description="Looked up by keyed hash; never echoed"),
    recipient_hash: str | None = Query(None, max_length=64),
    channel: Literal["sms", "email"] = "sms",
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    principal: Principal = Depends(require_action("sms.read")),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    q = _ledger_query(
        session, content_provider, recipient, recipient_hash, channel, status, since, until, limit, offset
    )
    rows = consent.list_consents(session, q)
    if recipient or recipient_hash:
        _audit_lookup(session, principal, "consents", len(rows))
    return {"consents": [consent.consent_to_dict(c) for c in rows]}


@router.get("/subscription-events", summary="Subscription-status events (O31-11)")
@carries("O31-11")
def list_events(
    content_provider: str | None = None,
    recipient: str | None = Query(None, description="Looked up by keyed hash; never echoed"),
    recipient_hash: str | None = Query(None, max_length=64),
    channel: Literal["sms", "email"] = "sms",
    event: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    principal: Principal = Depends(require_action("sms.read")),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    q = _ledger_query(
        session, content_provider, recipient, recipient_hash, channel, event, since, until, limit, offset
    )
    rows = consent.list_events(session, q)
    if recipient or recipient_hash:
        _audit_lookup(session, principal, "subscription_events", len(rows))
    return {"events": [consent.event_to_dict(e) for e in rows]}
