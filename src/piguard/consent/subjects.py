"""End users as the ledger knows them: a keyed hash and a masked form, never the identifier in clear.

A subject is written ``kind:value``: ``phone:13800138000``, ``email:a@example.cn``,
``account:u10001``, ``id_card:110101…``, or ``ref:<32 hex>`` for a hash already known (the console
and the API's withdraw links carry only that). Phones and e-mail addresses hash exactly as the
gateway hashes recipients (:func:`piguard.messaging.records.crypto.address_hash`), so a person's purpose
consents and commercial-message subscriptions meet under one key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from piguard.core import addresses, crypto
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.regulations.markers import carries

KINDS = ("phone", "email", "account", "id_card", "ref")
_REF = re.compile(r"^[0-9a-f]{32}$")
_ACCOUNT = re.compile(r"^[\w.@+\-]{1,128}$")
_ID_CARD = re.compile(r"^\d{17}[\dX]$|^\d{15}$")


@dataclass(frozen=True, slots=True)
class Subject:
    hash: str
    masked: str
    kind: str
    #: channel and hash under which the gateway knows this person (phones and e-mail only)
    address_channel: str | None = None

    @property
    def ref(self) -> str:
        """What audit entries and links carry: the hash, never the identifier."""
        return f"subject:{self.hash}"


def bad_subject(en: str, zh: str) -> PiguardError:
    return validation_error(
        [FieldError("subject", f"{en} / {zh}")],
        f"Invalid subject: {en}",
        f"用户标识无效：{zh}",
    )


@carries("O24-10", "CSL-40")
def parse(subject: object) -> Subject:
    """``kind:value`` -> :class:`Subject`, or a validation error that never echoes the value."""
    if isinstance(subject, Subject):
        return subject
    if not isinstance(subject, str) or ":" not in subject:
        raise bad_subject(
            f"write it kind:value, kind one of {', '.join(KINDS)}",
            f"格式应为 类型:值，类型为 {'、'.join(KINDS)} 之一",
        )
    return _parse(subject.strip())


@lru_cache(maxsize=4096)
def _parse(subject: str) -> Subject:
    kind, _, value = subject.partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if not value:
        raise bad_subject("the value is empty", "值为空")
    if kind == "phone":
        addr = addresses.normalize_address("sms", value, "subject")
        return Subject(crypto.address_hash(addr), addresses.mask_address(addr), "phone", "sms")
    if kind == "email":
        addr = addresses.normalize_address("email", value, "subject")
        return Subject(crypto.address_hash(addr), addresses.mask_address(addr), "email", "email")
    if kind == "account":
        if not _ACCOUNT.match(value):
            raise bad_subject(
                "an account is 1-128 letters, digits or ._@+-", "账号应为 1-128 位字母、数字或 ._@+-"
            )
        return Subject(crypto.identity_hash("account", value), addresses.mask_identity(value), "account")
    if kind == "id_card":
        value = value.upper()
        if not _ID_CARD.match(value):
            raise bad_subject("not a resident ID number", "不是有效的居民身份证号码")
        return Subject(crypto.identity_hash("id_card", value), addresses.mask_identity(value), "id_card")
    if kind == "ref":
        if not _REF.match(value):
            raise bad_subject(
                "a ref is the 32 hex characters of a subject hash", "ref 应为 32 位十六进制哈希"
            )
        return Subject(value, "#" + value[:8], "ref")
    raise bad_subject(
        f"unknown kind {kind[:16]!r}; known: {', '.join(KINDS)}", f"未知类型；可用：{'、'.join(KINDS)}"
    )
