"""Tables of the SMGP and SGIP servers: one accounts table and one status-report table for both,
told apart by ``protocol`` ("smgp", "sgip"). CMPP's tables (``msg_cmpp_*``) have the same columns
(:class:`LoginColumns`) under their own names, from before this base.

The login secret is needed in clear to check an MD5 authenticator (SMGP) or compared as sent
(SGIP's Login_Password), so it is stored encrypted (``EncryptedText``), not hashed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.crypto import EncryptedText, register_encrypted_column
from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.messaging.models import BigId

PROTOCOLS = ("smgp", "sgip")


class LoginColumns:
    """What every content-provider login of these protocols has besides its name."""

    secret: Mapped[str] = mapped_column(EncryptedText("account"))
    content_provider_id: Mapped[int] = mapped_column(ForeignKey("msg_content_providers.id"), index=True)
    #: consent type of commercial messages (these protocols carry none)
    default_message_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: submits per second (0: unlimited) and unanswered at once; beyond: flow control
    max_rate: Mapped[int] = mapped_column(Integer, default=0)
    window: Mapped[int] = mapped_column(Integer, default=16)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IsmgAccount(LoginColumns, Base):
    """A content provider's SMGP login (ClientID, shared secret) or SGIP login (Login_Name,
    Login_Password), bound to one registered content provider."""

    __tablename__ = "msg_ismg_accounts"
    __table_args__ = (UniqueConstraint("protocol", "login", name="uq_msg_ismg_accounts_protocol_login"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    protocol: Mapped[str] = mapped_column(String(8))
    login: Mapped[str] = mapped_column(String(16))
    #: SGIP: "host:port" of the content provider's own SGIP server, where the SMG binds (Login Type 2)
    #: to send Report and Deliver (spec 3.2); None: they go on the content provider's connection
    callback: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ReportColumns:
    """A message kept for its status report: the ids its content provider was given (one per part,
    hex), the port it came from, the recipient (encrypted), whether the report was acknowledged."""

    msg_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    src_id: Mapped[str] = mapped_column(String(21))
    dest_enc: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    receipt_sent: Mapped[bool] = mapped_column(Boolean, default=False)


class IsmgMessage(ReportColumns, Base):
    """A message an SMGP/SGIP content provider submitted asking for a status report, and piguard
    allowed."""

    __tablename__ = "msg_ismg_messages"
    __table_args__ = (
        UniqueConstraint("protocol", "record_ref", name="uq_msg_ismg_messages_protocol_record"),
        Index("ix_msg_ismg_messages_pending", "protocol", "receipt_sent", "login"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    protocol: Mapped[str] = mapped_column(String(8))
    record_ref: Mapped[str] = mapped_column(String(32))
    login: Mapped[str] = mapped_column(String(16))
    #: report only a failed delivery (SGIP ReportFlag 0); a delivered one is marked sent unreported
    failures_only: Mapped[bool] = mapped_column(Boolean, default=False)


register_encrypted_column("msg_ismg_messages", "dest_enc", category="phone_mobile")
