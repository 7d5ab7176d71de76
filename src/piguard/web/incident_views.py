"""Console page of one incident (O24-14, CSL-42.2, NPC-4): its timeline, remedial actions (add,
mark done), severity with its reasons, the report to the authority (generate, preview zh/en), the
notices sent to the people affected (failures shown) and the authority's suspension orders.

Access: ``cases.read`` for the page, ``cases.manage`` for the forms. Thin: every rule lives in
:mod:`piguard.cases.incidents`. People appear masked only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from piguard.cases import incidents
from piguard.core.calendar import SHANGHAI
from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.inventory.rules import markdown_html
from piguard.regulations.markers import carries
from piguard.web.i18n import TEXT
from piguard.web.views import _permitted, console_principal, render

router = APIRouter(include_in_schema=False)

TEXT.update(
    {
        "nav.incidents": ("安全事件", "Incidents"),
        "inc.title": ("个人信息安全事件", "Personal-information incident"),
        "inc.list": ("安全事件", "Incidents"),
        "inc.none": ("没有进行中的事件。", "No open incidents."),
        "inc.kind": ("事件类型", "Kind"),
        "inc.status": ("状态", "Status"),
        "inc.occurred": ("发生时间", "Occurred"),
        "inc.discovered": ("发现时间", "Discovered"),
        "inc.contained": ("控制时间", "Contained"),
        "inc.not_contained": ("尚未控制", "not contained yet"),
        "inc.systems": ("涉及系统", "Systems"),
        "inc.categories": ("涉及类别", "Categories"),
        "inc.people": ("涉及人数", "People affected"),
        "inc.severity": ("严重程度", "Severity"),
        "inc.serious": ("严重：应立即报告", "Serious: report without delay"),
        "inc.not_serious": ("非严重", "Not serious"),
        "inc.actions": ("补救措施", "Remedial actions"),
        "inc.action.title": ("措施", "Action"),
        "inc.action.owner": ("负责人", "Owner"),
        "inc.action.due": ("计划完成", "Due"),
        "inc.action.add": ("添加措施", "Add action"),
        "inc.action.done": ("标记完成", "Mark done"),
        "inc.action.contains": ("已控制事件", "contained the incident"),
        "inc.done": ("已完成", "done"),
        "inc.open": ("进行中", "in progress"),
        "inc.scans": ("泄露内容扫描（仅类别与数量）", "Scans of what leaked (categories and counts only)"),
        "inc.report": ("向电信管理机构的报告", "Report to the telecom authority"),
        "inc.report.generate": ("生成报告", "Generate report"),
        "inc.report.none": ("尚未生成报告。", "No report generated yet."),
        "inc.notices": ("用户告知", "Notices to users"),
        "inc.notice.to": ("对象", "To"),
        "inc.notice.result": ("结果", "Result"),
        "inc.notice.failed": ("失败", "failed"),
        "inc.notice.sent": ("已发送", "sent"),
        "inc.orders": ("主管部门暂停指令", "Suspensions ordered by the authority"),
        "inc.timeline": ("时间线", "Timeline"),
    }
)


def _ts(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _local(iso: str | None) -> str:
    """An ISO instant from the API shape, as Beijing time for the page."""
    return _ts(datetime.fromisoformat(iso)) if iso else ""


def _page(
    request: Request,
    principal: Principal,
    session: Session,
    key: str,
    error: PiguardError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    case, inc = incidents.get(session, key)
    data = incidents.to_dict(session, case, inc)
    can_manage = decide_access(principal, "cases.manage", context={"session": session}).allowed
    report = data["report"]
    return render(
        request,
        "incident.html",
        principal,
        status_code=status_code,
        active="incidents",
        d=data,
        error=error,
        can_manage=can_manage,
        report_zh=markdown_html(report["zh"]) if report["zh"] else None,
        report_en=markdown_html(report["en"]) if report["en"] else None,
        ts=_ts,
        local=_local,
    )


@router.get("/console/incidents")
def incidents_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "cases.read", session)
    if denied is not None:
        return denied
    rows = [incidents.to_dict(session, c, i, full=False) for c, i in incidents.queue(session)]
    return render(request, "incidents.html", principal, active="incidents", rows=rows, local=_local)


@router.get("/console/incidents/{key}")
@carries("O24-14.1", "CSL-42.2", "NPC-4")
def incident_page(
    request: Request,
    key: str,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "cases.read", session)
    if denied is not None:
        return denied
    try:
        return _page(request, principal, session, key)
    except PiguardError as err:
        return render(request, "error.html", principal, status_code=err.http_status, error=err)


def _change(request: Request, principal: Principal, session: Session, key: str, do: Any) -> Response:
    denied = _permitted(request, principal, "cases.manage", session)
    if denied is not None:
        return denied
    try:
        case, _ = incidents.get(session, key)
        do(case)
    except PiguardError as err:
        session.rollback()
        try:
            return _page(request, principal, session, key, error=err, status_code=err.http_status)
        except PiguardError:
            return render(request, "error.html", principal, status_code=err.http_status, error=err)
    return RedirectResponse(f"/console/incidents/{key}", status_code=303)


@router.post("/console/incidents/{key}/actions")
def add_action(
    request: Request,
    key: str,
    title: str = Form("", max_length=300),
    owner: str = Form("", max_length=128),
    due: str = Form("", max_length=10),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _change(
        request,
        principal,
        session,
        key,
        lambda case: incidents.add_action(
            session, case, title=title, owner=owner, due=due or None, actor=principal.as_actor()
        ),
    )


@router.post("/console/incidents/{key}/actions/{action_id}/done")
def action_done(
    request: Request,
    key: str,
    action_id: int,
    contains: str = Form("", max_length=8),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _change(
        request,
        principal,
        session,
        key,
        lambda case: incidents.complete_action(
            session, case, action_id, contains=bool(contains), actor=principal.as_actor()
        ),
    )


@router.post("/console/incidents/{key}/report")
@carries("O24-14.1", "CSL-42.2")
def report(
    request: Request,
    key: str,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _change(
        request,
        principal,
        session,
        key,
        lambda case: incidents.generate_report(session, case, actor=principal.as_actor()),
    )
