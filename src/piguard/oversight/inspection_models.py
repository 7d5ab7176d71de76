"""Self-inspection tables (O24-16): each run of the yearly (or on-demand) self-inspection with the
report it produced, and the findings it raised, tracked from open to closed.

* ``oversight_inspection_run``: year, when and by whom, and the report as measured (JSON: the rules
  matrix joined with the figures piguard measured). A run is never changed once written.
* ``oversight_inspection_finding``: one gap or bad figure, keyed by what it is about
  (``matrix:O24-13.5``, ``cases:pi_complaint:late`` …) so a re-run finds the open finding again
  instead of adding a duplicate; owner, due date, and the closing note and evidence.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.regulations.markers import carries

FINDING_STATUSES = ("open", "closed")
SEVERITIES = ("low", "medium", "high")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


@carries("O24-16")
class InspectionRun(Base):
    """One self-inspection: the period it covers and the report it produced."""

    __tablename__ = "oversight_inspection_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    generated_by: Mapped[str] = mapped_column(String(128))
    #: the report as measured: matrix rows, figures, finding ids (no personal information)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@carries("O24-16")
class InspectionFinding(Base):
    """A gap or a bad figure the self-inspection found, with its owner and due date, until closed."""

    __tablename__ = "oversight_inspection_finding"
    __table_args__ = (
        Index("ix_inspection_finding_key", "key", "status"),
        CheckConstraint(_in("status", FINDING_STATUSES), name="status"),
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(8), default="open")
    severity: Mapped[str] = mapped_column(String(8), default="medium")
    obligations: Mapped[list[str]] = mapped_column(JSON, default=list)
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    #: the figures behind it when last seen (counts, ids of matrix parts; never personal information)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner: Mapped[str] = mapped_column(String(128))
    due_date: Mapped[date] = mapped_column(Date)
    first_run_id: Mapped[int] = mapped_column(ForeignKey("oversight_inspection_run.id"))
    last_run_id: Mapped[int] = mapped_column(ForeignKey("oversight_inspection_run.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: an earlier finding of the same key that was closed while the gap came back
    recurs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    close_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    close_evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
