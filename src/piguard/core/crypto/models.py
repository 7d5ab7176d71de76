"""Tables of the field-encryption keys: fingerprints first seen, and the rotation jobs with their
progress per column (so that a rotation killed half-way resumes where its last batch committed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow

ROTATION_STATUS = ("running", "done", "superseded")


class CryptoKey(Base):
    """A key's fingerprint as first seen (``field`` keys by id; the ``blind_index`` key as
    ``blind-index``): a key later configured under the same id with another secret is refused."""

    __tablename__ = "crypto_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CryptoRotation(Base):
    """One ``piguard keys rotate`` run towards ``target_key_id`` (resumed until ``done``)."""

    __tablename__ = "crypto_rotations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    target_key_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="running", index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    #: passes over the columns after the first (rows written under an old key meanwhile)
    sweeps: Mapped[int] = mapped_column(Integer, default=0)
    started_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class CryptoRotationColumn(Base):
    """Progress of one rotation over one encrypted column: every row with a key below or at
    ``after_id`` has been re-encrypted (committed with the rows, in the same transaction)."""

    __tablename__ = "crypto_rotation_columns"
    __table_args__ = (UniqueConstraint("rotation_id", "table_name", "column_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rotation_id: Mapped[int] = mapped_column(
        ForeignKey("crypto_rotations.id", ondelete="CASCADE"), index=True
    )
    table_name: Mapped[str] = mapped_column(String(64))
    column_name: Mapped[str] = mapped_column(String(64))
    after_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
