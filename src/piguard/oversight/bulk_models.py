"""Tables of the bulk-operation review (O24-13.3): requests and their downloads.

* ``bulk_requests``: one export, copy or destruction of personal information above the threshold:
  who asked, for which purpose (inventory taxonomy), what (system, dataset, rows, categories, the
  discovery engine's PI summary: categories and counts, never the values), the second person's
  decision, the expiry of the request and of the approved package. An export's data is kept only
  encrypted (AES-GCM under a per-request key, itself wrapped under the key-encryption key derived
  from ``PIGUARD_FIELD_KEY``); the key is erased when the request is rejected, expires, or the
  package expires (crypto-shredding).
* ``bulk_downloads``: every download of an approved package: by whom, for which recipient (the
  index into the request's recipients), when, and the SHA-256 of the file handed out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piguard.core.db import Base, UTCDateTime, utcnow

KINDS = ("export", "copy", "destroy")
#: pending -> approved | rejected; approved destroy -> destroyed. ``expired`` is computed for a
#: pending request past ``expires_at`` (and stored when the purge job shreds it).
STATUSES = ("pending", "approved", "rejected", "expired", "destroyed")
#: How personal information is destroyed (the certificate names it).
DESTROY_METHODS = ("deletion", "overwrite", "crypto_erase", "physical")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class BulkRequest(Base):
    __tablename__ = "bulk_requests"
    __table_args__ = (
        Index("ix_bulk_requests_queue", "status", "expires_at"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("status", STATUSES), name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    #: A purpose id of the inventory taxonomy (O24-9.3).
    purpose: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text, default="")
    system: Mapped[str] = mapped_column(String(128), default="")
    dataset: Mapped[str] = mapped_column(String(200), default="")
    #: Who receives an export or copy (organisation or role, as the requester names them).
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: For a destruction: how (one of DESTROY_METHODS).
    method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The discovery scan of the data: {"categories": {code: cells}, "columns": [...], "rows": n}.
    pi_summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The decision at request time (reasons with obligation ids), shown to the approver.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The request may be approved until then (parameter bulk.request_expiry_days).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: An approved export or copy may be downloaded until then (bulk.export_expiry_days).
    package_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    destroyed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    certificate_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: AES-GCM: nonce || ciphertext of the CSV; the per-request key wrapped by the KEK.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_version: Mapped[str | None] = mapped_column(String(8), nullable=True)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    obligations: Mapped[list[str]] = mapped_column(JSON, default=list)


class BulkDownload(Base):
    __tablename__ = "bulk_downloads"
    __table_args__ = (Index("ix_bulk_downloads_request", "request_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("bulk_requests.id", ondelete="CASCADE"))
    #: Index into the request's recipients (the name stays in the request, not in the audit log).
    recipient: Mapped[int] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
