"""Oversight tables: the register of outsourced agent firms with their contracts, scope and
assessments (O24-11), and training courses with completion records (O24-15).

Only this room's tables live here (audit search has none). Scopes are JSON lists of ids from the
discovery vocabulary (categories), the inventory taxonomy (purposes) and system ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.regulations.markers import carries

FIRM_STATUSES = ("active", "suspended", "terminated")
ASSESSMENT_RESULTS = ("pass", "conditional", "fail")


@carries("O24-11")
class AgentFirm(Base):
    """An outsourced firm that handles users' personal information for the operator (O24-11).

    ``code`` is what an agent account's ``agent_org`` names; the contract period and the scope bound
    every access its agents get."""

    __tablename__ = "oversight_agent_firm"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    contract_no: Mapped[str] = mapped_column(String(64), nullable=False)
    contract_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    contract_end: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    scope_categories: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    scope_purposes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    scope_systems: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )

    assessments: Mapped[list[AgentAssessment]] = relationship(
        back_populates="firm",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="AgentAssessment.assessed_at",
    )


@carries("O24-11")
class AgentAssessment(Base):
    """A supervision assessment of a firm: its result and findings (each with a state)."""

    __tablename__ = "oversight_agent_assessment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    firm_id: Mapped[int] = mapped_column(
        ForeignKey("oversight_agent_firm.id", ondelete="CASCADE"), nullable=False, index=True
    )
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    assessor: Mapped[str] = mapped_column(String(128), nullable=False)
    result: Mapped[str] = mapped_column(String(16), nullable=False)
    #: [{"text": ..., "severity": "low|medium|high", "closed": bool}]
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    firm: Mapped[AgentFirm] = relationship(back_populates="assessments")


@carries("O24-15")
class TrainingCourse(Base):
    """A personal-information protection course; ``required`` courses gate clear-text access."""

    __tablename__ = "oversight_training_course"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    title_zh: Mapped[str] = mapped_column(String(200), nullable=False)
    title_en: Mapped[str] = mapped_column(String(200), nullable=False)
    #: days a completion stays valid; None: the dated parameter ``training.validity_days``
    validity_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


@carries("O24-15")
class TrainingRecord(Base):
    """One person's completion of one course, valid until ``expires_at``."""

    __tablename__ = "oversight_training_record"
    __table_args__ = (
        UniqueConstraint("staff_id", "course_id", "completed_at", name="uq_training_completion"),
        Index("ix_training_staff_course", "staff_id", "course_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), nullable=False)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("oversight_training_course.id", ondelete="CASCADE"), nullable=False
    )
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)  # certificate no., attendance sheet
    recorded_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
