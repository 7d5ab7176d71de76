"""The end-user portal (``/portal``): log in with a phone number and a one-time code, see what is
held, the consents (withdraw in one click), the published rules; file requests and complaints and
follow them with their due dates. zh/en, built for a phone-sized screen.

Its own session cookie (:data:`piguard.identity.portal.PORTAL_COOKIE`), apart from the console's;
a request that changes something must come from piguard's own pages (identity's cross-site check).
Thin: every rule lives in :mod:`piguard.web.portal` and the domains below it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from piguard.core.calendar import SHANGHAI
from piguard.core.config import get_settings
from piguard.core.deps import client_ip, db_session
from piguard.core.errors import PiguardError
from piguard.identity import deps as identity_deps
from piguard.identity import portal as login
from piguard.identity.portal import PORTAL_COOKIE, PortalUser
from piguard.regulations.markers import carries
from piguard.web import portal
from piguard.web.i18n import TEXT
from piguard.web.views import render

router = APIRouter(include_in_schema=False)

TEXT.update(
    {
        "portal.title": ("个人信息服务", "My personal information"),
        "portal.login.title": ("登录个人信息服务", "Sign in to see your personal information"),
        "portal.login.phone": ("手机号码", "Mobile number"),
        "portal.login.send": ("获取验证码", "Send me a code"),
        "portal.login.code": ("短信验证码", "Code from the SMS"),
        "portal.login.submit": ("登录", "Sign in"),
        "portal.login.sent": (
            "如该号码可以接收短信，验证码已发送，请在有效期内输入。",
            "If this number can receive messages, a code is on its way; enter it before it expires.",
        ),
        "portal.login.other": ("换一个号码", "Use another number"),
        "portal.logout": ("退出", "Sign out"),
        "portal.signed_in": ("当前号码", "Signed in as"),
        "portal.held": ("我们保存的您的信息", "What we hold about you"),
        "portal.held.note": (
            "以下按系统列出所保存信息的类别、用途与保存期限（不显示具体内容；如需副本请提交“查阅/复制”申请）。",
            "By system: the categories held, what for and for how long (no values shown; file an access "
            "request for a copy).",
        ),
        "portal.held.system": ("系统", "System"),
        "portal.held.categories": ("信息类别", "Categories"),
        "portal.held.purposes": ("用途", "Purposes"),
        "portal.held.retention": ("保存期限", "Kept for"),
        "portal.held.none": ("暂无登记的系统。", "No systems are registered."),
        "portal.consents": ("我的同意与短信订阅", "My consents and SMS subscriptions"),
        "portal.withdraw": ("撤回", "Withdraw"),
        "portal.withdrawn": ("已撤回。", "Withdrawn."),
        "portal.required_note": (
            "撤回后将无法继续为您提供该项基本服务。",
            "Without it the basic service cannot be provided.",
        ),
        "portal.rules": ("个人信息收集使用规则", "Rules for collecting and using personal information"),
        "portal.rules.link": ("查看现行规则", "Read the rules in force"),
        "portal.cases": ("我的申请与投诉", "My requests and complaints"),
        "portal.cases.none": ("尚无申请或投诉。", "No requests or complaints yet."),
        "portal.case.kind": ("类型", "Type"),
        "portal.case.status": ("状态", "Status"),
        "portal.case.received": ("受理时间", "Received"),
        "portal.case.due": ("答复期限", "Answer due by"),
        "portal.case.estimated": ("预计", "estimated"),
        "portal.case.estimated.note": (
            "该期限超出官方节假日数据范围，按周末估算；国务院公布安排后将重新计算。",
            "This date runs past the official holiday data and is counted with weekends only; it is "
            "re-counted once the State Council publishes the schedule.",
        ),
        "portal.case.overdue": ("已超期", "overdue"),
        "portal.case.reply": ("答复", "Answer"),
        "portal.case.no_reply": ("尚未答复。", "Not answered yet."),
        "portal.case.timeline": ("处理进度", "Progress"),
        "portal.case.text": ("您提交的内容", "What you wrote"),
        "portal.case.export": ("下载我的信息副本", "Download my information"),
        "portal.case.export.pending": (
            "副本正在准备中，请稍后刷新。",
            "Your copy is being prepared; refresh later.",
        ),
        "portal.new": ("提交申请或投诉", "File a request or complaint"),
        "portal.new.kind": ("类型", "Type"),
        "portal.new.text": ("说明", "Details"),
        "portal.new.message_ref": (
            "投诉的是哪条短信（短信投诉时选择）",
            "Which message it is about (for a complaint about a text message)",
        ),
        "portal.new.submit": ("提交", "Submit"),
        "portal.new.field": ("要更正的信息（更正申请时选择）", "What to correct (for a correction)"),
        "portal.new.value": ("正确的内容", "The correct value"),
        "portal.filed": ("已受理，编号", "Received, reference"),
        "portal.back": ("返回", "Back"),
        "portal.kind.access": ("查阅/复制我的信息", "Access: a copy of my information"),
        "portal.kind.correction": ("更正我的信息", "Correct my information"),
        "portal.kind.deletion": ("删除我的信息", "Delete my information"),
        "portal.kind.cancellation": ("注销号码/账号", "Cancel my number or account"),
        "portal.kind.pi_complaint": ("个人信息投诉", "Complaint about my personal information"),
        "portal.kind.sms_complaint": ("垃圾短信/短信投诉", "Complaint about a text message"),
        "portal.kind.sms_report_transfer": ("举报中心转办", "Reporting-centre transfer"),
        "portal.kind.incident": ("安全事件", "Incident"),
        "portal.status.open": ("已受理", "Received"),
        "portal.status.in_progress": ("处理中", "In progress"),
        "portal.status.waiting": ("等待中", "Waiting"),
        "portal.status.answered": ("已答复", "Answered"),
        "portal.status.closed": ("已办结", "Closed"),
        "portal.status.rejected": ("不予受理", "Not accepted"),
        "portal.event.opened": ("已受理", "Received"),
        "portal.event.assigned": ("已分派专人处理", "Assigned to a handler"),
        "portal.event.note": ("处理记录", "Handling note"),
        "portal.event.status": ("状态更新", "Status changed"),
        "portal.event.evidence": ("已留存证据", "Evidence kept"),
        "portal.event.reply": ("已答复", "Answered"),
        "portal.event.reminder": ("到期提醒", "Reminder"),
        "portal.event.escalation": ("已升级处理", "Escalated"),
        "portal.event.stop": ("已停止相关发送", "Sending stopped"),
        "portal.event.report": ("已报告", "Reported"),
        "portal.event.step": ("处理步骤", "Step carried out"),
        "portal.event.notice": ("已通知", "Notice sent"),
        "portal.event.due_changed": ("期限已重新计算", "Due date re-counted"),
    }
)


def _ts(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _page(
    request: Request, name: str, user: PortalUser | None, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    return render(request, name, None, status_code=status_code, user=user, ts=_ts, **ctx)


def _user(request: Request, session: Session) -> PortalUser | None:
    cookie = request.cookies.get(PORTAL_COOKIE)
    if not cookie:
        return None
    identity_deps.check_same_origin(request)
    try:
        return login.user_from_cookie(session, cookie, client_ip=client_ip(request))
    except PiguardError:
        return None


def portal_user(
    request: Request, session: Session = Depends(db_session, scope="function")
) -> PortalUser | None:
    return _user(request, session)


def _to_login() -> RedirectResponse:
    response = RedirectResponse("/portal/login", status_code=303)
    response.delete_cookie(PORTAL_COOKIE, path="/portal")
    return response


def _set_cookie(response: Response, value: str) -> None:
    settings = get_settings()
    response.set_cookie(
        PORTAL_COOKIE,
        value,
        max_age=settings.portal_session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
        path="/portal",
    )


def _error_page(request: Request, user: PortalUser | None, err: PiguardError) -> HTMLResponse:
    return _page(request, "portal_error.html", user, status_code=err.http_status, error=err)


# ------------------------------------------------------------------------------------------ login


@router.get("/portal/login")
def login_page(request: Request) -> HTMLResponse:
    return _page(request, "portal_login.html", None, step="phone", phone="", error=None)


@router.post("/portal/login/code")
@carries("O24-10")
def login_send(
    request: Request,
    phone: str = Form("", max_length=64),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    identity_deps.check_same_origin(request)
    try:
        portal.send_code(session, phone, client_ip=client_ip(request))
    except PiguardError as err:
        session.commit()  # the refusal's audit entry stays
        step = "code" if err.code in ("portal_rate_limited", "portal_locked") else "phone"
        return _page(
            request,
            "portal_login.html",
            None,
            status_code=err.http_status,
            step=step,
            phone=phone[:20] if step == "code" else "",
            error=err,
        )
    return _page(
        request, "portal_login.html", None, step="code", phone=phone.strip()[:20], error=None, sent=True
    )


@router.post("/portal/login")
@carries("O24-10")
def login_submit(
    request: Request,
    phone: str = Form("", max_length=64),
    code: str = Form("", max_length=32),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    identity_deps.check_same_origin(request)
    try:
        cookie = portal.check_code(session, phone, code, client_ip=client_ip(request))
    except PiguardError as err:
        session.commit()  # the failure counts towards the lock even though the answer is an error
        step = (
            "phone"
            if err.code == "validation_error" and any(f.field == "phone" for f in err.fields)
            else "code"
        )
        return _page(
            request,
            "portal_login.html",
            None,
            status_code=err.http_status,
            step=step,
            phone=phone.strip()[:20],
            error=err,
        )
    response = RedirectResponse("/portal", status_code=303)
    _set_cookie(response, cookie)
    return response


@router.post("/portal/logout")
def logout(request: Request, session: Session = Depends(db_session, scope="function")) -> Response:
    identity_deps.check_same_origin(request)
    cookie = request.cookies.get(PORTAL_COOKIE)
    if cookie:
        login.end_session(session, cookie, client_ip=client_ip(request))
    return _to_login()


# ------------------------------------------------------------------------------------------ pages


@router.get("/portal")
@carries("O24-9.2", "O24-9.1")
def home(
    request: Request,
    user: PortalUser | None = Depends(portal_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if user is None:
        return _to_login()
    return _page(
        request,
        "portal_home.html",
        user,
        held=portal.held(session, user),
        purposes=portal.purpose_names(session),
        ledger=portal.consents(session, user),
        cases=[portal.case_view(c) for c in portal.my_cases(session, user)],
        request_kinds=portal.REQUEST_KINDS,
        complaint_kinds=portal.COMPLAINT_KINDS,
        **_labels(request),
    )


def _labels(request: Request) -> dict[str, Any]:
    from piguard.discovery.categories import BY_CODE
    from piguard.inventory.taxonomy import retention_text
    from piguard.web.i18n import lang_of

    lang = lang_of(request)
    return {
        "cat": lambda c: (BY_CODE[c].zh if lang == "zh" else BY_CODE[c].en) if c in BY_CODE else c,
        "retention": lambda r: retention_text(r, lang),
    }


@router.post("/portal/consents/withdraw")
@carries("O24-9.1", "O31-20")
def withdraw(
    request: Request,
    target: str = Form("", max_length=80),
    user: PortalUser | None = Depends(portal_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if user is None:
        return _to_login()
    htmx = request.headers.get("hx-request") == "true"
    try:
        ledger = portal.withdraw(session, user, target)
    except PiguardError as err:
        session.commit()  # the refusal stays on the audit log
        if htmx:
            return _page(
                request,
                "portal_consents.html",
                user,
                status_code=200,
                ledger=portal.consents(session, user),
                error=err,
                purposes=portal.purpose_names(session),
            )
        return _error_page(request, user, err)
    if htmx:
        return _page(
            request,
            "portal_consents.html",
            user,
            ledger=ledger,
            error=None,
            flash=True,
            purposes=portal.purpose_names(session),
        )
    return RedirectResponse("/portal#consents", status_code=303)


@router.get("/portal/new")
def new_page(
    request: Request,
    kind: str = "",
    user: PortalUser | None = Depends(portal_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if user is None:
        return _to_login()
    kinds = (*portal.REQUEST_KINDS, *portal.COMPLAINT_KINDS)
    return _page(
        request,
        "portal_new.html",
        user,
        kinds=kinds,
        kind=kind if kind in kinds else "pi_complaint",
        error=None,
        text="",
        messages=portal.my_messages(session, user),
        fields=portal.correctable_fields(session),
        **_labels(request),
    )


@router.post("/portal/new")
@carries("O24-12", "O24-9.2")
def new_submit(
    request: Request,
    kind: str = Form("", max_length=32),
    text: str = Form("", max_length=4000),
    message_ref: str = Form("", max_length=64),
    field: str = Form("", max_length=200),
    value: str = Form("", max_length=500),
    user: PortalUser | None = Depends(portal_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if user is None:
        return _to_login()
    try:
        if kind in portal.COMPLAINT_KINDS:
            case = portal.file_complaint(session, user, kind, text, message_ref or None)
        else:
            changes = {field: value} if kind == "correction" and field else None
            case = portal.file_request(session, user, kind, text, changes)
    except PiguardError as err:
        session.commit()  # a refusal stays on the audit log
        kinds = (*portal.REQUEST_KINDS, *portal.COMPLAINT_KINDS)
        return _page(
            request,
            "portal_new.html",
            user,
            status_code=err.http_status,
            kinds=kinds,
            kind=kind,
            error=err,
            text=text[:4000],
            messages=portal.my_messages(session, user),
            fields=portal.correctable_fields(session),
            **_labels(request),
        )
    return RedirectResponse(f"/portal/cases/{case.ref}?filed=1", status_code=303)


@router.get("/portal/cases/{key}")
@carries("O24-9.2", "O24-12")
def case_page(
    request: Request,
    key: str,
    user: PortalUser | None = Depends(portal_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if user is None:
        return _to_login()
    try:
        case, events = portal.my_case(session, user, key)
    except PiguardError as err:
        session.commit()
        return _error_page(request, user, err)
    return _page(
        request,
        "portal_case.html",
        user,
        case=portal.case_view(case),
        events=events,
        filed=request.query_params.get("filed") == "1",
        export_ready=portal.export_ready(session, case) if case.kind == "access" else False,
    )


@router.get("/portal/cases/{key}/export")
@carries("O24-9.2")
def case_export(
    request: Request,
    key: str,
    user: PortalUser | None = Depends(portal_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if user is None:
        return _to_login()
    try:
        path = portal.export_file(session, user, key)
    except PiguardError as err:
        session.commit()
        return _error_page(request, user, err)
    if path is None:
        return RedirectResponse(f"/portal/cases/{key[:40]}", status_code=303)
    session.commit()
    fmt = request.query_params.get("format")
    if fmt in ("html", "pdf") and path.with_name(f"export.{fmt}").is_file():
        path = path.with_name(f"export.{fmt}")
    return FileResponse(str(path), filename=path.name, media_type=portal.media_type(path))
