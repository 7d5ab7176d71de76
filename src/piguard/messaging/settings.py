"""Gateway settings (``PIGUARD_*`` environment variables), read by the messaging domain only.

The keys that encrypt the numbers kept in the message records (O31-11) and key the recipient hashes
are core's (``PIGUARD_FIELD_KEY``/``PIGUARD_FIELD_KEYS``/``PIGUARD_BLIND_INDEX_KEY``, see
``piguard.core.crypto`` and docs/crypto.md); the demo defaults are refused when
``PIGUARD_ENV=production``.
"""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from piguard.core.config import get_settings

_HOURS = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)$")


class MessagingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_", extra="ignore")

    env: str = "development"
    #: Two messages whose SimHash similarity (1 - Hamming/64) reaches this are "the same or similar"
    #: content (O31-18.2).
    sms_similarity_threshold: float = Field(0.8, ge=0.5, le=1.0)
    #: How much of a public-welfare text must be its campaign's notified content (shared character
    #: bigrams over the smaller set, ``messaging.gateway.similarity.overlap``; O31-17).
    sms_campaign_match_threshold: float = Field(0.5, ge=0.1, le=1.0)
    #: "HH:MM-HH:MM" in Asia/Shanghai during which commercial and non-emergency public-welfare
    #: messages are held; empty: no quiet hours.
    sms_quiet_hours: str = ""
    #: Hours a recipient has to answer a consent request; no reply by then is a refusal (O31-18.2).
    sms_consent_reply_hours: int = Field(48, ge=1, le=24 * 30)
    #: Days past the statutory minimum after which records are purged (0: exactly at the minimum).
    # 31 days: on PostgreSQL a whole China month goes at once, so no row outlives the grace (docs)
    sms_retention_grace_days: int = Field(31, ge=0, le=3650)
    #: Rows deleted per statement by the retention job.
    sms_purge_batch: int = Field(5000, ge=100, le=100_000)
    #: Largest batch the submit API accepts.
    sms_batch_max: int = Field(1000, ge=1, le=100_000)
    #: Hours within which a resubmitted ``client_ref`` (same sender code) returns the first result and
    #: writes nothing new: a client retrying after a lost answer never sends the message twice.
    sms_idempotency_hours: float = Field(24.0, ge=0, le=24 * 30)
    #: Seconds a dispatcher's claim on outbox rows lasts; a claim not settled by then (the
    #: dispatcher died mid-send) is taken again by the next dispatcher (the message may go twice).
    sms_outbox_lease_seconds: int = Field(300, ge=5, le=24 * 3600)
    #: Hours an allowed message may wait for the SMS centre (from when it was queued): transient
    #: refusals (throttling, timeouts, a lost link) are retried within it; past it the message fails
    #: ("expired").
    sms_validity_hours: float = Field(48.0, gt=0, le=24 * 30)
    #: Back-off after a transient refusal: ``base * 2**(attempts-1)`` seconds, at most ``max``, with
    #: up to 25 % random jitter.
    sms_retry_base_seconds: float = Field(1.0, gt=0, le=3600)
    sms_retry_max_seconds: float = Field(60.0, gt=0, le=24 * 3600)
    #: Held messages re-decided per worker round (``messaging.gateway.release``).
    sms_release_batch: int = Field(1000, ge=10, le=100_000)
    #: Seconds between worker rounds.
    worker_interval_seconds: int = Field(300, ge=5)
    #: Pushes of delivery reports and replies to content providers' callback URLs
    #: (``messaging.callbacks``): back-off ``base * 2**(attempts-1)`` seconds up to ``max``; an event
    #: not accepted within ``validity`` hours is ``failed`` (still there to poll); seconds a push waits.
    sms_callback_retry_base_seconds: float = Field(5.0, gt=0, le=3600)
    sms_callback_retry_max_seconds: float = Field(600.0, gt=0, le=24 * 3600)
    sms_callback_validity_hours: float = Field(48.0, gt=0, le=24 * 30)
    sms_callback_timeout_seconds: float = Field(10.0, gt=0, le=120)
    #: Callback URLs may be plain http (not https) only when this is set; private, loopback and
    #: link-local addresses only when ``..._allow_private`` is (a callback must not reach piguard's
    #: own network: server-side request forgery).
    sms_callback_allow_http: bool = False
    sms_callback_allow_private: bool = False

    @field_validator("sms_quiet_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        v = v.strip()
        if v and not _HOURS.match(v):
            raise ValueError("quiet hours are written HH:MM-HH:MM")
        return v

    def quiet_window(self) -> tuple[time, time] | None:
        m = _HOURS.match(self.sms_quiet_hours)
        if not m:
            return None
        a, b, c, d = (int(x) for x in m.groups())
        return time(a, b), time(c, d)

    def check_production(self) -> None:
        get_settings()  # core's settings refuse demo or short field keys (and every other key)


@lru_cache(maxsize=1)
def get_messaging_settings() -> MessagingSettings:
    s = MessagingSettings()
    s.check_production()
    return s


def reset_messaging_settings() -> None:
    get_messaging_settings.cache_clear()
