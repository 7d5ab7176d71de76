"""Console pages (server-rendered, htmx for partial updates). Thin: every rule lives in a service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.identity import deps as identity_deps
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.identity.purpose import PURPOSE_COOKIE, PURPOSE_PARAM, PiRead, decide_read, purpose_of
from piguard.regulations.markers import carries
from piguard.web.i18n import LANG_COOKIE, lang_of, translator

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def china_date(value: object) -> str:
    """An ISO instant as the day it is in China (``2026-12-31T20:00:00+00:00`` → ``2027-01-01``); a
    value without an offset or a bare date is shown as it is."""
    if not isinstance(value, str) or not value:
        return "" if value is None else str(value)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value[:10]
    if at.tzinfo is None:
        return value[:10]
    from piguard.core.calendar import to_local_date

    return to_local_date(at).isoformat()


TEMPLATES.env.filters["china_date"] = china_date
router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a phishing link borrow our login page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def render(
    request: Request, name: str, principal: Principal | None, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    lang = lang_of(request)
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        {"lang": lang, "t": translator(lang), "principal": principal, **ctx},
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    pi_read = ctx.get("pi_read")
    if pi_read is not None and request.query_params.get(PURPOSE_PARAM) == pi_read.purpose:
        # the purpose picked on a page stays picked for this browser session (never a default)
        response.set_cookie(PURPOSE_COOKIE, pi_read.purpose, httponly=True, samesite="lax")
    return response


class _Login(Exception):
    def __init__(self, target: str) -> None:
        self.target = target


def console_principal(
    request: Request, session: Session = Depends(db_session, scope="function")
) -> Principal:
    """The logged-in staff member, or a redirect to the login page."""
    principal = identity_deps.optional_principal(request, session)
    if principal is None:
        raise _Login(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return principal


def install_handlers(app: Any) -> None:
    """Registered by app.py: turn the console's login requirement into a redirect."""

    @app.exception_handler(_Login)
    async def _to_login(_request: Request, exc: _Login) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.target)}", status_code=303)


def _permitted(request: Request, principal: Principal, action: str, session: Session) -> HTMLResponse | None:
    decision = decide_access(principal, action, context={"session": session})
    if decision.allowed:
        return None
    err = PiguardError(
        "forbidden",
        "You are not allowed to open this page.",
        "您无权访问此页面。",
        obligations=decision.obligations,
        reasons=decision.reasons,
        http_status=403,
    )
    return render(request, "error.html", principal, status_code=403, error=err)


def purpose_choices(session: Session) -> list[dict[str, Any]]:
    from piguard.oversight import service as oversight

    return oversight.read_purposes(session)


@carries("O24-13.3", "O24-9.3")
def pi_permitted(
    request: Request,
    principal: Principal,
    session: Session,
    action: str,
    categories: tuple[str, ...],
    *,
    system: str | None = None,
    template_ctx: dict[str, Any] | None = None,
) -> PiRead | HTMLResponse:
    """A console page that shows personal information: the purpose picked on the page (or kept from
    the last pick), masked unless ``view=clear``; refused, the error page with the reasons; without
    a purpose, the purpose picker and no data."""
    purpose = purpose_of(request, cookie=True)
    view = request.query_params.get("view") or "masked"
    if view not in ("masked", "clear"):
        view = "masked"
    if not purpose:
        return render(
            request,
            "pi_purpose.html",
            principal,
            purposes=purpose_choices(session),
            current=None,
            **(template_ctx or {}),
        )
    try:
        read = decide_read(
            session,
            principal,
            action,
            purpose=purpose,
            view=view,
            categories=categories,
            system=system,
            route=request.url.path,
        )
    except PiguardError as err:
        return render(
            request,
            "pi_purpose.html",
            principal,
            status_code=err.http_status,
            purposes=purpose_choices(session),
            current=purpose,
            error=err,
            **(template_ctx or {}),
        )
    return read


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None, username="")


@router.post("/login")
def login_submit(
    request: Request,
    username: str = Form("", max_length=256),
    password: str = Form("", max_length=1024),
    next: str = Form("/console", max_length=2048),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    t = translator(lang_of(request))
    try:
        _principal, cookie = identity_deps.login(session, request, username, password)
    except PiguardError as err:
        message = t("login.locked") if err.code == "rate_limited" else t("login.failed")
        return render(
            request,
            "login.html",
            None,
            status_code=err.http_status,
            next=_safe_next(next),
            error=message,
            username=username[:64],
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    identity_deps.set_session_cookie(response, cookie)
    return response


@router.post("/logout")
def logout(request: Request, session: Session = Depends(db_session, scope="function")) -> RedirectResponse:
    from piguard.identity import service as identity

    cookie = request.cookies.get(identity_deps.SESSION_COOKIE)
    if cookie:
        identity.end_session(session, cookie, client_ip=request.client.host if request.client else None)
    response = RedirectResponse("/login", status_code=303)
    identity_deps.clear_session_cookie(response)
    return response


@router.get("/console")
def home(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    from piguard.audit import service as audit
    from piguard.regulations import service as regulations

    summary = regulations.matrix().counts
    audit_status = None
    if decide_access(principal, "audit.read", context={"session": session}).allowed:
        # the last recorded verification and the signed head, never a walk of the whole chain:
        # the page stays fast at millions of entries (the worker verifies on its schedule)
        audit_status = audit.verification_status(session)
    return render(
        request,
        "home.html",
        principal,
        active="home",
        summary=summary,
        audit_status=audit_status,
        now=datetime.now(UTC),
    )


@router.get("/console/rules")
def rules_page(
    request: Request,
    q: str | None = None,
    source: str | None = None,
    section: str | None = None,
    principal: Principal = Depends(console_principal),
) -> HTMLResponse:
    from piguard.regulations.schemas import SECTIONS, SOURCE_IDS

    return render(
        request,
        "rules.html",
        principal,
        active="rules",
        q=q,
        source=source,
        section=section,
        sources=SOURCE_IDS,
        sections=SECTIONS,
        **_rule_rows(q, source, section),
    )


@router.get("/console/rules/rows")
def rules_rows(
    request: Request,
    q: str | None = None,
    source: str | None = None,
    section: str | None = None,
    principal: Principal = Depends(console_principal),
) -> HTMLResponse:
    return render(request, "rules_rows.html", principal, **_rule_rows(q, source, section))


def _rule_rows(q: str | None, source: str | None, section: str | None) -> dict[str, Any]:
    from piguard.regulations import service as regulations

    try:
        rows = regulations.obligations(source or None, section or None)
    except PiguardError:
        rows = []
    needle = (q or "").strip().lower()[:100]
    if needle:
        rows = [o for o in rows if needle in f"{o.id} {o.title_zh} {o.title_en} {o.text}".lower()]
    status = {r.id: r.status for r in regulations.matrix().rows}
    return {"rows": rows, "status": status}


@router.get("/console/rules/{obligation_id}")
def rule_page(
    request: Request, obligation_id: str, principal: Principal = Depends(console_principal)
) -> HTMLResponse:
    from piguard.regulations import service as regulations

    try:
        detail = regulations.obligation_detail(obligation_id[:64])
    except PiguardError as err:
        return render(request, "error.html", principal, status_code=err.http_status, error=err)
    row = next((r for r in regulations.matrix().rows if r.id == detail.id), None)
    return render(request, "rule.html", principal, active="rules", o=detail, row=row)


@router.get("/console/parameters")
def parameters_page(request: Request, principal: Principal = Depends(console_principal)) -> HTMLResponse:
    from piguard.regulations import parameters
    from piguard.regulations import service as regulations

    params = [regulations.parameter_out(p) for p in parameters.all_parameters()]
    return render(request, "parameters.html", principal, active="parameters", params=params)


@router.get("/console/matrix")
def matrix_page(request: Request, principal: Principal = Depends(console_principal)) -> HTMLResponse:
    from piguard.regulations import service as regulations

    return render(request, "matrix.html", principal, active="matrix", matrix=regulations.matrix())


def _audit_filters(request: Request) -> dict[str, str]:
    return {
        k: request.query_params.get(k, "").strip()[:128]
        for k in ("actor", "subject", "action", "since", "until")
    }


def _audit_entries(session: Session, principal: Principal, f: dict[str, str]) -> dict[str, Any]:
    """Search the audit log for the console; the search itself is recorded (O24-13.6)."""
    from datetime import date, timedelta

    from piguard.audit import service as audit
    from piguard.core.calendar import SHANGHAI
    from piguard.core.errors import FieldError, validation_error

    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    bad: list[FieldError] = []
    for key in ("since", "until"):
        if f[key]:
            try:
                day = date.fromisoformat(f[key])
            except ValueError:
                bad.append(FieldError(key, "expected a date YYYY-MM-DD / 日期格式应为 YYYY-MM-DD"))
                continue
            # Dates are read as days in China time; "until" includes its whole day.
            day = day + timedelta(days=1) if key == "until" else day
            bounds[key] = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)
    if bad:
        return {"entries": [], "error": validation_error(bad)}
    try:
        entries = audit.search(
            session,
            actor_id=f["actor"] or None,
            subject_ref=f["subject"] or None,
            action=f["action"] or None,
            since=bounds["since"],
            until=bounds["until"],
            limit=200,
        )
    except PiguardError as err:
        return {"entries": [], "error": err}
    audit.record(
        session,
        action="audit.search",
        actor=principal.as_actor(),
        outcome="ok",
        obligations=("O24-13.6",),
        client_ip=principal.client_ip,
        terminal=principal.terminal,
        detail={"filters": {k: v for k, v in f.items() if v}, "results": len(entries), "via": "console"},
    )
    return {"entries": entries, "error": None}


@router.get("/console/audit")
def audit_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    return _audit_view(request, principal, session, "audit.html")


@router.get("/console/audit/rows")
def audit_rows(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """The results table alone, for htmx."""
    return _audit_view(request, principal, session, "audit_rows.html")


def _audit_view(request: Request, principal: Principal, session: Session, template: str) -> HTMLResponse:
    denied = _permitted(request, principal, "audit.read", session)
    if denied is not None:
        return denied
    f = _audit_filters(request)
    return render(request, template, principal, active="audit", f=f, **_audit_entries(session, principal, f))
