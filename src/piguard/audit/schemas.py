"""Pydantic shapes of the audit log as the API shows it (O24-13.6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from piguard.audit.service import VerifyResult


class Message(BaseModel):
    zh: str
    en: str


class AuditEntryOut(BaseModel):
    """One audit entry: who (actor), when (time, UTC), where from (client_ip, terminal), what
    (action, data_categories, outcome), whose (subject_ref, never clear PI) and why (purpose)."""

    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="Position in the hash chain (1, 2, 3 … without gaps)")
    time: datetime
    actor_type: str = Field(description="staff, agent, end_user or system")
    actor_id: str | None
    client_ip: str | None
    terminal: str | None
    action: str = Field(examples=["pi.read"])
    subject_ref: str | None = Field(description="The subject's user id or pseudonymous id")
    data_categories: list[str]
    purpose: str | None
    outcome: str = Field(description="ok, refused, held or failed")
    obligations: list[str]
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    limit: int
    offset: int
    next_cursor: int | None = Field(
        description="Pass as `cursor` to get the next (older) page; null when this page is the last"
    )


class VerifyOut(BaseModel):
    ok: bool
    checked: int = Field(description="Entries whose hash and link were checked")
    first_bad_seq: int | None
    problem: str | None = Field(
        description="altered, deleted, reordered, truncated, bad_signature, rewritten or unsigned"
    )
    message: Message
    head_seq: int | None
    head_hash: str | None
    checkpoints_checked: int
    signed_head_seq: int | None
    head_resets: list[int] = Field(
        description="Seqs where a writer found the signed head missing, forged or behind, and reset it"
    )
    obligations: list[str]

    @classmethod
    def of(cls, result: VerifyResult) -> VerifyOut:
        return cls.model_validate(result.to_dict())
