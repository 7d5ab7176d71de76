"""Addresses at rest: normalised, keyed-hashed, masked, and (only in the records) encrypted.

* A recipient is an *address*: an MSISDN in E.164 (``+8613812345678``) or an e-mail address.
* Consents, requests and suppression fingerprints hold only ``HMAC-SHA256(key, address)`` and a masked
  form (``+86138****5678``, ``a***@example.com``): they never need the clear number.
* The message records keep the numbers because Order 31 Art. 11 requires it, encrypted with AES-GCM
  under a key derived from ``PIGUARD_FIELD_KEY`` (format ``v1:`` + base64(nonce || ciphertext)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from piguard.core.errors import invalid_field as _bad
from piguard.messaging.settings import get_messaging_settings
from piguard.regulations.markers import carries

if TYPE_CHECKING:  # cryptography's bindings take ~60 ms to import: only when a record is sealed/opened
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHANNELS = ("sms", "email")
_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]{1,63})+$"
)


@lru_cache(maxsize=1)
def _cn_mobile_plan() -> re.Pattern[str]:
    """The mobile ranges of China's numbering plan (phonenumbers' metadata, compiled once, on
    first use: phonenumbers takes a while to import and most commands never need it)."""
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    desc = meta.mobile if meta is not None else None
    pattern = desc.national_number_pattern if desc is not None else None
    return re.compile(pattern or r"1[3-9]\d{9}")


_SEPARATORS = str.maketrans("", "", " -()\u00a0")
_FULLWIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")


def _valid_mobile(e164: str) -> bool:
    """A number outside China: valid in its country's plan and a mobile (or mobile-or-fixed) one."""
    import phonenumbers

    try:
        n = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    mobile = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return phonenumbers.is_valid_number(n) and phonenumbers.number_type(n) in mobile


@carries("O31-11")
def normalize_address(channel: str, address: object, field: str = "recipient") -> str:
    """The canonical form of an address, or a validation error (never echoing the value)."""
    if not isinstance(address, str) or not address.strip():
        raise _bad(field, "empty", "为空")
    if channel == "sms":
        a = address.strip().translate(_FULLWIDTH).translate(_SEPARATORS)
        m = _CN_MOBILE.match(a)
        if m and _cn_mobile_plan().fullmatch(m.group(1)):
            return "+86" + m.group(1)
        if a.startswith("00"):
            a = "+" + a[2:]
        if _E164.match(a) and not a.startswith("+86") and _valid_mobile(a):
            return a
        raise _bad(field, "not a mobile number in E.164 or Chinese mobile form", "不是有效的手机号码")
    if channel == "email":
        a = address.strip()
        if len(a) > 254 or not _EMAIL.match(a):
            raise _bad(field, "not an e-mail address", "不是有效的电子邮件地址")
        local, _, domain = a.rpartition("@")
        return f"{local}@{domain.lower()}"
    raise _bad("channel", "must be sms or email", "必须为 sms 或 email")


def mask_address(address: str) -> str:
    """``+86138****5678``, ``a***@example.com``: enough to recognise, not to contact."""
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if len(address) <= 7:
        return address[:2] + "****"
    return address[:-8] + "****" + address[-4:]


@lru_cache(maxsize=4)
def _keys(master: str) -> tuple[bytes, bytes]:
    raw = master.encode()
    enc = hmac.new(raw, b"piguard.messaging.aes-gcm.v1", hashlib.sha256).digest()
    mac = hmac.new(raw, b"piguard.messaging.hmac.v1", hashlib.sha256).digest()
    return enc, mac


@lru_cache(maxsize=4)
def _aead(master: str) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(_keys(master)[0])


def _master() -> str:
    return get_messaging_settings().field_key


@carries("O24-10", "CSL-40")
def address_hash(address: str) -> str:
    """Keyed hash of a normalised address (hex, 32 chars): the key for consents and look-ups."""
    return hmac.digest(_keys(_master())[1], address.encode(), "sha256").hex()[:32]  # one-shot, in C


def identity_hash(kind: str, number: str) -> str:
    return hmac.new(_keys(_master())[1], f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()[:32]


@carries("O24-10", "O31-11")
def encrypt(value: str) -> str:
    nonce = os.urandom(12)
    ct = _aead(_master()).encrypt(nonce, value.encode(), None)
    return "v1:" + base64.b64encode(nonce + ct).decode()


def decrypt(token: str) -> str:
    if not token.startswith("v1:"):
        raise ValueError("unknown ciphertext version")
    raw = base64.b64decode(token[3:])
    return _aead(_master()).decrypt(raw[:12], raw[12:], None).decode()


def mask_identity(number: str) -> str:
    n = number.strip()
    if len(n) <= 6:
        return n[:1] + "*" * (len(n) - 1)
    return n[:3] + "*" * (len(n) - 7) + n[-4:]
