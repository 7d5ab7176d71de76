"""Identity tables: staff accounts and their roles, API tokens, console sessions, failed logins.

Secrets never sit in clear: passwords are argon2 hashes, API tokens and session keys are stored as
SHA-256 digests of high-entropy random values, and failed-login rows keep a keyed digest of the
username that was typed (it may be anything, even a phone number), never the text itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from piguard.core.db import Base, UTCDateTime, utcnow
from piguard.regulations.markers import carries


@carries("O24-13.3", "O24-11")
class Staff(Base):
    """A person who signs in to piguard: the operator's own staff or an outsourced agent (O24-11)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    # "staff" (the operator's own employee) or "agent" (outsourced, O24-11)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="staff")
    agent_org: Mapped[str | None] = mapped_column(String(200), nullable=True)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )

    role_grants: Mapped[list[StaffRoleGrant]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", lazy="selectin", order_by="StaffRoleGrant.role"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(g.role for g in self.role_grants)

    def __repr__(self) -> str:  # no password hash in reprs
        return (
            f"Staff(id={self.id!r}, username={self.username!r}, kind={self.kind!r}, active={self.active!r})"
        )


class StaffRoleGrant(Base):
    """One role held by one account; kept as rows so access reviews (O24-13.5) can query them."""

    __tablename__ = "staff_role"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    granted_by: Mapped[str | None] = mapped_column(String(100), nullable=True)

    staff: Mapped[Staff] = relationship(back_populates="role_grants")


class ApiToken(Base):
    """An API token: ``pgt_<prefix>_<secret>``; only the prefix and the SHA-256 of the whole token are kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # space-separated, e.g. "audit:read rules:read"; "*" means whatever the holder's roles allow
    scopes_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the content provider (``msg_content_providers.id``) the token is bound to: it may then send
    #: only from that provider's ports (O31-13, O31-10), as an SMPP account bound to one may
    content_provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    staff: Mapped[Staff] = relationship(lazy="joined")

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scopes_text.split())

    def __repr__(self) -> str:  # no hash in reprs
        return f"ApiToken(id={self.id!r}, prefix={self.prefix!r}, staff_id={self.staff_id!r}, revoked={self.revoked!r})"


class StaffSession(Base):
    """A console session. The signed cookie carries the key; the table holds its SHA-256, so
    logging out (or deactivating the account) really ends it."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    terminal: Mapped[str | None] = mapped_column(String(200), nullable=True)

    staff: Mapped[Staff] = relationship(lazy="joined")


class LoginFailure(Base):
    """One failed login, kept in the database so the lockout holds across processes and workers."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_username_digest_occurred_at", "username_digest", "occurred_at"),
        Index("ix_login_failure_client_ip_occurred_at", "client_ip", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # HMAC-SHA-256 (secret key) of the normalised username typed: never the typed text
    username_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow, index=True)


# Every staff account is created with an audit entry (identity.staff.created): an empty audit log
# beside staff rows was emptied (audit verify reports it).
def _register_audited() -> None:
    from piguard.audit.service import register_audited_table

    register_audited_table(Staff.__tablename__)


_register_audited()


# --------------------------------------------------------------------------- end-user portal login
# End users are known by the keyed hash of their number (the consent ledger's subject hash, computed
# above identity and passed in): identity never sees the number itself, nor keeps a code in clear.


class PortalCode(Base):
    """A one-time login code sent to an end user's number: only its keyed hash is kept."""

    __tablename__ = "portal_login_code"
    __table_args__ = (
        Index("ix_portal_login_code_subject_created", "subject_hash", "created_at"),
        Index("ix_portal_login_code_ip_created", "client_ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # HMAC-SHA-256 (secret key) over the row's salt, the subject hash and the code
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    salt: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the gateway's reference of the message that carried it (None when the gateway refused it)
    message_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)


class PortalFailure(Base):
    """A wrong, expired or replayed code: counted per number and per address for the lock."""

    __tablename__ = "portal_login_failure"
    __table_args__ = (
        Index("ix_portal_login_failure_subject_at", "subject_hash", "occurred_at"),
        Index("ix_portal_login_failure_ip_at", "client_ip", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class PortalSession(Base):
    """An end user's portal session (its own cookie, apart from the console's): the signed cookie
    carries a random key, this table its SHA-256, the subject's hash and masked number."""

    __tablename__ = "portal_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    subject_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    subject_masked: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the number as the caller encrypted it (AES-GCM, opaque here), so a complaint filed in this
    #: session can be answered by SMS; identity never reads it
    contact_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
