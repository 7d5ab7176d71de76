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
from piguard.web.i18n import TEXT, lang_of
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
        "share.nav": ("向第三方提供", "Provide to a third party"),
        "share.title": ("向第三方提供个人信息的判定", "May this information be provided to a third party?"),
        "share.note": (
            "未经被收集者同意，不得向他人提供个人信息；经过处理无法识别特定个人且不能复原的除外。"
            "每次判定都写入审计日志，并给出理由及其义务条款。",
            "Personal information is not provided to others without the person's consent, unless it has been "
            "processed so that no one can be identified and it cannot be restored. Every decision is written "
            "to the audit log, with its reasons and their obligation ids.",
        ),
        "share.register": ("第三方共享登记（来自个人信息清单）", "Sharing register (from the PI inventory)"),
        "share.register.none": (
            "清单中没有登记第三方：任何提供都会被拒绝。",
            "The inventory registers no third party: every provision is refused.",
        ),
        "share.party": ("接收方", "Recipient"),
        "share.location": ("所在地", "Location"),
        "share.location.outside_china": ("境外", "Outside China"),
        "share.location.in_china": ("境内", "In China"),
        "share.receives": ("按目的接收的信息类别", "Categories received, by purpose"),
        "share.purpose": ("使用目的", "Purpose"),
        "share.categories": ("信息类别", "Categories"),
        "share.deidentified": (
            "已去标识化的数据集（不指明用户）",
            "A de-identified data set (no person named)",
        ),
        "share.method": ("去标识化方法", "De-identification method"),
        "share.method.hint": (
            "泛化须附 k-匿名检查报告，请通过 API 提交（POST /api/consent/share-decisions）。",
            "Generalisation needs a k-anonymity report: submit it through the API "
            "(POST /api/consent/share-decisions).",
        ),
        "share.decide": ("判定", "Decide"),
        "share.outcome.allow": ("允许提供", "May be provided"),
        "share.outcome.refuse": ("不得提供", "Must not be provided"),
        "share.audited": ("本次判定已写入审计日志。", "This decision was written to the audit log."),
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


def _share_view(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    form: dict[str, Any] | None = None,
    decision: Any = None,
    error: PiguardError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    from piguard.discovery.categories import BY_CODE
    from piguard.discovery.deid import Method
    from piguard.inventory import service as inventory
    from piguard.inventory.taxonomy import taxonomy

    lang = lang_of(request)
    register = inventory.sharing_register(session)
    kinds = taxonomy()
    purposes = sorted({p for r in register for p in r.purposes})
    categories = sorted({c for r in register for c in r.categories})

    def purpose_name(pid: str) -> str:
        k = kinds.get(pid)
        return (k.zh if lang == "zh" else k.en) if k is not None else pid

    def category_name(code: str) -> str:
        c = BY_CODE.get(code)
        return (c.zh if lang == "zh" else c.en) if c is not None else code

    return render(
        request,
        "consent_share.html",
        principal,
        status_code=status_code,
        active="consent",
        register=register,
        purposes=purposes,
        categories=categories,
        methods=[m.value for m in Method],
        purpose_name=purpose_name,
        category_name=category_name,
        form=form or {},
        decision=decision,
        error=error,
    )


@router.get("/console/consent/share")
@carries("CSL-42.1")
def share_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """The sharing register and a form for the sharing decision (CSL-42.1)."""
    denied = _permitted(request, principal, "consent.read", session)
    if denied is not None:
        return denied
    return _share_view(request, principal, session)


@router.post("/console/consent/share")
@carries("CSL-42.1", "O24-9.1")
def share_decide(
    request: Request,
    subject: str = Form("", max_length=300),
    third_party: str = Form("", max_length=120),
    purpose: str = Form("", max_length=120),
    categories: list[str] = Form([]),
    deidentified: str = Form(""),
    method: str = Form("", max_length=40),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """Decide one provision with :func:`piguard.consent.service.may_share` (audited) and show the
    decision with its reasons; the subject typed in is never echoed back into the page."""
    if not _same_origin(request):
        err = PiguardError("forbidden", "Cross-site request refused.", "拒绝跨站请求。", http_status=403)
        return render(request, "error.html", principal, status_code=403, error=err)
    denied = _permitted(request, principal, "consent.read", session)
    if denied is not None:
        return denied
    deid = deidentified == "on"
    party, purpose_id, how = third_party.strip(), purpose.strip(), method.strip()
    cats = [c.strip() for c in categories if c.strip()][:50]
    form = {
        "third_party": party,
        "purpose": purpose_id,
        "categories": cats,
        "deidentified": deid,
        "method": how,
    }
    try:
        decision = service.may_share(
            session,
            subject.strip() or None,
            party,
            purpose_id,
            cats,
            deidentified=deid,
            method=how or None,
            actor=principal.as_actor(),
            client_ip=principal.client_ip,
            terminal=(principal.terminal or "console")[:128],
        )
    except PiguardError as err:
        return _share_view(request, principal, session, form=form, error=err, status_code=err.http_status)
    return _share_view(request, principal, session, form=form, decision=decision)
