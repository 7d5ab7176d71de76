"""One ledger of consent per person: the entry format shared by every ledger, and the specialised
ledgers behind it.

The purpose ledger is :mod:`piguard.consent`'s own tables. The gateway's commercial-message
subscriptions (O31-18, NPC-7) stay in ``messaging`` (``msg_consents``, ``msg_subscription_events``):
:class:`SmsLedger` lists them in the same :class:`LedgerEntry` shape and withdraws them through the
gateway's own opt-out function (``messaging.service.end_consents``, the façade), so the gateway's
consent step and this listing read the same rows. ``messaging`` is imported lazily (it sits above ``consent`` in
the layering), so consent works where the gateway is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from piguard.core.modules import import_if_present
from piguard.regulations.markers import carries


@dataclass(frozen=True, slots=True)
class Evidence:
    """How a consent (or its end) came about: the one evidence format of every ledger."""

    channel: str
    at: datetime | None
    client_ip: str | None = None
    terminal: str | None = None
    text_shown: str = ""
    text_version: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "at": self.at.isoformat() if self.at else None,
            "client_ip": self.client_ip,
            "terminal": self.terminal,
            "text_shown": self.text_shown,
            "text_version": self.text_version,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One consent of a person, whichever ledger holds it. ``ref`` is what withdrawal takes."""

    ledger: str  # "purpose" | "sms"
    ref: str  # "purpose:marketing" | "sms:17"
    purpose: str  # the purpose id, or "commercial_messages" for a gateway subscription
    scope: str  # what exactly: the purpose id, or "<content provider> · <message type>"
    status: str  # granted | refused | withdrawn | expired (sms: active -> granted, ended -> withdrawn)
    since: datetime
    until: datetime | None
    rules_version: int | None
    evidence: Evidence
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status == "granted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "ref": self.ref,
            "purpose": self.purpose,
            "scope": self.scope,
            "status": self.status,
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "rules_version": self.rules_version,
            "evidence": self.evidence.to_dict(),
            "detail": self.detail,
        }


class SpecialisedLedger(Protocol):
    name: str

    def entries(self, session: Session, subject_hash: str) -> list[LedgerEntry]: ...

    def withdraw(
        self, session: Session, subject_hash: str, ref: str, evidence: Evidence, now: datetime
    ) -> list[LedgerEntry]: ...


SMS_PURPOSE = "commercial_messages"


class SmsLedger:
    """The gateway's subscriptions (``msg_consents``), read and ended through ``messaging``."""

    name = "sms"

    def entries(self, session: Session, subject_hash: str) -> list[LedgerEntry]:
        models = import_if_present("piguard.messaging.models")
        if models is None:
            return []
        from sqlalchemy import select

        Consent, ContentProvider = models.Consent, models.ContentProvider
        rows = session.execute(
            select(Consent, ContentProvider.code, ContentProvider.name)
            .join(ContentProvider, ContentProvider.id == Consent.content_provider_id)
            .where(Consent.recipient_hash == subject_hash)
            .order_by(Consent.granted_at.desc(), Consent.id.desc())
            .limit(500)
        ).all()
        return [self._entry(c, code, name) for c, code, name in rows]

    @staticmethod
    def _entry(c: Any, cp_code: str, cp_name: str) -> LedgerEntry:
        ev = dict(c.evidence or {})
        replied = ev.get("replied_at")
        at = datetime.fromisoformat(replied) if isinstance(replied, str) else c.granted_at
        status = (
            "granted" if c.status == "active" else ("expired" if c.end_reason == "expired" else "withdrawn")
        )
        return LedgerEntry(
            ledger="sms",
            ref=f"sms:{c.id}",
            purpose=SMS_PURPOSE,
            scope=f"{cp_name} · {c.message_type}",
            status=status,
            since=c.ended_at if c.ended_at and status != "granted" else c.granted_at,
            until=c.valid_until,
            rules_version=None,
            evidence=Evidence(
                channel=str(ev.get("channel") or c.channel),
                at=at,
                client_ip=None,
                terminal=ev.get("terminal"),
                text_shown=str(ev.get("request_text") or ev.get("text_shown") or ""),
                text_version=f"sms-request:{c.request_id}" if c.request_id else None,
                source=ev.get("source"),
            ),
            detail={
                "content_provider": cp_code,
                "message_type": c.message_type,
                "max_messages": c.max_messages,
                "period_unit": c.period_unit,
                "channel": c.channel,
                "end_reason": c.end_reason,
                "obligations": ["O31-18.1", "O31-18.2"],
            },
        )

    @carries("O31-20", "O31-18.1", "NPC-8")
    def withdraw(
        self, session: Session, subject_hash: str, ref: str, evidence: Evidence, now: datetime
    ) -> list[LedgerEntry]:
        from sqlalchemy import select

        from piguard.core.errors import not_found

        models = import_if_present("piguard.messaging.models")
        if models is None:
            raise not_found("Consent", "同意记录", ref)
        from piguard.messaging import service as messaging

        try:
            consent_id = int(ref.partition(":")[2])
        except ValueError:
            raise not_found("Consent", "同意记录", ref[:40]) from None
        c = session.scalar(
            select(models.Consent).where(
                models.Consent.id == consent_id, models.Consent.recipient_hash == subject_hash
            )
        )
        if c is None:
            raise not_found("Consent", "同意记录", ref[:40])
        if c.status == "active":
            # the gateway's own opt-out: the consent ends at once, its events are marked ended
            messaging.end_consents(
                session,
                recipient_hash=subject_hash,
                content_provider_id=c.content_provider_id,
                reason="withdrawn",
                now=now,
                message_type=c.message_type,
            )
            messaging.subscription_event(
                session,
                at=now,
                recipient_hash=subject_hash,
                recipient_masked=c.recipient_masked,
                channel=c.channel,
                content_provider_id=c.content_provider_id,
                message_type=c.message_type,
                event="unsubscribed",
                source="api",
                consent_id=c.id,
                ended=True,
            )
            session.expire(c)
        cp_code = session.scalar(
            select(models.ContentProvider.code).where(models.ContentProvider.id == c.content_provider_id)
        )
        cp_name = session.scalar(
            select(models.ContentProvider.name).where(models.ContentProvider.id == c.content_provider_id)
        )
        return [self._entry(session.get(models.Consent, c.id), cp_code or "", cp_name or "")]


#: Ledgers besides the purpose ledger, listed and withdrawn through :mod:`piguard.consent.service`.
LEDGERS: dict[str, SpecialisedLedger] = {"sms": SmsLedger()}


def register_ledger(ledger: SpecialisedLedger) -> None:
    LEDGERS[ledger.name] = ledger
