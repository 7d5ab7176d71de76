"""Ported numbers (携号转网): a number that left its segment's carrier, by keyed hash only."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow


class PortedNumber(Base):
    """The carrier a ported number is served by now. The number itself is never stored: its keyed
    hash is the same as the records' and the outbox's (``crypto.address_hash``)."""

    __tablename__ = "msg_ported_numbers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    carrier: Mapped[str] = mapped_column(String(24))
    ported_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
