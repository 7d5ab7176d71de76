"""SMPP settings (``PIGUARD_SMPP_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_SMPP_", extra="ignore")

    # --- the server content providers bind to
    host: str = "127.0.0.1"
    port: int = Field(2775, ge=0, le=65535)
    #: system_id piguard answers binds with
    system_id: str = "piguard"
    #: seconds an open connection may stay unbound, and without any PDU once bound
    session_init_timeout: float = Field(30.0, gt=0)
    inactivity_timeout: float = Field(120.0, gt=0)
    #: seconds a concatenated message waits for its missing parts
    reassembly_timeout: float = Field(60.0, gt=0)
    #: how data_coding 0 is read: GSM 03.38 unpacked (standard), or ASCII / Latin-1
    default_alphabet: str = "gsm7"
    #: a message the gateway holds (quiet hours, campaign not started) is accepted (ESME_ROK with a
    #: message_id; the worker releases it when the hold ends, and the receipt follows delivery);
    #: false: answered ``hold_status`` and not delivered unless an operator releases it
    accept_held: bool = True
    #: command_status answered for a held message when ``accept_held`` is false
    hold_status: int = Field(0x40C, ge=1, le=0xFFFFFFFF)
    #: threads running gateway decisions (database work)
    workers: int = Field(4, ge=1, le=64)

    # --- the SMS centre piguard forwards to ("" host: no upstream; allowed messages stay queued)
    upstream_host: str = ""
    upstream_port: int = Field(2775, ge=1, le=65535)
    upstream_system_id: str = ""
    upstream_password: str = ""
    upstream_system_type: str = ""
    #: submit_sm outstanding at once towards the SMS centre (responses matched by sequence number)
    upstream_window: int = Field(10, ge=1, le=1000)
    #: submit_sm a second at most towards the SMS centre (a token bucket; 0: no limit)
    upstream_max_rate: int = Field(0, ge=0, le=100_000)
    #: hours a delivery receipt is matched to the part sent with its id on the same link (an SMS
    #: centre that restarts its counter reuses ids: the newest part within the window wins)
    upstream_receipt_window_hours: float = Field(72.0, gt=0, le=24 * 30)
    #: outbox rows one dispatcher round claims and submits (within the window)
    dispatch_batch: int = Field(500, ge=1, le=10_000)
    upstream_enquire_link: float = Field(30.0, gt=0)
    upstream_response_timeout: float = Field(10.0, gt=0)
    upstream_source_ton: int = Field(0, ge=0, le=255)
    upstream_source_npi: int = Field(0, ge=0, le=255)
    upstream_dest_ton: int = Field(1, ge=0, le=255)
    upstream_dest_npi: int = Field(1, ge=0, le=255)
    #: seconds between outbox polls (messages queued by the API; SMPP submits trigger at once)
    dispatch_interval: float = Field(1.0, gt=0)

    @field_validator("default_alphabet")
    @classmethod
    def _alphabet(cls, v: str) -> str:
        if v not in ("gsm7", "ascii", "latin1"):
            raise ValueError("default_alphabet is gsm7, ascii or latin1")
        return v
