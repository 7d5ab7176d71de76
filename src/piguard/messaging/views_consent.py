"""Consent-request API (O31-18.2, O31-9)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

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
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    res = consent.create_request(session, **body.model_dump(), principal=principal)
    return consent.request_to_dict(res.request)


@router.get("/consent-requests", summary="Consent requests (recipients masked)")
def list_requests(
    status: str | None = None,
    content_provider: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(require_action("sms.read")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
    return [
        consent.request_to_dict(r)
        for r in consent.list_requests(session, status=status, content_provider_id=cp_id, limit=limit)
    ]
