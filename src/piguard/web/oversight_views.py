"""Console pages for the agent register (O24-11) and training (O24-15). Thin: the rules live in
``piguard.oversight``; a manager's form posts back to the page, which shows the error (zh/en, ids)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from piguard.core import calendar
from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.oversight import agents, service, training
from piguard.regulations.markers import carries
from piguard.web.views import _permitted, console_principal, render

router = APIRouter(include_in_schema=False)


def _can_manage(principal: Principal, session: Session) -> bool:
    return decide_access(principal, "oversight.manage", context={"session": session}).allowed


def _date(name: str, raw: str, *, through_day: bool = False) -> datetime:
    """A date typed into the console, in China time (a contract end date runs through that day)."""
    return calendar.parse_local_instant(raw, name, through_day=through_day)


def _split(raw: str) -> list[str]:
    return [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]


def _agents_page(
    request: Request,
    principal: Principal,
    session: Session,
    error: PiguardError | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "oversight_agents.html",
        principal,
        status_code=status,
        active="agents",
        firms=[agents.firm_to_dict(f) for f in agents.list_firms(session)],
        can_manage=_can_manage(principal, session),
        purposes=service.read_purposes(session),
        error=error,
    )


@router.get("/console/agents")
@carries("O24-11")
def agents_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.read", session)
    return denied or _agents_page(request, principal, session)


@router.post("/console/agents")
def agents_add(
    request: Request,
    code: str = Form("", max_length=64),
    name: str = Form("", max_length=200),
    contract_no: str = Form("", max_length=64),
    contract_start: str = Form("", max_length=32),
    contract_end: str = Form("", max_length=32),
    categories: str = Form("", max_length=2000),
    purposes: str = Form("", max_length=2000),
    systems: str = Form("", max_length=2000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.manage", session)
    if denied is not None:
        return denied
    try:
        agents.register_firm(
            session,
            code=code.strip(),
            name=name,
            contract_no=contract_no,
            contract_start=_date("contract_start", contract_start),
            contract_end=_date("contract_end", contract_end, through_day=True),
            scope_categories=_split(categories),
            scope_purposes=_split(purposes),
            scope_systems=_split(systems),
            actor=principal.as_actor(),
        )
    except PiguardError as err:
        session.rollback()
        return _agents_page(request, principal, session, err, err.http_status)
    return _agents_page(request, principal, session)


def _training_page(
    request: Request,
    principal: Principal,
    session: Session,
    error: PiguardError | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "oversight_training.html",
        principal,
        status_code=status,
        active="training",
        courses=[service.course_to_dict(c) for c in training.list_courses(session)],
        staff=training.coverage(session),
        can_manage=_can_manage(principal, session),
        error=error,
    )


@router.get("/console/training")
@carries("O24-15")
def training_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.read", session)
    return denied or _training_page(request, principal, session)


@router.post("/console/training")
def training_record(
    request: Request,
    username: str = Form("", max_length=64),
    course: str = Form("", max_length=64),
    completed_at: str = Form("", max_length=32),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.manage", session)
    if denied is not None:
        return denied
    try:
        training.record_completion(
            session,
            username=username.strip(),
            course=course.strip(),
            completed_at=_date("completed_at", completed_at) if completed_at.strip() else None,
            actor=principal.as_actor(),
        )
    except PiguardError as err:
        session.rollback()
        return _training_page(request, principal, session, err, err.http_status)
    return _training_page(request, principal, session)


__all__: list[Any] = ["router"]
