"""Console pages of the cases: the queues (complaints, requests, incidents) ordered by due date with
their clocks, overdue and estimated flags; a case page with its timeline, reasons with obligation ids
and the audit trail; assign, note, reply and close from the page (htmx forms).

Access: ``cases.read`` for the pages, ``cases.manage`` for the forms. Thin: every rule lives in
:mod:`piguard.cases.service` and :mod:`piguard.cases.complaints`. Requests (access, correction,
deletion, cancellation) link to ``/console/rights/{id}`` for their steps.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from piguard.cases import complaints, service
from piguard.cases.models import (
    COMPLAINT_KINDS,
    DONE_STATUSES,
    INCIDENT_KINDS,
    OPEN_STATUSES,
    REQUEST_KINDS,
    Case,
)
from piguard.core.calendar import SHANGHAI
from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead
from piguard.regulations.markers import carries
from piguard.web.i18n import TEXT
from piguard.web.views import _permitted, console_principal, pi_permitted, render

router = APIRouter(include_in_schema=False)

TABS: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "complaints": COMPLAINT_KINDS,
    "requests": REQUEST_KINDS,
    "incidents": INCIDENT_KINDS,
}

TEXT.update(
    {
        "nav.cases": ("案件", "Cases"),
        "cases.title": ("案件队列", "Case queues"),
        "cases.note": (
            "投诉、用户请求与安全事件按到期日排列；到期日依法定参数与官方工作日历计算，超出节假日数据的为估算。",
            "Complaints, requests and incidents ordered by due date; due dates come from the dated parameter "
            "and the official working-day calendar, and are estimates past the holiday data.",
        ),
        "cases.tab.all": ("全部", "All"),
        "cases.tab.complaints": ("投诉", "Complaints"),
        "cases.tab.requests": ("用户请求", "Requests"),
        "cases.tab.incidents": ("安全事件", "Incidents"),
        "cases.open_only": ("未结", "Open"),
        "cases.done": ("已结", "Done"),
        "cases.ref": ("编号", "Ref"),
        "cases.kind": ("类型", "Kind"),
        "cases.case_title": ("标题", "Title"),
        "cases.source": ("来源", "Source"),
        "cases.subject": ("投诉人/请求人", "Complainant / requester"),
        "cases.owner": ("承办人", "Owner"),
        "cases.status": ("状态", "Status"),
        "cases.received": ("受理时间", "Received"),
        "cases.transferred": ("转交时间", "Transferred"),
        "cases.due": ("到期日", "Due"),
        "cases.days_left": ("剩余天数", "Days left"),
        "cases.overdue": ("已逾期", "Overdue"),
        "cases.estimated": ("估算", "Estimated"),
        "cases.transfer_late": ("转办逾期", "Late transfer"),
        "cases.late": ("超期答复", "Answered late"),
        "cases.none": ("没有案件。", "No cases."),
        "cases.timeline": ("时间线", "Timeline"),
        "cases.audit": ("审计记录", "Audit trail"),
        "cases.text": ("投诉/请求内容", "What was written"),
        "cases.reply": ("答复", "Reply"),
        "cases.report": ("报告草稿", "Draft report"),
        "cases.assign": ("指派", "Assign"),
        "cases.add_note": ("添加备注", "Add note"),
        "cases.send_reply": ("答复并发送", "Answer and send"),
        "cases.close": ("结案", "Close"),
        "cases.steps": ("查看执行步骤", "See its steps"),
        "cases.message": ("所涉短信", "Message"),
        "cases.provider": ("内容提供者", "Content provider"),
        "cases.obligations": ("义务", "Obligations"),
        "cases.at": ("时间", "At"),
        "cases.actor": ("操作者", "Actor"),
        "cases.event": ("事件", "Event"),
        "cases.reasons": ("理由", "Reasons"),
        "cases.action": ("操作", "Action"),
        "cases.outcome": ("结果", "Outcome"),
        "cases.estimate_note": (
            "到期日超出官方节假日数据范围，仅按周末估算；请载入国务院节假日安排（piguard calendar load）。",
            "The due date runs past the official holiday data and counts weekends only; load the State "
            "Council's schedule (piguard calendar load).",
        ),
    }
)


def _ts(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _href(case: Case) -> str:
    return f"/console/rights/{case.id}" if case.kind in REQUEST_KINDS else f"/console/cases/{case.id}"


@router.get("/console/cases")
@carries("O24-12", "O31-27")
def cases_page(
    request: Request,
    tab: str = "all",
    done: bool = False,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "cases.read", session)
    if denied is not None:
        return denied
    tab = tab if tab in TABS else "all"
    rows = service.queue(session, kinds=TABS[tab], statuses=DONE_STATUSES if done else OPEN_STATUSES)
    return render(
        request,
        "cases.html",
        principal,
        active="cases",
        tab=tab,
        tabs=list(TABS),
        done=done,
        cases=[(c, service.queue_dict(c), _href(c)) for c in rows],
    )


def _case_view(
    request: Request,
    principal: Principal,
    session: Session,
    case: Case,
    *,
    template: str = "case.html",
    error: PiguardError | None = None,
    status_code: int = 200,
    pi_read: PiRead | None = None,
) -> HTMLResponse:
    trail = service.audit_trail(session, case)
    return render(
        request,
        template,
        principal,
        status_code=status_code,
        active="cases",
        case=case,
        c=service.to_dict(case, with_text=True),
        timeline=[{**service.event_dict(e), "at_local": _ts(e.at)} for e in service.events(session, case)],
        trail=trail,
        error=error,
        can_manage=decide_access(principal, "cases.manage", context={"session": session}).allowed,
        is_request=case.kind in REQUEST_KINDS,
        ts=_ts,
        pi_read=pi_read,
    )


@router.get("/console/cases/{key}")
def case_page(
    request: Request,
    key: str,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    read = _read_case(request, principal, session)
    if isinstance(read, HTMLResponse):
        return read
    try:
        case = service.get(session, key[:64])
    except PiguardError as err:
        return render(request, "error.html", principal, status_code=err.http_status, error=err)
    return _case_view(request, principal, session, case, pi_read=read)


@carries("O24-9.3", "O24-13.3")
def _read_case(request: Request, principal: Principal, session: Session) -> PiRead | HTMLResponse:
    """A case shows the person's (masked) number and what they wrote: read for a purpose, audited."""
    return pi_permitted(
        request, principal, session, "cases.read", service.CASE_CATEGORIES, template_ctx={"active": "cases"}
    )


def _act(
    request: Request, principal: Principal, session: Session, key: str, action: str, value: str
) -> Response:
    denied = _permitted(request, principal, "cases.manage", session)
    if denied is not None:
        return denied
    try:
        case = service.get(session, key[:64])
    except PiguardError as err:
        return render(request, "error.html", principal, status_code=err.http_status, error=err)
    actor = principal.as_actor()
    error: PiguardError | None = None
    try:
        if action == "assign":
            service.assign(session, case, value, actor)
        elif action == "note":
            service.note(session, case, value, actor)
        elif action == "reply":
            complaints.answer(session, case, value, actor)
        elif action == "close":
            service.close(session, case, actor, note=value)
    except PiguardError as err:
        error = err
    htmx = request.headers.get("hx-request") == "true"
    if htmx or error is not None:
        # what is shown again is a read too; without a purpose picked, back to the case page
        read = _read_case(request, principal, session)
        if isinstance(read, HTMLResponse):
            return RedirectResponse(f"/console/cases/{case.id}", status_code=303)
        if htmx:
            return _case_view(
                request, principal, session, case, template="case_body.html", error=error, pi_read=read
            )
        assert error is not None
        return _case_view(
            request, principal, session, case, error=error, status_code=error.http_status, pi_read=read
        )
    return RedirectResponse(f"/console/cases/{case.id}", status_code=303)


@router.post("/console/cases/{key}/assign")
def case_assign(
    request: Request,
    key: str,
    owner: str = Form("", max_length=400),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _act(request, principal, session, key, "assign", owner)


@router.post("/console/cases/{key}/note")
def case_note(
    request: Request,
    key: str,
    text: str = Form("", max_length=4000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _act(request, principal, session, key, "note", text)


@router.post("/console/cases/{key}/reply")
@carries("O24-12", "O31-27")
def case_reply(
    request: Request,
    key: str,
    text: str = Form("", max_length=40_000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _act(request, principal, session, key, "reply", text)


@router.post("/console/cases/{key}/close")
def case_close(
    request: Request,
    key: str,
    note: str = Form("", max_length=4000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _act(request, principal, session, key, "close", note)
