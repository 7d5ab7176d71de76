"""CMPP server settings (``PIGUARD_CMPP_*`` environment variables); the shared ones are
``ismg.settings.IsmgSettings``'s."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from piguard.messaging.ismg.settings import IsmgSettings


class CmppSettings(IsmgSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_CMPP_", extra="ignore")

    port: int = Field(7890, ge=0, le=65535)
    #: the highest version spoken: 3 accepts CMPP 2.x and 3.0 connects, 2 refuses 3.0 (Status 4)
    version: int = Field(3, ge=2, le=3)
    #: the ISMG's gateway code in every Msg_Id (22 bits)
    gateway_code: int = Field(1, ge=0, lt=1 << 22)
    hold_result: int = Field(76, ge=1, le=255)
