"""SGIP server settings (``PIGUARD_SGIP_*`` environment variables); the shared ones are
``ismg.settings.IsmgSettings``'s."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from piguard.messaging.ismg.settings import IsmgSettings


class SgipSettings(IsmgSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_SGIP_", extra="ignore")

    port: int = Field(8801, ge=0, le=65535)
    #: the SMG's node id, first number of every Sequence Number piguard sends (spec 4.1: 3AAAAQQQQQ)
    node_id: int = Field(3_000_000_001, ge=0, le=0xFFFFFFFF)
