"""Pydantic shapes of the consent API. Subjects travel in request bodies, never in URLs (an access
log would keep them)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from piguard.discovery.schemas import KAnonymityIn


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EvidenceBody(_In):
    channel: str = Field(
        max_length=16, description="web, app, sms, email, phone, counter, paper, api, console …"
    )
    text_shown: str = Field(max_length=20_000, description="The text the user saw when asked")
    text_version: str | None = Field(
        None, max_length=64, description="Its version (default: the rules version)"
    )
    client_ip: str | None = Field(None, max_length=64, description="Default: the caller's address")
    terminal: str | None = Field(None, max_length=128)
    at: AwareDatetime | None = Field(None, description="When the user answered (default: now)")


class SubjectIn(_In):
    subject: str = Field(
        max_length=300, description="kind:value: phone:…, email:…, account:…, id_card:…, or ref:<hash>"
    )


class GrantIn(SubjectIn):
    purpose: str = Field(max_length=64)
    evidence: EvidenceBody
    rules_version: int | None = Field(None, ge=1, le=2**31 - 1)
    valid_until: AwareDatetime | None = None


class RefuseIn(SubjectIn):
    purpose: str = Field(max_length=64)
    evidence: EvidenceBody
    rules_version: int | None = Field(None, ge=1, le=2**31 - 1)


class AcceptRulesIn(SubjectIn):
    evidence: EvidenceBody
    rules_version: int | None = Field(None, ge=1, le=2**31 - 1)


class WithdrawIn(SubjectIn):
    target: str = Field(
        max_length=80, description="A purpose id, purpose:<id>, or an entry ref such as sms:17"
    )
    evidence: EvidenceBody


class MayIn(SubjectIn):
    purpose: str = Field(max_length=64)
    categories: list[str] = Field(default_factory=list, max_length=64)
    audit: bool = Field(False, description="Record the use in the audit log (the caller reads the data now)")


class ShareIn(_In):
    """The sharing decision (CSL-42.1): may these categories go to this third party for this purpose?"""

    subject: str | None = Field(
        None,
        max_length=300,
        description="kind:value or ref:<hash>; may be omitted only for a de-identified data set",
    )
    third_party: str = Field(max_length=64, description="The recipient's id in the sharing register")
    purpose: str = Field(max_length=64)
    categories: list[str] = Field(default_factory=list, max_length=64)
    deidentified: bool = Field(
        False, description="The information is de-identified beyond restoration (needs `method`)"
    )
    method: str | None = Field(
        None,
        max_length=32,
        description="The de-identification applied: redact, generalise (with k_anonymity) …",
    )
    k_anonymity: KAnonymityIn | None = Field(
        None, description="The de-identified data set and its quasi-identifiers: checked here"
    )
