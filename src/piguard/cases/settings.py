"""Operational settings of the cases domain (``PIGUARD_CASES_*``); no regulatory number lives here."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CasesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_CASES_", extra="ignore")

    #: Days before the due date (Asia/Shanghai) the worker reminds the owner of an open case.
    remind_days: int = Field(3, ge=0, le=60)
    #: The registered service port the reply to a complainant is sent from (a business/service port
    #: of the operator's own content provider); empty: replies are recorded, not sent by SMS.
    notice_sender: str = ""
    #: The signature (without 【】) put before a reply sent by SMS; empty: none added.
    notice_signature: str = ""
    #: The worker drafts the report of the previous China day's prohibited content stopped at the
    #: gateway (CSL-47) once that day is over, once per day (``cases.content_reports``).
    content_report_daily: bool = False


@lru_cache(maxsize=1)
def get_cases_settings() -> CasesSettings:
    return CasesSettings()


def reset_cases_settings() -> None:
    get_cases_settings.cache_clear()
