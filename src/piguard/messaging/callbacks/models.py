"""Callback endpoints of content providers and the events owed to them.

A reply's payload holds the user's number and words: it is stored AES-GCM encrypted
(``payload_enc``), as the records keep them; a delivery report's payload names only piguard's and
the content provider's references.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.crypto import register_encrypted_column
from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.messaging.models import BigId

EVENT_KINDS = ("receipt", "reply")
EVENT_STATUSES = ("pending", "sending", "delivered", "failed", "poll")


class CallbackEndpoint(Base):
    """One per content provider: where its receipts and replies are pushed (``url``; none: they are
    only kept to poll), the HMAC secret that signs each push (encrypted), which kinds it wants."""

    __tablename__ = "msg_callback_endpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), unique=True)
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    receipts: Mapped[bool] = mapped_column(Boolean, default=True)
    replies: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallbackEvent(Base):
    """A delivery report or reply owed to a content provider; its id is the polling cursor."""

    __tablename__ = "msg_callback_events"
    __table_args__ = (
        Index("ix_msg_callback_events_cp", "content_provider_id", "kind", "id"),
        Index("ix_msg_callback_events_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    message_ref: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, no PI
    payload_enc: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, encrypted
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# rotated with the field keys (``piguard keys rotate``) like every other encrypted column
register_encrypted_column("msg_callback_endpoints", "secret_enc", category="account")
register_encrypted_column("msg_callback_events", "payload_enc", category="message_content")
