"""Inventory tables (``inv_*``) and the published rules versions.

The inventory is the operator's declaration of what personal information it holds and why; it holds
no personal information itself (column names and categories, never values).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from piguard.core.db import Base, UTCDateTime, utcnow


class InvOperator(Base):
    """The operator's identity and contact channels (one row, id 1)."""

    __tablename__ = "inv_operator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    #: inquiry / correction / deletion / cancellation / complaint -> how (free text, zh and en)
    channels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    security_measures: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InvPurpose(Base):
    """A purpose the operator declares, from the packaged taxonomy, required or optional."""

    __tablename__ = "inv_purposes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    required: Mapped[bool] = mapped_column(Boolean)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class InvThirdParty(Base):
    """A recipient personal information is provided to (CSL-42.1)."""

    __tablename__ = "inv_third_parties"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(16), default="in_china")
    purpose: Mapped[Any] = mapped_column(JSON, default="")  # text, or {"zh", "en"}
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)


class InvSystem(Base):
    __tablename__ = "inv_systems"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(16), default="in_china")  # in_china | outside_china
    connector: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    tables: Mapped[list[InvTable]] = relationship(
        back_populates="system", cascade="all, delete-orphan", order_by="InvTable.position"
    )


class InvTable(Base):
    __tablename__ = "inv_tables"
    __table_args__ = (UniqueConstraint("system_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system_id: Mapped[str] = mapped_column(ForeignKey("inv_systems.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    subject_keys: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    system: Mapped[InvSystem] = relationship(back_populates="tables")
    fields: Mapped[list[InvField]] = relationship(
        back_populates="table", cascade="all, delete-orphan", order_by="InvField.position"
    )


class InvField(Base):
    __tablename__ = "inv_fields"
    __table_args__ = (UniqueConstraint("table_id", "column"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("inv_tables.id", ondelete="CASCADE"))
    column: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    necessity: Mapped[str] = mapped_column(Text, default="")
    retention: Mapped[str | None] = mapped_column(String(64), nullable=True)  # ISO 8601 or until_cancellation
    #: whether the user must provide it to use the service (``required``) or may leave it (``optional``)
    collection: Mapped[str] = mapped_column(String(16), default="required")
    third_parties: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    table: Mapped[InvTable] = relationship(back_populates="fields")


class RulesVersion(Base):
    """One published version of the collection-and-use rules (O24-8), never changed once published."""

    __tablename__ = "inv_rules_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    effective_date: Mapped[date] = mapped_column(Date)
    published_by: Mapped[str] = mapped_column(String(128), default="")
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    #: the inventory as exported when published (what the text was generated from)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: purpose ids whose change since the previous version is material (consents must be renewed)
    material_purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: what changed materially, per purpose: {"purpose": [{"kind": "new_category", "value": "gps"}, ...]}
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
