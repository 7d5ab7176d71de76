"""Consent to commercial messages (O31-18.1, O31-18.2, O31-9, CRL-29, NPC-7).

A consent request states the type, the frequency (at most N messages a day/week/month) and the period
(valid until), and for a charged service its content, tariff, charging method and how to unsubscribe
(O31-9). The recipient's reply grants or refuses it; no reply by the deadline is a refusal
(:func:`expire_requests`). After a refusal or no reply the request's content is kept as a SimHash
fingerprint, and the same or similar content from that content provider is not sent to that
recipient again. Consent ends at once on opt-out (:func:`end_consents`). Consents are keyed by
(recipient hash, content provider, type); the evidence (request text, reply, times, channel) is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core import addresses, crypto
from piguard.core.calendar import SHANGHAI
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError, refused
from piguard.core.errors import invalid_field as _bad
from piguard.core.logging import redact
from piguard.core.reasons import Decision
from piguard.identity.principal import Principal
from piguard.messaging.gateway.decision import CONSENT_REQUEST, GatewayRequest, window_start
from piguard.messaging.gateway.similarity import simhash
from piguard.messaging.gateway.submit import AuditEntry, decide_one, emit
from piguard.messaging.models import (
    PERIOD_UNITS,
    ChargedService,
    Consent,
    ConsentRequest,
    SubscriptionEvent,
    Suppression,
)
from piguard.messaging.reasons import reason
from piguard.messaging.records import service as records
from piguard.messaging.registry.service import actor_of, missing_charged_terms, snapshot
from piguard.messaging.settings import get_messaging_settings
from piguard.regulations.markers import carries
from piguard.regulations.parameters import value

_UNIT_ZH = {"day": "日", "week": "周", "month": "月"}


def _refuse(code: str, en: str, zh: str, **detail: Any) -> PiguardError:
    return refused(Decision.refuse(reason(code, en, zh, **detail)), en, zh)


def request_text(
    *,
    signature: str,
    cp_name: str,
    message_type: str,
    max_messages: int,
    period_unit: str,
    valid_until: datetime,
    pitch: str,
    charged: ChargedService | None,
) -> str:
    """The consent request as the recipient reads it: type, frequency, period (O31-18.2), a charged
    service's terms (O31-9), how to answer, and that no reply means no."""
    until = valid_until.astimezone(SHANGHAI).date().isoformat()
    parts = [
        f"【{signature}】{cp_name}拟向您发送“{message_type}”类商业信息，每{_UNIT_ZH[period_unit]}最多{max_messages}条，有效期至{until}。"
    ]
    if pitch:
        parts.append(pitch.strip() + ("" if pitch.strip().endswith(("。", "！", "!", ".")) else "。"))
    if charged is not None:
        parts.append(
            f"本服务为收费服务：{charged.service_content}；资费{charged.tariff}；计费方式{charged.charging_method}；退订方式{charged.unsubscribe_method}。"
        )
    parts.append("同意请回复Y，不同意请回复N；未回复视为不同意。")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class RequestResult:
    request: ConsentRequest
    message_ref: str


@carries("O31-18.2")
def check_terms(*, max_messages: object, period_unit: object, valid_until: object, now: datetime) -> None:
    """The frequency and period a consent states, within the dated bounds
    (``sms_consent.max_messages_per_day``, ``sms_consent.max_period_months``, O31-18.2)."""
    if period_unit not in PERIOD_UNITS:
        raise _bad("period_unit", f"one of {', '.join(PERIOD_UNITS)}", "须为 day、week 或 month")
    if not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1:
        raise _bad("max_messages", "a whole number of at least 1", "须为不小于 1 的整数")
    if not isinstance(valid_until, datetime) or valid_until.tzinfo is None or valid_until <= now:
        raise _bad("valid_until", "an aware time in the future", "须为将来的时间（含时区）")
    per_day = value("sms_consent.max_messages_per_day", on=now)
    most = per_day * _UNIT_DAYS[str(period_unit)]
    if max_messages > most:
        raise _refuse(
            "consent_terms_excessive",
            f"At most {most} messages a {period_unit} may be consented to ({per_day} a day).",
            f"每{_UNIT_ZH[str(period_unit)]}最多可同意 {most} 条（每日 {per_day} 条）。",
            max_messages=max_messages,
            bound=most,
            parameter="sms_consent.max_messages_per_day",
        )
    months = value("sms_consent.max_period_months", on=now)
    latest = records.months_before(now, -months)
    if valid_until > latest:
        raise _refuse(
            "consent_terms_excessive",
            f"A consent may last at most {months} months (until {latest.date().isoformat()}).",
            f"同意期限最长 {months} 个月（至 {latest.date().isoformat()}）。",
            months=months,
            parameter="sms_consent.max_period_months",
        )


_UNIT_DAYS = {"day": 1, "week": 7, "month": 31}


@carries("O31-18.2", "O31-9", "O31-18.1", "NPC-7")
def create_request(
    session: Session,
    *,
    channel: str,
    sender: str,
    recipient: str,
    message_type: str,
    max_messages: int,
    period_unit: str,
    valid_until: datetime,
    pitch: str = "",
    charged_service_id: int | None = None,
    principal: Principal | None = None,
    now: datetime | None = None,
) -> RequestResult:
    """Ask a recipient for consent: the terms (bounds O31-18.2, a charged service's O31-9), then the
    request message goes through the gateway's decision like every message (registered sender,
    verified provider, commercial port, review, suspensions, similarity suppression after a refusal
    or no reply); allowed, it is recorded and queued by the gateway's one writer."""
    now = now or utcnow()
    check_terms(max_messages=max_messages, period_unit=period_unit, valid_until=valid_until, now=now)
    if not isinstance(message_type, str) or not message_type.strip() or len(message_type) > 64:
        raise _bad("message_type", "1-64 characters", "须为 1-64 个字符")
    message_type = message_type.strip()
    if not isinstance(pitch, str) or len(pitch) > 300:
        raise _bad("pitch", "at most 300 characters", "最多 300 个字符")
    reg = snapshot(session)
    port, _ext = reg.resolve(channel, sender.strip().lower() if channel == "email" else sender.strip())
    cp = reg.cps.get(port.cp_id) if port is not None else None
    charged: ChargedService | None = None
    if charged_service_id is not None:
        charged = session.get(ChargedService, charged_service_id)
        if charged is None or cp is None or charged.content_provider_id != cp.id:
            raise _bad(
                "charged_service_id",
                "not a charged service of this content provider",
                "不是该内容提供者的收费服务",
            )
        missing = missing_charged_terms(charged)
        if missing:
            raise _refuse(
                "charged_terms_missing",
                "A charged service must state its content, tariff, charging method and how to unsubscribe before asking for consent.",
                "收费服务须事先明确告知服务内容、资费标准、收费方式和退订方式，方可请求用户同意。",
                missing=missing,
            )
    text = (
        request_text(
            signature=sorted(cp.signatures)[0] if cp.signatures else cp.name,
            cp_name=cp.name,
            message_type=message_type,
            max_messages=max_messages,
            period_unit=period_unit,
            valid_until=valid_until,
            pitch=pitch,
            charged=charged,
        )
        if cp is not None
        else pitch or message_type
    )
    p, ev = decide_one(
        session,
        GatewayRequest(
            channel=channel,
            sender=sender,
            recipient=recipient,
            text=text,
            message_type=message_type,
            purpose=CONSENT_REQUEST,
        ),
        now=now,
    )
    if not ev.decision.allowed or cp is None or port is None:
        raise refused(ev.decision, "The consent request is refused.", "同意请求被拒绝。")
    fp = simhash(text)
    if session.scalar(
        select(ConsentRequest.id).where(
            ConsentRequest.recipient_hash == p.recipient_hash,
            ConsentRequest.content_provider_id == cp.id,
            ConsentRequest.message_type == message_type,
            ConsentRequest.status == "pending",
        )
    ):
        raise PiguardError(
            "conflict",
            "A consent request of this type is already pending.",
            "已有同类同意请求等待答复。",
            obligations=("O31-18.2",),
            http_status=409,
        )
    deadline = now + timedelta(hours=get_messaging_settings().sms_consent_reply_hours)
    req = ConsentRequest(
        recipient_hash=p.recipient_hash,
        recipient_masked=p.recipient_masked,
        channel=channel,
        content_provider_id=cp.id,
        port_id=port.id,
        sender=p.sender,
        message_type=message_type,
        max_messages=max_messages,
        period_unit=period_unit,
        valid_until=valid_until,
        charged_service_id=charged.id if charged else None,
        request_text=text,
        pitch=pitch.strip(),
        fingerprint=fp,
        sent_at=now,
        reply_deadline=deadline,
        status="pending",
    )
    session.add(req)
    session.flush()
    [(ref, _status)] = emit(
        session,
        [(p, ev)],
        now=now,
        principal=principal,
        audit=AuditEntry(
            "sms.consent.requested",
            ("O31-18.2",),
            {"content_provider": cp.code, "message_type": message_type, "recipient": req.recipient_masked},
            subject_ref=f"consent_request:{req.id}",
        ),
    )
    req.message_ref = ref
    return RequestResult(req, ref)


def pending_requests(session: Session, recipient_hash: str, content_provider_id: int) -> list[ConsentRequest]:
    return list(
        session.scalars(
            select(ConsentRequest)
            .where(
                ConsentRequest.recipient_hash == recipient_hash,
                ConsentRequest.content_provider_id == content_provider_id,
                ConsentRequest.status == "pending",
            )
            .order_by(ConsentRequest.id)
        )
    )


@carries("O31-18.1", "O31-18.2")
def grant(
    session: Session, req: ConsentRequest, *, reply_text: str | None, source: str, now: datetime
) -> Consent:
    """The recipient agreed: a consent with the request's type, frequency and period, and its evidence."""
    req.status, req.resolved_at = "granted", now
    req.reply_text = redact(reply_text) if reply_text else None
    req.reply_intent = "consent_grant"
    # a new grant replaces an older active consent of the same key
    session.execute(
        update(Consent)
        .where(
            Consent.recipient_hash == req.recipient_hash,
            Consent.content_provider_id == req.content_provider_id,
            Consent.message_type == req.message_type,
            Consent.status == "active",
        )
        .values(status="ended", ended_at=now, end_reason="replaced"),
        execution_options={"synchronize_session": False},
    )
    consent = Consent(
        recipient_hash=req.recipient_hash,
        recipient_masked=req.recipient_masked,
        channel=req.channel,
        content_provider_id=req.content_provider_id,
        message_type=req.message_type,
        max_messages=req.max_messages,
        period_unit=req.period_unit,
        granted_at=now,
        valid_until=req.valid_until,
        status="active",
        request_id=req.id,
        window_start=window_start(now, req.period_unit),
        window_count=0,
        evidence={
            "channel": req.channel,
            "request_text": req.request_text,
            "request_sent_at": req.sent_at.isoformat(),
            "reply_text": req.reply_text,
            "replied_at": now.isoformat(),
            "source": source,
        },
    )
    session.add(consent)
    session.flush()
    records.subscription_event(
        session,
        at=now,
        recipient_hash=req.recipient_hash,
        recipient_masked=req.recipient_masked,
        channel=req.channel,
        content_provider_id=req.content_provider_id,
        message_type=req.message_type,
        event="subscribed",
        source=source,
        consent_id=consent.id,
        request_id=req.id,
    )
    return consent


@carries("O31-18.2")
def refuse_request(
    session: Session,
    req: ConsentRequest,
    *,
    reply_text: str | None,
    source: str,
    now: datetime,
    no_reply: bool = False,
) -> None:
    """Refused or not answered: the request ends and its content is suppressed for this recipient."""
    req.status, req.resolved_at = ("expired" if no_reply else "refused"), now
    if reply_text:
        req.reply_text = redact(reply_text)
    req.reply_intent = "no_reply" if no_reply else "consent_refusal"
    _suppress(session, req, "no_reply" if no_reply else "refused", now)
    records.subscription_event(
        session,
        at=now,
        recipient_hash=req.recipient_hash,
        recipient_masked=req.recipient_masked,
        channel=req.channel,
        content_provider_id=req.content_provider_id,
        message_type=req.message_type,
        event="expired" if no_reply else "refused",
        source=source,
        request_id=req.id,
        ended=True,
    )


@carries("O31-20", "O31-18.1", "NPC-8")
def end_consents(
    session: Session,
    *,
    recipient_hash: str,
    content_provider_id: int,
    reason: str,
    now: datetime,
    message_type: str | None = None,
) -> list[int]:
    """End every active consent of this recipient for this content provider (one type, or all) at
    once; returns the ended consent ids. Its subscription events are marked as ended (retention)."""
    stmt = update(Consent).where(
        Consent.recipient_hash == recipient_hash,
        Consent.content_provider_id == content_provider_id,
        Consent.status == "active",
    )
    if message_type:
        stmt = stmt.where(Consent.message_type == message_type)
    ended = list(
        session.execute(
            stmt.values(status="ended", ended_at=now, end_reason=reason).returning(Consent.id),
            execution_options={"synchronize_session": False},
        ).scalars()
    )
    if ended and reason == "opt_out":
        _suppress_granted_requests(session, ended, now)
    if ended:
        session.execute(
            update(SubscriptionEvent)
            .where(SubscriptionEvent.consent_id.in_(ended), SubscriptionEvent.relationship_ended_at.is_(None))
            .values(relationship_ended_at=now),
            execution_options={"synchronize_session": False},
        )
    return ended


@carries("O31-18.2")
def _suppress(session: Session, req: ConsentRequest, source: str, now: datetime) -> None:
    """The request as sent (no re-asking) and the offer it carried (not sent as a message either)
    are not sent to this recipient again."""
    prints = {req.fingerprint} | ({simhash(req.pitch)} if req.pitch else set())
    for fp in sorted(prints):
        session.add(
            Suppression(
                recipient_hash=req.recipient_hash,
                content_provider_id=req.content_provider_id,
                fingerprint=fp,
                source=source,
                request_id=req.id,
                created_at=now,
            )
        )
    session.flush()


@carries("O31-18.2")
def _suppress_granted_requests(session: Session, consent_ids: list[int], now: datetime) -> None:
    """An opt-out refuses the request a consent was granted on: its text and its pitch are not sent
    to this recipient again (O31-18.2), as after a refusal or no reply."""
    for req in session.scalars(
        select(ConsentRequest)
        .join(Consent, Consent.request_id == ConsentRequest.id)
        .where(Consent.id.in_(consent_ids))
    ):
        _suppress(session, req, "opt_out", now)


@carries("O31-18.2")
def expire_requests(session: Session, *, now: datetime | None = None, limit: int = 1000) -> int:
    """Pending requests past their reply deadline are refusals (O31-18.2): fingerprint kept."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(ConsentRequest)
            .where(ConsentRequest.status == "pending", ConsentRequest.reply_deadline <= now)
            .order_by(ConsentRequest.id)
            .limit(limit)
        )
    )
    for req in rows:
        refuse_request(session, req, reply_text=None, source="expiry", now=now, no_reply=True)
    return len(rows)


@carries("O31-18.1", "NPC-7")
def record_consent(
    session: Session,
    *,
    channel: str,
    recipient: str,
    content_provider_id: int,
    message_type: str,
    max_messages: int,
    period_unit: str,
    valid_until: datetime,
    evidence: dict[str, Any],
    principal: Principal | None = None,
    now: datetime | None = None,
) -> Consent:
    """Record a consent obtained elsewhere (the user's own request, a signed form), with its evidence
    (``evidence`` must say how: channel, text shown, time). Audited."""
    now = now or utcnow()
    check_terms(max_messages=max_messages, period_unit=period_unit, valid_until=valid_until, now=now)
    if not evidence or not str(evidence.get("text_shown", "")).strip():
        raise _bad("evidence", "text_shown is required", "须提供向用户展示的文本")
    address = addresses.normalize_address(channel, recipient)
    rhash = crypto.address_hash(address)
    end_consents(
        session,
        recipient_hash=rhash,
        content_provider_id=content_provider_id,
        reason="replaced",
        now=now,
        message_type=message_type,
    )
    consent = Consent(
        recipient_hash=rhash,
        recipient_masked=addresses.mask_address(address),
        channel=channel,
        content_provider_id=content_provider_id,
        message_type=message_type.strip(),
        max_messages=max_messages,
        period_unit=period_unit,
        granted_at=now,
        valid_until=valid_until,
        status="active",
        window_start=window_start(now, period_unit),
        window_count=0,
        evidence={k: redact(str(v)) for k, v in evidence.items()},
    )
    session.add(consent)
    session.flush()
    records.subscription_event(
        session,
        at=now,
        recipient_hash=rhash,
        recipient_masked=consent.recipient_masked,
        channel=channel,
        content_provider_id=content_provider_id,
        message_type=consent.message_type,
        event="subscribed",
        source="api",
        consent_id=consent.id,
    )
    record(
        session,
        action="sms.consent.recorded",
        actor=actor_of(principal),
        subject_ref=f"consent:{consent.id}",
        obligations=("O31-18.1",),
        detail={
            "content_provider_id": content_provider_id,
            "message_type": consent.message_type,
            "recipient": consent.recipient_masked,
        },
    )
    return consent


def bulk_consents(
    session: Session,
    rows: list[tuple[str, str, int, str, int, str, datetime]],
    *,
    now: datetime | None = None,
) -> int:
    """Insert many consents at once (demo, benchmark, migration from another system): tuples of
    (channel, address, content_provider_id, message_type, max_messages, period_unit, valid_until).
    No evidence beyond ``{"source": "bulk"}``: use only for data whose evidence lives elsewhere."""
    now = now or utcnow()
    table = Consent.__table__
    out = []
    windows: dict[str, datetime] = {}
    for ch, addr, cp_id, mt, mx, unit, until in rows:
        if unit not in windows:
            windows[unit] = window_start(now, unit)
        a = addresses.normalize_address(ch, addr)
        out.append(
            {
                "recipient_hash": crypto.address_hash(a),
                "recipient_masked": addresses.mask_address(a),
                "channel": ch,
                "content_provider_id": cp_id,
                "message_type": mt,
                "max_messages": mx,
                "period_unit": unit,
                "granted_at": now,
                "valid_until": until,
                "status": "active",
                "window_start": windows[unit],
                "window_count": 0,
                "evidence": {"source": "bulk"},
            }
        )
    if out:
        session.execute(table.insert(), out)  # type: ignore[attr-defined]
    return len(out)


def list_requests(
    session: Session, *, status: str | None = None, content_provider_id: int | None = None, limit: int = 100
) -> list[ConsentRequest]:
    stmt = select(ConsentRequest).order_by(ConsentRequest.id.desc()).limit(max(1, min(limit, 1000)))
    if status:
        stmt = stmt.where(ConsentRequest.status == status)
    if content_provider_id is not None:
        stmt = stmt.where(ConsentRequest.content_provider_id == content_provider_id)
    return list(session.scalars(stmt))


def request_to_dict(r: ConsentRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "recipient": r.recipient_masked,
        "channel": r.channel,
        "content_provider_id": r.content_provider_id,
        "sender": r.sender,
        "message_type": r.message_type,
        "max_messages": r.max_messages,
        "period_unit": r.period_unit,
        "valid_until": r.valid_until.isoformat(),
        "charged_service_id": r.charged_service_id,
        "request_text": r.request_text,
        "sent_at": r.sent_at.isoformat(),
        "reply_deadline": r.reply_deadline.isoformat(),
        "status": r.status,
        "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
        "reply_text": r.reply_text,
        "message_ref": r.message_ref,
    }


# ------------------------------------------------------------------------------------ expiry


@carries("O31-11", "O31-18.2")
def expire_consents(session: Session, *, now: datetime | None = None, limit: int = 1000) -> int:
    """Consents whose period has ended are ended (``end_reason = 'period_ended'``, ``ended_at`` =
    the end of the period) with an ``expired`` subscription event, so the subscription status is
    kept no longer than the retention after the relationship ends (O31-11)."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(Consent)
            .where(Consent.status == "active", Consent.valid_until <= now)
            .order_by(Consent.id)
            .limit(max(1, limit))
        )
    )
    for c in rows:
        moved = session.execute(
            update(Consent)
            .where(Consent.id == c.id, Consent.status == "active")
            .values(status="ended", ended_at=c.valid_until, end_reason="period_ended")
            .returning(Consent.id),
            execution_options={"synchronize_session": False},
        ).first()
        if moved is None:
            continue  # ended meanwhile (opt-out)
        session.execute(
            update(SubscriptionEvent)
            .where(SubscriptionEvent.consent_id == c.id, SubscriptionEvent.relationship_ended_at.is_(None))
            .values(relationship_ended_at=c.valid_until),
            execution_options={"synchronize_session": False},
        )
        records.subscription_event(
            session,
            at=c.valid_until,
            recipient_hash=c.recipient_hash,
            recipient_masked=c.recipient_masked,
            channel=c.channel,
            content_provider_id=c.content_provider_id,
            message_type=c.message_type,
            event="expired",
            source="expiry",
            consent_id=c.id,
            ended=True,
        )
    session.expire_all()
    return len(rows)


# ------------------------------------------------------------------------------------ ledger

CONSENT_STATUSES = ("active", "ended")
EVENT_KINDS = ("subscribed", "unsubscribed", "refused", "expired")
_HASH = re.compile(r"^[0-9a-f]{16,64}$")


@dataclass(frozen=True, slots=True)
class LedgerQuery:
    """Filters of the consent ledger and the subscription events: a content provider, a recipient
    by number (hashed here, never stored or echoed) or by keyed hash, a status (``active``/``ended``
    for consents, the event for events), a time range on the event time."""

    content_provider_id: int | None = None
    recipient: str | None = None
    recipient_hash: str | None = None
    channel: str = "sms"
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


def _ledger_hash(q: LedgerQuery) -> str | None:
    if q.recipient:
        return crypto.address_hash(addresses.normalize_address(q.channel, q.recipient))
    if q.recipient_hash is not None:
        h = q.recipient_hash.strip().lower()
        if not _HASH.match(h):
            raise _bad("recipient_hash", "a keyed hash (hexadecimal)", "须为十六进制的键控哈希")
        return h
    return None


def _ledger(model: Any, status_col: Any, time_col: Any, order: tuple[Any, ...], q: LedgerQuery) -> Any:
    """One query over the consent ledger or the events: the filters of ``q`` in SQL."""
    stmt = select(model)
    h = _ledger_hash(q)
    conditions = [
        (h is not None, lambda: model.recipient_hash == h),
        (q.content_provider_id is not None, lambda: model.content_provider_id == q.content_provider_id),
        (bool(q.status), lambda: status_col == q.status),
        (q.since is not None, lambda: time_col >= q.since),
        (q.until is not None, lambda: time_col < q.until),
    ]
    for wanted, condition in conditions:
        if wanted:
            stmt = stmt.where(condition())
    return stmt.order_by(*order).offset(max(0, q.offset)).limit(max(1, min(q.limit, 1000)))


@carries("O31-11", "O31-18.1")
def list_consents(session: Session, q: LedgerQuery) -> list[Consent]:
    """The consent ledger, newest first (numbers masked)."""
    if q.status is not None and q.status not in CONSENT_STATUSES:
        raise _bad("status", f"one of {', '.join(CONSENT_STATUSES)}", "状态无效")
    stmt = _ledger(Consent, Consent.status, Consent.granted_at, (Consent.id.desc(),), q)
    return list(session.scalars(stmt))


@carries("O31-11")
def list_events(session: Session, q: LedgerQuery) -> list[SubscriptionEvent]:
    """Subscription-status events (subscribed, unsubscribed, refused, expired), newest first."""
    if q.status is not None and q.status not in EVENT_KINDS:
        raise _bad("status", f"one of {', '.join(EVENT_KINDS)}", "事件类型无效")
    ev = SubscriptionEvent
    return list(session.scalars(_ledger(ev, ev.event, ev.at, (ev.at.desc(), ev.id.desc()), q)))


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def consent_to_dict(c: Consent) -> dict[str, Any]:
    return {
        "id": c.id,
        "recipient": c.recipient_masked,
        "recipient_hash": c.recipient_hash,
        "channel": c.channel,
        "content_provider_id": c.content_provider_id,
        "message_type": c.message_type,
        "max_messages": c.max_messages,
        "period_unit": c.period_unit,
        "granted_at": _iso(c.granted_at),
        "valid_until": _iso(c.valid_until),
        "status": c.status,
        "ended_at": _iso(c.ended_at),
        "end_reason": c.end_reason,
        "request_id": c.request_id,
    }


def event_to_dict(e: SubscriptionEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": _iso(e.at),
        "recipient": e.recipient_masked,
        "recipient_hash": e.recipient_hash,
        "channel": e.channel,
        "content_provider_id": e.content_provider_id,
        "message_type": e.message_type,
        "event": e.event,
        "source": e.source,
        "consent_id": e.consent_id,
        "request_id": e.request_id,
        "relationship_ended_at": _iso(e.relationship_ended_at),
    }
