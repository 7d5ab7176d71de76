"""Addresses and identifiers: normalised and masked (the keyed hash and encryption are ``core.crypto``).

* A recipient is an *address*: an MSISDN in E.164 (``+8613812345678``) or an e-mail address.
* Ledgers hold only its keyed hash (:func:`piguard.core.crypto.address_hash`) and a masked form
  (``+86138****5678``, ``a***@example.com``): they never need the clear number.

Here, below every domain, so that consent and messaging normalise and mask a person the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache

from piguard.core.errors import invalid_field as _bad
from piguard.regulations.markers import carries

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
        a = address.strip()
        # ASCII digits with at most a leading "+" (the usual form): neither table changes them
        if not (a.isascii() and (a.isdigit() or (a[:1] == "+" and a[1:].isdigit()))):
            a = a.translate(_FULLWIDTH).translate(_SEPARATORS)
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


def mask_identity(number: str) -> str:
    n = number.strip()
    if len(n) <= 6:
        return n[:1] + "*" * (len(n) - 1)
    return n[:3] + "*" * (len(n) - 7) + n[-4:]
