"""Console: ``/console/rights/{id}``, one end user's request: its steps and their status, the export
download, and manual tasks to mark done (O24-9.2, O24-9.4, CSL-43, NPC-8)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.identity.principal import Principal
from piguard.rights import service
from piguard.web.consent_views import _same_origin
from piguard.web.views import _permitted, console_principal, pi_permitted, render

router = APIRouter(include_in_schema=False)


def _error(request: Request, principal: Principal, err: PiguardError) -> HTMLResponse:
    return render(request, "error.html", principal, status_code=err.http_status, error=err)


@router.get("/console/rights/{id}")
def rights_page(
    request: Request,
    id: str,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    read = pi_permitted(
        request,
        principal,
        session,
        "rights.read",
        service.REQUEST_CATEGORIES,
        template_ctx={"active": "cases"},
    )
    if isinstance(read, HTMLResponse):
        return read
    try:
        r = service.show(session, id)
    except PiguardError as err:
        return _error(request, principal, err)
    return render(request, "rights.html", principal, r=r, pi_read=read)


@router.get("/console/rights/{id}/export", response_model=None)
def rights_export(
    request: Request,
    id: str,
    format: str = "json",
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    read = pi_permitted(request, principal, session, "rights.manage", (), template_ctx={"active": "cases"})
    if isinstance(read, HTMLResponse):
        return read
    path = service.export_path(session, id)
    if path is None:
        return _error(
            request, principal, PiguardError("not_found", "No export.", "没有导出文件。", http_status=404)
        )
    try:
        variant, media = service.export_variant(path, format)
    except PiguardError as err:
        return _error(request, principal, err)
    return FileResponse(variant, media_type=media, filename=variant.name)


@router.post("/console/rights/{id}/steps/{step_id}/complete", response_model=None)
def rights_complete(
    request: Request,
    id: str,
    step_id: int,
    rows: str = Form("", max_length=12),
    note: str = Form("", max_length=500),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if not _same_origin(request):
        return _error(
            request,
            principal,
            PiguardError("forbidden", "Cross-site request refused.", "拒绝跨站请求。", http_status=403),
        )
    denied = _permitted(request, principal, "rights.manage", session)
    if denied is not None:
        return denied
    try:
        n = int(rows) if rows.strip() else None
        service.complete_task(session, step_id, actor=principal.as_actor(), rows=n, note=note)
    except ValueError:
        return _error(
            request,
            principal,
            PiguardError("validation_error", "rows must be a number.", "行数须为数字。", http_status=422),
        )
    except PiguardError as err:
        return _error(request, principal, err)
    session.commit()
    return RedirectResponse(f"/console/rights/{id}", status_code=303)
