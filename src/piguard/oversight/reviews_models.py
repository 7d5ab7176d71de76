"""Tables of the responsibility register (O24-13.1), access reviews (O24-13.5) and the storage-media
register (O24-13.4).

* ``oversight_responsibility``: who is in charge of what: the person in charge of personal-
  information protection (个人信息保护负责人, ``scope_kind="pi_protection"``), each system of the
  inventory (``system``), each PI category (``category``) and each branch (``branch``). An
  assignment ends (``until``) rather than being deleted, so the register keeps its history.
* ``oversight_review_campaign`` / ``oversight_review_item``: a periodic access recertification. A
  campaign snapshots who holds which role and so reaches which inventory system; each item is
  confirmed or revoked by the system's owner (never by the person reviewed). A revocation removes
  the role in identity at once.
* ``oversight_medium`` / ``oversight_medium_custody`` / ``oversight_medium_destruction``: storage
  media (disks, tapes, USB, optical, paper, backups) holding personal information, who holds each
  one since when and where, and its destruction (proposed by one person, witnessed by a second).

Only ids, codes, categories and staff ids: never personal information of end users.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.regulations.markers import carries

SCOPE_KINDS = ("pi_protection", "system", "category", "branch")
ITEM_STATUSES = ("pending", "confirmed", "revoked")
MEDIA_KINDS = ("disk", "tape", "usb", "optical", "paper", "backup")
MEDIA_STATUSES = ("in_custody", "destruction_pending", "destroyed")
MEDIA_DESTROY_METHODS = ("shred", "degauss", "overwrite", "crypto_erase", "incinerate")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


@carries("O24-13.1")
class Responsibility(Base):
    """One person's responsibility for the PI protection as a whole, a system, a category or a branch."""

    __tablename__ = "oversight_responsibility"
    __table_args__ = (
        Index("ix_oversight_responsibility_scope", "scope_kind", "scope_id"),
        CheckConstraint(_in("scope_kind", SCOPE_KINDS), name="scope_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    #: the system id, the category code or the branch name; "" for pi_protection
    scope_id: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), nullable=False)
    #: the position as the operator names it (e.g. 个人信息保护负责人, 系统负责人)
    title: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    since: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    assigned_by: Mapped[str] = mapped_column(String(128), nullable=False)
    ended_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


@carries("O24-13.5")
class ReviewCampaign(Base):
    """One access recertification: opened, due, and when the next one falls due."""

    __tablename__ = "oversight_review_campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    opened_by: Mapped[str] = mapped_column(String(128), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    #: every item must be decided by then (parameter access_review.campaign_days)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    #: the next campaign falls due then (parameter access_review.period_months)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    period_months: Mapped[int] = mapped_column(Integer, nullable=False)


@carries("O24-13.5")
class ReviewItem(Base):
    """One account's role reaching one system, as snapshot when the campaign opened."""

    __tablename__ = "oversight_review_item"
    __table_args__ = (
        Index("ix_oversight_review_item_campaign", "campaign_id", "status"),
        Index("ix_oversight_review_item_staff", "staff_id", "role"),
        CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("oversight_review_campaign.id", ondelete="CASCADE"), nullable=False
    )
    system_id: Mapped[str] = mapped_column(String(64), nullable=False)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), nullable=False)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # staff | agent
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    #: staff ids who may decide it (the system's owners, else the PI-protection lead) at the snapshot
    reviewers: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: a revocation of the same role from another item of the campaign closed this one
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


@carries("O24-13.4")
class Medium(Base):
    """A storage medium holding personal information: who holds it, where, and its state."""

    __tablename__ = "oversight_medium"
    __table_args__ = (
        CheckConstraint(_in("kind", MEDIA_KINDS), name="kind"),
        CheckConstraint(_in("status", MEDIA_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the asset tag written on the medium
    label: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    categories: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    system_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="in_custody")
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    location: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    held_since: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(128), nullable=False)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


@carries("O24-13.4")
class MediumCustody(Base):
    """One hand-over of a medium (the first row is its registration)."""

    __tablename__ = "oversight_medium_custody"
    __table_args__ = (Index("ix_oversight_medium_custody_medium", "medium_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    medium_id: Mapped[int] = mapped_column(
        ForeignKey("oversight_medium.id", ondelete="CASCADE"), nullable=False
    )
    from_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_id: Mapped[int] = mapped_column(Integer, nullable=False)
    location: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    by: Mapped[str] = mapped_column(String(128), nullable=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


@carries("O24-13.4")
class MediumDestruction(Base):
    """A medium's destruction: proposed (method) by one person, witnessed by a second."""

    __tablename__ = "oversight_medium_destruction"
    __table_args__ = (CheckConstraint(_in("method", MEDIA_DESTROY_METHODS), name="method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    medium_id: Mapped[int] = mapped_column(
        ForeignKey("oversight_medium.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    proposed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    witnessed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    certificate_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
