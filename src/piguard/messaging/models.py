"""Gateway tables (MIIT Order 31; channel-neutral for commercial e-mail, NPC-7).

Addresses of end users appear in clear nowhere: consents, requests and suppression fingerprints hold a
keyed hash and a masked form; only the message records (O31-11) keep the numbers, AES-GCM encrypted.
Table names start with ``msg_`` (channel-neutral). Big tables (records, outbox, subscription events)
use a 64-bit id (an INTEGER rowid on SQLite).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Connection,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import DDLCompiler

from piguard.core.crypto import register_encrypted_column
from piguard.core.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

PORT_TYPES = ("business_service", "commercial", "public_welfare")
CHANNELS = ("sms", "email")
VERIFICATION = ("pending", "verified", "rejected")
CONSENT_STATUS = ("active", "ended")
REQUEST_STATUS = ("pending", "granted", "refused", "expired", "blocked")
PERIOD_UNITS = ("day", "week", "month")
DIRECTIONS = ("out", "in")
RECORD_STATUS = ("queued", "sent", "delivered", "failed", "refused", "held", "checked", "received")
#: the review workflow of signatures and templates (O31-21, O31-12): submitted -> approved / rejected
REVIEW_STATUS = ("submitted", "approved", "rejected")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class RegistryState(Base):
    """One row: bumped on every registry change so gateway processes reload their snapshot."""

    __tablename__ = "msg_registry_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceProvider(Base):
    """An SMS (or e-mail) service provider (O31-6 licence, O31-7 name, access codes, location)."""

    __tablename__ = "msg_service_providers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    licence_number: Mapped[str] = mapped_column(String(64), unique=True)
    access_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    access_location: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentProvider(Base):
    """A content provider sending through a service provider, with verified real identity (O31-12).

    The identity number is kept as a keyed hash, a masked form and an AES-GCM ciphertext.
    """

    __tablename__ = "msg_content_providers"
    __table_args__ = (CheckConstraint(_in("verification_status", VERIFICATION), name="verification"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    service_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_service_providers.id"))
    identity_type: Mapped[str] = mapped_column(String(32))
    identity_masked: Mapped[str] = mapped_column(String(64))
    identity_hash: Mapped[str] = mapped_column(String(32), index=True)
    identity_enc: Mapped[str] = mapped_column(Text)
    verification_status: Mapped[str] = mapped_column(String(16), default="pending")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    suspended_obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the authorisation of a lottery issuing body (福彩/体彩中心) to publish lottery results, when the
    #: operator has seen it: the registry then vouches for the provider as a licensed lottery
    #: content provider (content review clearance ``licensed_lottery``; O31-16)
    lottery_licence: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)


class Signature(Base):
    """A 【signature】 (without brackets) of one content provider (O31-21, O31-12).

    It is submitted, then approved or rejected by a reviewer with the evidence looked at (trademark,
    company name, app registration …); only an approved signature passes the gateway (``approved``
    is what the snapshot reads and is true exactly when ``status`` is ``approved``). ``claim`` is the
    signature in the content review's normalised form while it is submitted or approved, and
    ``NULL`` once rejected: unique, so a signature belongs to one content provider at a time."""

    __tablename__ = "msg_signatures"
    __table_args__ = (
        UniqueConstraint("content_provider_id", "text"),
        CheckConstraint(_in("status", REVIEW_STATUS), name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), index=True)
    text: Mapped[str] = mapped_column(String(64))
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="submitted", server_default="submitted")
    evidence: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Port(Base):
    """A port / sender code (or sender e-mail address) with approved type and scope (O31-10, O31-13,
    O31-19). ``extension_from``..``extension_to`` (digit strings of one length) are the extensions a
    content provider may append; none: the bare code only."""

    __tablename__ = "msg_ports"
    __table_args__ = (
        UniqueConstraint("channel", "code", "extension_from"),
        CheckConstraint(_in("port_type", PORT_TYPES), name="port_type"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    code: Mapped[str] = mapped_column(String(254))
    port_type: Mapped[str] = mapped_column(String(20))
    approved_scope: Mapped[str] = mapped_column(String(500), default="")
    service_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_service_providers.id"))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), index=True)
    extension_from: Mapped[str | None] = mapped_column(String(12), nullable=True)
    extension_to: Mapped[str | None] = mapped_column(String(12), nullable=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    suspended_obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Template(Base):
    """A message template of one content provider with its declared kind, reviewed like a signature
    (submitted -> approved / rejected, reviewer and evidence). ``{name}`` in ``text`` is a
    placeholder (see ``messaging.registry.service.template_pattern``); a message sent with an approved
    template's id keeps the template's kind only while its text matches the template."""

    __tablename__ = "msg_templates"
    __table_args__ = (CheckConstraint(_in("status", REVIEW_STATUS), name="status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="submitted", server_default="submitted")
    evidence: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChargedService(Base):
    """A charged subscription service (O31-9): content, tariff, charging method, how to unsubscribe."""

    __tablename__ = "msg_charged_services"
    __table_args__ = (UniqueConstraint("content_provider_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    service_content: Mapped[str] = mapped_column(String(500), default="")
    tariff: Mapped[str] = mapped_column(String(200), default="")
    charging_method: Mapped[str] = mapped_column(String(200), default="")
    unsubscribe_method: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suspension(Base):
    """History of suspension switches (O31-23, O24-14.2, O31-28); the live switch is on the row."""

    __tablename__ = "msg_suspensions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(500))
    obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Campaign(Base):
    """A public-welfare campaign (O31-17): details given ``notified_on``; sent from ``send_on``."""

    __tablename__ = "msg_campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(500))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"))
    notified_on: Mapped[str] = mapped_column(String(10))  # ISO date (China)
    send_on: Mapped[str] = mapped_column(String(10))
    #: last day (China) messages of the campaign may be sent; none: open-ended
    ends_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_due: Mapped[str] = mapped_column(String(10))
    #: ``notice_due`` was counted without that year's official holidays (only weekends)
    notice_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    """Consent to receive commercial messages of one type from one content provider (O31-18.1,
    O31-18.2, NPC-7), with its frequency (``max_messages`` per ``period_unit``) and period
    (``valid_until``). The window counters are updated in the transaction that records a message,
    guarded by the consent still being active (an opt-out committed first wins). A consent is
    written with the window it was granted in and a count of 0 (nothing sent yet: the same
    decisions as no window), so its row has its full size from the start: the first message's
    counter update rewrites it in place instead of growing it (on SQLite a row that grows in a
    full page splits the page and its neighbours: ~2.8 pages written instead of 1)."""

    __tablename__ = "msg_consents"
    __table_args__ = (
        Index("ix_msg_consents_lookup", "recipient_hash", "content_provider_id", "status"),
        CheckConstraint(_in("status", CONSENT_STATUS), name="status"),
        CheckConstraint(_in("period_unit", PERIOD_UNITS), name="period_unit"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_hash: Mapped[str] = mapped_column(String(32))
    recipient_masked: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"))
    message_type: Mapped[str] = mapped_column(String(64))
    max_messages: Mapped[int] = mapped_column(Integer)
    period_unit: Mapped[str] = mapped_column(String(8))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), default="active")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("msg_consent_requests.id"), nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window_count: Mapped[int] = mapped_column(Integer, default=0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConsentRequest(Base):
    """A request to receive commercial messages (O31-18.2) stating type, frequency and period (and a
    charged service's terms, O31-9). No reply by ``reply_deadline`` is a refusal."""

    __tablename__ = "msg_consent_requests"
    __table_args__ = (
        Index("ix_msg_consent_requests_pending", "recipient_hash", "content_provider_id", "status"),
        CheckConstraint(_in("status", REQUEST_STATUS), name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_hash: Mapped[str] = mapped_column(String(32))
    recipient_masked: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"))
    port_id: Mapped[int] = mapped_column(ForeignKey("msg_ports.id"))
    sender: Mapped[str] = mapped_column(String(254))
    message_type: Mapped[str] = mapped_column(String(64))
    max_messages: Mapped[int] = mapped_column(Integer)
    period_unit: Mapped[str] = mapped_column(String(8))
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    charged_service_id: Mapped[int | None] = mapped_column(
        ForeignKey("msg_charged_services.id"), nullable=True
    )
    request_text: Mapped[str] = mapped_column(Text)
    pitch: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply_deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    reply_text: Mapped[str | None] = mapped_column(Text, nullable=True)  # PI-redacted
    reply_intent: Mapped[str | None] = mapped_column(String(20), nullable=True)
    message_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Suppression(Base):
    """Content a recipient refused or did not answer (O31-18.2): its SimHash; the same or similar
    content from that content provider is not sent to them again."""

    __tablename__ = "msg_suppressions"
    __table_args__ = (Index("ix_msg_suppressions_lookup", "recipient_hash", "content_provider_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_hash: Mapped[str] = mapped_column(String(32))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"))
    fingerprint: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))  # refused | no_reply | opt_out
    request_id: Mapped[int | None] = mapped_column(ForeignKey("msg_consent_requests.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageRecord(Base):
    """Every message decided or received (O31-11): times, numbers/codes, content of port messages,
    the decision and its reasons. ``recipient_enc``/``sender`` hold the numbers (the end user's
    encrypted); ``ref`` is the id callers and delivery reports use.

    On PostgreSQL the table is partitioned by month on ``at`` (``piguard.messaging.records.partitions``) so
    retention drops whole months. PostgreSQL wants every unique key of a partitioned table to include
    the partition key: the primary key is ``(id, at)`` there (see :func:`_pk_with_partition_key`;
    ``id`` alone stays unique, drawn from one sequence, and is the ORM identity), and ``ref`` (a random
    uuid4 from ``records.new_ref``) has a plain index instead of a unique one. No foreign key points
    at this table; rows are found by ``ref`` or by time."""

    __tablename__ = "msg_records"
    __table_args__ = (
        Index("ix_msg_records_cp_time", "content_provider_id", "at"),
        Index("ix_msg_records_recipient", "recipient_hash", "at"),
        Index("ix_msg_records_ref", "ref"),
        # partial: only records submitted with a client_ref are looked up by it (idempotency), so
        # the rows without one (most) do not pay an index entry
        Index(
            "ix_msg_records_client_ref",
            "client_ref",
            "at",
            sqlite_where=text("client_ref IS NOT NULL"),
            postgresql_where=text("client_ref IS NOT NULL"),
        ),
        CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        {"postgresql_partition_by": "RANGE (at)"},
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    direction: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(8))
    sender: Mapped[str] = mapped_column(
        String(254)
    )  # port code (+extension), or the user's masked address inbound
    recipient_hash: Mapped[str] = mapped_column(String(32))
    recipient_masked: Mapped[str] = mapped_column(String(64))
    recipient_enc: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    content_enc: Mapped[str | None] = mapped_column(Text, nullable=True)  # only when content held PI
    kind: Mapped[str | None] = mapped_column(String(24), nullable=True)
    message_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(8))  # allow | refuse | hold | received
    reason_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: each reason with its own obligation ids, ``[{"code", "obligations"}]`` in decision order
    #: (rows written before this column have ``[]``: see ``messaging.reasons.record_reasons``)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    #: the public-welfare campaign a message was sent under (re-deciding a held message needs it)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    client_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    batch_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(20), nullable=True)  # inbound replies


_PARTITION_BY = re.compile(r"^\s*(?:RANGE|LIST|HASH)\s*\((.*)\)\s*$", re.IGNORECASE)


@compiles(PrimaryKeyConstraint, "postgresql")
def _pk_with_partition_key(element: PrimaryKeyConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    """On PostgreSQL, the primary key of a table declared with ``postgresql_partition_by`` also
    covers the partition key columns (PostgreSQL requires it). Applies to ``create_all`` and to
    Alembic's ``op.create_table(..., postgresql_partition_by=...)`` alike (the models are imported
    by the migration environment)."""
    table = element.table
    spec = table.dialect_options["postgresql"].get("partition_by") if isinstance(table, Table) else None
    m = _PARTITION_BY.match(spec or "")
    extra = [c.strip().strip('"') for c in m.group(1).split(",")] if m else []
    have = [c.name for c in element.columns]
    missing = [c for c in extra if re.fullmatch(r"\w+", c) and c not in have]  # columns, not expressions
    if not missing:
        return compiler.visit_primary_key_constraint(element, **kw)
    cols = ", ".join(compiler.preparer.quote(c) for c in have + missing)
    return (
        compiler.define_constraint_preamble(element, **kw)
        + f"PRIMARY KEY ({cols})"
        + compiler.define_constraint_deferrability(element)
    )


@event.listens_for(MessageRecord.__table__, "after_create")
def _create_partitions(target: Table, connection: Connection, **kw: Any) -> None:
    """``create_all`` on PostgreSQL: the DEFAULT partition and the months around now, so rows never
    fail for want of a partition. (A migration calls ``piguard.migrations.pg_partitions``.)"""
    if connection.dialect.name != "postgresql":
        return
    from piguard.messaging.records import partitions

    partitions.maintain(connection, now=utcnow())


class SubscriptionEvent(Base):
    """A change of a user's subscription status (O31-11): kept until ``retention`` months after the
    service relationship ends (the consent's end), never less than ``retention`` months."""

    __tablename__ = "msg_subscription_events"
    __table_args__ = (Index("ix_msg_subscription_events_who", "recipient_hash", "content_provider_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recipient_hash: Mapped[str] = mapped_column(String(32))
    recipient_masked: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    content_provider_id: Mapped[int] = mapped_column(Integer)
    message_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    event: Mapped[str] = mapped_column(String(20))  # subscribed | unsubscribed | refused | expired
    source: Mapped[str] = mapped_column(String(20))  # reply | api | expiry
    consent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the service relationship this status belongs to ended (None while it lasts).
    relationship_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutboxMessage(Base):
    """Allowed messages waiting for (or handed to) a transport: queued -> sending -> sent ->
    delivered/failed, never backwards. ``priority`` 0 is the emergency lane (O31-17), drained first
    and never throttled. A dispatcher claims rows (``sending``, its ``claim`` token, ``lease_until``)
    and commits the claim before the transport is called; a claim whose lease ran out (the dispatcher
    died) is taken again by the next dispatcher. A transient refusal puts a row back to ``queued``
    with ``next_attempt_at`` (back-off), until the message's validity ends."""

    __tablename__ = "msg_outbox"
    __table_args__ = (Index("ix_msg_outbox_queue", "status", "priority", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_ref: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    sender: Mapped[str] = mapped_column(String(254))
    recipient_enc: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    transport_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: a transient refusal (throttling, timeout, lost link): queued again, not claimed before this
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the carrier whose link carries it (``messaging.routing``: ported table, else segment); None:
    #: no carrier (e-mail, a number abroad or in no known segment), taken by a link for ``other``
    route: Mapped[str | None] = mapped_column(String(24), nullable=True)
    #: why the last attempt did not go (an SMPP status such as 0x00000058, "timeout", "link_lost",
    #: "expired"); no personal information
    last_error: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# What `piguard keys rotate` re-encrypts (core.crypto): every ciphertext column of the gateway.
register_encrypted_column("msg_content_providers", "identity_enc", category="id_card")
register_encrypted_column("msg_records", "recipient_enc", category="phone_mobile")
register_encrypted_column("msg_records", "content_enc", category="message_content")
register_encrypted_column("msg_outbox", "recipient_enc", category="phone_mobile")
