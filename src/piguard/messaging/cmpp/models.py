"""CMPP tables: content providers' CMPP logins (Source_Addr / SP_Id and the shared secret).

The CMPP authenticator is an MD5 over the shared secret, so the ISMG needs the secret itself, not a
one-way hash as for SMPP passwords: it is stored encrypted (``EncryptedText``, key rotation finds it).
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.crypto import register_encrypted_column
from piguard.core.db import Base
from piguard.messaging.ismg.models import LoginColumns, ReportColumns
from piguard.messaging.models import BigId


class CmppAccount(LoginColumns, Base):
    """A content provider's CMPP login: ``source_addr`` (the 6-digit SP enterprise code) and the
    shared secret, bound to one registered content provider (the columns SMGP and SGIP logins have
    too: ``ismg.models.LoginColumns``)."""

    __tablename__ = "msg_cmpp_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_addr: Mapped[str] = mapped_column(String(6), unique=True)


class CmppMessage(ReportColumns, Base):
    """A message an SP submitted with Registered_Delivery 1 and piguard allowed: the Msg_Ids it was
    given (one per part; 16 hex digits, a 64-bit unsigned is beyond a signed BIGINT) and whether its
    status report has been acknowledged by the SP."""

    __tablename__ = "msg_cmpp_messages"
    __table_args__ = (Index("ix_msg_cmpp_messages_pending", "receipt_sent", "source_addr"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_ref: Mapped[str] = mapped_column(String(32), unique=True)
    source_addr: Mapped[str] = mapped_column(String(6))


register_encrypted_column("msg_cmpp_messages", "dest_enc", category="phone_mobile")
