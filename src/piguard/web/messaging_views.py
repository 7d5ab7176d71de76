"""Console pages of the SMS gateway (O31-22, O31-23, O31-11): overview with charts, message search
(numbers masked), blocked and held messages with their reasons, registry, consent requests,
opt-outs and early-warning alerts (acknowledge / close with htmx).

Thin: every query and rule lives in :mod:`piguard.messaging.monitor.service` and the gateway services;
access is ``sms.read`` (pages) and ``sms.manage`` (alert actions) from identity's permission table.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from piguard.core import addresses, charts, crypto
from piguard.core.calendar import SHANGHAI
from piguard.core.db import utcnow
from piguard.core.deps import db_session
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead
from piguard.messaging import listings
from piguard.messaging.models import ConsentRequest, SubscriptionEvent
from piguard.messaging.monitor import service as monitor
from piguard.messaging.monitor.models import ALERT_KINDS, ALERT_STATES
from piguard.messaging.registry import service as registry
from piguard.regulations.markers import carries
from piguard.web.i18n import lang_of, translator
from piguard.web.views import _permitted, console_principal, pi_permitted, purpose_choices, render

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
TABS = (
    ("overview", "/console/sms", "sms.tab.overview"),
    ("messages", "/console/sms/messages", "sms.tab.messages"),
    ("blocked", "/console/sms/blocked", "sms.tab.blocked"),
    ("registry", "/console/sms/registry", "sms.tab.registry"),
    ("consents", "/console/sms/consents", "sms.tab.consents"),
    ("optouts", "/console/sms/optouts", "sms.tab.optouts"),
    ("alerts", "/console/sms/alerts", "sms.tab.alerts"),
    ("links", "/console/sms/links", "sms.tab.links"),
)
RATE_KINDS = frozenset({"refusal_rate", "opt_out_rate", "complaint_rate"})


def local_time(value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def alert_value(kind: str, v: float) -> str:
    return charts.fmt_percent(v) if kind in RATE_KINDS else charts.fmt_count(v)


def _page(request: Request, principal: Principal, name: str, tab: str, **ctx: Any) -> HTMLResponse:
    lang = lang_of(request)
    return render(
        request,
        name,
        principal,
        active="sms_alerts" if tab == "alerts" else "sms",
        tab=tab,
        tabs=TABS,
        ts=local_time,
        reason_label=lambda code: monitor.reason_label(code, lang),
        reason_obligations=monitor.reason_obligations,
        alert_value=alert_value,
        info_codes=monitor.INFO_CODES,
        **ctx,
    )


def _error(request: Request, principal: Principal, err: PiguardError) -> HTMLResponse:
    return render(request, "error.html", principal, status_code=err.http_status, error=err)


def _int(v: str | None, default: int, lo: int = 1, hi: int = 10_000) -> int:
    try:
        return max(lo, min(hi, int(v or default)))
    except ValueError:
        return default


def _day_bounds(f: dict[str, str]) -> tuple[dict[str, datetime | None], list[FieldError]]:
    """``since``/``until`` as China days; ``until`` includes its whole day."""
    out: dict[str, datetime | None] = {"since": None, "until": None}
    bad: list[FieldError] = []
    for key in ("since", "until"):
        if f.get(key):
            try:
                day = date.fromisoformat(f[key])
            except ValueError:
                bad.append(FieldError(key, "expected a date YYYY-MM-DD / 日期格式应为 YYYY-MM-DD"))
                continue
            day = day + timedelta(days=1) if key == "until" else day
            out[key] = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)
    return out, bad


def _cp_id(session: Session, code: str) -> int | None:
    return registry.get_content_provider(session, code).id if code else None


def _qs(f: dict[str, str], **over: Any) -> str:
    merged = {**{k: v for k, v in f.items() if v}, **{k: v for k, v in over.items() if v}}
    return urlencode(merged)


# ------------------------------------------------------------------------------------ overview


def _chart_context(session: Session, lang: str, range_key: str, now: datetime) -> dict[str, Any]:
    t = translator(lang)
    b = monitor.buckets(now, range_key)
    ds = monitor.decisions_over_time(session, b)
    labels = b.labels()
    series = [charts.Series(t("sms.allowed"), ds.allowed, charts.ALLOW_COLOUR)]
    for i, (code, values) in enumerate(ds.by_reason):
        label = (
            monitor.reason_label(code, lang) if code not in ("refuse", "hold") else t(f"sms.outcome.{code}")
        )
        series.append(charts.Series(label, values, charts.PALETTE[i % len(charts.PALETTE)]))
    if any(ds.other):
        series.append(charts.Series(t("sms.other_reasons"), ds.other, charts.OTHER_COLOUR))
    totals = {s.label: int(sum(s.values)) for s in series}
    unit = t("sms.per_hour") if b.unit == "hour" else t("sms.per_day")
    decisions = charts.stacked_bars(
        labels,
        series,
        chart_id="chart-decisions",
        title=f"{t('sms.chart.decisions')} ({unit})",
        desc="; ".join(f"{k}: {v}" for k, v in totals.items() if v) or t("sms.no_data"),
        y_label=t("sms.messages"),
        empty_text=t("sms.no_data"),
    )
    s = monitor.get_alert_settings()
    top = monitor.top_refused(session, b.since, b.end)
    refused = charts.horizontal_bars(
        [
            charts.Bar(
                p.name, p.events, f"/console/sms/blocked?cp={p.code}", f"({charts.fmt_percent(p.rate)})"
            )
            for p in top
        ],
        chart_id="chart-top-refused",
        title=t("sms.chart.top_refused"),
        desc="; ".join(f"{p.name} ({p.code}): {p.events} / {p.volume}" for p in top) or t("sms.no_data"),
        empty_text=t("sms.no_refusals"),
    )
    # rates of tiny volumes are noise: at least 20 messages allowed (or the alert floor, if lower)
    opt, comp = monitor.provider_rates(session, b.since, b.end, min_volume=min(s.min_volume, 20))
    opt_chart = charts.horizontal_bars(
        [
            charts.Bar(p.name, p.rate, f"/console/sms/optouts?cp={p.code}", f"({p.events}/{p.volume})")
            for p in opt
        ],
        chart_id="chart-optout-rate",
        title=t("sms.chart.optout_rate"),
        desc="; ".join(f"{p.name}: {charts.fmt_percent(p.rate)}" for p in opt) or t("sms.no_data"),
        value_format=charts.fmt_percent,
        colour=charts.PALETTE[1],
        threshold=s.opt_out_rate,
        threshold_label=t("sms.threshold"),
        empty_text=t("sms.no_data"),
    )
    comp_chart = charts.horizontal_bars(
        [charts.Bar(p.name, p.rate, None, f"({p.events}/{p.volume})") for p in comp],
        chart_id="chart-complaint-rate",
        title=t("sms.chart.complaint_rate"),
        desc="; ".join(f"{p.name}: {charts.fmt_percent(p.rate)}" for p in comp) or t("sms.no_data"),
        value_format=charts.fmt_percent,
        colour=charts.PALETTE[3],
        threshold=s.complaint_rate,
        threshold_label=t("sms.threshold"),
        empty_text=t("sms.no_data"),
    )
    return {
        "chart_decisions": decisions,
        "chart_refused": refused,
        "chart_optout": opt_chart,
        "chart_complaint": comp_chart,
        "counts": monitor.overview_counts(session, b.since, b.end),
        "since": b.since,
        "until": b.end,
    }


@router.get("/console/sms")
@carries("O31-22")
def sms_overview(
    request: Request,
    range: str = "7d",
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "sms.read", session)
    if denied is not None:
        return denied
    range_key = range if range in monitor.RANGES else "7d"
    ctx = _chart_context(session, lang_of(request), range_key, utcnow())
    alerts = monitor.list_alerts(session, state="open", limit=5)
    return _page(
        request,
        principal,
        "sms_overview.html",
        "overview",
        range_key=range_key,
        ranges=list(monitor.RANGES),
        alerts=alerts,
        names=monitor.provider_names(session, {a.content_provider_id for a in alerts}),
        **ctx,
    )


# ------------------------------------------------------------------------------------ messages

_MSG_KEYS = ("cp", "outcome", "reason", "direction", "since", "until")


def _message_filters(request: Request, blocked: bool) -> dict[str, str]:
    f = {k: request.query_params.get(k, "").strip()[:64] for k in _MSG_KEYS}
    if blocked and f["outcome"] not in ("refuse", "hold"):
        f["outcome"] = ""
    return f


def _messages(
    request: Request, principal: Principal, session: Session, template: str, blocked: bool
) -> HTMLResponse:
    read = pi_permitted(request, principal, session, "sms.read", ("phone_mobile",), system="sms")
    if not isinstance(read, PiRead):
        return read
    f = _message_filters(request, blocked)
    page = _int(request.query_params.get("page"), 1)
    recipient = request.query_params.get("recipient", "").strip()[:64]
    ctx: dict[str, Any] = {
        "f": f,
        "page": page,
        "rows": [],
        "has_next": False,
        "error": None,
        "blocked": blocked,
    }
    ctx["searched_for"] = ""
    try:
        bounds, bad = _day_bounds(f)
        if f["outcome"] and f["outcome"] not in monitor.OUTCOMES:
            bad.append(FieldError("outcome", "unknown outcome / 结果无效"))
        if f["direction"] and f["direction"] not in ("out", "in"):
            bad.append(FieldError("direction", "out or in / 须为 out 或 in"))
        if bad:
            raise validation_error(bad)
        rhash = None
        if recipient:
            channel = "email" if "@" in recipient else "sms"
            address = addresses.normalize_address(channel, recipient)
            rhash, ctx["searched_for"] = crypto.address_hash(address), addresses.mask_address(address)
        filt = monitor.RecordFilter(
            content_provider_id=_cp_id(session, f["cp"]),
            outcome=f["outcome"] or None,
            direction=f["direction"] or None,
            reason_code=f["reason"] or None,
            recipient_hash=rhash,
            since=bounds["since"],
            until=bounds["until"],
        )
        if blocked and not filt.outcome:
            filt = replace(filt, outcomes=("refuse", "hold"))
        rows, more = monitor.search_records(session, filt, page=page, per_page=PER_PAGE)
        ctx["rows"], ctx["has_next"] = rows, more
        if recipient:
            # looking a person's messages up by number is an access to their PI (O24-13.6)
            from piguard.audit.service import record

            record(
                session,
                action="sms.records.search",
                actor=principal.as_actor(),
                subject_ref=f"recipient:{ctx['searched_for']}",
                data_categories=("phone_mobile",) if "@" not in recipient else ("email",),
                purpose=read.purpose,
                obligations=("O24-13.6", "O31-11"),
                client_ip=principal.client_ip,
                terminal=principal.terminal,
                detail={"results": len(rows), "via": "console"},
            )
    except PiguardError as err:
        ctx["error"] = err
    ctx["names"] = monitor.provider_names(session, {r.content_provider_id for r in ctx["rows"]})
    ctx["qs"] = lambda **over: _qs(f, **over)
    ctx["providers"] = _provider_choices(session)
    ctx.update(pi_read=read, pi_purposes=purpose_choices(session))
    return _page(request, principal, template, "blocked" if blocked else "messages", **ctx)


def _provider_choices(session: Session, limit: int = 200) -> list[tuple[str, str]]:
    return listings.provider_choices(session, limit)


@router.get("/console/sms/messages")
def sms_messages(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    return _messages(request, principal, session, "sms_messages.html", blocked=False)


@router.get("/console/sms/messages/rows")
def sms_message_rows(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """The results table alone, for htmx."""
    return _messages(request, principal, session, "sms_messages_rows.html", blocked=False)


@router.get("/console/sms/blocked")
@carries("O31-16", "O31-18.1")
def sms_blocked(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    return _messages(request, principal, session, "sms_messages.html", blocked=True)


@router.get("/console/sms/messages/{ref}")
def sms_message(
    request: Request,
    ref: str,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "sms.read", session)
    if denied is not None:
        return denied
    try:
        rec = monitor.get_record(session, ref)
    except PiguardError as err:
        return _error(request, principal, err)
    read = pi_permitted(request, principal, session, "sms.read", ("phone_mobile",), system="sms")
    if not isinstance(read, PiRead):
        return read
    names = monitor.provider_names(session, {rec.content_provider_id} if rec.content_provider_id else set())
    reasons = monitor.record_reasons(rec)  # each reason with its own obligation ids
    from piguard.messaging import service as messaging

    return _page(
        request,
        principal,
        "sms_message.html",
        "messages",
        r=rec,
        names=names,
        reasons=reasons,
        recipient_shown=messaging.recipient_clear(rec) if read.clear else rec.recipient_masked,
        pi_read=read,
        pi_purposes=purpose_choices(session),
        pi_clear_link=True,
    )


# ------------------------------------------------------------------------------------ registry


@router.get("/console/sms/registry")
@carries("O31-12", "O31-13", "O31-23")
def sms_registry(
    request: Request,
    q: str = "",
    page: int = 1,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "sms.read", session)
    if denied is not None:
        return denied
    needle = q.strip()[:64]
    reg = listings.registry_page(session, needle, page, PER_PAGE)
    return _page(
        request,
        principal,
        "sms_registry.html",
        "registry",
        q=needle,
        page=max(1, page),
        has_next=reg.has_next,
        service_providers=registry.list_service_providers(session)[:200],
        cps=reg.providers,
        sigs=reg.signatures,
        ports=reg.ports,
        suspensions=registry.list_suspensions(session, limit=20),
        qs=lambda **over: _qs({"q": needle}, **over),
    )


@router.get("/console/sms/links")
@carries("O31-10", "O31-11")
def sms_links(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """Carrier links: state, rate, the queue of each (``messaging.routing``)."""
    denied = _permitted(request, principal, "sms.read", session)
    if denied is not None:
        return denied
    from piguard.messaging.routing import service as routing

    return _page(
        request,
        principal,
        "sms_links.html",
        "links",
        links=routing.links_overview(session, utcnow()),
        carrier_names=routing.segments().carriers,
    )


# ------------------------------------------------------------------------------------ consent


@router.get("/console/sms/consents")
@carries("O31-18.2")
def sms_consents(
    request: Request,
    status: str = "",
    cp: str = "",
    page: int = 1,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    read = pi_permitted(request, principal, session, "sms.read", ("phone_mobile",), system="sms")
    if not isinstance(read, PiRead):
        return read
    from piguard.messaging.models import REQUEST_STATUS

    f = {"status": status if status in REQUEST_STATUS else "", "cp": cp.strip()[:64]}
    error = None
    rows: list[ConsentRequest] = []
    more = False
    try:
        rows, more = listings.consent_requests_page(
            session,
            status=f["status"],
            content_provider_id=_cp_id(session, f["cp"]),
            page=page,
            per_page=PER_PAGE,
        )
    except PiguardError as err:
        error = err
    return _page(
        request,
        principal,
        "sms_consents.html",
        "consents",
        pi_read=read,
        pi_purposes=purpose_choices(session),
        f=f,
        statuses=REQUEST_STATUS,
        rows=rows,
        has_next=more,
        page=max(1, page),
        error=error,
        names=monitor.provider_names(session, {r.content_provider_id for r in rows}),
        providers=_provider_choices(session),
        qs=lambda **over: _qs(f, **over),
    )


@router.get("/console/sms/optouts")
@carries("O31-20")
def sms_optouts(
    request: Request,
    cp: str = "",
    page: int = 1,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    read = pi_permitted(request, principal, session, "sms.read", ("phone_mobile",), system="sms")
    if not isinstance(read, PiRead):
        return read
    f = {"cp": cp.strip()[:64]}
    error = None
    rows: list[SubscriptionEvent] = []
    more = False
    try:
        rows, more = listings.optouts_page(
            session, content_provider_id=_cp_id(session, f["cp"]), page=page, per_page=PER_PAGE
        )
    except PiguardError as err:
        error = err
    return _page(
        request,
        principal,
        "sms_optouts.html",
        "optouts",
        pi_read=read,
        pi_purposes=purpose_choices(session),
        f=f,
        rows=rows,
        has_next=more,
        page=max(1, page),
        error=error,
        names=monitor.provider_names(session, {r.content_provider_id for r in rows}),
        providers=_provider_choices(session),
        qs=lambda **over: _qs(f, **over),
    )


# ------------------------------------------------------------------------------------ alerts


def _can_manage(principal: Principal, session: Session) -> bool:
    return decide_access(principal, "sms.manage", context={"session": session}).allowed


@router.get("/console/sms/alerts")
@carries("O31-22", "O31-23")
def sms_alerts(
    request: Request,
    state: str = "",
    kind: str = "",
    page: int = 1,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "sms.read", session)
    if denied is not None:
        return denied
    f = {"state": state if state in ALERT_STATES else "", "kind": kind if kind in ALERT_KINDS else ""}
    rows, more = listings.alerts_page(session, state=f["state"], kind=f["kind"], page=page, per_page=PER_PAGE)
    return _page(
        request,
        principal,
        "sms_alerts.html",
        "alerts",
        f=f,
        states=ALERT_STATES,
        kinds=ALERT_KINDS,
        rows=rows,
        has_next=more,
        page=max(1, page),
        names=monitor.provider_names(session, {a.content_provider_id for a in rows}),
        can_manage=_can_manage(principal, session),
        settings=monitor.get_alert_settings(),
        counts=monitor.count_alerts(session),
        flash=request.query_params.get("evaluated", "")[:200],
        qs=lambda **over: _qs(f, **over),
    )


def _forbidden_post(
    request: Request, principal: Principal, session: Session, action: str
) -> HTMLResponse | None:
    # cross-site posts never get here: identity refuses a session request from another Origin
    return _permitted(request, principal, action, session)


@router.post("/console/sms/alerts/{alert_id}/{action}")
@carries("O31-22")
def sms_alert_action(
    request: Request,
    alert_id: int,
    action: str,
    note: str = Form("", max_length=500),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    """Acknowledge or close an alert (audited); htmx gets the updated row back."""
    denied = _forbidden_post(request, principal, session, "sms.manage")
    if denied is not None:
        return denied
    htmx = request.headers.get("hx-request") == "true"
    error: PiguardError | None = None
    try:
        if action == "ack":
            alert = monitor.acknowledge_alert(session, alert_id, principal=principal, note=note or None)
        elif action == "close":
            alert = monitor.close_alert(session, alert_id, principal=principal, note=note or None)
        else:
            raise PiguardError("not_found", "Not found.", "未找到。", http_status=404)
    except PiguardError as err:
        if not htmx or err.code == "not_found":
            return _error(request, principal, err)
        error, alert = err, monitor.get_alert(session, alert_id)
    if not htmx:
        return RedirectResponse("/console/sms/alerts", status_code=303)
    return _page(
        request,
        principal,
        "sms_alert_row.html",
        "alerts",
        a=alert,
        names=monitor.provider_names(session, {alert.content_provider_id}),
        can_manage=True,
        row_error=error,
    )


@router.post("/console/sms/alerts-evaluate")
@carries("O31-22", "O31-23")
def sms_alerts_evaluate(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    """Run the early-warning evaluation now (the worker runs it on its interval)."""
    denied = _forbidden_post(request, principal, session, "sms.manage")
    if denied is not None:
        return denied
    res = monitor.evaluate_alerts(session, principal=principal)
    summary = f"{len(res.raised)}/{len(res.refreshed)}/{len(res.suspended)}"
    return RedirectResponse(f"/console/sms/alerts?{urlencode({'evaluated': summary})}", status_code=303)
