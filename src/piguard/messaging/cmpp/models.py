"""CMPP tables: content providers' CMPP logins (Source_Addr / SP_Id and the shared secret).

The CMPP authenticator is an MD5 over the shared secret, so the ISMG needs the secret itself, not a
one-way hash as for SMPP passwords: it is stored encrypted (``EncryptedText``, key rotation finds it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.crypto import EncryptedText, register_encrypted_column
from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.messaging.models import BigId


class CmppAccount(Base):
    """A content provider's CMPP login: ``source_addr`` (the 6-digit SP enterprise code) and the
    shared secret, bound to one registered content provider."""

    __tablename__ = "msg_cmpp_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_addr: Mapped[str] = mapped_column(String(6), unique=True)
    secret: Mapped[str] = mapped_column(EncryptedText("account"))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), index=True)
    #: consent type of commercial messages (CMPP carries none)
    default_message_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: CMPP_SUBMIT per second (0: unlimited) and unanswered at once; beyond: Result 8 (flow control)
    max_rate: Mapped[int] = mapped_column(Integer, default=0)
    window: Mapped[int] = mapped_column(Integer, default=16)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CmppMessage(Base):
    """A message an SP submitted with Registered_Delivery 1 and piguard allowed: the Msg_Ids it was
    given (one per part) and whether its status report has been acknowledged by the SP."""

    __tablename__ = "msg_cmpp_messages"
    __table_args__ = (Index("ix_msg_cmpp_messages_pending", "receipt_sent", "source_addr"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_ref: Mapped[str] = mapped_column(String(32), unique=True)
    source_addr: Mapped[str] = mapped_column(String(6))
    #: Msg_Ids as 16 hex digits (64-bit unsigned: beyond a signed BIGINT)
    msg_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    src_id: Mapped[str] = mapped_column(String(21))
    dest_enc: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    receipt_sent: Mapped[bool] = mapped_column(Boolean, default=False)


register_encrypted_column("msg_cmpp_messages", "dest_enc", category="phone_mobile")
