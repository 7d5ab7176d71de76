"""Console pages for the responsibility register (O24-13.1), access reviews (O24-13.5) and the
storage-media register (O24-13.4). Thin: the rules live in ``piguard.oversight``; a form posts back
to its page, which shows the error (zh/en, obligation ids) and changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.core.reasons import Decision
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.oversight import access_reviews, media, responsibilities
from piguard.oversight.reviews_models import MEDIA_DESTROY_METHODS, MEDIA_KINDS, SCOPE_KINDS
from piguard.regulations.markers import carries
from piguard.web.i18n import TEXT
from piguard.web.views import _permitted, console_principal, render

router = APIRouter(include_in_schema=False)

TEXT.update(
    {
        "nav.responsibilities": ("责任登记", "Responsibilities"),
        "nav.access_reviews": ("权限复核", "Access reviews"),
        "nav.media": ("存储介质", "Storage media"),
    }
)


def _can(principal: Principal, action: str, session: Session) -> bool:
    return decide_access(principal, action, context={"session": session}).allowed


def _split(raw: str) -> list[str]:
    return [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]


# ------------------------------------------------------------------------------ responsibilities


def _resp_page(
    request: Request,
    principal: Principal,
    session: Session,
    error: PiguardError | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "oversight_responsibilities.html",
        principal,
        status_code=status,
        active="responsibilities",
        rows=responsibilities.to_dicts(session, responsibilities.current(session)),
        gaps=[g.to_dict() for g in responsibilities.gaps(session)],
        kinds=SCOPE_KINDS,
        can_manage=_can(principal, "oversight.manage", session),
        error=error,
    )


@router.get("/console/responsibilities")
@carries("O24-13.1")
def responsibilities_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.read", session)
    return denied or _resp_page(request, principal, session)


@router.post("/console/responsibilities")
def responsibilities_assign(
    request: Request,
    kind: str = Form("", max_length=16),
    scope: str = Form("", max_length=128),
    username: str = Form("", max_length=64),
    title: str = Form("", max_length=128),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.manage", session)
    if denied is not None:
        return denied
    try:
        responsibilities.assign(
            session,
            kind=kind,
            scope=scope,
            username=username,
            title=title or None,
            actor=principal.as_actor(),
        )
    except PiguardError as err:
        session.rollback()
        return _resp_page(request, principal, session, err, err.http_status)
    return _resp_page(request, principal, session)


# -------------------------------------------------------------------------------- access reviews


def _reviews_page(
    request: Request,
    principal: Principal,
    session: Session,
    error: PiguardError | None = None,
    status: int = 200,
    decided: Decision | None = None,
) -> HTMLResponse:
    can_read = _can(principal, "oversight.read", session)
    return render(
        request,
        "oversight_access_reviews.html",
        principal,
        status_code=status,
        active="access_reviews",
        can_read=can_read,
        can_manage=_can(principal, "oversight.manage", session),
        campaigns=[
            access_reviews.campaign_to_dict(session, c) for c in access_reviews.list_campaigns(session)
        ]
        if can_read
        else [],
        overdue=access_reviews.overdue(session) if can_read else [],
        standing=access_reviews.standing(session).to_dict() if can_read else None,
        queue=[access_reviews.item_to_dict(i) for i in access_reviews.my_queue(session, principal)],
        decided=decided.to_dict() if decided else None,
        error=error,
    )


@router.get("/console/access-reviews")
@carries("O24-13.5")
def access_reviews_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    return _reviews_page(request, principal, session)


@router.post("/console/access-reviews")
def access_reviews_open(
    request: Request,
    title: str = Form("", max_length=200),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.manage", session)
    if denied is not None:
        return denied
    try:
        access_reviews.open_campaign(session, principal, title=title)
    except PiguardError as err:
        session.rollback()
        return _reviews_page(request, principal, session, err, err.http_status)
    return _reviews_page(request, principal, session)


@router.post("/console/access-reviews/items/{item_id}")
def access_reviews_decide(
    request: Request,
    item_id: str,
    decision: str = Form("", max_length=8),
    note: str = Form("", max_length=2000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    try:
        out = access_reviews.decide(session, principal, item_id, decision=decision, note=note)
    except PiguardError as err:
        session.rollback()
        return _reviews_page(request, principal, session, err, err.http_status)
    return _reviews_page(request, principal, session, decided=out)


# ----------------------------------------------------------------------------------------- media


def _media_page(
    request: Request,
    principal: Principal,
    session: Session,
    error: PiguardError | None = None,
    status: int = 200,
    decided: Decision | None = None,
) -> HTMLResponse:
    return render(
        request,
        "oversight_media.html",
        principal,
        status_code=status,
        active="media",
        media=[media.medium_to_dict(session, m) for m in media.list_media(session)],
        kinds=MEDIA_KINDS,
        methods=MEDIA_DESTROY_METHODS,
        can_manage=_can(principal, "oversight.manage", session),
        can_witness=_can(principal, "approval.decide", session),
        decided=decided.to_dict() if decided else None,
        error=error,
    )


@router.get("/console/media")
@carries("O24-13.4")
def media_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.read", session)
    return denied or _media_page(request, principal, session)


@router.post("/console/media")
def media_register(
    request: Request,
    label: str = Form("", max_length=64),
    kind: str = Form("", max_length=16),
    holder: str = Form("", max_length=64),
    location: str = Form("", max_length=200),
    description: str = Form("", max_length=500),
    categories: str = Form("", max_length=1000),
    system: str = Form("", max_length=64),
    encrypted: str = Form("", max_length=8),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "oversight.manage", session)
    if denied is not None:
        return denied
    try:
        media.register_medium(
            session,
            principal,
            label=label,
            kind=kind,
            holder=holder,
            location=location,
            description=description,
            categories=_split(categories),
            system=system.strip() or None,
            encrypted=bool(encrypted),
        )
    except PiguardError as err:
        session.rollback()
        return _media_page(request, principal, session, err, err.http_status)
    return _media_page(request, principal, session)


def _media_step(
    request: Request, principal: Principal, session: Session, action: str, step: Any
) -> HTMLResponse:
    denied = _permitted(request, principal, action, session)
    if denied is not None:
        return denied
    try:
        out = step()
    except PiguardError as err:
        session.rollback()
        return _media_page(request, principal, session, err, err.http_status)
    return _media_page(request, principal, session, decided=out if isinstance(out, Decision) else None)


@router.post("/console/media/{label}/transfer")
def media_transfer(
    request: Request,
    label: str,
    to: str = Form("", max_length=64),
    location: str = Form("", max_length=200),
    note: str = Form("", max_length=1000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    return _media_step(
        request,
        principal,
        session,
        "oversight.manage",
        lambda: media.transfer(session, principal, label, to=to, location=location, note=note),
    )


@router.post("/console/media/{label}/destroy")
def media_destroy(
    request: Request,
    label: str,
    method: str = Form("", max_length=16),
    note: str = Form("", max_length=1000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    return _media_step(
        request,
        principal,
        session,
        "oversight.manage",
        lambda: media.propose_destruction(session, principal, label, method=method, note=note),
    )


@router.post("/console/media/{label}/witness")
def media_witness(
    request: Request,
    label: str,
    note: str = Form("", max_length=1000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    return _media_step(
        request,
        principal,
        session,
        "approval.decide",
        lambda: media.witness_destruction(session, principal, label, note=note),
    )


__all__: list[Any] = ["router"]
