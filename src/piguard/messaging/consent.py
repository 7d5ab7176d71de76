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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.calendar import SHANGHAI
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, refused, validation_error
from piguard.core.logging import redact
from piguard.core.reasons import Decision, Reason
from piguard.identity.principal import Principal
from piguard.messaging import protect, records
from piguard.messaging.models import (
    PERIOD_UNITS,
    ChargedService,
    Consent,
    ConsentRequest,
    SubscriptionEvent,
    Suppression,
)
from piguard.messaging.registry import actor_of, missing_charged_terms, snapshot
from piguard.messaging.review import default_reviewer
from piguard.messaging.settings import get_messaging_settings
from piguard.messaging.similarity import simhash, similarity
from piguard.regulations.markers import carries

_UNIT_ZH = {"day": "日", "week": "周", "month": "月"}
MAX_PER_PERIOD = 1000


def _bad(field: str, en: str, zh: str) -> PiguardError:
    return validation_error(
        [FieldError(field, f"{en} / {zh}")], f"Invalid {field}: {en}", f"{field} 无效：{zh}"
    )


def _refuse(code: str, obligations: tuple[str, ...], en: str, zh: str, **detail: Any) -> PiguardError:
    return refused(Decision.refuse(Reason(code, obligations, en, zh, detail)), en, zh)


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
    """Ask a recipient for consent: checks the port, the content provider, the terms (O31-9),
    similarity suppression (O31-18.2); queues the request message and records it."""
    now = now or utcnow()
    if period_unit not in PERIOD_UNITS:
        raise _bad("period_unit", f"one of {', '.join(PERIOD_UNITS)}", "须为 day、week 或 month")
    if not isinstance(max_messages, int) or not 1 <= max_messages <= MAX_PER_PERIOD:
        raise _bad("max_messages", f"1-{MAX_PER_PERIOD}", f"须为 1-{MAX_PER_PERIOD}")
    if not isinstance(message_type, str) or not message_type.strip() or len(message_type) > 64:
        raise _bad("message_type", "1-64 characters", "须为 1-64 个字符")
    message_type = message_type.strip()
    if valid_until.tzinfo is None or valid_until <= now:
        raise _bad("valid_until", "an aware time in the future", "须为将来的时间（含时区）")
    if len(pitch) > 300:
        raise _bad("pitch", "at most 300 characters", "最多 300 个字符")
    address = protect.normalize_address(channel, recipient)
    rhash = protect.address_hash(address)
    reg = snapshot(session)
    port, _ext = reg.resolve(channel, sender.strip().lower() if channel == "email" else sender.strip())
    if port is None:
        raise _refuse(
            "sender_unregistered",
            ("O31-10",),
            "The sender is not a registered port.",
            "发送号码不是已登记的端口。",
        )
    cp = reg.cps[port.cp_id]
    if port.port_type != "commercial":
        raise _refuse(
            "port_type_mismatch",
            ("O31-19",),
            "Consent requests for commercial messages go through a commercial port.",
            "商业性短信息的同意请求须通过商业端口发送。",
        )
    if not cp.verified or cp.suspended or port.suspended:
        raise _refuse(
            "content_provider_not_allowed",
            ("O31-12", "O31-23"),
            "The content provider is not verified or is suspended.",
            "内容提供者未核验或已被暂停。",
        )
    if not cp.signatures:
        raise _refuse(
            "signature_missing",
            ("O31-21",),
            "The content provider has no approved signature.",
            "内容提供者没有已批准的签名。",
        )
    charged: ChargedService | None = None
    if charged_service_id is not None:
        charged = session.get(ChargedService, charged_service_id)
        if charged is None or charged.content_provider_id != cp.id:
            raise _bad(
                "charged_service_id",
                "not a charged service of this content provider",
                "不是该内容提供者的收费服务",
            )
        missing = missing_charged_terms(charged)
        if missing:
            raise _refuse(
                "charged_terms_missing",
                ("O31-9",),
                "A charged service must state its content, tariff, charging method and how to unsubscribe before asking for consent.",
                "收费服务须事先明确告知服务内容、资费标准、收费方式和退订方式，方可请求用户同意。",
                missing=missing,
            )
    text = request_text(
        signature=sorted(cp.signatures)[0],
        cp_name=cp.name,
        message_type=message_type,
        max_messages=max_messages,
        period_unit=period_unit,
        valid_until=valid_until,
        pitch=pitch,
        charged=charged,
    )
    review = default_reviewer().review(text, reg.review_context(cp, channel, None))
    bad = [f for f in review.findings if f.code in ("prohibited_content", "pi_in_content")]
    if bad:
        raise refused(
            Decision.refuse(*(f.reason() for f in bad)),
            "The consent request's content is refused.",
            "同意请求的内容被拒绝。",
        )
    fp = simhash(text)
    threshold = get_messaging_settings().sms_similarity_threshold
    for (old,) in session.execute(
        select(Suppression.fingerprint).where(
            Suppression.recipient_hash == rhash, Suppression.content_provider_id == cp.id
        )
    ):
        if similarity(fp, old) >= threshold:
            raise _refuse(
                "similar_content_refused",
                ("O31-18.2",),
                "The recipient refused (or did not answer) the same or similar request from this content provider.",
                "该用户已拒绝（或未回复）该内容提供者相同或相似的请求，不得再次发送。",
            )
    if session.scalar(
        select(ConsentRequest.id).where(
            ConsentRequest.recipient_hash == rhash,
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
    ref = records.new_ref()
    deadline = now + timedelta(hours=get_messaging_settings().sms_consent_reply_hours)
    req = ConsentRequest(
        recipient_hash=rhash,
        recipient_masked=protect.mask_address(address),
        channel=channel,
        content_provider_id=cp.id,
        port_id=port.id,
        sender=port.code + _ext,
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
        message_ref=ref,
    )
    session.add(req)
    session.flush()
    records.write_records(
        session,
        [
            records.record_row(
                ref=ref,
                at=now,
                direction="out",
                channel=channel,
                sender=req.sender,
                address=address,
                recipient_hash=rhash,
                recipient_masked=req.recipient_masked,
                content=text,
                content_has_pi=False,
                outcome="allow",
                status="queued",
                reason_codes=["consent_request"],
                obligations=["O31-18.2"],
                kind="consent_request",
                message_type=message_type,
                content_provider_id=cp.id,
                port_id=port.id,
            )
        ],
    )
    records.enqueue(
        session,
        [
            records.outbox_row(
                ref=ref,
                channel=channel,
                sender=req.sender,
                address=address,
                content=text,
                emergency=False,
                at=now,
            )
        ],
    )
    record(
        session,
        action="sms.consent.requested",
        actor=actor_of(principal),
        subject_ref=f"consent_request:{req.id}",
        obligations=("O31-18.2",),
        detail={"content_provider": cp.code, "message_type": message_type, "recipient": req.recipient_masked},
    )
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
    # the request as sent (no re-asking) and the offer it carried (not sent as a message either)
    prints = {req.fingerprint} | ({simhash(req.pitch)} if req.pitch else set())
    for fp in sorted(prints):
        session.add(
            Suppression(
                recipient_hash=req.recipient_hash,
                content_provider_id=req.content_provider_id,
                fingerprint=fp,
                source="no_reply" if no_reply else "refused",
                request_id=req.id,
                created_at=now,
            )
        )
    session.flush()
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
    if ended:
        session.execute(
            update(SubscriptionEvent)
            .where(SubscriptionEvent.consent_id.in_(ended), SubscriptionEvent.relationship_ended_at.is_(None))
            .values(relationship_ended_at=now),
            execution_options={"synchronize_session": False},
        )
    return ended


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
    if period_unit not in PERIOD_UNITS or not 1 <= max_messages <= MAX_PER_PERIOD:
        raise _bad("period_unit", "day/week/month and 1-1000 messages", "频次无效")
    if not evidence or not str(evidence.get("text_shown", "")).strip():
        raise _bad("evidence", "text_shown is required", "须提供向用户展示的文本")
    address = protect.normalize_address(channel, recipient)
    rhash = protect.address_hash(address)
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
        recipient_masked=protect.mask_address(address),
        channel=channel,
        content_provider_id=content_provider_id,
        message_type=message_type.strip(),
        max_messages=max_messages,
        period_unit=period_unit,
        granted_at=now,
        valid_until=valid_until,
        status="active",
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
    for ch, addr, cp_id, mt, mx, unit, until in rows:
        a = protect.normalize_address(ch, addr)
        out.append(
            {
                "recipient_hash": protect.address_hash(a),
                "recipient_masked": protect.mask_address(a),
                "channel": ch,
                "content_provider_id": cp_id,
                "message_type": mt,
                "max_messages": mx,
                "period_unit": unit,
                "granted_at": now,
                "valid_until": until,
                "status": "active",
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
