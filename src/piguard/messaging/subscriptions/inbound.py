"""Inbound replies (O31-20, O31-18.2, NPC-8): a reply from a recipient to a port (+ extension).

The code replied to names the content provider (``RegistrySnapshot.owners``): the port and
extension it was sent from, or a shorter code such as the base code of a range, which may name
several providers; an opt-out or a refusal then applies to each of them and the result and the
audit say so (a grant is taken only from a code that names one). The reply is classified
(:mod:`piguard.messaging.subscriptions.replies`, with ``pending_consent`` when a request of that content provider
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
from piguard.core import addresses, crypto
from piguard.core.db import utcnow
from piguard.core.errors import invalid_field as _bad
from piguard.identity.principal import Principal
from piguard.messaging.callbacks import service as callbacks
from piguard.messaging.gateway.decision import CONFIRMATION as CONFIRMATION_PURPOSE
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import AuditEntry, decide_one, emit
from piguard.messaging.records import service as records
from piguard.messaging.registry.service import actor_of, snapshot
from piguard.messaging.subscriptions import consent
from piguard.messaging.subscriptions.replies import ReplyIntent, classify_reply
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
    #: every content provider the code replied to resolved to (several: each one's consent ends)
    content_providers: list[str] = field(default_factory=list)
    confirmation_refs: list[str] = field(default_factory=list)

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
            "content_providers": self.content_providers,
            "confirmation_refs": self.confirmation_refs,
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
    address = addresses.normalize_address(channel, sender, "sender")
    rhash, masked = crypto.address_hash(address), addresses.mask_address(address)
    port_code = to.strip().lower() if channel == "email" else to.strip()
    reg = snapshot(session)
    owners = reg.owners(channel, port_code)
    several = len(owners) > 1
    pending_of = {p.cp_id: consent.pending_requests(session, rhash, p.cp_id) for p in owners}
    cls = classify_reply(text, pending_consent=any(pending_of.values()))
    ref = records.new_ref()
    ended: list[int] = []
    granted: list[int] = []
    refused_ids: list[int] = []
    confirmations: list[str] = []
    ended_for: list[str] = []
    for port in owners:
        cp = reg.cps[port.cp_id]
        pending = pending_of[port.cp_id]
        if cls.intent is ReplyIntent.OPT_OUT:
            ended += consent.end_consents(
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
            ended_for.append(cp.code)
            confirmations.append(
                _confirm(
                    session,
                    channel=channel,
                    sender=port_code,
                    address=address,
                    rhash=rhash,
                    masked=masked,
                    cp_id=cp.id,
                    now=now,
                    port_id=port.id,
                )
            )
        elif cls.intent is ReplyIntent.CONSENT_REFUSAL:
            for req in pending:
                consent.refuse_request(session, req, reply_text=text, source="reply", now=now)
                refused_ids.append(req.id)
        elif cls.intent is ReplyIntent.CONSENT_GRANT and pending and not several:
            # a grant is taken only from a reply that names one content provider
            for req in pending:
                granted.append(consent.grant(session, req, reply_text=text, source="reply", now=now).id)
    codes = [reg.cps[p.cp_id].code for p in owners]
    one = owners[0] if len(owners) == 1 else None
    extra: list[dict[str, Any]] = []
    if not owners:
        extra.append(_PORT_UNKNOWN)
    elif several:
        extra.append(
            {
                "code": "reply_to_several_providers",
                "obligations": ["O31-20", "O31-13"],
                "message": {
                    "zh": f"回复的号码属于多个内容提供者（{'、'.join(codes)}）："
                    + ("均已退订。" if ended_for else "未据此授予同意。"),
                    "en": f"The code replied to belongs to several content providers ({', '.join(codes)}): "
                    + ("consent ended for each." if ended_for else "no consent granted from it."),
                },
                "detail": {"content_providers": codes, "consents_ended_for": ended_for},
            }
        )
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
                reason_codes=[r.code for r in cls.reasons] + [str(r["code"]) for r in extra],
                obligations=sorted({*cls.obligations, *(o for r in extra for o in r["obligations"])}),
                kind="reply",
                content_provider_id=one.cp_id if one else None,
                port_id=one.id if one else None,
                intent=cls.intent.value,
            )
        ],
    )
    if owners:
        callbacks.record_reply(
            session,
            [p.cp_id for p in owners],
            ref=ref,
            sender=address,
            to=port_code,
            text=text,
            intent=cls.intent.value,
            consent_ended=bool(ended_for),
            at=now,
        )
    if ended or refused_ids or granted or ended_for:
        record(
            session,
            action="sms.consent.reply",
            actor=actor_of(principal),
            subject_ref=f"content_provider:{codes[0]}" if one else None,
            obligations=cls.obligations,
            detail={
                "intent": cls.intent.value,
                "content_provider": codes[0] if one else None,
                "content_providers": codes,
                "several_providers": several,
                "consents_ended_for": ended_for,
                "recipient": masked,
                "consents_ended": len(ended),
            },
        )
    reasons = [r.to_dict() for r in cls.reasons] + extra
    return InboundResult(
        ref,
        cls.intent.value,
        codes[0] if one else None,
        ended,
        granted,
        refused_ids,
        confirmations[0] if confirmations else None,
        reasons,
        codes,
        confirmations,
    )


_PORT_UNKNOWN: dict[str, Any] = {
    "code": "port_unknown",
    "obligations": ["O31-11"],
    "message": {
        "zh": "回复的端口未登记：仅记录。",
        "en": "The port replied to is not registered: recorded only.",
    },
}


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
