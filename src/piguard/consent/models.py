"""The purpose-consent ledger's tables.

* ``consent_subjects``: one row per end user, by keyed hash (O24-10): the rules version they
  accepted, cancellation (O24-9.4), and ``changed_epoch`` — the ledger epoch of their last change,
  which is how every worker's decision cache learns what to drop (see :mod:`piguard.consent.cache`).
* ``consent_events``: the append-only history (grant, refuse, withdraw, expire, accept_rules,
  cancel), each with its evidence: channel, time, client address or terminal, the text shown and
  its version (O24-9.1, CSL-41.1).
* ``consent_states``: the current state per subject and purpose, derived from the events.
* ``consent_suspensions``: processing suspended by order of the authority (O24-14.2).
* ``consent_epoch``: one row, bumped in the same transaction as every ledger change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

EVENTS = ("grant", "refuse", "withdraw", "expire", "accept_rules", "cancel")
STATES = ("granted", "refused", "withdrawn", "expired")
CHANNELS = ("web", "app", "sms", "email", "phone", "counter", "paper", "api", "console", "cli", "import")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class ConsentSubject(Base):
    __tablename__ = "consent_subjects"
    __table_args__ = (Index("ix_consent_subjects_changed", "changed_epoch"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(32), unique=True)
    subject_masked: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    rules_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rules_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_epoch: Mapped[int] = mapped_column(BigInteger, default=0)


class ConsentEvent(Base):
    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_subject", "subject_id", "at"),
        CheckConstraint(_in("event", EVENTS), name="event"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("consent_subjects.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(16))
    purpose_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rules_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    terminal: Mapped[str | None] = mapped_column(String(128), nullable=True)
    text_shown: Mapped[str] = mapped_column(Text, default="")  # PI-redacted
    text_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(160))  # "staff:alice", "end_user:self", "system:…"


class ConsentState(Base):
    __tablename__ = "consent_states"
    __table_args__ = (
        CheckConstraint(_in("status", STATES), name="status"),
        Index("ix_consent_states_valid", "status", "valid_until"),
    )
    subject_id: Mapped[int] = mapped_column(ForeignKey("consent_subjects.id"), primary_key=True)
    purpose_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    rules_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    event_id: Mapped[int] = mapped_column(BigInteger)


class ConsentSuspension(Base):
    __tablename__ = "consent_suspensions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose_id: Mapped[str] = mapped_column(String(64))  # "*": all processing
    order_ref: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    actor: Mapped[str] = mapped_column(String(160))


class ConsentEpoch(Base):
    __tablename__ = "consent_epoch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    #: epoch of the last change that concerns everyone (a suspension): caches drop everything
    global_value: Mapped[int] = mapped_column(BigInteger, default=0)
