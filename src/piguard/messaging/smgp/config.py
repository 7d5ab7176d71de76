"""SMGP server settings (``PIGUARD_SMGP_*`` environment variables); the shared ones are
``ismg.settings.IsmgSettings``'s."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from piguard.messaging.ismg.settings import IsmgSettings


class SmgpSettings(IsmgSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_SMGP_", extra="ignore")

    port: int = Field(8890, ge=0, le=65535)
    #: the SMGW code in every MsgID (6 digits)
    gateway_code: int = Field(1, ge=0, le=999_999)
