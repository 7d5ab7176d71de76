"""Request tables: ``rights_requests`` (one per request, keyed by ``cases.id``: the clock, status and
timeline live on the case) and ``rights_steps`` (one per system/table/action, resumable).

A request keeps the subject's identifier only encrypted (``subject_enc``), to search the operator's
systems with it; the hash and masked form are on the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow

KINDS = ("access", "correction", "deletion", "cancellation")
REQUEST_STATUSES = ("pending", "running", "waiting", "done", "failed")
#: pending -> running -> done; running -> waiting (target down, retried with backoff) -> running;
#: failed (mapping error, needs staff); manual (a task for a named owner, completed by staff).
STEP_STATUSES = ("pending", "running", "waiting", "done", "failed", "manual")
ACTIONS = ("export", "update", "delete", "deidentify", "consents", "messages", "finish", "manual")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class RightsRequest(Base):
    __tablename__ = "rights_requests"
    __table_args__ = (
        Index("ix_rights_requests_subject", "subject_hash"),
        Index("ix_rights_requests_status", "status"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    subject_hash: Mapped[str] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16))
    #: the identifier, encrypted (``messaging.records.protect.encrypt``); never in clear
    subject_enc: Mapped[str] = mapped_column(Text)
    #: correction: {"column": "new value"}, encrypted as a JSON text (values are PI)
    changes_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    export_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    #: what is kept and until when (cancellation), found rows per system; no values
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RightsStep(Base):
    __tablename__ = "rights_steps"
    __table_args__ = (
        UniqueConstraint("request_id", "position"),
        Index("ix_rights_steps_due", "status", "next_attempt_at"),
        CheckConstraint(_in("status", STEP_STATUSES), name="status"),
        CheckConstraint(_in("action", ACTIONS), name="action"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_requests.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    #: inventory system id (``piguard`` for the consent ledger and message records)
    system: Mapped[str] = mapped_column(String(64))
    table: Mapped[str | None] = mapped_column(String(200), nullable=True)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    #: the worker holding it and since when (a lease: a worker killed mid-step loses it)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: manual tasks: who must do it, by when (the case's due date), who completed it
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    deadline: Mapped[str | None] = mapped_column(String(10), nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(160), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
