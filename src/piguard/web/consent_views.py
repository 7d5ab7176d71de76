"""Console page of the consent ledger (O24-9.1, O31-18.1): one person's consents from every ledger
(purposes and SMS subscriptions) with a withdraw button (htmx), and the subjects changed last.

The subject is searched with a POST (a phone number never goes into a URL or an access log); links
and buttons carry only its keyed hash. Access: ``consent.read`` for the page, ``consent.manage``
to withdraw. Thin: every rule lives in :mod:`piguard.consent.service`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from piguard.consent import service
from piguard.core.calendar import SHANGHAI
from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead
from piguard.regulations.markers import carries
from piguard.web.i18n import TEXT
from piguard.web.views import _permitted, console_principal, pi_permitted, purpose_choices, render

router = APIRouter(include_in_schema=False)

TEXT.update(
    {
        "nav.consent": ("用户同意", "Consents"),
        "consent.title": ("用户同意记录", "Consent ledger"),
        "consent.note": (
            "同一用户的目的同意与短信订阅在此统一列出，证据格式一致，可在此撤回；撤回后下一次使用即被拒绝。",
            "One person's purpose consents and SMS subscriptions, listed together with one evidence format; "
            "withdraw here and the next use is refused.",
        ),
        "consent.subject": ("用户标识", "Subject"),
        "consent.subject.hint": (
            "如 phone:138xxxxxxxx、email:…、account:…",
            "e.g. phone:138xxxxxxxx, email:…, account:…",
        ),
        "consent.search": ("查询", "Look up"),
        "consent.recent": ("最近变更的用户", "Subjects changed last"),
        "consent.rules_version": ("已接受规则版本", "Rules version accepted"),
        "consent.cancelled": ("已注销", "Cancelled"),
        "consent.ledger": ("记录类别", "Ledger"),
        "consent.ledger.purpose": ("目的同意", "Purpose"),
        "consent.ledger.sms": ("短信订阅", "SMS subscription"),
        "consent.scope": ("范围", "Scope"),
        "consent.status": ("状态", "Status"),
        "consent.since": ("自", "Since"),
        "consent.until": ("有效期至", "Until"),
        "consent.version": ("规则版本", "Rules version"),
        "consent.evidence": (
            "证据（渠道 · 时间 · 终端 · 展示文本）",
            "Evidence (channel · time · terminal · text shown)",
        ),
        "consent.withdraw": ("撤回", "Withdraw"),
        "consent.none": ("没有同意记录。", "No consents recorded."),
        "consent.status.granted": ("已同意", "Granted"),
        "consent.status.refused": ("已拒绝", "Refused"),
        "consent.status.withdrawn": ("已撤回", "Withdrawn"),
        "consent.status.expired": ("已过期", "Expired"),
        "consent.required": ("必要", "required"),
        "consent.optional": ("可选", "optional"),
        "consent.withdrawn_text": (
            "工作人员根据用户请求在控制台撤回同意",
            "Withdrawn in the console at the user's request",
        ),
    }
)


def _ts(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return not origin or urlparse(origin).netloc == request.headers.get("host", "")


def _view(
    request: Request,
    principal: Principal,
    session: Session,
    template: str,
    subject: str | None,
    error: PiguardError | None = None,
    status_code: int = 200,
    pi_read: PiRead | None = None,
) -> HTMLResponse:
    ledger = None
    if subject:
        try:
            ledger = service.list_for_subject(session, subject)
            service.record_listing(
                session, principal.as_actor(), ledger, client_ip=principal.client_ip, via="console"
            )
        except PiguardError as err:
            error = error or err
    can_manage = decide_access(principal, "consent.manage", context={"session": session}).allowed
    return render(
        request,
        template,
        principal,
        status_code=status_code,
        active="consent",
        ledger=ledger,
        error=error,
        can_manage=can_manage,
        recent=service.recent_subjects(session) if template == "consent.html" else [],
        ts=_ts,
        pi_read=pi_read,
        pi_purposes=purpose_choices(session) if pi_read is not None else [],
    )


@router.get("/console/consent")
@carries("O24-9.1")
def consent_page(
    request: Request,
    ref: str = "",
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    read = pi_permitted(request, principal, session, "consent.read", ())
    if not isinstance(read, PiRead):
        return read
    subject = f"ref:{ref.strip()[:64]}" if ref else None
    return _view(request, principal, session, "consent.html", subject, pi_read=read)


@router.post("/console/consent")
def consent_search(
    request: Request,
    subject: str = Form("", max_length=300),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    read = pi_permitted(request, principal, session, "consent.read", ())
    if not isinstance(read, PiRead):
        return read
    return _view(request, principal, session, "consent.html", subject.strip() or None, pi_read=read)


@router.post("/console/consent/withdraw")
@carries("O24-9.1", "O31-20")
def consent_withdraw(
    request: Request,
    ref: str = Form("", max_length=64),
    target: str = Form("", max_length=80),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    """Withdraw one consent (any ledger); htmx gets the subject's updated table back."""
    if not _same_origin(request):
        err = PiguardError("forbidden", "Cross-site request refused.", "拒绝跨站请求。", http_status=403)
        return render(request, "error.html", principal, status_code=403, error=err)
    denied = _permitted(request, principal, "consent.manage", session)
    if denied is not None:
        return denied
    htmx = request.headers.get("hx-request") == "true"
    subject = f"ref:{ref.strip()}"
    lang_text = TEXT["consent.withdrawn_text"]
    error: PiguardError | None = None
    try:
        service.withdraw(
            session,
            subject,
            target,
            service.EvidenceIn(
                channel="console",
                text_shown=f"{lang_text[0]} / {lang_text[1]}",
                client_ip=principal.client_ip if _is_ip(principal.client_ip) else None,
                terminal=(principal.terminal or "console")[:128],
            ),
            actor=principal.as_actor(),
        )
    except PiguardError as err:
        error = err
    template = "consent_rows.html" if htmx else "consent.html"
    status = 200 if error is None or htmx else error.http_status
    return _view(request, principal, session, template, subject, error=error, status_code=status)


def _is_ip(value: str | None) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return True
