"""The case tables: one model for complaints, end users' requests and incidents.

* ``cases``: what was received, from whom (keyed hash and masked form only, as the consent ledger
  keeps people), when, its clock (due date from the dated parameter on the official calendar, and
  whether that date is an estimate), status, owner and the obligation ids the case answers to.
* ``case_events``: the timeline, append-only: opened, assigned, note, status, evidence, reply,
  reminder, escalation, and what other domains did for the case (a stop through the gateway, a step
  in a connected system). Each event carries its reasons with obligation ids.

Requests (``rights/``) and incidents keep their own detail tables keyed by ``cases.id``; the clock,
status and timeline live here, once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

#: Complaints (O24-12; O31-27), the reporting centre's transfers (O31-25, O31-27), end users'
#: requests (O24-9.2, CSL-43, NPC-8, O24-9.4), incidents (O24-14) and reports (CSL-47).
COMPLAINT_KINDS = ("pi_complaint", "sms_complaint", "sms_report_transfer")
REQUEST_KINDS = ("access", "correction", "deletion", "cancellation")
INCIDENT_KINDS = ("incident",)
#: Reports the operator drafts of its own motion: what the gateway stopped as prohibited content in
#: a period, to the competent authority (CSL-47, O31-16; ``cases.content_reports``).
REPORT_KINDS = ("content_report",)
KINDS = COMPLAINT_KINDS + REQUEST_KINDS + INCIDENT_KINDS + REPORT_KINDS

#: open -> in_progress -> (waiting <-> in_progress) -> answered -> closed; rejected ends a case that
#: is not one (a duplicate, out of scope), with its reasons.
STATUSES = ("open", "in_progress", "waiting", "answered", "closed", "rejected")
OPEN_STATUSES = ("open", "in_progress", "waiting")
DONE_STATUSES = ("answered", "closed", "rejected")

#: How the case reached the operator.
SOURCES = (
    "portal",
    "staff",
    "phone",
    "counter",
    "email",
    "letter",
    "reporting_centre",
    "regulator",
    "api",
    "system",
)

EVENT_KINDS = (
    "opened",
    "assigned",
    "note",
    "status",
    "evidence",
    "reply",
    "reminder",
    "escalation",
    "stop",
    "report",
    "step",
    "notice",
    "due_changed",
)


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", "status", "due_date"),
        Index("ix_cases_kind", "kind", "status"),
        Index("ix_cases_subject", "subject_hash"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("source", SOURCES), name="source"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: What the case is called outside the database (base32, never mistaken for PI).
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default="open")
    source: Mapped[str] = mapped_column(String(20), default="staff")
    #: pi (personal information, O24-12) or sms (short messages, O31-27); set for complaints.
    classification: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: When the operator received it (for a reporting-centre transfer: when the centre received the
    #: report; the operator's receipt is ``transferred_at``).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: True when the reporting centre transferred later than its own period (O31-27 para. 2).
    transfer_late: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Last day of the statutory period (Asia/Shanghai); the period ends at 24:00 that day.
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: True when the due date was counted past the official holiday data (weekends only).
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The dated parameter the clock comes from, e.g. ``sms_complaint.feedback_working_days``.
    due_basis: Mapped[str | None] = mapped_column(String(80), nullable=True)
    obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject_hash: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject_masked: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    content_provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    #: What the complainant or requester wrote; shown to staff handling the case, never logged.
    text: Mapped[str] = mapped_column(Text, default="")
    reply_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseEvent(Base):
    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case", "case_id", "id"),
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    #: ``staff:12``, ``end_user:<hash>``, ``system:worker.cases``.
    actor: Mapped[str] = mapped_column(String(160))
    summary: Mapped[str] = mapped_column(String(500), default="")
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
