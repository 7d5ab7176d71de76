"""Consent-request API (O31-18.2, O31-9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead, require_pi_read
from piguard.messaging import schemas
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions import consent
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/sms", tags=["sms gateway"])


@router.post(
    "/consent-requests", status_code=201, summary="Ask a recipient for consent (type, frequency, period)"
)
@carries("O31-18.2", "O31-9")
def create(
    body: schemas.ConsentRequestIn,
    principal: Principal = Depends(require_action("sms.submit")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    res = consent.create_request(session, **body.model_dump(), principal=principal)
    return consent.request_to_dict(res.request)


@router.get("/consent-requests", summary="Consent requests (recipients masked)")
def list_requests(
    status: str | None = None,
    content_provider: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: PiRead = Depends(require_pi_read("sms.read", ("phone_mobile",), system="sms")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
    return [
        consent.request_to_dict(r)
        for r in consent.list_requests(session, status=status, content_provider_id=cp_id, limit=limit)
    ]


@dataclass
class _Ledger:
    """The ledger's common filters (query parameters)."""

    content_provider: str | None = None
    recipient: str | None = Query(None, description="Looked up by keyed hash; never echoed")
    recipient_hash: str | None = Query(None, max_length=64)
    channel: Literal["sms", "email"] = "sms"
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Query(100, ge=1, le=1000)
    offset: int = Query(0, ge=0)

    def query(self, session: Session, status: str | None) -> consent.LedgerQuery:
        cp = self.content_provider
        cp_id = registry.get_content_provider(session, cp).id if cp else None
        return consent.LedgerQuery(
            cp_id,
            self.recipient,
            self.recipient_hash,
            self.channel,
            status,
            self.since,
            self.until,
            self.limit,
            self.offset,
        )

    def audit(self, session: Session, principal: Principal, what: str, n: int, purpose: str) -> None:
        if not (self.recipient or self.recipient_hash):
            return
        record(
            session,
            action=f"sms.{what}.searched",
            actor=principal.as_actor(),
            purpose=purpose,
            obligations=("O24-13.6", "O31-11"),
            client_ip=principal.client_ip,
            detail={"by_recipient": True, "results": n},
        )


@router.get("/consents", summary="The consent ledger (recipients masked; filter by number or keyed hash)")
@carries("O31-11", "O31-18.1")
def list_consents(
    status: str | None = None,
    f: _Ledger = Depends(),
    read: PiRead = Depends(require_pi_read("sms.read", ("phone_mobile",), system="sms")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    principal = read.principal
    rows = consent.list_consents(session, f.query(session, status))
    f.audit(session, principal, "consents", len(rows), read.purpose)
    return {"consents": [consent.consent_to_dict(c) for c in rows]}


@router.get("/subscription-events", summary="Subscription-status events (O31-11)")
@carries("O31-11")
def list_events(
    event: str | None = None,
    f: _Ledger = Depends(),
    read: PiRead = Depends(require_pi_read("sms.read", ("phone_mobile",), system="sms")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    principal = read.principal
    rows = consent.list_events(session, f.query(session, event))
    f.audit(session, principal, "subscription_events", len(rows), read.purpose)
    return {"events": [consent.event_to_dict(e) for e in rows]}
