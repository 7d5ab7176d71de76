"""Early warning against unconsented and abusive commercial messages (O31-22), with automatic
suspension of the offending content provider when the operator configures it (O31-23).

Per content provider, over sliding windows ending at the evaluation time, the monitor measures:

* ``volume`` — outbound messages decided in ``PIGUARD_SMS_ALERT_WINDOW_MINUTES``;
* ``refusal_rate`` — refused / decided in that window, broken down by reason code;
* ``opt_out_rate`` — opt-out replies / messages allowed, over ``PIGUARD_SMS_ALERT_RATE_WINDOW_HOURS``;
* ``complaint_rate`` — complaints (:func:`record_complaint`) / messages allowed, same window;
* ``similar_burst`` — near-identical commercial messages (SimHash similarity at least
  ``PIGUARD_SMS_ALERT_BURST_SIMILARITY``) to at least ``PIGUARD_SMS_ALERT_BURST_RECIPIENTS``
  distinct recipients within ``PIGUARD_SMS_ALERT_BURST_WINDOW_MINUTES``.

Thresholds are operator policy, not statutory numbers: :class:`AlertSettings`
(``PIGUARD_SMS_ALERT_*``), documented in docs/sms-monitoring.md. A measure at or above its threshold
raises an alert (one per content provider and kind until it is closed; later evaluations refresh it).
Raising, acknowledging and closing are audited. With ``PIGUARD_SMS_AUTO_SUSPEND=true`` a newly
raised alert of a kind in ``PIGUARD_SMS_ALERT_SUSPEND_ON`` suspends the content provider through the
registry's audited switch, and the gateway then refuses its messages (``content_provider_suspended``,
O31-23).

Everything is aggregated in SQL over the ``(content_provider_id, at)`` index; the Python side sees
one row per (content provider, outcome, reason combination), never one per message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError, not_found
from piguard.core.errors import invalid_field as _bad
from piguard.core.logging import get_logger, redact
from piguard.core.reasons import Reason, obligations_of
from piguard.identity.principal import Principal
from piguard.messaging import reasons as reason_catalogue
from piguard.messaging.gateway.similarity import simhash, similarity
from piguard.messaging.models import ContentProvider, MessageRecord
from piguard.messaging.monitor.models import (
    ALERT_KINDS,
    ALERT_STATES,
    COMPLAINT_SOURCES,
    MonitorAlert,
    MonitorComplaint,
)
from piguard.messaging.records import protect
from piguard.messaging.records.service import has_reason_code
from piguard.messaging.registry import service as registry
from piguard.regulations.markers import carries

log = get_logger("piguard.messaging.monitor.service")

OBLIGATIONS = ("O31-22", "O31-23")
#: The reason code of the opt-out confirmation the gateway itself sends (not counted as sending).
CONFIRMATION_CODE = "optout_confirmation"

#: Reason codes that explain an allowed message; never counted as a refusal reason (the catalogue's,
#: ``messaging.reasons``).
INFO_CODES = reason_catalogue.INFO_CODES


def reason_label(code: str, lang: str) -> str:
    return reason_catalogue.label(code, lang)


def reason_obligations(code: str) -> tuple[str, ...]:
    return reason_catalogue.obligations_of(code)


def record_reasons(rec: MessageRecord) -> list[dict[str, Any]]:
    """A record's reasons, each with the obligation ids it rested on (``info`` marks explanatory
    ones; rows from before per-reason storage are ``derived`` from the catalogue)."""
    return reason_catalogue.record_reasons(rec.reasons, rec.reason_codes)


# ------------------------------------------------------------------------------------ settings


class AlertSettings(BaseSettings):
    """Early-warning thresholds (``PIGUARD_SMS_ALERT_*``): operator policy, documented in
    docs/sms-monitoring.md. ``PIGUARD_SMS_AUTO_SUSPEND`` turns automatic suspension on."""

    model_config = SettingsConfigDict(env_prefix="PIGUARD_SMS_ALERT_", extra="ignore", populate_by_name=True)

    #: Window for volume and refusal rate.
    window_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    #: Window for opt-out and complaint rates (replies and complaints come later than the sends).
    rate_window_hours: int = Field(24, ge=1, le=24 * 31)
    #: Rates are judged only once this many messages were decided (refusals) or allowed (opt-outs).
    min_volume: int = Field(50, ge=1)
    #: Outbound messages per content provider per window.
    volume_max: int = Field(50_000, ge=1)
    refusal_rate: float = Field(0.2, gt=0, le=1)
    opt_out_rate: float = Field(0.02, gt=0, le=1)
    complaint_rate: float = Field(0.001, gt=0, le=1)
    #: At least this many complaints in the window before the complaint rate can fire.
    complaint_min: int = Field(3, ge=1)
    burst_window_minutes: int = Field(10, ge=1, le=24 * 60)
    burst_recipients: int = Field(200, ge=2)
    burst_similarity: float = Field(0.9, ge=0.5, le=1)
    #: Distinct texts per content provider the burst check clusters (the most sent first).
    burst_max_texts: int = Field(2000, ge=10, le=100_000)
    #: Comma-separated alert kinds that suspend the content provider when auto-suspension is on.
    suspend_on: str = "refusal_rate,complaint_rate,similar_burst"
    auto_suspend: bool = Field(
        False, validation_alias=AliasChoices("PIGUARD_SMS_AUTO_SUSPEND", "auto_suspend")
    )

    @field_validator("suspend_on")
    @classmethod
    def _kinds(cls, v: str) -> str:
        kinds = [k.strip() for k in v.split(",") if k.strip()]
        unknown = sorted(set(kinds) - set(ALERT_KINDS))
        if unknown:
            raise ValueError(f"unknown alert kinds {unknown}; known: {', '.join(ALERT_KINDS)}")
        return ",".join(kinds)

    def suspend_kinds(self) -> frozenset[str]:
        return frozenset(k for k in self.suspend_on.split(",") if k)

    def threshold(self, kind: str) -> float:
        return {
            "volume": float(self.volume_max),
            "refusal_rate": self.refusal_rate,
            "opt_out_rate": self.opt_out_rate,
            "complaint_rate": self.complaint_rate,
            "similar_burst": float(self.burst_recipients),
        }[kind]


@lru_cache(maxsize=1)
def get_alert_settings() -> AlertSettings:
    return AlertSettings()


def reset_alert_settings() -> None:
    get_alert_settings.cache_clear()


# ------------------------------------------------------------------------------------ complaints


def _actor(principal: Principal | None, job: str = "sms.monitor") -> Actor:
    return principal.as_actor() if principal is not None else Actor.system(job)


def complaints_moved() -> PiguardError:
    """Complaints enter only as cases (``piguard cases open``, ``POST /api/cases``): the case intake
    writes this table's row itself, so nothing is recorded twice (issue 8)."""
    return PiguardError(
        "complaint_moved",
        "Complaints are filed as cases: use `piguard cases open --kind sms_complaint ...` or "
        "POST /api/cases; the case counts it for the early warning.",
        "投诉须作为案件受理：请使用 `piguard cases open --kind sms_complaint ...` 或 POST /api/cases；"
        "案件会计入预警统计。",
        obligations=("O31-22", "O31-27"),
        http_status=410,
    )


@carries("O31-22")
def record_complaint(
    session: Session,
    content_provider_id: int,
    *,
    at: datetime | None = None,
    source: str = "user",
    channel: str = "sms",
    recipient: str | None = None,
    message_ref: str | None = None,
    summary: str = "",
    external_ref: str | None = None,
    principal: Principal | None = None,
) -> MonitorComplaint:
    """Record a complaint about a content provider's messages, counted by the complaint-rate alert
        (O31-22). The complainant's address is kept only as a keyed hash and a masked form; the summary
        is PI-redacted. Audited. Called by the cases domain's intake (``cases.complaints``), the one way a
    complaint enters; the case keeps this row's id."""
    if session.get(ContentProvider, content_provider_id) is None:
        raise not_found("Content provider", "内容提供者", str(content_provider_id))
    if source not in COMPLAINT_SOURCES:
        raise _bad("source", f"one of {', '.join(COMPLAINT_SOURCES)}", "来源无效")
    if channel not in protect.CHANNELS:
        raise _bad("channel", "sms or email", "须为 sms 或 email")
    if not isinstance(summary, str) or len(summary) > 1000:
        raise _bad("summary", "at most 1000 characters", "最多 1000 个字符")
    if external_ref is not None and (not isinstance(external_ref, str) or len(external_ref) > 64):
        raise _bad("external_ref", "at most 64 characters", "最多 64 个字符")
    if message_ref is not None and (not isinstance(message_ref, str) or len(message_ref) > 32):
        raise _bad("message_ref", "at most 32 characters", "最多 32 个字符")
    rhash = masked = None
    if recipient:
        address = protect.normalize_address(channel, recipient)
        rhash, masked = protect.address_hash(address), protect.mask_address(address)
    c = MonitorComplaint(
        content_provider_id=content_provider_id,
        at=at or utcnow(),
        channel=channel,
        source=source,
        recipient_hash=rhash,
        recipient_masked=masked,
        message_ref=message_ref,
        summary=redact(summary.strip()),
        external_ref=external_ref,
    )
    session.add(c)
    session.flush()
    record(
        session,
        action="sms.complaint.recorded",
        actor=_actor(principal),
        subject_ref=f"complaint:{c.id}",
        obligations=("O31-22",),
        client_ip=principal.client_ip if principal else None,
        detail={"content_provider_id": content_provider_id, "source": source, "recipient": masked},
    )
    return c


# ------------------------------------------------------------------------------------ measuring


@dataclass
class ProviderWindow:
    """What the monitor measured for one content provider."""

    content_provider_id: int
    decided: int = 0  # outbound messages decided in the short window
    refused: int = 0
    held: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    reason_obligations: dict[str, set[str]] = field(default_factory=dict)
    allowed_long: int = 0  # outbound messages allowed in the rate window
    opt_outs: int = 0
    complaints: int = 0

    @property
    def refusal_rate(self) -> float:
        return self.refused / self.decided if self.decided else 0.0


def _codes(text: str | None) -> list[str]:
    """A JSON list of reason codes as stored (read back from its text form)."""
    if not text:
        return []
    try:
        v = json.loads(text)
    except ValueError:
        return []
    return [str(c) for c in v] if isinstance(v, list) else []


def _cp(value: object) -> int:
    """A content-provider id read from a grouped row (the queries exclude NULL)."""
    return int(value)  # type: ignore[call-overload]


def primary_reason(codes: Sequence[str]) -> str | None:
    """The first refusal or hold reason of a decision (refusals come first in a Decision)."""
    for c in codes:
        if c not in INFO_CODES:
            return c
    return None


def measure(
    session: Session, now: datetime, settings: AlertSettings | None = None
) -> dict[int, ProviderWindow]:
    """Per content provider: the short-window decisions by outcome and reason, the rate-window
    allowed volume, opt-outs and complaints. A handful of grouped queries."""
    s = settings or get_alert_settings()
    w0 = now - timedelta(minutes=s.window_minutes)
    r0 = now - timedelta(hours=s.rate_window_hours)
    out: dict[int, ProviderWindow] = {}

    def pw(cp: int) -> ProviderWindow:
        return out.setdefault(cp, ProviderWindow(cp))

    codes_text = cast(MessageRecord.reason_codes, String)
    obls_text = cast(MessageRecord.obligations, String)
    for cp, outcome, codes, obls, n in session.execute(
        select(MessageRecord.content_provider_id, MessageRecord.outcome, codes_text, obls_text, func.count())
        .where(
            MessageRecord.at >= w0,
            MessageRecord.at < now,
            MessageRecord.direction == "out",
            MessageRecord.content_provider_id.is_not(None),
        )
        .group_by(MessageRecord.content_provider_id, MessageRecord.outcome, codes_text, obls_text)
    ):
        if CONFIRMATION_CODE in _codes(codes):
            continue  # the gateway's own opt-out confirmation is not the content provider's sending
        e = pw(_cp(cp))
        e.decided += n
        if outcome == "refuse":
            e.refused += n
            seen: set[str] = set()
            for code in _codes(codes):
                if code in INFO_CODES or code in seen:
                    continue
                seen.add(code)
                e.by_reason[code] = e.by_reason.get(code, 0) + n
                e.reason_obligations.setdefault(code, set()).update(_codes(obls))
        elif outcome == "hold":
            e.held += n
    for cp, direction, outcome, intent, codes, n in session.execute(
        select(
            MessageRecord.content_provider_id,
            MessageRecord.direction,
            MessageRecord.outcome,
            MessageRecord.intent,
            codes_text,
            func.count(),
        )
        .where(MessageRecord.at >= r0, MessageRecord.at < now, MessageRecord.content_provider_id.is_not(None))
        .group_by(
            MessageRecord.content_provider_id,
            MessageRecord.direction,
            MessageRecord.outcome,
            MessageRecord.intent,
            codes_text,
        )
    ):
        if direction == "out" and outcome == "allow" and CONFIRMATION_CODE not in _codes(codes):
            pw(_cp(cp)).allowed_long += n
        elif direction == "in" and intent == "opt_out":
            pw(_cp(cp)).opt_outs += n
    for cp, n in session.execute(
        select(MonitorComplaint.content_provider_id, func.count())
        .where(MonitorComplaint.at >= r0, MonitorComplaint.at < now)
        .group_by(MonitorComplaint.content_provider_id)
    ):
        pw(int(cp)).complaints += n
    return out


@dataclass(frozen=True, slots=True)
class Burst:
    content_provider_id: int
    recipients: int
    messages: int
    texts: int
    sample: str


def find_bursts(session: Session, now: datetime, settings: AlertSettings | None = None) -> list[Burst]:
    """Near-identical commercial messages to many recipients in the burst window: candidate content
    providers are those with enough commercial messages; their distinct texts (most sent first, at
    most ``burst_max_texts``) are clustered greedily by SimHash similarity."""
    s = settings or get_alert_settings()
    b0 = now - timedelta(minutes=s.burst_window_minutes)
    base = (
        MessageRecord.at >= b0,
        MessageRecord.at < now,
        MessageRecord.direction == "out",
        MessageRecord.kind == "commercial",
        MessageRecord.content_provider_id.is_not(None),
    )
    candidates = list(
        session.scalars(
            select(MessageRecord.content_provider_id)
            .where(*base)
            .group_by(MessageRecord.content_provider_id)
            .having(func.count(func.distinct(MessageRecord.recipient_hash)) >= s.burst_recipients)
        )
    )
    bursts: list[Burst] = []
    for cp in candidates:
        rows = session.execute(
            select(
                MessageRecord.content, func.count(), func.count(func.distinct(MessageRecord.recipient_hash))
            )
            .where(*base, MessageRecord.content_provider_id == cp)
            .group_by(MessageRecord.content)
            .order_by(func.count().desc())
            .limit(s.burst_max_texts)
        ).all()
        clusters: list[list[Any]] = []  # [fingerprint, recipients, messages, texts, sample]
        for text, n, recipients in rows:
            fp = simhash(text)
            for c in clusters:
                if similarity(fp, c[0]) >= s.burst_similarity:
                    c[1] += recipients
                    c[2] += n
                    c[3] += 1
                    break
            else:
                clusters.append([fp, recipients, n, 1, text])
        if not clusters:
            continue
        best = max(clusters, key=lambda c: c[1])
        if best[1] >= s.burst_recipients:
            bursts.append(Burst(_cp(cp), int(best[1]), int(best[2]), int(best[3]), str(best[4])[:120]))
    return bursts


# ------------------------------------------------------------------------------------ alerts


@dataclass(frozen=True, slots=True)
class Finding:
    content_provider_id: int
    kind: str
    value: float
    threshold: float
    count: int
    volume: int
    reasons: tuple[Reason, ...]
    detail: dict[str, Any]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _reason_breakdown(e: ProviderWindow, top: int = 5) -> list[Reason]:
    out = []
    for code, n in sorted(e.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
        obls = reason_obligations(code) or tuple(sorted(e.reason_obligations.get(code, ())))
        en, zh = reason_label(code, "en"), reason_label(code, "zh")
        out.append(Reason(code, obls, f"{en}: {n} refused.", f"{zh}：拒绝 {n} 条。", {"count": n}))
    return out


def findings(session: Session, now: datetime, settings: AlertSettings | None = None) -> list[Finding]:
    """Every measure at or above its threshold, as findings with reasons (no state changed)."""
    s = settings or get_alert_settings()
    found: list[Finding] = []
    win = {"window_minutes": s.window_minutes}
    rate_win = {"window_hours": s.rate_window_hours}
    for cp, e in sorted(measure(session, now, s).items()):
        if e.decided >= s.volume_max:
            found.append(
                Finding(
                    cp,
                    "volume",
                    float(e.decided),
                    float(s.volume_max),
                    e.decided,
                    e.decided,
                    (
                        Reason(
                            "alert_volume",
                            OBLIGATIONS,
                            f"{e.decided} messages in {s.window_minutes} minutes (threshold {s.volume_max}).",
                            f"{s.window_minutes} 分钟内发送 {e.decided} 条（阈值 {s.volume_max}）。",
                        ),
                    ),
                    {**win},
                )
            )
        if e.decided >= s.min_volume and e.refusal_rate >= s.refusal_rate:
            found.append(
                Finding(
                    cp,
                    "refusal_rate",
                    e.refusal_rate,
                    s.refusal_rate,
                    e.refused,
                    e.decided,
                    (
                        Reason(
                            "alert_refusal_rate",
                            OBLIGATIONS,
                            f"{_pct(e.refusal_rate)} of {e.decided} messages refused in {s.window_minutes} minutes (threshold {_pct(s.refusal_rate)}).",
                            f"{s.window_minutes} 分钟内 {e.decided} 条中 {_pct(e.refusal_rate)} 被拒绝（阈值 {_pct(s.refusal_rate)}）。",
                        ),
                        *_reason_breakdown(e),
                    ),
                    {**win, "by_reason": dict(sorted(e.by_reason.items(), key=lambda kv: -kv[1])[:20])},
                )
            )
        if e.allowed_long >= s.min_volume and e.opt_outs / e.allowed_long >= s.opt_out_rate:
            rate = e.opt_outs / e.allowed_long
            found.append(
                Finding(
                    cp,
                    "opt_out_rate",
                    rate,
                    s.opt_out_rate,
                    e.opt_outs,
                    e.allowed_long,
                    (
                        Reason(
                            "alert_opt_out_rate",
                            (*OBLIGATIONS, "O31-20"),
                            f"{e.opt_outs} opt-outs for {e.allowed_long} messages sent in {s.rate_window_hours} hours: {_pct(rate)} (threshold {_pct(s.opt_out_rate)}).",
                            f"{s.rate_window_hours} 小时内发送 {e.allowed_long} 条，退订 {e.opt_outs} 次：{_pct(rate)}（阈值 {_pct(s.opt_out_rate)}）。",
                        ),
                    ),
                    {**rate_win},
                )
            )
        if e.complaints >= s.complaint_min:
            rate = e.complaints / max(e.allowed_long, 1)
            if rate >= s.complaint_rate:
                found.append(
                    Finding(
                        cp,
                        "complaint_rate",
                        rate,
                        s.complaint_rate,
                        e.complaints,
                        e.allowed_long,
                        (
                            Reason(
                                "alert_complaint_rate",
                                OBLIGATIONS,
                                f"{e.complaints} complaints for {e.allowed_long} messages sent in {s.rate_window_hours} hours: {_pct(rate)} (threshold {_pct(s.complaint_rate)}).",
                                f"{s.rate_window_hours} 小时内发送 {e.allowed_long} 条，投诉 {e.complaints} 件：{_pct(rate)}（阈值 {_pct(s.complaint_rate)}）。",
                            ),
                        ),
                        {**rate_win},
                    )
                )
    for b in find_bursts(session, now, s):
        found.append(
            Finding(
                b.content_provider_id,
                "similar_burst",
                float(b.recipients),
                float(s.burst_recipients),
                b.recipients,
                b.messages,
                (
                    Reason(
                        "alert_similar_burst",
                        (*OBLIGATIONS, "O31-18.1"),
                        f"{b.messages} near-identical commercial messages to {b.recipients} recipients in {s.burst_window_minutes} minutes (threshold {s.burst_recipients} recipients).",
                        f"{s.burst_window_minutes} 分钟内向 {b.recipients} 个用户发送 {b.messages} 条相同或相似的商业短信（阈值 {s.burst_recipients} 个用户）。",
                    ),
                ),
                {"window_minutes": s.burst_window_minutes, "texts": b.texts, "sample": redact(b.sample)},
            )
        )
    return found


@dataclass
class EvaluationResult:
    now: datetime
    raised: list[MonitorAlert] = field(default_factory=list)
    refreshed: list[MonitorAlert] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.now.isoformat(),
            "raised": [a.id for a in self.raised],
            "refreshed": [a.id for a in self.refreshed],
            "suspended": list(self.suspended),
        }


@carries("O31-22", "O31-23")
def evaluate_alerts(
    session: Session,
    now: datetime | None = None,
    *,
    settings: AlertSettings | None = None,
    principal: Principal | None = None,
) -> EvaluationResult:
    """Measure every content provider, raise (or refresh) alerts at their thresholds, and suspend the
    content provider of a newly raised alert when auto-suspension is configured (O31-23). Called by
    the worker (:func:`piguard.messaging.monitor.jobs.run_alert_evaluation`) and on demand."""
    s = settings or get_alert_settings()
    now = now or utcnow()
    result = EvaluationResult(now)
    found = findings(session, now, s)
    if not found:
        return result
    live = {
        (a.content_provider_id, a.kind): a
        for a in session.scalars(
            select(MonitorAlert).where(
                MonitorAlert.state != "closed",
                MonitorAlert.content_provider_id.in_({f.content_provider_id for f in found}),
            )
        )
    }
    cps = {
        cp.id: cp
        for cp in session.scalars(
            select(ContentProvider).where(ContentProvider.id.in_({f.content_provider_id for f in found}))
        )
    }
    suspend_kinds = s.suspend_kinds() if s.auto_suspend else frozenset()
    window = {
        "volume": timedelta(minutes=s.window_minutes),
        "refusal_rate": timedelta(minutes=s.window_minutes),
        "opt_out_rate": timedelta(hours=s.rate_window_hours),
        "complaint_rate": timedelta(hours=s.rate_window_hours),
        "similar_burst": timedelta(minutes=s.burst_window_minutes),
    }
    for f in found:
        cp = cps.get(f.content_provider_id)
        if cp is None:
            continue
        reasons = [r.to_dict() for r in f.reasons]
        alert = live.get((f.content_provider_id, f.kind))
        if alert is not None:
            alert.value, alert.threshold, alert.count, alert.volume = f.value, f.threshold, f.count, f.volume
            alert.reasons, alert.detail, alert.last_seen_at = reasons, f.detail, now
            alert.window_start, alert.window_end = now - window[f.kind], now
            result.refreshed.append(alert)
            continue
        alert = MonitorAlert(
            content_provider_id=cp.id,
            kind=f.kind,
            state="open",
            window_start=now - window[f.kind],
            window_end=now,
            value=f.value,
            threshold=f.threshold,
            count=f.count,
            volume=f.volume,
            reasons=reasons,
            obligations=list(obligations_of(f.reasons)),
            detail=f.detail,
            raised_at=now,
            last_seen_at=now,
        )
        session.add(alert)
        session.flush()
        result.raised.append(alert)
        record(
            session,
            action="sms.alert.raised",
            actor=_actor(principal),
            subject_ref=f"alert:{alert.id}",
            obligations=OBLIGATIONS,
            detail={
                "content_provider": cp.code,
                "kind": f.kind,
                "value": round(f.value, 6),
                "threshold": f.threshold,
                "count": f.count,
                "volume": f.volume,
            },
        )
        log.info("sms.alert.raised", alert=alert.id, kind=f.kind, content_provider=cp.code)
        if f.kind in suspend_kinds and not cp.suspended:
            registry.suspend_content_provider(
                session,
                cp.code,
                reason=f"Early-warning alert #{alert.id} ({f.kind}): {f.reasons[0].message_en} / {f.reasons[0].message_zh}"[
                    :500
                ],
                obligations=OBLIGATIONS,
                principal=principal,
            )
            alert.suspended = True
            result.suspended.append(cp.code)
            log.info("sms.alert.suspended", alert=alert.id, content_provider=cp.code)
    session.flush()
    return result


# ------------------------------------------------------------------------------------ life cycle


def get_alert(session: Session, alert_id: int) -> MonitorAlert:
    alert = session.get(MonitorAlert, alert_id)
    if alert is None:
        raise not_found("Alert", "预警", str(alert_id))
    return alert


def _transition(
    session: Session, alert_id: int, to: str, principal: Principal | None, note: str | None
) -> MonitorAlert:
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise _bad("note", "at most 500 characters", "最多 500 个字符")
    alert = get_alert(session, alert_id)
    allowed = {"acknowledged": ("open",), "closed": ("open", "acknowledged")}[to]
    if alert.state not in allowed:
        raise PiguardError(
            "alert_state",
            f"The alert is {alert.state}; it cannot become {to}.",
            f"该预警当前状态为 {alert.state}，不能变更为 {to}。",
            obligations=("O31-22",),
            http_status=409,
        )
    now = utcnow()
    who = principal.actor_id if principal else "system"
    before = alert.state
    alert.state = to
    if to == "acknowledged":
        alert.acknowledged_at, alert.acknowledged_by = now, who
    else:
        alert.closed_at, alert.closed_by = now, who
    if note:
        alert.note = redact(note.strip())
    session.flush()
    record(
        session,
        action=f"sms.alert.{to}",
        actor=_actor(principal),
        subject_ref=f"alert:{alert.id}",
        obligations=("O31-22",),
        client_ip=principal.client_ip if principal else None,
        detail={"kind": alert.kind, "content_provider_id": alert.content_provider_id, "from": before},
    )
    return alert


@carries("O31-22")
def acknowledge_alert(
    session: Session, alert_id: int, *, principal: Principal | None = None, note: str | None = None
) -> MonitorAlert:
    """Someone has seen the alert and is looking into it (audited)."""
    return _transition(session, alert_id, "acknowledged", principal, note)


@carries("O31-22")
def close_alert(
    session: Session, alert_id: int, *, principal: Principal | None = None, note: str | None = None
) -> MonitorAlert:
    """The alert is dealt with (audited). A suspension it caused stays until resumed in the registry."""
    return _transition(session, alert_id, "closed", principal, note)


def list_alerts(
    session: Session,
    *,
    state: str | None = None,
    content_provider_id: int | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[MonitorAlert]:
    if state is not None and state not in ALERT_STATES:
        raise _bad("state", f"one of {', '.join(ALERT_STATES)}", "状态无效")
    if kind is not None and kind not in ALERT_KINDS:
        raise _bad("kind", f"one of {', '.join(ALERT_KINDS)}", "类型无效")
    stmt = select(MonitorAlert)
    if state:
        stmt = stmt.where(MonitorAlert.state == state)
    if content_provider_id is not None:
        stmt = stmt.where(MonitorAlert.content_provider_id == content_provider_id)
    if kind:
        stmt = stmt.where(MonitorAlert.kind == kind)
    stmt = stmt.order_by(MonitorAlert.raised_at.desc(), MonitorAlert.id.desc())
    return list(session.scalars(stmt.offset(max(0, offset)).limit(max(1, min(limit, 500)))))


def list_complaints(
    session: Session,
    *,
    content_provider_id: int | None = None,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[MonitorComplaint]:
    """Complaints, newest first (the complainant only masked)."""
    if source is not None and source not in COMPLAINT_SOURCES:
        raise _bad("source", f"one of {', '.join(COMPLAINT_SOURCES)}", "来源无效")
    stmt = select(MonitorComplaint)
    if content_provider_id is not None:
        stmt = stmt.where(MonitorComplaint.content_provider_id == content_provider_id)
    if source:
        stmt = stmt.where(MonitorComplaint.source == source)
    if since:
        stmt = stmt.where(MonitorComplaint.at >= since)
    if until:
        stmt = stmt.where(MonitorComplaint.at < until)
    stmt = stmt.order_by(MonitorComplaint.at.desc(), MonitorComplaint.id.desc())
    return list(session.scalars(stmt.offset(max(0, offset)).limit(max(1, min(limit, 500)))))


def complaint_to_dict(c: MonitorComplaint) -> dict[str, Any]:
    return {
        "id": c.id,
        "content_provider_id": c.content_provider_id,
        "at": c.at.isoformat(),
        "channel": c.channel,
        "source": c.source,
        "recipient": c.recipient_masked,
        "message_ref": c.message_ref,
        "summary": c.summary,
        "external_ref": c.external_ref,
        "obligations": ["O31-22"],
    }


def count_alerts(session: Session) -> dict[str, int]:
    counts = {s: 0 for s in ALERT_STATES}
    for state, n in session.execute(select(MonitorAlert.state, func.count()).group_by(MonitorAlert.state)):
        counts[str(state)] = int(n)
    return counts


def alert_to_dict(a: MonitorAlert) -> dict[str, Any]:
    return {
        "id": a.id,
        "content_provider_id": a.content_provider_id,
        "kind": a.kind,
        "state": a.state,
        "value": a.value,
        "threshold": a.threshold,
        "count": a.count,
        "volume": a.volume,
        "window_start": a.window_start.isoformat(),
        "window_end": a.window_end.isoformat(),
        "raised_at": a.raised_at.isoformat(),
        "last_seen_at": a.last_seen_at.isoformat(),
        "suspended": a.suspended,
        "obligations": list(a.obligations or []),
        "reasons": list(a.reasons or []),
        "detail": dict(a.detail or {}),
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by,
        "closed_at": a.closed_at.isoformat() if a.closed_at else None,
        "closed_by": a.closed_by,
        "note": a.note,
    }


# ------------------------------------------------------------------------------------ console reads
# Aggregations for the console's SMS pages: grouped in SQL, bounded, paginated (fast at 100k+ rows).

RANGES = {"24h": (24, "hour"), "7d": (7, "day"), "30d": (30, "day")}


@dataclass(frozen=True, slots=True)
class Buckets:
    """Consecutive time buckets aligned to Asia/Shanghai hours or days; ``end`` closes the last."""

    starts: tuple[datetime, ...]
    end: datetime
    unit: str

    @property
    def since(self) -> datetime:
        return self.starts[0]

    def labels(self) -> list[str]:
        from piguard.core.calendar import SHANGHAI

        fmt = "%H:00" if self.unit == "hour" else "%m-%d"
        return [s.astimezone(SHANGHAI).strftime(fmt) for s in self.starts]


def buckets(now: datetime, range_key: str) -> Buckets:
    """The buckets of a console range (``24h``: hours, ``7d``/``30d``: China days), ending with the
    bucket that holds ``now``."""
    from piguard.core.calendar import SHANGHAI

    if range_key not in RANGES:
        raise _bad("range", f"one of {', '.join(RANGES)}", "范围无效")
    n, unit = RANGES[range_key]
    local = now.astimezone(SHANGHAI)
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    if unit == "hour":
        last = local.replace(minute=0, second=0, microsecond=0)
    else:
        last = local.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = tuple((last - step * (n - 1 - i)).astimezone(now.tzinfo) for i in range(n))
    return Buckets(starts, (last + step).astimezone(now.tzinfo), unit)


def _out_window(since: datetime, until: datetime) -> tuple[Any, ...]:
    return (
        MessageRecord.at >= since,
        MessageRecord.at < until,
        MessageRecord.direction == "out",
    )


@dataclass(frozen=True, slots=True)
class DecisionSeries:
    """Decisions per bucket: allowed, and refused/held by their primary reason (top codes + other)."""

    allowed: list[int]
    by_reason: list[tuple[str, list[int]]]
    other: list[int]


def decisions_over_time(session: Session, b: Buckets, *, top: int = 6) -> DecisionSeries:
    from sqlalchemy import case

    n = len(b.starts)
    bucket = case(*[(MessageRecord.at < b.starts[i + 1], i) for i in range(n - 1)], else_=n - 1)
    codes_text = cast(MessageRecord.reason_codes, String)
    counts: dict[str, list[int]] = {}
    allowed = [0] * n
    for i, outcome, codes, cnt in session.execute(
        select(bucket, MessageRecord.outcome, codes_text, func.count())
        .where(*_out_window(b.since, b.end))
        .group_by(bucket, MessageRecord.outcome, codes_text)
    ):
        parsed = _codes(codes)
        if CONFIRMATION_CODE in parsed:
            continue
        if outcome == "allow":
            allowed[int(i)] += cnt
            continue
        key = primary_reason(parsed) or outcome
        counts.setdefault(key, [0] * n)[int(i)] += cnt
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    other = [0] * n
    for _code, values in ranked[top:]:
        other = [a + v for a, v in zip(other, values, strict=True)]
    return DecisionSeries(allowed, ranked[:top], other)


@dataclass(frozen=True, slots=True)
class ProviderCount:
    content_provider_id: int
    code: str
    name: str
    events: int
    volume: int
    suspended: bool = False

    @property
    def rate(self) -> float:
        """Events per message allowed (complaints with nothing allowed count against one)."""
        return self.events / max(self.volume, 1) if self.events else 0.0


def _providers(session: Session, ids: set[int]) -> dict[int, ContentProvider]:
    if not ids:
        return {}
    return {cp.id: cp for cp in session.scalars(select(ContentProvider).where(ContentProvider.id.in_(ids)))}


def top_refused(
    session: Session, since: datetime, until: datetime, *, limit: int = 10
) -> list[ProviderCount]:
    """Content providers with the most refused messages in ``[since, until)``."""
    from sqlalchemy import case

    refused = func.sum(case((MessageRecord.outcome == "refuse", 1), else_=0))
    rows = session.execute(
        select(MessageRecord.content_provider_id, refused, func.count())
        .where(*_out_window(since, until), MessageRecord.content_provider_id.is_not(None))
        .group_by(MessageRecord.content_provider_id)
        .having(refused > 0)
        .order_by(refused.desc(), MessageRecord.content_provider_id)
        .limit(max(1, min(limit, 50)))
    ).all()
    cps = _providers(session, {_cp(r[0]) for r in rows})
    return [
        ProviderCount(
            _cp(cp), cps[_cp(cp)].code, cps[_cp(cp)].name, int(n), int(total), cps[_cp(cp)].suspended
        )
        for cp, n, total in rows
        if _cp(cp) in cps
    ]


def provider_rates(
    session: Session, since: datetime, until: datetime, *, limit: int = 10, min_volume: int | None = None
) -> tuple[list[ProviderCount], list[ProviderCount]]:
    """Opt-out and complaint rates per content provider in ``[since, until)`` (events / messages
    allowed), the highest first; opt-out rates only where at least ``min_volume`` were allowed."""
    s = get_alert_settings()
    floor = s.min_volume if min_volume is None else min_volume
    allowed: dict[int, int] = {}
    opt_outs: dict[int, int] = {}
    codes_text = cast(MessageRecord.reason_codes, String)
    for cp, direction, outcome, intent, codes, n in session.execute(
        select(
            MessageRecord.content_provider_id,
            MessageRecord.direction,
            MessageRecord.outcome,
            MessageRecord.intent,
            codes_text,
            func.count(),
        )
        .where(
            MessageRecord.at >= since,
            MessageRecord.at < until,
            MessageRecord.content_provider_id.is_not(None),
            (MessageRecord.outcome == "allow") | (MessageRecord.intent == "opt_out"),
        )
        .group_by(
            MessageRecord.content_provider_id,
            MessageRecord.direction,
            MessageRecord.outcome,
            MessageRecord.intent,
            codes_text,
        )
    ):
        k = _cp(cp)
        if direction == "out" and outcome == "allow" and CONFIRMATION_CODE not in _codes(codes):
            allowed[k] = allowed.get(k, 0) + n
        elif direction == "in" and intent == "opt_out":
            opt_outs[k] = opt_outs.get(k, 0) + n
    complaints = {
        _cp(cp): int(n)
        for cp, n in session.execute(
            select(MonitorComplaint.content_provider_id, func.count())
            .where(MonitorComplaint.at >= since, MonitorComplaint.at < until)
            .group_by(MonitorComplaint.content_provider_id)
        )
    }
    opt = sorted(
        ((k, n, allowed.get(k, 0)) for k, n in opt_outs.items() if allowed.get(k, 0) >= floor),
        key=lambda t: (-t[1] / t[2], t[0]),
    )[:limit]
    comp = sorted(
        ((k, n, allowed.get(k, 0)) for k, n in complaints.items()), key=lambda t: (-t[1] / max(t[2], 1), t[0])
    )[:limit]
    cps = _providers(session, {t[0] for t in opt} | {t[0] for t in comp})

    def rows(items: list[tuple[int, int, int]]) -> list[ProviderCount]:
        return [
            ProviderCount(k, cps[k].code, cps[k].name, n, v, cps[k].suspended)
            for k, n, v in items
            if k in cps
        ]

    return rows(opt), rows(comp)


def overview_counts(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    """Headline numbers for ``[since, until)``: decisions by outcome, replies, opt-outs, complaints,
    suspended content providers and alerts by state."""
    out = {"decided": 0, "allow": 0, "refuse": 0, "hold": 0, "received": 0, "opt_outs": 0}
    for direction, outcome, intent, n in session.execute(
        select(MessageRecord.direction, MessageRecord.outcome, MessageRecord.intent, func.count())
        .where(MessageRecord.at >= since, MessageRecord.at < until)
        .group_by(MessageRecord.direction, MessageRecord.outcome, MessageRecord.intent)
    ):
        if direction == "out":
            out["decided"] += n
            if outcome in out:
                out[outcome] += n
        else:
            out["received"] += n
            if intent == "opt_out":
                out["opt_outs"] += n
    out["complaints"] = int(
        session.scalar(select(func.count()).where(MonitorComplaint.at >= since, MonitorComplaint.at < until))
        or 0
    )
    out["suspended"] = int(
        session.scalar(select(func.count()).where(ContentProvider.suspended.is_(True))) or 0
    )
    out.update({f"alerts_{k}": v for k, v in count_alerts(session).items()})
    return out


@dataclass(frozen=True, slots=True)
class RecordFilter:
    content_provider_id: int | None = None
    outcome: str | None = None
    #: several outcomes at once (e.g. refused and held); ignored when ``outcome`` is given
    outcomes: tuple[str, ...] = ()
    direction: str | None = None
    reason_code: str | None = None
    recipient_hash: str | None = None
    since: datetime | None = None
    until: datetime | None = None


OUTCOMES = ("allow", "refuse", "hold", "received")


def search_records(
    session: Session, f: RecordFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[MessageRecord], bool]:
    """A page of message records, newest first, and whether another page follows. The reason code
    is matched in SQL on the stored JSON text (``records.has_reason_code``), on both backends."""
    if f.outcome is not None and f.outcome not in OUTCOMES:
        raise _bad("outcome", f"one of {', '.join(OUTCOMES)}", "结果无效")
    reason_cond = has_reason_code(f.reason_code) if f.reason_code is not None else None
    per_page = max(1, min(per_page, 200))
    page = max(1, min(page, 10_000))
    stmt = select(MessageRecord)
    if f.content_provider_id is not None:
        stmt = stmt.where(MessageRecord.content_provider_id == f.content_provider_id)
    if f.outcome:
        stmt = stmt.where(MessageRecord.outcome == f.outcome)
    elif f.outcomes:
        if set(f.outcomes) - set(OUTCOMES):
            raise _bad("outcome", f"one of {', '.join(OUTCOMES)}", "结果无效")
        stmt = stmt.where(MessageRecord.outcome.in_(f.outcomes))
    if f.direction:
        stmt = stmt.where(MessageRecord.direction == f.direction)
    if reason_cond is not None:
        stmt = stmt.where(reason_cond)
    if f.recipient_hash:
        stmt = stmt.where(MessageRecord.recipient_hash == f.recipient_hash)
    if f.since:
        stmt = stmt.where(MessageRecord.at >= f.since)
    if f.until:
        stmt = stmt.where(MessageRecord.at < f.until)
    rows = list(
        session.scalars(
            stmt.order_by(MessageRecord.at.desc(), MessageRecord.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return rows[:per_page], len(rows) > per_page


def get_record(session: Session, ref: str) -> MessageRecord:
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == str(ref)[:32]))
    if rec is None:
        raise not_found("Message", "短信", str(ref)[:32])
    return rec


def page_of(session: Session, stmt: Any, page: int, per_page: int = 50) -> tuple[list[Any], bool]:
    per_page = max(1, min(per_page, 200))
    page = max(1, min(page, 10_000))
    rows = list(session.scalars(stmt.offset((page - 1) * per_page).limit(per_page + 1)))
    return rows[:per_page], len(rows) > per_page


def provider_names(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    """``{id: (code, name)}`` for the content providers on a page."""
    return {k: (cp.code, cp.name) for k, cp in _providers(session, {i for i in ids if i is not None}).items()}
