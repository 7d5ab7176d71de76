"""CMPP server settings (``PIGUARD_CMPP_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CmppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_CMPP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(7890, ge=0, le=65535)
    #: the highest version spoken: 3 accepts CMPP 2.x and 3.0 connects, 2 refuses 3.0 (Status 4)
    version: int = Field(3, ge=2, le=3)
    #: the ISMG's gateway code in every Msg_Id (22 bits)
    gateway_code: int = Field(1, ge=0, lt=1 << 22)
    #: seconds a CMPP_CONNECT Timestamp (Asia/Shanghai) may be off piguard's clock
    timestamp_window: float = Field(300.0, gt=0)
    #: seconds an open connection may stay unconnected, and without any packet once connected
    session_init_timeout: float = Field(30.0, gt=0)
    inactivity_timeout: float = Field(180.0, gt=0)
    #: seconds a long message (TP_udhi) waits for its missing parts
    reassembly_timeout: float = Field(60.0, gt=0)
    #: long messages a connection may have half-sent at once; a new one beyond: Result 8
    max_partials: int = Field(256, ge=1, le=100_000)
    #: a held message is accepted (Result 0, released later); false: answered ``hold_result``
    accept_held: bool = True
    hold_result: int = Field(76, ge=1, le=255)
    workers: int = Field(4, ge=1, le=64)
    #: seconds between looks for delivery outcomes to report (CMPP_DELIVER, Registered_Delivery 1)
    report_interval: float = Field(1.0, gt=0)
    report_batch: int = Field(200, ge=1, le=10_000)
