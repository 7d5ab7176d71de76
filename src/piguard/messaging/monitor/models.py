"""Early-warning tables (O31-22, O31-23): alerts raised by the monitor and the complaints it counts.

Neither table holds an address in clear: a complaint keeps the complainant's keyed hash and masked
form only (as consents do); an alert holds counts, rates and reason codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow

ALERT_KINDS = ("volume", "refusal_rate", "opt_out_rate", "complaint_rate", "similar_burst")
ALERT_STATES = ("open", "acknowledged", "closed")
COMPLAINT_SOURCES = ("user", "12321", "regulator", "operator", "other")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class MonitorAlert(Base):
    """One early-warning alert about one content provider (O31-22): what was measured over which
    window, the threshold it reached, the reasons (with obligation ids) and its life cycle
    open -> acknowledged -> closed. At most one alert per (content provider, kind) is not closed:
    a later evaluation that still finds the condition refreshes it (``last_seen_at``, ``value``)."""

    __tablename__ = "msg_alerts"
    __table_args__ = (
        Index("ix_msg_alerts_state", "state", "raised_at"),
        Index("ix_msg_alerts_cp_kind", "content_provider_id", "kind", "state"),
        CheckConstraint(_in("kind", ALERT_KINDS), name="kind"),
        CheckConstraint(_in("state", ALERT_STATES), name="state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_provider_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(14), default="open")
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The measured value (a count for volume and bursts, a fraction 0..1 for rates).
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    #: Events counted (refusals, opt-outs, complaints, burst recipients) and the denominator.
    count: Mapped[int] = mapped_column(Integer, default=0)
    volume: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: True when this alert switched the content provider's suspension on (O31-23).
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)


class MonitorComplaint(Base):
    """A complaint about a content provider's messages (from the user, the 12321 reporting centre,
    a regulator...), counted by the complaint-rate alert. Complaint cases proper (handling, reply
    deadlines) belong to the cases domain; this row is what the monitor needs."""

    __tablename__ = "msg_complaints"
    __table_args__ = (
        Index("ix_msg_complaints_cp_time", "content_provider_id", "at"),
        CheckConstraint(_in("source", COMPLAINT_SOURCES), name="source"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_provider_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    source: Mapped[str] = mapped_column(String(12), default="user")
    recipient_hash: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recipient_masked: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Free text, PI-redacted before it is stored.
    summary: Mapped[str] = mapped_column(String(1000), default="")
    external_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
