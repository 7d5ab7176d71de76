"""Inbound replies (O31-20, O31-18.2, NPC-8): a reply from a recipient to a port (+ extension).

The port and extension name the content provider. The reply is classified
(:mod:`piguard.messaging.replies`, with ``pending_consent`` when a request of that content provider
awaits this recipient's answer) and then:

* opt-out: every consent of this recipient for this content provider ends at once, pending requests
  are refused, a confirmation is queued through the outbox, the status change is recorded;
* grant / refusal of a pending request: consent created / content suppressed;
* ambiguous or nothing: recorded, not guessed.

Every reply is a record (O31-11).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.db import utcnow
from piguard.core.errors import invalid_field as _bad
from piguard.identity.principal import Principal
from piguard.messaging import consent, protect, records
from piguard.messaging.batch import AuditEntry, decide_one, emit
from piguard.messaging.gateway import CONFIRMATION as CONFIRMATION_PURPOSE
from piguard.messaging.gateway import GatewayRequest
from piguard.messaging.registry import actor_of, snapshot
from piguard.messaging.replies import ReplyIntent, classify_reply
from piguard.regulations.markers import carries

MAX_REPLY = 1000
CONFIRMATION = "【{signature}】您已成功退订{name}的商业信息，将不再收到此类信息。"


@dataclass(frozen=True, slots=True)
class InboundResult:
    ref: str
    intent: str
    content_provider: str | None
    consents_ended: list[int] = field(default_factory=list)
    requests_granted: list[int] = field(default_factory=list)
    requests_refused: list[int] = field(default_factory=list)
    confirmation_ref: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "intent": self.intent,
            "content_provider": self.content_provider,
            "consents_ended": self.consents_ended,
            "requests_granted": self.requests_granted,
            "requests_refused": self.requests_refused,
            "confirmation_ref": self.confirmation_ref,
            "reasons": self.reasons,
        }


@carries("O31-20", "O31-18.1", "O31-18.2", "O31-11", "NPC-8")
def receive_reply(
    session: Session,
    *,
    channel: str,
    sender: str,
    to: str,
    text: str,
    received_at: datetime | None = None,
    principal: Principal | None = None,
) -> InboundResult:
    """Handle one reply: ``sender`` is the recipient's address, ``to`` the port code (+ extension)."""
    now = received_at or utcnow()
    if channel not in ("sms", "email"):
        raise _bad("channel", "sms or email", "须为 sms 或 email")
    if not isinstance(text, str):
        raise _bad("text", "not a string", "不是字符串")
    if len(text) > MAX_REPLY:
        raise _bad("text", f"longer than {MAX_REPLY} characters", f"超过 {MAX_REPLY} 个字符")
    if not isinstance(to, str) or not to.strip():
        raise _bad("to", "empty", "为空")
    address = protect.normalize_address(channel, sender, "sender")
    rhash, masked = protect.address_hash(address), protect.mask_address(address)
    port_code = to.strip().lower() if channel == "email" else to.strip()
    reg = snapshot(session)
    port, _ext = reg.resolve(channel, port_code)
    cp = reg.cps.get(port.cp_id) if port is not None else None
    pending = consent.pending_requests(session, rhash, cp.id) if cp is not None else []
    cls = classify_reply(text, pending_consent=bool(pending))
    ref = records.new_ref()
    ended: list[int] = []
    granted: list[int] = []
    refused_ids: list[int] = []
    confirmation: str | None = None
    if cp is not None:
        if cls.intent is ReplyIntent.OPT_OUT:
            ended = consent.end_consents(
                session, recipient_hash=rhash, content_provider_id=cp.id, reason="opt_out", now=now
            )
            for req in pending:
                consent.refuse_request(session, req, reply_text=text, source="reply", now=now)
                refused_ids.append(req.id)
            records.subscription_event(
                session,
                at=now,
                recipient_hash=rhash,
                recipient_masked=masked,
                channel=channel,
                content_provider_id=cp.id,
                event="unsubscribed",
                source="reply",
                ended=True,
            )
            confirmation = _confirm(
                session,
                channel=channel,
                sender=port_code,
                address=address,
                rhash=rhash,
                masked=masked,
                cp_id=cp.id,
                now=now,
                port_id=port.id if port else None,
            )
        elif cls.intent is ReplyIntent.CONSENT_REFUSAL:
            for req in pending:
                consent.refuse_request(session, req, reply_text=text, source="reply", now=now)
                refused_ids.append(req.id)
        elif cls.intent is ReplyIntent.CONSENT_GRANT and pending:
            for req in pending:
                granted.append(consent.grant(session, req, reply_text=text, source="reply", now=now).id)
    records.write_records(
        session,
        [
            records.record_row(
                ref=ref,
                at=now,
                direction="in",
                channel=channel,
                sender=port_code,  # the port side of the exchange, as for outbound messages
                address=address,
                recipient_hash=rhash,
                recipient_masked=masked,
                content=text,
                content_has_pi=True,  # replies are free text from a person: stored masked, clear only encrypted
                outcome="received",
                status="received",
                reason_codes=[r.code for r in cls.reasons] + ([] if cp is not None else ["port_unknown"]),
                obligations=list(cls.obligations),
                kind="reply",
                content_provider_id=cp.id if cp else None,
                port_id=port.id if port else None,
                intent=cls.intent.value,
            )
        ],
    )
    if ended or refused_ids or granted:
        record(
            session,
            action="sms.consent.reply",
            actor=actor_of(principal),
            subject_ref=f"content_provider:{cp.code}" if cp else None,
            obligations=cls.obligations,
            detail={
                "intent": cls.intent.value,
                "content_provider": cp.code if cp else None,
                "recipient": masked,
                "consents_ended": len(ended),
            },
        )
    reasons = [r.to_dict() for r in cls.reasons]
    if cp is None:
        reasons.append(
            {
                "code": "port_unknown",
                "obligations": ["O31-11"],
                "message": {
                    "zh": "回复的端口未登记：仅记录。",
                    "en": "The port replied to is not registered: recorded only.",
                },
            }
        )
    return InboundResult(
        ref, cls.intent.value, cp.code if cp else None, ended, granted, refused_ids, confirmation, reasons
    )


def _confirm(
    session: Session,
    *,
    channel: str,
    sender: str,
    address: str,
    rhash: str,
    masked: str,
    cp_id: int,
    now: datetime,
    port_id: int | None,
) -> str:
    """Queue the opt-out confirmation (a service message of the same port), decided and written
    like every outbound message."""
    reg = snapshot(session)
    cp = reg.cps[cp_id]
    sig = sorted(cp.signatures)[0] if cp.signatures else cp.name
    text = CONFIRMATION.format(signature=sig, name=cp.name)
    request = GatewayRequest(
        channel=channel, sender=sender, recipient=address, text=text, purpose=CONFIRMATION_PURPOSE
    )
    p, ev = decide_one(session, request, now=now)
    [(ref, _status)] = emit(
        session,
        [(p, ev)],
        now=now,
        audit=AuditEntry(
            "sms.optout.confirmation", ("O31-20",), {"content_provider": cp.code, "recipient": masked}
        ),
    )
    return ref
