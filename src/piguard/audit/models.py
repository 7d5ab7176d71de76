"""Audit tables (O24-13.6): the hash-chained entries, signed checkpoints and the signed head.

``audit_entry`` is append-only: rows are written only by :mod:`piguard.audit.service` and never
updated. ``seq`` is the gap-free position in the chain (1, 2, 3 …), assigned under a lock when the
writer's transaction flushes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime
from piguard.regulations.markers import carries

ACTOR_TYPES = ("staff", "agent", "end_user", "system")
OUTCOMES = ("ok", "refused", "held", "failed")

# INTEGER PRIMARY KEY on SQLite (the rowid itself), BIGINT elsewhere.
_SeqType = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


@carries("O24-13.6")
class AuditEntry(Base):
    """One operation on personal information or one administrative change."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        CheckConstraint(_in("actor_type", ACTOR_TYPES), name="actor_type"),
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
    )

    seq: Mapped[int] = mapped_column(_SeqType, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(128), index=True)
    client_ip: Mapped[str | None] = mapped_column(String(45))
    terminal: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    # The subject's user id or pseudonymous id: never clear-text PI.
    subject_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    obligations: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: HMAC of (seq, hash) with the audit key; NULL only on entries written before it existed
    mac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the public id of the key that made ``mac`` (keys rotate; see ``PIGUARD_AUDIT_HMAC_OLD_KEYS``)
    mac_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)

    def __repr__(self) -> str:
        return f"AuditEntry(seq={self.seq}, action={self.action!r}, outcome={self.outcome!r})"


@carries("O24-13.6")
class AuditCheckpoint(Base):
    """A signed statement "the chain had ``count`` entries and ended at (seq, hash) at ``time``"."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # "periodic" or "manual"
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(64))


@carries("O24-13.6")
class AuditHead(Base):
    """The signed head of the chain (one row, ``id = 1``), rewritten in every appending transaction."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(64))
