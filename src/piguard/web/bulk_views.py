"""Console pages for bulk operations (O24-13.3): ``/console/bulk`` (the queue and a new request) and
``/console/bulk/{ref}`` (the request with its PI summary, approve / reject, download per recipient,
destroy and the certificate). Thin: every rule lives in :mod:`piguard.oversight.bulk`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.discovery.categories import BY_CODE
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.inventory.taxonomy import taxonomy
from piguard.oversight import bulk, bulk_certificate, bulk_package
from piguard.oversight.bulk_models import DESTROY_METHODS
from piguard.regulations.markers import carries
from piguard.web.i18n import TEXT, lang_of
from piguard.web.views import _permitted, console_principal, render

router = APIRouter(include_in_schema=False)

TEXT.update(
    {
        "nav.bulk": ("批量操作审批", "Bulk operations"),
        "bulk.title": ("批量导出、复制与销毁", "Bulk export, copy and destruction"),
        "bulk.intro": (
            "超过阈值（{rows} 行或 {cats} 类个人信息）的导出、复制与销毁须说明用途并由第二人审批（O24-13.3）。",
            "Exports, copies and destructions above the threshold ({rows} rows or {cats} PI categories) "
            "need a purpose and a second person's approval (O24-13.3).",
        ),
        "bulk.queue": ("申请队列", "Queue"),
        "bulk.new": ("新建申请", "New request"),
        "bulk.kind": ("类型", "Kind"),
        "bulk.kind.export": ("导出", "Export"),
        "bulk.kind.copy": ("复制", "Copy"),
        "bulk.kind.destroy": ("销毁", "Destruction"),
        "bulk.status": ("状态", "Status"),
        "bulk.purpose": ("用途", "Purpose"),
        "bulk.justification": ("事由", "Justification"),
        "bulk.system": ("系统", "System"),
        "bulk.dataset": ("数据集", "Dataset"),
        "bulk.recipients": ("接收方（每行一个）", "Recipients (one per line)"),
        "bulk.recipient": ("接收方", "Recipient"),
        "bulk.data": ("导出数据（CSV，首行为表头）", "Export data (CSV, header line first)"),
        "bulk.rows": ("行数", "Rows"),
        "bulk.categories": ("个人信息类别", "PI categories"),
        "bulk.method": ("销毁方式", "Method"),
        "bulk.submit": ("提交申请", "Submit request"),
        "bulk.requested_by": ("申请人", "Requested by"),
        "bulk.expires": ("审批截止", "Approve by"),
        "bulk.none": ("暂无申请。", "No requests."),
        "bulk.summary": ("个人信息扫描摘要（仅类别与数量）", "PI summary (categories and counts only)"),
        "bulk.cells": ("检出数", "Found"),
        "bulk.reasons": ("审批依据", "Reasons"),
        "bulk.note": ("审批意见", "Note"),
        "bulk.approve": ("批准", "Approve"),
        "bulk.reject": ("驳回", "Reject"),
        "bulk.decided_by": ("审批人", "Decided by"),
        "bulk.package": ("数据包有效期至", "Package valid until"),
        "bulk.download": ("下载", "Download"),
        "bulk.downloads": ("下载记录", "Downloads"),
        "bulk.destroy": ("确认已执行销毁", "Confirm destruction carried out"),
        "bulk.certificate": ("销毁证明", "Certificate of destruction"),
        "bulk.errors": ("未完成：", "Not done:"),
        "bulk.created": (
            "申请已提交，等待第二人审批。",
            "Request submitted: waiting for a second person's approval.",
        ),
    }
)


def _names(codes: list[str], lang: str) -> str:
    out = [(BY_CODE[c].zh if lang == "zh" else BY_CODE[c].en) if c in BY_CODE else c for c in codes]
    return ("、" if lang == "zh" else ", ").join(out)


def _queue(
    request: Request, principal: Principal, session: Session, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    ctx: dict[str, Any] = {
        "items": [bulk.to_dict(r) for r in bulk.list_requests(session)],
        "th": bulk.thresholds(),
        "purposes": taxonomy(),
        "methods": DESTROY_METHODS,
        "cats": lambda codes: _names(codes, lang),
        "can_request": decide_access(principal, "pi.export", context={"session": session}).allowed,
        "errors": None,
        "form": {},
    }
    ctx.update(extra)
    return render(request, "bulk.html", principal, status_code=status_code, active="bulk", **ctx)


@router.get("/console/bulk")
def bulk_queue(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, bulk.READ_ACTION, session)
    return denied if denied is not None else _queue(request, principal, session)


@router.post("/console/bulk")
@carries("O24-13.3", "O24-9.3")
def bulk_create(
    request: Request,
    kind: str = Form("export", max_length=8),
    purpose: str = Form("", max_length=64),
    justification: str = Form("", max_length=2000),
    system: str = Form("", max_length=200),
    dataset: str = Form("", max_length=200),
    recipients: str = Form("", max_length=4000),
    data: str = Form("", max_length=bulk_package.MAX_CSV_BYTES),
    rows: str = Form("", max_length=12),
    categories: str = Form("", max_length=1000),
    method: str = Form("", max_length=16),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    form = {
        "kind": kind,
        "purpose": purpose,
        "justification": justification,
        "system": system,
        "dataset": dataset,
        "recipients": recipients,
        "rows": rows,
        "categories": categories,
        "method": method,
    }
    try:
        count: int | None = None
        if rows.strip():
            if not rows.strip().isdigit():
                raise bulk._bad("rows", "a positive number of rows", "须为正整数行数")
            count = int(rows.strip())
        done = bulk.request(
            session,
            principal,
            kind=kind,
            purpose=purpose,
            justification=justification,
            system=system,
            dataset=dataset,
            recipients=[r for r in (line.strip() for line in recipients.splitlines()) if r],
            data=data or None,
            rows=count,
            categories=categories,
            method=method or None,
        )
    except PiguardError as err:
        session.rollback()
        return _queue(request, principal, session, status_code=err.http_status, errors=err, form=form)
    return RedirectResponse(f"/console/bulk/{done.request.ref}?created=1", status_code=303)


def _detail(
    request: Request, principal: Principal, session: Session, ref: str, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    req = bulk.get(session, ref)
    me = bulk.who(principal)
    item = bulk.to_dict(req)
    ctx: dict[str, Any] = {
        "r": item,
        "downloads": bulk.downloads(session, req),
        "cats": lambda codes: _names(codes, lang),
        "cat_name": lambda c: _names([c], lang),
        "purpose": taxonomy().get(req.purpose),
        "mine": req.requested_by == me,
        "can_decide": decide_access(principal, bulk.APPROVE_ACTION, context={"session": session}).allowed,
        "errors": None,
        "created": request.query_params.get("created") == "1",
    }
    ctx.update(extra)
    return render(request, "bulk_request.html", principal, status_code=status_code, active="bulk", **ctx)


@router.get("/console/bulk/{ref}")
def bulk_request_page(
    request: Request,
    ref: str,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, bulk.READ_ACTION, session)
    if denied is not None:
        return denied
    try:
        return _detail(request, principal, session, ref)
    except PiguardError as err:
        return render(request, "error.html", principal, status_code=err.http_status, error=err)


@router.post("/console/bulk/{ref}/{action}")
@carries("O24-13.3")
def bulk_action(
    request: Request,
    ref: str,
    action: str,
    note: str = Form("", max_length=2000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    """Approve, reject or record a destruction carried out; an error shows on the request page."""
    try:
        if action == "approve":
            bulk.approve(session, principal, ref, note=note)
        elif action == "reject":
            bulk.reject(session, principal, ref, note=note)
        elif action == "destroy":
            bulk.destroy(session, principal, ref, note=note)
        else:
            raise bulk._bad("action", "approve, reject or destroy", "须为 approve、reject 或 destroy")
    except PiguardError as err:
        session.rollback()
        try:
            return _detail(request, principal, session, ref, status_code=err.http_status, errors=err)
        except PiguardError as missing:
            return render(request, "error.html", principal, status_code=missing.http_status, error=missing)
    return RedirectResponse(f"/console/bulk/{ref}", status_code=303)


@router.get("/console/bulk/{ref}/download")
@carries("O24-13.3", "O24-13.6")
def bulk_download(
    request: Request,
    ref: str,
    recipient: str = "",
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    try:
        package = bulk.download(session, principal, ref, recipient=recipient[:200])
    except PiguardError as err:
        session.rollback()
        return render(request, "error.html", principal, status_code=err.http_status, error=err)
    return Response(
        package.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{package.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/console/bulk/{ref}/certificate")
def bulk_certificate_page(
    request: Request,
    ref: str,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, bulk.READ_ACTION, session)
    if denied is not None:
        return denied
    try:
        cert = bulk.certificate(session, ref)
    except PiguardError as err:
        return render(request, "error.html", principal, status_code=err.http_status, error=err)
    return HTMLResponse(bulk_certificate.certificate_html(cert, lang_of(request)))
