"""One-click unsubscribe for commercial e-mail (NPC-7, NPC-8, O31-20; RFC 8058 and RFC 2369).

A reply saying 退订 ends consent on every channel (:mod:`.inbound`); mail users expect a link too,
and mail clients show an "unsubscribe" button when a message carries ``List-Unsubscribe`` with an
HTTPS address and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. So every commercial e-mail
the gateway allows comes back with those two headers (``GatewayResult.mail_headers``) for the
content provider's mail relay to add, and a POST to the link ends that recipient's consent for that
content provider at once, exactly as a 退订 reply does, with the same record (O31-11) and audit.

The link carries a signed token, not an address: the recipient's keyed hash, the content provider
and the message type, signed with ``PIGUARD_SECRET_KEY``. It does not expire (a user may click an
old message's link; ending consent twice changes nothing) and cannot be forged to end someone
else's consent. A GET only shows a page with the button: link scanners and previews fetch links,
and must not unsubscribe anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.messaging.models import Consent, ContentProvider
from piguard.messaging.records import service as records
from piguard.messaging.subscriptions import consent
from piguard.messaging.subscriptions.links import OBLIGATIONS, serializer
from piguard.regulations.markers import carries


@dataclass(frozen=True, slots=True)
class UnsubscribeLink:
    recipient_hash: str
    content_provider_id: int
    content_provider: str
    content_provider_name: str
    message_type: str | None


def _invalid() -> PiguardError:
    return PiguardError(
        "unsubscribe_link_invalid",
        "This unsubscribe link is not valid (it may have been cut short). Reply 退订 or TD to the "
        "message instead, or contact the sender.",
        "退订链接无效（可能不完整）。请直接回复“退订”或“TD”，或联系发送方。",
        obligations=OBLIGATIONS,
        http_status=404,
        exit_code=2,
    )


def read_link(session: Session, token: str) -> UnsubscribeLink:
    """What a link names, or ``unsubscribe_link_invalid`` (a forged, cut or foreign token)."""
    try:
        data = serializer().loads(token) if isinstance(token, str) and len(token) <= 512 else None
    except BadSignature:
        data = None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("r"), str)
        and isinstance(data.get("c"), int)
        and isinstance(data.get("t"), str)
    ):
        raise _invalid()
    cp = session.get(ContentProvider, data["c"])
    if cp is None:
        raise _invalid()
    return UnsubscribeLink(data["r"], cp.id, cp.code, cp.name, data["t"] or None)


@dataclass(frozen=True, slots=True)
class UnsubscribeResult:
    content_provider: str
    content_provider_name: str
    consents_ended: list[int]
    already_ended: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_provider": self.content_provider,
            "consents_ended": len(self.consents_ended),
            "already_ended": self.already_ended,
            "obligations": list(OBLIGATIONS),
        }


@carries("NPC-7", "NPC-8", "O31-20", "O31-11")
def unsubscribe(session: Session, token: str, *, now: datetime | None = None) -> UnsubscribeResult:
    """End, at once, every consent of the link's address for its content provider (as a 退订 reply
    does: the user refuses that sender, not one list; the same person's SMS consents are another
    address's and stay), record the status change and audit it.
    Clicking again is harmless: nothing is active any more, and that is said."""
    now = now or utcnow()
    link = read_link(session, token)
    masked = session.scalar(
        select(Consent.recipient_masked)
        .where(
            Consent.recipient_hash == link.recipient_hash,
            Consent.content_provider_id == link.content_provider_id,
        )
        .limit(1)
    )
    ended = consent.end_consents(
        session,
        recipient_hash=link.recipient_hash,
        content_provider_id=link.content_provider_id,
        reason="opt_out",
        now=now,
    )
    if ended:
        records.subscription_event(
            session,
            at=now,
            recipient_hash=link.recipient_hash,
            recipient_masked=masked or "",
            channel="email",
            content_provider_id=link.content_provider_id,
            message_type=link.message_type,
            event="unsubscribed",
            source="list_unsubscribe",
            ended=True,
        )
    record(
        session,
        action="sms.consent.unsubscribe_link",
        actor=Actor.system("mail.list_unsubscribe"),
        subject_ref=f"content_provider:{link.content_provider}",
        obligations=OBLIGATIONS,
        detail={
            "channel": "email",
            "content_provider": link.content_provider,
            "message_type": link.message_type,
            "recipient": masked or None,
            "consents_ended": len(ended),
        },
    )
    return UnsubscribeResult(link.content_provider, link.content_provider_name, ended, not ended)
