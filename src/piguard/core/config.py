"""Configuration from the environment (``PIGUARD_*``); one place so every face reads the same values."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""
    # Keys: the demo defaults are refused when PIGUARD_ENV=production (see check_production).
    secret_key: str = "dev-secret-key-change-me"
    audit_hmac_key: str = "dev-audit-hmac-key-change-me"
    audit_checkpoint_every: int = 1000
    env: str = "development"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    # Failed logins: at most this many per account and per client address in the window.
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    session_max_age_seconds: int = 8 * 3600
    calendar_file: Path | None = None
    #: Largest request body the API reads (bytes); a larger one is answered 413 unread.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'piguard.db').as_posix()}"

    def check_production(self) -> None:
        if self.env == "production" and (
            self.secret_key.startswith("dev-") or self.audit_hmac_key.startswith("dev-")
        ):
            raise RuntimeError("PIGUARD_SECRET_KEY and PIGUARD_AUDIT_HMAC_KEY must be set in production")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
