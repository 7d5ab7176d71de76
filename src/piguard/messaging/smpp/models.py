"""SMPP tables: ESME accounts (system_id/password of a content provider), the SMPP side of each
message (the ids the ESME was given, the receipt it asked for) and the SMS centre's part ids.

The recipient's number appears only AES-GCM encrypted (``crypto.encrypt``), as in the records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.crypto import register_encrypted_column
from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.messaging.models import BigId

BIND_TYPES = ("tx", "rx", "trx")


class SmppAccount(Base):
    """An ESME login: ``system_id`` + password (argon2id) bound to one registered content provider."""

    __tablename__ = "msg_smpp_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[str] = mapped_column(String(15), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), index=True)
    #: bind types allowed ("tx", "rx", "trx")
    bind_types: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(BIND_TYPES))
    #: consent type used for commercial messages when the submit_sm carries no piguard TLV 0x1401
    default_message_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: submit_sm per second (0: unlimited) and unanswered submit_sm at once; beyond: ESME_RTHROTTLED
    max_rate: Mapped[int] = mapped_column(Integer, default=0)
    window: Mapped[int] = mapped_column(Integer, default=20)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmppMessage(Base):
    """A message an ESME submitted and piguard allowed: the ids the ESME got (one per submit_sm
    part), whether it asked for a receipt, and the receipt's state once sent to it."""

    __tablename__ = "msg_smpp_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_ref: Mapped[str] = mapped_column(String(32), unique=True)
    system_id: Mapped[str] = mapped_column(String(15), index=True)
    esme_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    registered_delivery: Mapped[int] = mapped_column(Integer, default=0)
    source_addr: Mapped[str] = mapped_column(String(21))
    dest_enc: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    final_state: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: the SMS centre's error code of a failed delivery ("" when it gave none), passed on in the receipt
    final_error: Mapped[str] = mapped_column(String(3), default="", server_default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: True once the ESME has acknowledged its receipt(s)
    receipt_sent: Mapped[bool] = mapped_column(Boolean, default=False)


class SmppUpstreamPart(Base):
    """One submit_sm piguard sent to the SMS centre: its message id there, and its state.

    An SMS centre's ids are unique only for a while on one link (a centre that restarts its counter
    hands the same ids out again), so they are not unique here: a receipt is matched by ``link`` and
    ``smsc_id`` among the parts sent within the receipt window, the newest first."""

    __tablename__ = "msg_smpp_upstream_parts"
    __table_args__ = (Index("ix_msg_smpp_upstream_parts_link_smsc_id", "link", "smsc_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: the upstream link the part went out on (``system_id@host:port``)
    link: Mapped[str] = mapped_column(String(64), default="", server_default="")
    smsc_id: Mapped[str] = mapped_column(String(65))
    record_ref: Mapped[str] = mapped_column(String(32), index=True)
    part: Mapped[int] = mapped_column(Integer, default=1)
    total: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(8), default="ENROUTE")
    #: the error code of the part's receipt (``err:``), "" when none
    error: Mapped[str] = mapped_column(String(3), default="", server_default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


register_encrypted_column("msg_smpp_messages", "dest_enc", category="phone_mobile")
