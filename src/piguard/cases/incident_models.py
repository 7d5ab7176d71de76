"""Incident detail (O24-14, CSL-42.2, NPC-4): what an incident case holds beyond the case itself.

An incident IS a case (``cases.kind = 'incident'``): its status, owner and timeline live in
``cases`` / ``case_events``. These tables hold what only an incident has, keyed by ``cases.id``:

* ``incidents``: kind (leak, damage, loss or the risk of one), when it happened, was discovered and
  was contained, the systems and categories affected (inventory ids and discovery codes), the
  number of people affected, the severity the dated parameters decided, and the report to the
  telecom authority as generated (zh and en);
* ``incident_people``: who was affected, as a keyed hash and a masked form only (never the number);
* ``incident_scans``: discovery scans of what leaked: categories and counts, never the values found;
* ``incident_actions``: remedial actions with their owner, done or not;
* ``incident_notices``: each notice sent to an affected person through the gateway, with its result;
* ``incident_orders``: suspensions the authority ordered (O24-14.2), what they switched, and when
  they were lifted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow

#: leak (泄露), damage (毁损), loss (丢失), or the risk that one occurs (可能发生).
INCIDENT_KINDS = ("leak", "damage", "loss", "risk")
SEVERITIES = ("serious", "not_serious")
ORDER_STATUSES = ("active", "lifted")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_in("kind", INCIDENT_KINDS), name="kind"),
        CheckConstraint(f"severity IS NULL OR {_in('severity', SEVERITIES)}", name="severity"),
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    contained_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: inventory system ids (``inv_systems.id``) and discovery category codes
    systems: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the operator's count (or estimate) of people affected; the people recorded by hash may be fewer
    people_declared: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the telecom authority the report goes to (the one that granted the licence, O24-14.1)
    authority: Mapped[str] = mapped_column(String(200), default="")
    #: who the authority contacts at the operator: {"name", "phone", "email"} (staff, not users)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    severity: Mapped[str | None] = mapped_column(String(12), nullable=True)
    #: the assessment: people counted, sensitive categories, parameters and their values, reasons
    severity_basis: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the operator judged it serious beyond the thresholds ("may cause serious consequences")
    severity_raised: Mapped[bool] = mapped_column(Boolean, default=False)
    assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    report_zh: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: when the operator sent the report to the authority (recorded by the operator)
    report_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentPerson(Base):
    __tablename__ = "incident_people"
    __table_args__ = (UniqueConstraint("case_id", "subject_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    subject_hash: Mapped[str] = mapped_column(String(32))
    subject_masked: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentScan(Base):
    __tablename__ = "incident_scans"
    __table_args__ = (Index("ix_incident_scans_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: ``file`` or ``text``; the file's base name only (its content is never kept)
    source_kind: Mapped[str] = mapped_column(String(8))
    source_name: Mapped[str] = mapped_column(String(200), default="")
    #: SHA-256 of the bytes scanned: shows later which copy was scanned without keeping it
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    #: category code -> how many were found (values are never stored)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(160))


class IncidentAction(Base):
    __tablename__ = "incident_actions"
    __table_args__ = (Index("ix_incident_actions_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(128))
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(160))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(160), nullable=True)
    #: doing it contained the incident (``incidents.contained_at`` was set from it)
    contains: Mapped[bool] = mapped_column(Boolean, default=False)


class IncidentNotice(Base):
    __tablename__ = "incident_notices"
    __table_args__ = (Index("ix_incident_notices_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("incident_people.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(8))
    sender: Mapped[str] = mapped_column(String(40))
    #: the gateway's message reference, its outcome (allow/refuse/hold) and status, or an input error
    message_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str] = mapped_column(String(8))
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class IncidentOrder(Base):
    __tablename__ = "incident_orders"
    __table_args__ = (
        Index("ix_incident_orders_case", "case_id", "id"),
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    order_ref: Mapped[str] = mapped_column(String(128))
    authority: Mapped[str] = mapped_column(String(200), default="")
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: what was ordered suspended: {"content_providers": [...], "ports": [...], "purposes": [...]}
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: what the switches were before, and the consent suspensions opened: what lifting restores
    effect: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(8), default="active")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(160))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lift_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
