"""Configuration from the environment (``PIGUARD_*``); one place so every face reads the same values."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from piguard.core.errors import FieldError, PiguardError

#: Shortest secret accepted in production (32 characters: a 128-bit key written in hex, at least).
MIN_SECRET_LENGTH = 32


def refuse_weak_secrets(env: str, secrets: dict[str, str]) -> None:
    """In production, refuse demo keys (``dev-…``) and keys shorter than :data:`MIN_SECRET_LENGTH`:
    one clear error naming every variable to set, at every entry point (CLI, API, SMPP, worker)."""
    if env != "production":
        return
    bad = [
        FieldError(
            name, "demo key / 演示密钥" if value.startswith("dev-") else f"shorter than {MIN_SECRET_LENGTH}"
        )
        for name, value in secrets.items()
        if value.startswith("dev-") or len(value) < MIN_SECRET_LENGTH
    ]
    if bad:
        names = ", ".join(f.field for f in bad)
        raise PiguardError(
            "insecure_configuration",
            f"PIGUARD_ENV=production refuses demo or short keys: set {names} to random secrets of at "
            f"least {MIN_SECRET_LENGTH} characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`).",
            f"生产环境（PIGUARD_ENV=production）拒绝演示密钥或过短的密钥：请将 {names} 设为至少 "
            f"{MIN_SECRET_LENGTH} 个字符的随机密钥。",
            fields=bad,
            http_status=500,
            exit_code=2,
        )


def _default_data_dir() -> Path:
    return Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""
    # Keys: the demo defaults are refused when PIGUARD_ENV=production (see check_production).
    secret_key: str = "dev-secret-key-change-me"
    audit_hmac_key: str = "dev-audit-hmac-key-change-me"
    # Retired audit keys, comma-separated: what they signed (entries, checkpoints, the head) stays
    # verifiable after a rotation; new signatures always use PIGUARD_AUDIT_HMAC_KEY.
    audit_hmac_old_keys: str = ""
    audit_checkpoint_every: int = 1000
    # the worker walks the whole chain when the last recorded verification is older than this
    audit_verify_every_hours: float = 24.0
    # Append-only file of signed head lines outside the database (audit/anchor.py, docs/audit.md):
    # `audit verify` checks the log against its last line; empty = no anchor.
    audit_anchor_file: Path | None = None
    # Read by their domains (messaging, discovery); listed here too so that one check refuses every
    # weak key at once, whichever entry point starts first.
    # Field encryption (core/crypto, docs/crypto.md): PIGUARD_FIELD_KEY is key "v1" (may be emptied
    # once nothing is under v1 and PIGUARD_BLIND_INDEX_KEY is set); more keys as "id:secret,…" in
    # PIGUARD_FIELD_KEYS or as lines of PIGUARD_FIELD_KEY_FILE; PIGUARD_FIELD_KEY_ID picks the key new
    # values are written under (default: the last one listed).
    field_key: str = "dev-field-key-change-me"
    field_keys: str = ""
    field_key_file: Path | None = None
    field_key_id: str = ""
    # The key of the keyed hashes look-ups use (blind indexes); empty: PIGUARD_FIELD_KEY, as before.
    blind_index_key: str = ""
    pseudonym_key: str = "dev-pseudonym-key-change-me"
    env: str = "development"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    # The address recipients and users reach piguard at (https://piguard.example.cn): the one-click
    # unsubscribe links of commercial e-mail point here. Empty: http://HOST:PORT.
    public_url: str = Field("", pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$", max_length=200)
    # Failed logins: at most this many per account in the window (then the account waits) …
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    # … and per client address a short throttle, never a lock-out of every account behind it
    login_address_max_failures: int = 30
    login_address_window_seconds: int = 60
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    # (comma-separated IPs or CIDRs, or "*"); empty: none, the peer address is the client's.
    trusted_proxies: str = ""
    session_max_age_seconds: int = 8 * 3600
    # End-user portal login (phone number + one-time code sent through piguard's own gateway).
    # A code lives this long, and at most this many wrong tries are allowed per number in the lock
    # window (then the number is locked until the window passes, even for the right code) …
    portal_code_ttl_seconds: int = Field(300, ge=30, le=3600)
    portal_code_max_failures: int = Field(5, ge=1, le=100)
    portal_lock_seconds: int = Field(900, ge=60, le=7 * 86400)
    # … at most this many codes per number, and per client address, in the send window
    portal_codes_per_number: int = Field(3, ge=1, le=100)
    portal_codes_per_address: int = Field(20, ge=1, le=10_000)
    portal_send_window_seconds: int = Field(3600, ge=60, le=7 * 86400)
    portal_code_digits: int = Field(6, ge=6, le=10)
    portal_session_max_age_seconds: int = Field(1800, ge=60, le=7 * 86400)
    # The port code the codes are sent from (a registered business-service port) and the
    # signature put in front of the text (one of that content provider's approved signatures).
    portal_sms_sender: str = ""
    portal_sms_signature: str = ""
    calendar_file: Path | None = None
    rules_templates_dir: Path | None = None  # overrides inventory/templates/privacy.{zh,en}.md.j2
    #: Largest request body the API reads (bytes); a larger one is answered 413 unread.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'piguard.db').as_posix()}"

    def check_production(self) -> None:
        if self.env != "production":
            return
        from piguard.core.crypto import keys  # the field keys: env, key file, blind-index key

        refuse_weak_secrets(
            self.env,
            {
                "PIGUARD_SECRET_KEY": self.secret_key,
                "PIGUARD_AUDIT_HMAC_KEY": self.audit_hmac_key,
                **keys.secrets_to_check(self),
                "PIGUARD_PSEUDONYM_KEY": self.pseudonym_key,
            },
        )
        keys.build(self)  # a key file readable by others, a key id given twice …: refused here too


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, checked: in production every reader (so every entry point) refuses weak keys."""
    settings = Settings()
    settings.check_production()
    return settings


def reset_settings() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
