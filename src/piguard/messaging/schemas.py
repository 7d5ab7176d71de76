"""Pydantic shapes of the gateway API."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Channel = Literal["sms", "email"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubmitIn(_In):
    channel: Channel = "sms"
    sender: str = Field(max_length=254, description="Port code (+ extension) or sender e-mail address")
    recipient: str = Field(max_length=254, description="MSISDN (E.164 or Chinese mobile) or e-mail address")
    text: str = Field(max_length=20_000)
    kind: Literal["verification_code", "notification", "commercial", "public_welfare", "emergency"] | None = (
        None
    )
    message_type: str | None = Field(None, max_length=64, description="Consent type of a commercial message")
    campaign_id: int | None = None
    client_ref: str | None = Field(None, max_length=64)
    template_id: int | None = Field(None, description="An approved template the text was written from")


class BatchIn(_In):
    messages: list[Any] = Field(
        min_length=1, description="Each item is a SubmitIn; a bad item gets an error, the rest are processed"
    )
    dry_run: bool = False


class ReasonOut(BaseModel):
    code: str
    obligations: list[str]
    message: dict[str, str]
    detail: dict[str, Any] | None = None


class ResultOut(BaseModel):
    index: int
    client_ref: str | None = None
    ref: str | None = None
    outcome: str | None = None
    status: str | None = None
    kind: str | None = None
    content_provider: str | None = None
    emergency: bool = False
    #: a resubmitted client_ref: the first submission's result, nothing new written or sent
    duplicate: bool = False
    obligations: list[str] = []
    reasons: list[ReasonOut] = []
    error: dict[str, Any] | None = None


class BatchOut(BaseModel):
    results: list[ResultOut]
    summary: dict[str, int]


class InboundIn(_In):
    channel: Channel = "sms"
    sender: str = Field(max_length=254, description="The replying user's address")
    to: str = Field(max_length=254, description="The port code (+ extension) replied to")
    text: str = Field(max_length=1000)
    received_at: AwareDatetime | None = None


class DeliveryIn(_In):
    status: Literal["sent", "delivered", "failed"]
    at: AwareDatetime | None = None
    transport_ref: str | None = Field(None, max_length=64)


class ServiceProviderIn(_In):
    name: str = Field(max_length=200)
    licence_number: str = Field(max_length=64)
    access_codes: list[str] = Field(default_factory=list, max_length=100)
    access_location: str = Field("", max_length=200)


class ContentProviderIn(_In):
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    service_provider_id: int
    identity_type: Literal["uscc", "resident_id", "passport", "other"]
    identity_number: str = Field(max_length=64)


class VerifyIn(_In):
    status: Literal["verified", "rejected"] = "verified"


class LotteryLicenceIn(_In):
    """A lottery issuing body's authorisation to publish lottery results (checked by the registry:
    1-64 characters after trimming; a bad value is a validation error on ``lottery_licence``)."""

    lottery_licence: str = Field(description="The authorisation number, e.g. 福彩授权-2025-0042")


class SignatureIn(_In):
    text: str = Field(max_length=64, description="The signature, with or without 【】; submitted for review")


class ReviewIn(_In):
    """A reviewer's decision on a signature or template, with the evidence looked at."""

    decision: Literal["approved", "rejected"]
    evidence: str = Field(min_length=1, max_length=2000, description="What the decision rests on")


class TemplateIn(_In):
    content_provider: str = Field(max_length=64)
    name: str = Field(max_length=200)
    text: str = Field(max_length=1000, description="Message text; {name} marks a placeholder")
    kind: Literal["verification_code", "notification", "commercial", "public_welfare", "emergency"]


class TemplatePatch(_In):
    name: str | None = Field(None, max_length=200)
    text: str | None = Field(None, max_length=1000)
    kind: Literal["verification_code", "notification", "commercial", "public_welfare", "emergency"] | None = (
        None
    )


class PortIn(_In):
    channel: Channel = "sms"
    code: str = Field(max_length=254)
    port_type: Literal["business_service", "commercial", "public_welfare"]
    content_provider: str = Field(max_length=64)
    approved_scope: str = Field("", max_length=500)
    extension_from: str | None = Field(None, max_length=12)
    extension_to: str | None = Field(None, max_length=12)


class SuspensionIn(_In):
    target_type: Literal["content_provider", "port"]
    key: str = Field(max_length=64, description="Content provider code or port id")
    suspended: bool = True
    reason: str = Field(max_length=500)
    obligations: list[str] = Field(default_factory=lambda: ["O31-23"], max_length=10)


class ChargedServiceIn(_In):
    content_provider: str = Field(max_length=64)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    service_content: str = Field("", max_length=500)
    tariff: str = Field("", max_length=200)
    charging_method: str = Field("", max_length=200)
    unsubscribe_method: str = Field("", max_length=200)


class CampaignIn(_In):
    name: str = Field(max_length=200)
    department: str = Field(max_length=200)
    content: str = Field(max_length=2000)
    scope: str = Field(max_length=500)
    content_provider: str = Field(max_length=64)
    notified_on: date
    send_on: date
    ends_on: date | None = None
    emergency: bool = False


class ConsentRequestIn(_In):
    channel: Channel = "sms"
    sender: str = Field(max_length=254)
    recipient: str = Field(max_length=254)
    message_type: str = Field(max_length=64)
    max_messages: int = Field(ge=1, le=1000)
    period_unit: Literal["day", "week", "month"]
    valid_until: AwareDatetime
    pitch: str = Field("", max_length=300)
    charged_service_id: int | None = None


class CallbackIn(_In):
    """A content provider's callback endpoint (``PUT /api/sms/callback``)."""

    url: str | None = Field(None, max_length=500, description="https URL to push to; null: kept to poll only")
    receipts: bool = Field(True, strict=True)
    replies: bool = Field(True, strict=True)
    rotate_secret: bool = Field(
        False, strict=True, description="Issue a new HMAC secret (shown once in the answer)"
    )
