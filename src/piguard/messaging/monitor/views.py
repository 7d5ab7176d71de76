"""Early-warning alerts and complaints (O31-22, O31-23), the release of held messages (O31-22,
O31-17) and the reason-code catalogue, over the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead, require_pi_read
from piguard.messaging import reasons
from piguard.messaging.gateway import release
from piguard.messaging.monitor import service as monitor
from piguard.messaging.monitor.models import COMPLAINT_SOURCES
from piguard.messaging.registry import service as registry
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/sms", tags=["sms monitoring"])


class AlertNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=500)


@router.get("/alerts", summary="Early-warning alerts (filter by state, content provider, kind)")
@carries("O31-22")
def alerts_list(
    state: str | None = None,
    content_provider: str | None = None,
    kind: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    _: Principal = Depends(require_action("sms.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
    rows = monitor.list_alerts(
        session, state=state, content_provider_id=cp_id, kind=kind, limit=limit, offset=offset
    )
    return {"alerts": [monitor.alert_to_dict(a) for a in rows], "counts": monitor.count_alerts(session)}


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (audited)")
@carries("O31-22")
def alert_ack(
    alert_id: int,
    body: AlertNoteIn | None = None,
    principal: Principal = Depends(require_action("sms.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    a = monitor.acknowledge_alert(session, alert_id, principal=principal, note=body.note if body else None)
    return monitor.alert_to_dict(a)


@router.post("/alerts/{alert_id}/close", summary="Close an alert (audited)")
@carries("O31-22")
def alert_close(
    alert_id: int,
    body: AlertNoteIn | None = None,
    principal: Principal = Depends(require_action("sms.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    a = monitor.close_alert(session, alert_id, principal=principal, note=body.note if body else None)
    return monitor.alert_to_dict(a)


@router.post(
    "/complaints",
    status_code=410,
    summary="Retired: complaints are filed as cases (POST /api/cases), which count them here",
)
def complaint_add(
    _: Principal = Depends(require_action("sms.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    raise monitor.complaints_moved()


@router.get("/complaints", summary="Complaints (numbers masked; a purpose-bound read), newest first")
@carries("O31-22")
def complaints_list(
    content_provider: str | None = None,
    source: str | None = Query(None, description=f"one of {', '.join(COMPLAINT_SOURCES)}"),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    _: PiRead = Depends(require_pi_read("sms.read", ("phone_mobile",), system="sms")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {
        "complaints": [
            monitor.complaint_to_dict(c)
            for c in monitor.list_complaints(
                session,
                content_provider_id=registry.get_content_provider(session, content_provider).id
                if content_provider
                else None,
                source=source,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )
        ]
    }


@router.post("/messages/{ref}/release", summary="Decide a held message again now and queue it (audited)")
@carries("O31-22", "O31-17", "O31-11")
def message_release(
    ref: str,
    principal: Principal = Depends(require_action("sms.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return release.release_message(session, ref, principal=principal)


@router.get("/reasons", summary="The gateway's reason codes: obligations and labels (zh/en)")
def reason_catalogue(_: Principal = Depends(require_action("sms.read"))) -> dict[str, Any]:
    return {"reasons": reasons.catalogue()}
