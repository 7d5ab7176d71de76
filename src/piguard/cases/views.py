"""Cases API (``/api/cases``): open a complaint or an incident on its clock, the queue by due date,
a case with its timeline, assign, note, reply (sent to the complainant), close; the drafted report of
prohibited content the gateway stopped (``/api/cases/prohibited-reports``, CSL-47). Roles from
identity's permission table (``cases.read``, ``cases.manage``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from piguard.cases import complaints, service
from piguard.cases.models import COMPLAINT_KINDS, OPEN_STATUSES, STATUSES
from piguard.core.deps import db_session
from piguard.core.errors import FieldError, validation_error
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead, require_pi_read
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/cases", tags=["cases"])
OPEN_KINDS = (*COMPLAINT_KINDS, "incident")


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description=" | ".join(OPEN_KINDS))
    received: str = Field(description="ISO date-time with offset, e.g. 2026-09-28T10:00:00+08:00")
    text: str = Field("", max_length=20_000)
    transferred_at: str | None = Field(None, description="when the reporting centre transferred it")
    message_ref: str | None = Field(None, max_length=64)
    content_provider: str | None = Field(None, max_length=64, description="content provider code")
    content_provider_id: int | None = None
    subject: str | None = Field(None, max_length=300, description="the complainant, kind:value")
    source: str | None = Field(None, max_length=20)
    external_ref: str | None = Field(None, max_length=200)
    title: str = Field("", max_length=400)


class OwnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: str = Field(max_length=400)


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=40_000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=4000)


def detail(session: Session, case: Any) -> dict[str, Any]:
    out = service.to_dict(case, with_text=True)
    out["timeline"] = [service.event_dict(e) for e in service.events(session, case)]
    return out


@router.post("", status_code=201, summary="Open a complaint or an incident case on its statutory clock")
@carries("O24-12", "O31-25", "O31-27", "O31-28")
def open_case(
    body: OpenIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    if body.kind not in OPEN_KINDS:
        raise validation_error(
            [FieldError("kind", f"one of {', '.join(OPEN_KINDS)} (requests: POST /api/rights)")],
            f"Invalid kind: one of {', '.join(OPEN_KINDS)}; requests are opened under /api/rights.",
            f"案件类型无效：须为 {'、'.join(OPEN_KINDS)} 之一；用户请求请通过 /api/rights 提交。",
        )
    actor = principal.as_actor()
    if body.kind == "incident":
        from piguard.cases import incidents

        # recorded as a risk until assessed; POST /api/incidents takes the full detail
        case = incidents.open_incident(
            session,
            kind="risk",
            discovered=body.received,
            actor=actor,
            text=body.text,
            title=body.title,
            source=body.source or "staff",
        )
    else:
        cp_id = body.content_provider_id
        if body.content_provider:
            from piguard.messaging.registry import service as registry

            cp_id = registry.get_content_provider(session, body.content_provider).id
        case = complaints.file_complaint(
            session,
            kind=body.kind,
            received=body.received,
            text=body.text,
            actor=actor,
            source=body.source or ("reporting_centre" if body.kind == "sms_report_transfer" else "staff"),
            subject=body.subject,
            message_ref=body.message_ref,
            transferred_at=body.transferred_at,
            external_ref=body.external_ref,
            content_provider_id=cp_id,
        )
    out = service.to_dict(case)
    session.commit()
    return out


@router.get("", summary="The queue: cases ordered by due date, with their clocks")
def list_cases(
    kind: list[str] | None = Query(None, description="filter by kind (repeatable)"),
    status: list[str] | None = Query(
        None, description=f"filter by status (default open ones): {', '.join(STATUSES)}"
    ),
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    _: Principal = Depends(require_action("cases.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    rows = service.queue(
        session, kinds=kind or None, statuses=status or OPEN_STATUSES, limit=limit, offset=offset
    )
    # the queue holds no personal information: the subject and the text are on the case, read for
    # a purpose (GET /api/cases/{key})
    return {"cases": [service.queue_dict(c) for c in rows]}


class ProhibitedReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    first: str | None = Field(
        None, alias="from", max_length=32, description="first day, China date YYYY-MM-DD (default: yesterday)"
    )
    last: str | None = Field(
        None, alias="to", max_length=32, description="last day, inclusive (default: from)"
    )


@router.post(
    "/prohibited-reports",
    status_code=201,
    summary="Draft the report to the authority of what the gateway stopped as prohibited content (audited)",
)
@carries("CSL-47", "O31-16")
def draft_prohibited_report(
    body: ProhibitedReportIn | None = None,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    from piguard.cases import content_reports

    case = content_reports.prohibited_content_draft_report(
        session,
        first=body.first if body else None,
        last=body.last if body else None,
        actor=principal.as_actor(),
    )
    out = content_reports.report_dict(case)
    session.commit()
    return out


@router.get("/prohibited-reports", summary="The drafted reports of prohibited content stopped (newest first)")
def list_prohibited_reports(
    limit: int = Query(50, ge=1, le=1000),
    _: Principal = Depends(require_action("cases.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    from piguard.cases import content_reports

    return {"reports": [content_reports.report_dict(c) for c in content_reports.latest(session, limit=limit)]}


@router.get("/{key}", summary="One case with its timeline (a purpose-bound read: ?purpose=…)")
@carries("O24-9.3", "O24-13.3")
def get_case(
    key: str,
    read: PiRead = Depends(require_pi_read("cases.read", service.CASE_CATEGORIES)),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    out = detail(session, service.get(session, key))
    return {**out, "purpose": read.purpose, "view": "masked", "notes": read.notes()}


@router.post("/{key}/assign", summary="Give the case an owner (audited)")
def assign(
    key: str,
    body: OwnerIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case = service.assign(session, service.get(session, key), body.owner, principal.as_actor())
    out = detail(session, case)
    session.commit()
    return out


@router.post("/{key}/note", summary="Add a note to the timeline (audited)")
def note(
    key: str,
    body: TextIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case = service.get(session, key)
    service.note(session, case, body.text, principal.as_actor())
    out = detail(session, case)
    session.commit()
    return out


@router.post("/{key}/reply", summary="Record the answer and send it to the complainant (audited)")
@carries("O24-12", "O31-27")
def reply(
    key: str,
    body: TextIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case = complaints.answer(session, service.get(session, key), body.text, principal.as_actor())
    out = detail(session, case)
    session.commit()
    return out


@router.post("/{key}/close", summary="Close the case (audited)")
def close(
    key: str,
    body: CloseIn | None = None,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case = service.close(
        session, service.get(session, key), principal.as_actor(), note=body.note if body else ""
    )
    out = detail(session, case)
    session.commit()
    return out
