"""De-identification: mask, redact, keyed pseudonyms, generalisation (O24-10, O24-13.3, CSL-42.1).

- ``mask``: partial and format-keeping (``138****5678``, ``张*``, ``z***@qq.com``); separators stay.
- ``redact``: the value becomes its category label, ``[phone_mobile]``.
- ``pseudonymise``: ``HMAC-SHA256(key, category | normalised value)`` rendered as
  ``PSN-<category>-<key id>-<base32>``; the same person gets the same token in every file, the key
  id says which key made it, and old keys stay usable for checking tokens after a rotation.
- ``generalise``: birth date -> year, address -> city, GPS -> 0.1 degree, IP -> /24 network,
  time of use -> the day; categories without a coarser form are masked.

The key comes from ``PIGUARD_PSEUDONYM_KEY`` (id ``PIGUARD_PSEUDONYM_KEY_ID``, default ``k1``);
former keys from ``PIGUARD_PSEUDONYM_OLD_KEYS`` as ``id:key,id:key``. The development default is
refused when ``PIGUARD_ENV=production``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.discovery.areas import area_table
from piguard.discovery.engine import Finding, detect
from piguard.discovery.validators import fold, normalise_phone
from piguard.regulations.markers import carries

DEV_KEY = "dev-pseudonym-key-change-me"


class Method(StrEnum):
    MASK = "mask"
    REDACT = "redact"
    PSEUDONYMISE = "pseudonymise"
    GENERALISE = "generalise"


class PseudonymSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIGUARD_", extra="ignore")

    env: str = "development"
    pseudonym_key: str = DEV_KEY
    pseudonym_key_id: str = "k1"
    pseudonym_old_keys: str = ""

    def keys(self) -> dict[str, bytes]:
        """Every usable key by id; the current one first."""
        if self.env == "production" and (
            self.pseudonym_key == DEV_KEY or self.pseudonym_key.startswith("dev-")
        ):
            raise PiguardError(
                "pseudonym_key_not_set",
                "PIGUARD_PSEUDONYM_KEY must be set in production.",
                "生产环境必须设置 PIGUARD_PSEUDONYM_KEY。",
                obligations=("CSL-42.1", "O24-10"),
                http_status=500,
                exit_code=2,
            )
        if not re.fullmatch(r"[A-Za-z0-9_]{1,16}", self.pseudonym_key_id):
            raise validation_error([FieldError("PIGUARD_PSEUDONYM_KEY_ID", "1-16 letters, digits or _")])
        keys = {self.pseudonym_key_id: self.pseudonym_key.encode("utf-8")}
        for item in filter(None, (p.strip() for p in self.pseudonym_old_keys.split(","))):
            kid, sep, key = item.partition(":")
            if not sep or not kid or not key:
                raise validation_error([FieldError("PIGUARD_PSEUDONYM_OLD_KEYS", "expected id:key,id:key")])
            keys.setdefault(kid, key.encode("utf-8"))
        return keys


def _normalise(value: str, category: str) -> str:
    v = fold(value).strip()
    if category in ("phone_mobile", "phone_landline"):
        return normalise_phone(v)
    if category in ("email", "ip_address"):
        return v.lower()
    if category in ("id_card", "passport", "license_plate"):
        return re.sub(r"[\s\-·•]", "", v).upper()
    if category == "bank_card":
        return re.sub(r"\D", "", v)
    return re.sub(r"\s+", " ", v)


def _token(key: bytes, kid: str, value: str, category: str) -> str:
    digest = hmac.new(key, f"{category}|{_normalise(value, category)}".encode(), hashlib.sha256).digest()
    return f"PSN-{category}-{kid}-{base64.b32encode(digest[:10]).decode().lower()}"


@carries("CSL-42.1", "O24-10")
def pseudonym(value: str, category: str, settings: PseudonymSettings | None = None) -> str:
    """Keyed pseudonym with the current key: same input, same token; no key, no way back."""
    settings = settings or PseudonymSettings()
    keys = settings.keys()
    kid = settings.pseudonym_key_id
    return _token(keys[kid], kid, value, category)


def pseudonym_matches(
    token: str, value: str, category: str, settings: PseudonymSettings | None = None
) -> bool:
    """Does ``token`` stand for ``value``? Works with the key id in the token, current or old."""
    m = re.fullmatch(r"PSN-([a-z_]+)-([A-Za-z0-9_]+)-([a-z2-7]+)", token)
    if not m or m.group(1) != category:
        return False
    key = (settings or PseudonymSettings()).keys().get(m.group(2))
    return key is not None and hmac.compare_digest(_token(key, m.group(2), value, category), token)


# ---------------------------------------------------------------- masking

# (keep at start, keep at end) in letters/digits; everything else of those becomes "*"
_KEEP: dict[str, tuple[int, int]] = {
    "phone_mobile": (3, 4),
    "phone_landline": (4, 2),
    "id_card": (3, 2),
    "bank_card": (4, 4),
    "passport": (1, 2),
    "license_plate": (2, 1),
    "qq": (2, 1),
    "wechat": (2, 1),
    "account": (2, 1),
}


def _is_alnum(c: str) -> bool:
    return c.isalnum()


def _mask_chars(value: str, keep_start: int, keep_end: int) -> str:
    idx = [i for i, c in enumerate(value) if _is_alnum(c)]
    if len(idx) <= keep_start + keep_end + 2:  # too short to show anything safely
        keep_start, keep_end = (1, 0) if len(idx) > 3 else (0, 0)
    hidden = set(idx[keep_start : len(idx) - keep_end if keep_end else None])
    return "".join("*" if i in hidden else c for i, c in enumerate(value))


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return (local[:1] + "***" if local else "***") + "@" + domain


def _mask_name(value: str) -> str:
    if value.isascii():
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in value.split(" "))
    from piguard.discovery.recognizers import surnames

    _, compound = surnames()
    n = 2 if value[:2] in compound else 1
    return value[:n] + "*" * max(1, len(value) - n)


def _city_of(address: str) -> str | None:
    """The province and city (prefecture) an address names, from the division table."""
    names = area_table().names()
    found: list[str] = []
    i = 0
    while i < len(address) and len(found) < 2:
        for n in range(min(12, len(address) - i), 1, -1):
            piece = address[i : i + n]
            level = names.get(piece)
            if level in ("province", "prefecture") and piece not in ("市辖区", "县"):
                found.append(piece)
                i += n
                break
        else:
            if found:
                break
            i += 1
    return "".join(found) or None


def _mask_address(value: str) -> str:
    city = _city_of(value)
    if city and value.startswith(city):
        return city + "*" * 4
    return value[:2] + "*" * 4 if not value.isascii() else "*" * 4


def _mask_ip(value: str) -> str:
    if "." in value and ":" not in value:
        a, b, *_ = value.split(".")
        return f"{a}.{b}.*.*"
    groups = value.split(":")
    return ":".join(groups[:2]) + ":*"


def _mask_gps(value: str) -> str:
    return re.sub(r"(\d+\.\d)\d+", lambda m: m.group(1) + "*" * 3, value)


@carries("O24-10", "O24-13.3", "CSL-40", "NPC-3")
def mask_value(value: str, category: str) -> str:
    """Partial, format-keeping mask of one recognised value."""
    if category == "email":
        return _mask_email(value)
    if category == "name":
        return _mask_name(value)
    if category == "address":
        return _mask_address(value)
    if category == "ip_address":
        return _mask_ip(value)
    if category == "gps":
        return _mask_gps(value)
    if category == "password":
        return "******"
    if category in ("birth_date", "location_time"):  # keep the year
        return re.sub(r"(?<=\d{4})(.*)", lambda m: re.sub(r"[0-9０-９]", "*", m.group(1)), value, count=1)
    keep = _KEEP.get(category, (1, 1))
    return _mask_chars(value, *keep)


@carries("CSL-42.1")
def generalise_value(value: str, category: str) -> str:
    v = fold(value)
    if category in ("birth_date", "location_time"):
        m = re.search(r"(?:19|20)\d{2}", v)
        if m and category == "birth_date":
            return m.group(0)
        d = re.match(r"(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)", v)
        return d.group(1) if d else mask_value(value, category)
    if category == "address":
        return _city_of(value) or mask_value(value, category)
    if category == "gps":
        return re.sub(r"-?\d+\.\d+", lambda m: f"{float(m.group(0)):.1f}", v)
    if category == "ip_address" and "." in v and ":" not in v:
        a, b, c, _ = v.split(".")
        return f"{a}.{b}.{c}.0/24"
    if category == "id_card":  # the province of issue
        return area_table().province(v[:6]) or mask_value(value, category)
    return mask_value(value, category)


def transform(value: str, category: str, method: Method, settings: PseudonymSettings | None = None) -> str:
    if method is Method.MASK:
        return mask_value(value, category)
    if method is Method.REDACT:
        return f"[{category}]"
    if method is Method.PSEUDONYMISE:
        return pseudonym(value, category, settings)
    return generalise_value(value, category)


@dataclass(frozen=True)
class Deidentified:
    text: str
    findings: list[Finding]


def parse_method(name: str) -> Method:
    aliases = {"pseudonymize": "pseudonymise", "generalize": "generalise", "hash": "pseudonymise"}
    try:
        return Method(aliases.get(name, name))
    except ValueError:
        raise validation_error(
            [FieldError("method", f"one of {', '.join(m.value for m in Method)}")],
            "Unknown de-identification method.",
            "未知的去标识化方法。",
        ) from None


@carries("O24-10", "O24-13.3", "CSL-42.1")
def deidentify_text(
    text: str,
    method: Method | str = Method.MASK,
    categories: Collection[str] | None = None,
    settings: PseudonymSettings | None = None,
    min_confidence: float | None = None,
) -> Deidentified:
    """Replace every recognised value in ``text``; returns the new text and what was found."""
    method = parse_method(method) if isinstance(method, str) else method
    if method is Method.PSEUDONYMISE:
        settings = settings or PseudonymSettings()
        settings.keys()  # fail early (production without a key) before touching any text
    findings = detect(text, categories, min_confidence)
    out: list[str] = []
    pos = 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(transform(text[f.start : f.end], f.category, method, settings))
        pos = f.end
    out.append(text[pos:])
    return Deidentified("".join(out), findings)


@carries("O24-10", "O24-13.3", "CSL-42.1")
def deidentify_cell(
    value: Any,
    header: str,
    method: Method,
    settings: PseudonymSettings | None = None,
    categories: Collection[str] | None = None,
) -> Any:
    """One table cell, read with the words its column name implies (``姓名：`` before a name)."""
    from piguard.discovery.scanners import header_context

    if value is None or not isinstance(value, str) or not value.strip():
        return value
    prefix = header_context(header)
    text = prefix + value
    out: list[str] = []
    pos = len(prefix)
    for f in detect(text, categories):
        if f.start < len(prefix):
            continue
        out.append(text[pos : f.start])
        out.append(transform(text[f.start : f.end], f.category, method, settings))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
