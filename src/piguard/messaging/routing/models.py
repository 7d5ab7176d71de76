"""Ported numbers (携号转网): a number that left its segment's carrier, by keyed hash only."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Integer, String
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


class LinkStatus(Base):
    """What the process running a link last said of it (``piguard sms smpp-serve``): bound or not
    since when, messages sent and the rate over the last report; ``updated_at`` older than a minute
    means no process reports it any more."""

    __tablename__ = "msg_link_status"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    carriers: Mapped[list[str]] = mapped_column(JSON, default=list)
    protocol: Mapped[str] = mapped_column(String(8), default="smpp")
    address: Mapped[str] = mapped_column(String(300), default="")
    bound: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_total: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_per_s: Mapped[float] = mapped_column(Float, default=0.0)
    #: what the link's process runs it with (the links file's ``window`` and ``max_rate``, or the
    #: single upstream's settings): submits outstanding at once, submits a second at most (0: no
    #: limit); None in rows reported before these were kept
    window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
