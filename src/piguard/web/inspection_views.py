"""Console pages for the self-inspection (O24-16) and the exposure view (O24-22, O24-23, O31-34).
Thin: the rules live in :mod:`piguard.oversight.inspection` and :mod:`piguard.oversight.exposure`;
a manager's form posts back to the page, which shows the error (zh/en, ids). The PDF and the
evidence bundle come from the API (``/api/oversight/...``), which takes the console's session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.oversight import exposure, inspection, inspection_report
from piguard.regulations.markers import carries
from piguard.web.i18n import lang_of
from piguard.web.views import _permitted, console_principal, render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    year: str | None = None,
    error: PiguardError | None = None,
    status: int = 200,
) -> HTMLResponse:
    lang = lang_of(request)
    try:
        run = inspection.latest_run(session, year or None)
    except PiguardError as err:  # a bad ?year=
        run = None
        if error is None:
            error, status = err, err.http_status
    report = inspection.report(session, run) if run is not None else None
    body = Markup(inspection_report.inspection_html(report, lang, standalone=False)) if report else None
    return render(
        request,
        "inspection.html",
        principal,
        status_code=status,
        active="inspection",
        report=report,
        body=body,
        runs=inspection.list_runs(session, limit=10),
        can_manage=decide_access(principal, "oversight.manage", context={"session": session}).allowed,
        error=error,
    )


@router.get("/console/inspection")
@carries("O24-16")
def inspection_page(
    request: Request,
    year: str | None = None,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.read", session)
    return denied or _page(request, principal, session, year=year)


@router.post("/console/inspection")
def inspection_run(
    request: Request,
    year: str = Form("", max_length=8),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.manage", session)
    if denied is not None:
        return denied
    try:
        inspection.inspect(session, year=year.strip() or None, actor=principal.as_actor())
    except PiguardError as err:
        session.rollback()
        return _page(request, principal, session, error=err, status=err.http_status)
    return _page(request, principal, session, year=year.strip() or None)


@router.post("/console/inspection/findings/{finding_id}/close")
def inspection_close(
    request: Request,
    finding_id: str,
    evidence: str = Form("", max_length=2000),
    note: str = Form("", max_length=2000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.manage", session)
    if denied is not None:
        return denied
    try:
        inspection.close_finding(
            session, finding_id, evidence=evidence, note=note, actor=principal.as_actor()
        )
    except PiguardError as err:
        session.rollback()
        return _page(request, principal, session, error=err, status=err.http_status)
    return _page(request, principal, session)


@router.get("/console/exposure")
@carries("O24-22", "O24-23", "O31-34")
def exposure_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.read", session)
    if denied is not None:
        return denied
    return render(request, "exposure.html", principal, active="exposure", x=exposure.exposure(session))


__all__: list[Any] = ["router"]
