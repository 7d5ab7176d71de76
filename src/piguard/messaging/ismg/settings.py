"""Settings every CMPP/SMGP/SGIP server has; each protocol's settings class adds its own and its
environment prefix (``PIGUARD_CMPP_*``, ``PIGUARD_SMGP_*``, ``PIGUARD_SGIP_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IsmgSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    #: seconds a login timestamp (Asia/Shanghai) may be off piguard's clock
    timestamp_window: float = Field(300.0, gt=0)
    #: seconds an open connection may stay without login, and without any packet once logged in
    session_init_timeout: float = Field(30.0, gt=0)
    inactivity_timeout: float = Field(180.0, gt=0)
    #: seconds a long message (TP_udhi) waits for its missing parts
    reassembly_timeout: float = Field(60.0, gt=0)
    #: long messages a connection may have half-sent at once; a new one beyond: flow control
    max_partials: int = Field(256, ge=1, le=100_000)
    #: a held message is accepted (success, released later); false: answered as piguard's "held"
    accept_held: bool = True
    workers: int = Field(4, ge=1, le=64)
    #: seconds between looks for delivery outcomes to report, and how many at once
    report_interval: float = Field(1.0, gt=0)
    report_batch: int = Field(200, ge=1, le=10_000)
