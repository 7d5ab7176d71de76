"""The field-encryption keyring, built from configuration (``PIGUARD_*``) and an optional key file.

* ``PIGUARD_FIELD_KEY``: the original key, id ``v1`` (ciphertexts ``v1:…`` written before key
  rotation existed stay readable with it). May be empty once nothing is encrypted under ``v1`` any
  more and ``PIGUARD_BLIND_INDEX_KEY`` is set.
* ``PIGUARD_FIELD_KEYS``: more keys, ``id:secret`` separated by commas (``k2:…,k3:…``).
* ``PIGUARD_FIELD_KEY_FILE``: a file of ``id:secret`` lines (``#`` comments); in production it must
  not be readable by group or others.
* ``PIGUARD_FIELD_KEY_ID``: the key new values are encrypted under; by default the last key of the
  file, else the last of ``PIGUARD_FIELD_KEYS``, else ``v1``.
* ``PIGUARD_BLIND_INDEX_KEY``: the key of the keyed hashes (blind indexes) that look-ups use; by
  default ``PIGUARD_FIELD_KEY``, which is what every hash written so far was keyed with. It is
  separate from the encryption keys: rotating those leaves every hash unchanged.

A key id is 1-16 lowercase letters and digits, starting with a letter. Secrets are never printed;
a key shows as its id and a *fingerprint* (an HMAC of a fixed text, 16 hex characters) that
``piguard keys status`` compares with the one recorded when the key was first used.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piguard.core.errors import FieldError, PiguardError

if TYPE_CHECKING:  # cryptography's bindings take ~60 ms to import: only when a value is sealed/opened
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from piguard.core.config import Settings

LEGACY_ID = "v1"
KEY_ID = re.compile(r"^[a-z][a-z0-9]{0,15}$")
OBLIGATIONS = ("O24-10", "CSL-40")
_CHECK = b"piguard.key-check"


def _legacy_enc(master: bytes) -> bytes:
    return hmac.new(master, b"piguard.messaging.aes-gcm.v1", hashlib.sha256).digest()


def _blind(master: bytes) -> bytes:
    # the derivation the gateway has always used: hashes written before core/crypto stay valid
    return hmac.new(master, b"piguard.messaging.hmac.v1", hashlib.sha256).digest()


def fingerprint(key: bytes) -> str:
    """A key's public fingerprint: equal fingerprints, same key; it reveals nothing of the key."""
    return hmac.new(key, _CHECK, hashlib.sha256).hexdigest()[:16]


class FieldKey:
    """One encryption key: its id, where it came from, the AES-256 key derived from the secret."""

    __slots__ = ("_aead", "aad", "aes", "id", "prefix", "source")

    def __init__(self, key_id: str, secret: str, source: str) -> None:
        raw = secret.encode()
        self.id, self.source = key_id, source
        #: what a ciphertext under this key starts with (``k2:``)
        self.prefix = f"{key_id}:"
        #: the associated data: new ciphertexts bind their key id (``v1`` ones were written without)
        self.aad: bytes | None = None if key_id == LEGACY_ID else key_id.encode()
        if key_id == LEGACY_ID:
            self.aes = _legacy_enc(raw)
        else:
            self.aes = hmac.new(raw, b"piguard.field.aes-gcm." + key_id.encode(), hashlib.sha256).digest()
        self._aead: AESGCM | None = None

    @property
    def aead(self) -> AESGCM:
        if self._aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(self.aes)
        return self._aead

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.aes)


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, FieldKey]
    current: str
    blind_index: bytes
    blind_index_source: str

    @property
    def blind_fingerprint(self) -> str:
        return fingerprint(self.blind_index)

    def key(self, key_id: str) -> FieldKey:
        k = self.keys.get(key_id)
        if k is None:
            raise unknown_key(key_id, self)
        return k


def keys_invalid(problems: list[FieldError]) -> PiguardError:
    return PiguardError(
        "field_keys_invalid",
        "The field-encryption keys are not configured correctly: "
        + "; ".join(f"{f.field}: {f.message}" for f in problems),
        "字段加密密钥配置有误：" + "；".join(f"{f.field}：{f.message}" for f in problems),
        obligations=OBLIGATIONS,
        fields=problems,
        http_status=500,
        exit_code=2,
    )


def unknown_key(key_id: str, ring: Keyring | None = None) -> PiguardError:
    known = ", ".join(sorted(ring.keys)) if ring else ""
    return PiguardError(
        "field_key_unknown",
        f"Values are encrypted under key {key_id!r}, which is not configured (configured: {known or 'none'}); "
        "add it to PIGUARD_FIELD_KEYS or the key file.",
        f"数据使用密钥 {key_id!r} 加密，但该密钥未配置（已配置：{known or '无'}）；请将其加入 "
        "PIGUARD_FIELD_KEYS 或密钥文件。",
        obligations=OBLIGATIONS,
        fields=[FieldError("key_id", key_id)],
        http_status=500,
        exit_code=2,
    )


def wrong_key(key_id: str, where: str = "") -> PiguardError:
    at = f" ({where})" if where else ""
    return PiguardError(
        "field_key_wrong",
        f"The configured key {key_id!r} is not the key these values were encrypted with{at}: "
        "nothing was changed; configure the original secret for this key id.",
        f"已配置的密钥 {key_id!r} 不是加密这些数据时所用的密钥{at}：未作任何更改；请为该密钥编号配置原密钥。",
        obligations=OBLIGATIONS,
        fields=[FieldError("key_id", key_id)],
        http_status=500,
        exit_code=2,
    )


def _pairs(items: Iterable[str], where: str, problems: list[FieldError]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for n, item in enumerate(items, start=1):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        key_id, sep, secret = item.partition(":")
        key_id, secret = key_id.strip(), secret.strip()
        label = f"{where}[{key_id}]" if KEY_ID.match(key_id) else f"{where}#{n}"
        if not sep or not secret:
            problems.append(FieldError(label, "write id:secret / 格式应为 编号:密钥"))
        elif not KEY_ID.match(key_id):
            problems.append(
                FieldError(
                    label, "a key id is 1-16 lowercase letters or digits / 密钥编号应为 1-16 位小写字母或数字"
                )
            )
        elif key_id == LEGACY_ID:
            problems.append(
                FieldError(label, "v1 is PIGUARD_FIELD_KEY's id / v1 为 PIGUARD_FIELD_KEY 的编号")
            )
        else:
            out.append((key_id, secret))
    return out


def _file_lines(path: Path, production: bool, problems: list[FieldError]) -> list[str]:
    try:
        st = path.stat()
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            FieldError("PIGUARD_FIELD_KEY_FILE", f"cannot be read ({type(exc).__name__}) / 无法读取")
        )
        return []
    if production and os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        problems.append(
            FieldError(
                "PIGUARD_FIELD_KEY_FILE",
                "readable by group or others: chmod 600 / 组或其他用户可读：请 chmod 600",
            )
        )
    return lines


def configured(settings: Settings) -> tuple[list[tuple[str, str, str]], list[FieldError]]:
    """``(id, secret, source)`` of every configured key, and what is wrong with the configuration."""
    problems: list[FieldError] = []
    keys: list[tuple[str, str, str]] = []
    if settings.field_key:
        keys.append((LEGACY_ID, settings.field_key, "PIGUARD_FIELD_KEY"))
    keys += [
        (i, s, "PIGUARD_FIELD_KEYS")
        for i, s in _pairs(settings.field_keys.split(","), "PIGUARD_FIELD_KEYS", problems)
    ]
    if settings.field_key_file is not None:
        lines = _file_lines(settings.field_key_file, settings.env == "production", problems)
        keys += [
            (i, s, "PIGUARD_FIELD_KEY_FILE") for i, s in _pairs(lines, "PIGUARD_FIELD_KEY_FILE", problems)
        ]
    seen: dict[str, str] = {}
    for key_id, secret, source in keys:
        if key_id in seen and seen[key_id] != secret:
            problems.append(
                FieldError(
                    f"{source}[{key_id}]",
                    "the id is given twice, with two secrets / 同一编号配置了两个不同密钥",
                )
            )
        seen[key_id] = secret
    if not keys:
        problems.append(
            FieldError("PIGUARD_FIELD_KEYS", "no field-encryption key is configured / 未配置字段加密密钥")
        )
    if settings.field_key_id and settings.field_key_id not in seen:
        problems.append(
            FieldError(
                "PIGUARD_FIELD_KEY_ID",
                f"{settings.field_key_id[:16]!r} is not a configured key id / 不是已配置的密钥编号",
            )
        )
    if not settings.blind_index_key and not settings.field_key:
        problems.append(
            FieldError(
                "PIGUARD_BLIND_INDEX_KEY",
                "set it to the former PIGUARD_FIELD_KEY before emptying that one, or every look-up misses / "
                "清空 PIGUARD_FIELD_KEY 之前须将本项设为其原值，否则所有查找都会失效",
            )
        )
    return keys, problems


def secrets_to_check(settings: Settings) -> dict[str, str]:
    """The field and blind-index secrets by variable name, for ``refuse_weak_secrets``."""
    keys, _ = configured(settings)
    out = {(src if i == LEGACY_ID else f"{src}[{i}]"): s for i, s, src in keys}
    if settings.blind_index_key:
        out["PIGUARD_BLIND_INDEX_KEY"] = settings.blind_index_key
    if not settings.field_key and not keys:
        out["PIGUARD_FIELD_KEY"] = ""
    return out


def build(settings: Settings) -> Keyring:
    keys, problems = configured(settings)
    if problems:
        raise keys_invalid(problems)
    ring = {i: FieldKey(i, s, src) for i, s, src in keys}
    current = settings.field_key_id or keys[-1][0]
    if not settings.field_key_id:
        from_file = [i for i, _, src in keys if src == "PIGUARD_FIELD_KEY_FILE"]
        from_env = [i for i, _, src in keys if src == "PIGUARD_FIELD_KEYS"]
        current = (from_file or from_env or [LEGACY_ID])[-1]
    blind_src = "PIGUARD_BLIND_INDEX_KEY" if settings.blind_index_key else "PIGUARD_FIELD_KEY"
    blind = _blind((settings.blind_index_key or settings.field_key).encode())
    return Keyring(ring, current, blind, blind_src)


_CACHE: list[Any] = [None, None]


def _settings() -> Any:
    # imported on first use (config imports this module); the import statement itself cost a
    # microsecond on every call, two calls per gateway message
    global _settings
    from piguard.core.config import get_settings

    _settings = get_settings
    return get_settings()


def keyring() -> Keyring:
    """The keyring of the current settings (rebuilt when the settings are reloaded)."""
    settings = _settings()
    if _CACHE[0] is not settings:
        _CACHE[1] = build(settings)
        _CACHE[0] = settings
    ring: Keyring = _CACHE[1]
    return ring
