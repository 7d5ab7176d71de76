"""Incident API (``/api/incidents``): open, show, scan what leaked, remedial actions, severity, the
report to the authority, notices to the people affected, and the authority's suspension order.

Thin: every rule lives in :mod:`piguard.cases.incidents`. Roles: ``cases.read`` to read,
``cases.manage`` to change, ``sms.manage`` to switch a suspension the authority ordered (it stops
the gateway). Each route commits its unit of work before it answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, UploadFile
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from piguard.cases import incidents
from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/incidents", tags=["incidents"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenIn(_In):
    kind: str = Field(description="leak, damage, loss or risk")
    discovered: AwareDatetime = Field(description="When it was discovered (ISO 8601 with offset)")
    occurred: AwareDatetime | None = None
    contained: AwareDatetime | None = None
    systems: list[str] = Field(default_factory=list, description="Inventory system ids")
    categories: list[str] = Field(default_factory=list, description="Discovery category codes")
    people: int | None = Field(default=None, description="People affected (count or estimate)")
    title: str = ""
    text: str = ""
    authority: str = ""
    contact: dict[str, str] | None = None
    owner: str | None = None


class ScanIn(_In):
    text: str
    name: str = ""


class ActionIn(_In):
    title: str
    owner: str
    due: AwareDatetime | None = None
    done: bool = False
    contains: bool = False


class DoneIn(_In):
    contains: bool = False


class SeverityIn(_In):
    raise_serious: bool = False
    note: str = ""
    people: int | None = None


class PeopleIn(_In):
    people: list[str] = Field(description="phone numbers or kind:value; stored as keyed hash and masked")


class NotifyIn(_In):
    recipients: list[str]
    sender: str = Field(description="A registered business/service port (or sender code)")
    text: str | None = None
    again: bool = False


class ReportSentIn(_In):
    sent_at: AwareDatetime | None = None


class SuspendIn(_In):
    order_ref: str = Field(default="", description="The reference of the authority's order (required)")
    authority: str = ""
    ordered_at: AwareDatetime | None = None
    content_providers: list[str] = Field(default_factory=list)
    ports: list[int] = Field(default_factory=list)
    purposes: list[str] = Field(default_factory=list, description='Consent purposes, or "*" for all')
    note: str = ""


class LiftIn(_In):
    lift_ref: str = Field(default="", description="The reference of the authority's lifting (required)")


def _out(session: Session, key: int | str) -> dict[str, Any]:
    case, inc = incidents.get(session, key)
    return incidents.to_dict(session, case, inc)


@router.get("", summary="Incidents, open ones first")
def list_incidents(
    all: bool = False,
    _: Principal = Depends(require_action("cases.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    rows = incidents.queue(session, include_done=all)
    return {"incidents": [incidents.to_dict(session, c, i, full=False) for c, i in rows]}


@router.post("", status_code=201, summary="Open an incident (leak, damage, loss or the risk of one)")
@carries("O24-14.1", "CSL-42.2", "NPC-4")
def open_incident(
    body: OpenIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case = incidents.open_incident(
        session,
        kind=body.kind,
        discovered=body.discovered,
        occurred=body.occurred,
        contained=body.contained,
        systems=body.systems,
        categories=body.categories,
        people=body.people,
        title=body.title,
        text=body.text,
        authority=body.authority,
        contact=body.contact,
        owner=body.owner,
        source="api",
        actor=principal.as_actor(),
    )
    return _out(session, case.id)


@router.get("/{key}", summary="One incident with its timeline, actions, scans, severity, report, notices")
def show(
    key: str,
    _: Principal = Depends(require_action("cases.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return _out(session, key)


@router.post("/{key}/scan", status_code=201, summary="Scan a pasted text of what leaked (counts only)")
def scan_text(
    key: str,
    body: ScanIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    row = incidents.scan(session, case, text=body.text, name=body.name, actor=principal.as_actor())
    return incidents.scan_dict(row)


@router.post(
    "/{key}/scan/file", status_code=201, summary="Scan an uploaded file of what leaked (counts only)"
)
def scan_file(
    key: str,
    file: UploadFile = File(...),
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    data = file.file.read()
    case, _ = incidents.get(session, key)
    row = incidents.scan(session, case, data=data, name=file.filename or "upload", actor=principal.as_actor())
    return incidents.scan_dict(row)


@router.post("/{key}/people", status_code=201, summary="Record people affected (keyed hash and masked only)")
def add_people(
    key: str,
    body: PeopleIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    rows, added = incidents.add_people(session, case, body.people, actor=principal.as_actor())
    incidents.assess(session, case, actor=principal.as_actor())
    return {"added": added, "people": [{"id": p.id, "masked": p.subject_masked} for p in rows]}


@router.post("/{key}/actions", status_code=201, summary="Add a remedial action (owner, due, done)")
def add_action(
    key: str,
    body: ActionIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    row = incidents.add_action(
        session,
        case,
        title=body.title,
        owner=body.owner,
        due=body.due,
        done=body.done,
        contains=body.contains,
        actor=principal.as_actor(),
    )
    return incidents.action_dict(row)


@router.post("/{key}/actions/{action_id}/done", summary="Record a remedial action done")
def action_done(
    key: str,
    action_id: int,
    body: DoneIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    row = incidents.complete_action(
        session, case, action_id, contains=body.contains, actor=principal.as_actor()
    )
    return incidents.action_dict(row)


@router.post("/{key}/severity", summary="Re-assess severity (dated parameters; the operator may raise it)")
def severity(
    key: str,
    body: SeverityIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    sev = incidents.assess(
        session,
        case,
        raise_serious=body.raise_serious,
        note=body.note,
        people=body.people,
        actor=principal.as_actor(),
    )
    return sev.to_dict()


@router.post("/{key}/report", summary="Generate the report to the telecom authority (zh and en)")
@carries("O24-14.1", "CSL-42.2")
def report(
    key: str,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    return incidents.generate_report(session, case, actor=principal.as_actor())


@router.get("/{key}/report", summary="The stored report")
def report_show(
    key: str,
    _: Principal = Depends(require_action("cases.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    _case, inc = incidents.get(session, key)
    return incidents.report_dict(inc)


@router.post("/{key}/report/sent", summary="Record when the report went to the authority")
def report_sent(
    key: str,
    body: ReportSentIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    inc = incidents.mark_report_sent(session, case, sent=body.sent_at, actor=principal.as_actor())
    return incidents.report_dict(inc)


@router.post("/{key}/notices", summary="Notify people affected through the gateway (service notices)")
@carries("CSL-42.2")
def notify(
    key: str,
    body: NotifyIn,
    principal: Principal = Depends(require_action("cases.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    batch = incidents.notify(
        session,
        case,
        body.recipients,
        sender=body.sender,
        text=body.text,
        again=body.again,
        principal=principal,
        actor=principal.as_actor(),
    )
    return batch.to_dict()


@router.post(
    "/{key}/suspensions", status_code=201, summary="Record and carry out the authority's suspension order"
)
@carries("O24-14.2")
def suspend(
    key: str,
    body: SuspendIn,
    principal: Principal = Depends(require_action("sms.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    order = incidents.suspend(
        session,
        case,
        order_ref=body.order_ref,
        authority=body.authority,
        ordered_at=body.ordered_at,
        content_providers=body.content_providers,
        ports=body.ports,
        purposes=body.purposes,
        note=body.note,
        principal=principal,
        actor=principal.as_actor(),
    )
    return incidents.order_dict(order)


@router.post("/{key}/suspensions/{order_id}/lift", summary="The authority lifted its order")
@carries("O24-14.2")
def lift(
    key: str,
    order_id: int,
    body: LiftIn,
    principal: Principal = Depends(require_action("sms.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    case, _ = incidents.get(session, key)
    order = incidents.lift(
        session, case, order_id, lift_ref=body.lift_ref, principal=principal, actor=principal.as_actor()
    )
    return incidents.order_dict(order)
