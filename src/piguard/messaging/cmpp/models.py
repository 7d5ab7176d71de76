"""CMPP tables: content providers' CMPP logins (Source_Addr / SP_Id and the shared secret).

The CMPP authenticator is an MD5 over the shared secret, so the ISMG needs the secret itself, not a
one-way hash as for SMPP passwords: it is stored encrypted (``EncryptedText``, key rotation finds it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.crypto import EncryptedText
from piguard.core.db import Base, UTCDateTime, utcnow


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
