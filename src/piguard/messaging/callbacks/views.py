"""Callback API for content providers (tokens bound to one): the endpoint, and receipts and
replies to poll (O31-11, O31-20)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.messaging import schemas
from piguard.messaging.callbacks import service
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/sms", tags=["sms gateway"])
_CP = require_action("sms.submit")


@router.put(
    "/callback", summary="Turn receipts and replies on: pushed to a URL (HMAC-signed) or kept to poll"
)
@carries("O31-11", "O31-20")
def put_callback(
    body: schemas.CallbackIn,
    principal: Principal = Depends(_CP),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    cp_id = service.bound_content_provider(principal)
    ep, secret = service.set_endpoint(session, cp_id, **body.model_dump(), principal=principal)
    return service.endpoint_dict(ep, secret)


@router.get("/callback", summary="The content provider's callback endpoint (never its secret)")
def get_callback(
    principal: Principal = Depends(_CP), session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    ep = service.get_endpoint(session, service.bound_content_provider(principal))
    return service.endpoint_dict(ep) if ep is not None else {"active": False}


@router.delete("/callback", status_code=204, summary="Turn receipts and replies off")
def delete_callback(
    principal: Principal = Depends(_CP), session: Session = Depends(db_session, scope="function")
) -> Response:
    service.remove_endpoint(session, service.bound_content_provider(principal), principal=principal)
    return Response(status_code=204)


@router.get("/receipts", summary="Delivery reports of the content provider's messages, after a cursor")
@carries("O31-11")
def receipts(
    after: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(_CP),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    cp_id = service.bound_content_provider(principal)
    return service.poll(session, cp_id, "receipt", after=after, limit=limit, principal=principal)


@router.get("/replies", summary="Users' replies to the content provider's codes, after a cursor")
@carries("O31-20")
def replies(
    after: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(_CP),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    cp_id = service.bound_content_provider(principal)
    return service.poll(session, cp_id, "reply", after=after, limit=limit, principal=principal)
