"""Field encryption (AES-256-GCM, versioned keys) and keyed hashes (blind indexes), for every domain.

A ciphertext is ``<key id>:`` + base64(nonce || ciphertext || tag): ``k2:3q2+…``. Any key of the
keyring opens the values written under it; new values are written under the current key; ``piguard
keys rotate`` re-encrypts what is under the others (``core.crypto.rotation``).

A column holding ciphertexts is declared with :func:`register_encrypted_column` (a ``Text`` column
the domain encrypts itself) or typed :class:`EncryptedText` (encrypted and decrypted by SQLAlchemy),
so that the rotation finds it. Look-ups never decrypt: they go by a keyed hash of the normalised
value (:func:`blind_index`, :func:`address_hash`), under a key of its own that rotating the
encryption keys leaves alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from piguard.core.crypto.keys import FieldKey, Keyring, keyring, unknown_key, wrong_key
from piguard.core.errors import PiguardError
from piguard.regulations.markers import carries

#: What an encrypted column holds: discovery's category codes (``piguard.discovery.categories``),
#: plus ``message_content`` for texts that contained personal information.
CATEGORIES = frozenset(
    {"phone_mobile", "phone_landline", "email", "address", "id_card", "passport", "bank_card", "account",
     "name", "message_content"}
)  # fmt: skip


def key_id_of(token: str) -> str:
    """The key id a ciphertext names (``k2`` of ``k2:…``); ``""`` when it names none."""
    head, sep, _ = token.partition(":")
    return head if sep and 0 < len(head) <= 16 else ""


@carries("O24-10", "O31-11", "CSL-40", "NPC-3")
def encrypt(value: str, *, key_id: str | None = None, ring: Keyring | None = None) -> str:
    """``value`` encrypted under the current key (or ``key_id``), as ``<key id>:<base64>``."""
    r = ring or keyring()
    return _seal(r.key(key_id or r.current), os.urandom(12), value)


@carries("O24-10", "O31-11", "CSL-40", "NPC-3")
def encrypt_many(values: Sequence[str], *, ring: Keyring | None = None) -> list[str]:
    """:func:`encrypt` of each value under the current key, each with its own random nonce, the
    nonces read in one ``os.urandom`` call (a batch's writer encrypts a number per message, and
    the system call was about a third of each encryption)."""
    r = ring or keyring()
    key = r.key(r.current)
    nonces = os.urandom(12 * len(values))
    return [_seal(key, nonces[12 * i : 12 * i + 12], v) for i, v in enumerate(values)]


def _seal(key: FieldKey, nonce: bytes, value: str) -> str:
    ct = key.aead.encrypt(nonce, value.encode(), key.aad)
    # binascii directly: base64.b64encode is a Python wrapper around it (the same characters)
    return key.prefix + binascii.b2a_base64(nonce + ct, newline=False).decode()


@carries("O24-10", "CSL-40", "NPC-3")
def decrypt(token: str, *, ring: Keyring | None = None, where: str = "") -> str:
    """The clear value of a ciphertext written under any configured key.

    A key id that is not configured is ``field_key_unknown``; a configured id whose secret does not
    open the value is ``field_key_wrong`` (both name the id, never the value)."""
    from cryptography.exceptions import InvalidTag

    r = ring or keyring()
    key_id = key_id_of(token)
    if not key_id:
        raise not_a_ciphertext(where)
    key = r.key(key_id)
    try:
        raw = base64.b64decode(token[len(key_id) + 1 :], validate=True)
    except (binascii.Error, ValueError):
        raise not_a_ciphertext(where) from None
    if len(raw) < 12 + 16:
        raise not_a_ciphertext(where)
    try:
        return key.aead.decrypt(raw[:12], raw[12:], key.aad).decode()
    except InvalidTag:
        raise wrong_key(key_id, where) from None


def not_a_ciphertext(where: str = "") -> PiguardError:
    at = f" ({where})" if where else ""
    return PiguardError(
        "field_not_encrypted",
        f"A value that should be encrypted is not a piguard ciphertext{at}.",
        f"应加密的字段值不是 piguard 密文{at}。",
        obligations=("O24-10",),
        http_status=500,
        exit_code=2,
    )


# -- keyed hashes (blind indexes) ------------------------------------------------------------------


@carries("O24-10", "CSL-40")
def address_hash(address: str) -> str:
    """Keyed hash of a normalised address (hex, 32 chars): the key for consents and look-ups."""
    h = _blind_hmac(keyring().blind_index).copy()
    h.update(address.encode())
    return h.hexdigest()[:32]


#: the HMAC-SHA256 of the blind-index key with the key already absorbed, and the key it was made
#: from: each hash copies it (``hmac.digest`` goes through OpenSSL 3's ``EVP_Q_mac``, which looks
#: the algorithm up and sets the key up again on every call: ~2 µs against ~0.9 µs for a copy)
_BLIND_HMAC: list[Any] = [None, None]


def _blind_hmac(key: bytes) -> Any:
    """The prepared HMAC of ``key``; made again when the keyring's blind-index key changes (a
    settings reload builds a new keyring, so the check is by identity first, then by value)."""
    cached = _BLIND_HMAC[0]
    if cached is not key and cached != key:
        h = hmac.new(key, digestmod=hashlib.sha256)
        # OpenSSL's HMAC object itself when the standard library wraps one (its copy is in C; the
        # wrapper's copy is Python); the wrapper otherwise: the same digest either way
        _BLIND_HMAC[1] = getattr(h, "_hmac", None) or h
        _BLIND_HMAC[0] = key
    return _BLIND_HMAC[1]


@carries("O24-10", "CSL-40")
def identity_hash(kind: str, number: str) -> str:
    """Keyed hash of an identifier of a kind (``id_card``, ``account``, ``bank_card`` …)."""
    h = _blind_hmac(keyring().blind_index).copy()
    h.update(f"{kind}:{number}".encode())
    return h.hexdigest()[:32]


def normalize(kind: str, value: str) -> str:
    """The form a value is hashed in, so every way of writing it finds the same row."""
    from piguard.core.addresses import normalize_address

    v = value.strip()
    if kind == "phone_mobile":
        return normalize_address("sms", v, "value")
    if kind == "email":
        return normalize_address("email", v, "value")
    if kind in ("id_card", "passport", "bank_card"):
        return "".join(v.split()).replace("-", "").upper()
    if kind == "address":
        return " ".join(v.split())
    return v


@carries("O24-10", "CSL-40")
def blind_index(kind: str, value: str) -> str:
    """The look-up key of a value: phones and e-mail addresses hash as the gateway hashes recipients
    (:func:`address_hash`), other kinds as :func:`identity_hash` of the normalised value."""
    v = normalize(kind, value)
    if kind in ("phone_mobile", "email"):
        return address_hash(v)
    return identity_hash(kind, v)


# -- encrypted columns -------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class EncryptedColumn:
    table: str
    column: str
    #: the integer primary key the rotation walks in order
    key: str = "id"
    category: str = "message_content"


_REGISTERED: dict[tuple[str, str], EncryptedColumn] = {}


def register_encrypted_column(table: str, column: str, *, category: str, key: str = "id") -> None:
    """Declare a ``Text`` column whose values the domain encrypts with :func:`encrypt`."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(sorted(CATEGORIES))}")
    _REGISTERED[(table, column)] = EncryptedColumn(table, column, key, category)


class EncryptedText(TypeDecorator[str]):
    """A column stored encrypted: ``mapped_column(EncryptedText("id_card"))``. Python sees the
    clear value; the database only the ciphertext. Look it up by a :func:`blind_index` column."""

    impl = Text
    cache_ok = True

    def __init__(self, category: str = "message_content", *args: Any, **kwargs: Any) -> None:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}; known: {', '.join(sorted(CATEGORIES))}")
        self.category = category
        super().__init__(*args, **kwargs)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


def encrypted_columns() -> list[EncryptedColumn]:
    """Every encrypted column of the loaded models: the registered ones and those typed
    :class:`EncryptedText` (load the models first: ``piguard.models``)."""
    from piguard.core.db import Base

    found = dict(_REGISTERED)
    for table in Base.metadata.tables.values():
        for col in table.columns:
            if isinstance(col.type, EncryptedText):
                pk = [c.name for c in table.primary_key.columns]
                found.setdefault(
                    (table.name, col.name), EncryptedColumn(table.name, col.name, pk[0], col.type.category)
                )
    return sorted(v for v in found.values() if v.table in Base.metadata.tables)


__all__ = [
    "CATEGORIES",
    "EncryptedColumn",
    "EncryptedText",
    "address_hash",
    "blind_index",
    "decrypt",
    "encrypt",
    "encrypted_columns",
    "identity_hash",
    "key_id_of",
    "normalize",
    "register_encrypted_column",
    "unknown_key",
]
