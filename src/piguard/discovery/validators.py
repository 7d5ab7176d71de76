"""Check-digit and structure validators run on candidates only (never used to scan).

Resident IDs follow GB 11643 (ISO 7064 MOD 11-2 check digit, a real date, a division code that
ever existed); bank cards the Luhn check and an issuer prefix; phone numbers the patterns in
``phonenumbers``' metadata for China, compiled once so validation costs a regex match, not a parse.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from piguard import _native
from piguard.discovery.areas import area_table

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
FULLWIDTH = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)}
    | {chr(0xFF21 + i): chr(0x41 + i) for i in range(26)}
    | {chr(0xFF41 + i): chr(0x61 + i) for i in range(26)}
    | {
        "\uff0b": "+",
        "\uff0d": "-",
        "\uff0e": ".",
        "\uff1a": ":",
        "\uff0f": "/",
        "\u3000": " ",
        "\uff20": "@",
        "\u00a0": " ",
        "\uff08": "(",
        "\uff09": ")",
        "\u2014": "-",
        "\u2013": "-",
    }
)


_NEEDS_FOLD = re.compile("[\uff01-\uff5e\u3000\u00a0\u2013\u2014]")


def fold(s: str) -> str:
    """Full-width digits, letters and separators to ASCII; one character for one, so offsets hold."""
    if s.isascii() or _NEEDS_FOLD.search(s) is None:
        return s
    return s.translate(FULLWIDTH)


def id_check_digit(first17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return _ID_CHECK[sum(map(int.__mul__, map(int, first17), _ID_WEIGHTS)) % 11]


#: China's time (UTC+8 all year: no daylight saving since 1991)
_CHINA = timezone(timedelta(hours=8))
#: the current year in China and until when (``time.time()``) it was last read
_YEAR = [0, 0.0]


def this_year() -> int:
    """The current year in China: the latest year a birth date can be in. Read again each minute
    (a long scan over New Year sees the new year; the process's own zone plays no part)."""
    now = time.time()
    if now >= _YEAR[1]:
        _YEAR[0] = datetime.now(_CHINA).year
        _YEAR[1] = now + 60
    return int(_YEAR[0])


def _valid_date(y: int, m: int, d: int, lo: int = 1880, hi: int | None = None) -> bool:
    hi = hi or this_year()
    if not lo <= y <= hi:
        return False
    try:
        date(y, m, d)
    except ValueError:
        return False
    return True


def id_card_quality(number: str) -> float:
    """0 when ``number`` is not a resident ID; else 1.0, or 0.8 on an area-era mismatch.

    18 digits (last may be X): check digit, date, area code that ever existed.
    15 digits (legacy, before 1999): area code and a 19yy date; no check digit, so 0.6.
    """
    areas = area_table()
    if len(number) == 18:
        body = number[:17]
        if not body.isdigit() or id_check_digit(body) != number[17].upper():
            return 0.0
        y, m, d = int(number[6:10]), int(number[10:12]), int(number[12:14])
        if not _valid_date(y, m, d) or not areas.exists(number[:6]) or number[2:6] == "0000":
            return 0.0
        return 0.8 if areas.abolished_before(number[:6], y) else 1.0
    if len(number) == 15 and number.isdigit():
        y, m, d = 1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])
        if not _valid_date(y, m, d, hi=1999) or not areas.exists(number[:6]) or number[2:6] == "0000":
            return 0.0
        return 0.6
    return 0.0


def id_structure_ok(number: str) -> bool:
    """An 18-digit run shaped like an ID (area + date) whatever its check digit: a mistyped ID."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return area_table().exists(number[:6]) and _valid_date(
        int(number[6:10]), int(number[10:12]), int(number[12:14])
    )


_LUHN_DOUBLE = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}


def luhn_ok(digits: str) -> bool:
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = sum(map(int, digits[-1::-2])) + sum(map(_LUHN_DOUBLE.__getitem__, digits[-2::-2]))
    return total % 10 == 0


# Card brands issued in China, by prefix and length (ISO/IEC 7812 IINs as the networks publish
# them): (prefix low, prefix high, prefix length, allowed lengths, plausibility). UnionPay 62 is by
# far the commonest; the international brands co-issued by Chinese banks come next.
CARD_BRANDS: tuple[tuple[str, int, int, int, frozenset[int], float], ...] = (
    ("unionpay", 62, 62, 2, frozenset(range(16, 20)), 1.0),
    ("visa", 4, 4, 1, frozenset((13, 16, 19)), 0.85),
    ("mastercard", 51, 55, 2, frozenset((16,)), 0.85),
    ("mastercard", 2221, 2720, 4, frozenset((16,)), 0.85),
    ("amex", 34, 34, 2, frozenset((15,)), 0.8),
    ("amex", 37, 37, 2, frozenset((15,)), 0.8),
    ("jcb", 3528, 3589, 4, frozenset(range(16, 20)), 0.8),
    ("discover", 6011, 6011, 4, frozenset(range(16, 20)), 0.7),
    ("discover", 644, 649, 3, frozenset(range(16, 20)), 0.7),
    ("discover", 65, 65, 2, frozenset(range(16, 20)), 0.7),
    ("diners", 300, 305, 3, frozenset(range(14, 20)), 0.7),
    ("diners", 36, 36, 2, frozenset(range(14, 20)), 0.7),
    ("diners", 38, 39, 2, frozenset(range(16, 20)), 0.7),
    ("cn_bank", 60, 60, 2, frozenset(range(16, 20)), 0.6),  # older domestic BINs (e.g. 6013)
    ("cn_bank", 9558, 9559, 4, frozenset(range(16, 20)), 0.6),  # ICBC/ABC pre-UnionPay cards
)
CARD_LENGTHS = (13, 14, 15, 16, 17, 18, 19)


def card_brand(digits: str) -> tuple[str, float] | None:
    """The brand whose prefix and length fit ``digits`` (first match wins), with its plausibility."""
    n = len(digits)
    for brand, lo, hi, k, lengths, score in CARD_BRANDS:
        if n in lengths and lo <= int(digits[:k]) <= hi:
            return brand, score
    return None


def card_issuer_score(digits: str) -> float:
    """How plausible the issuer prefix is for this length (UnionPay 62 first); 0 if no brand fits."""
    b = card_brand(digits) if digits.isdigit() and len(digits) >= 13 else None
    return b[1] if b else 0.0


def _phone_metadata_key() -> str | None:
    """What the cached patterns depend on: phonenumbers' China metadata file (its size and
    modification time), found without importing phonenumbers."""
    import importlib.util

    spec = importlib.util.find_spec("phonenumbers")
    if spec is None or not spec.submodule_search_locations:
        return None
    region = Path(next(iter(spec.submodule_search_locations))) / "data" / "region_CN.py"
    try:
        st = region.stat()
    except OSError:
        return None
    return f"{st.st_size}-{st.st_mtime_ns}"


def _cn_pattern_strings() -> tuple[str, str]:
    """The mobile and fixed-line national-number patterns for China. Importing phonenumbers costs
    ~0.2 s, most of ``piguard scan``'s start-up on a small file: the two patterns are kept in the
    cache directory (core/hs_cache.py) and read from there while the metadata file is unchanged."""
    from piguard.core.hs_cache import cache_dir

    key = _phone_metadata_key()
    directory = cache_dir()
    path = directory / f"cn-phone-patterns-{key}.json" if key and directory else None
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return str(data["mobile"]), str(data["fixed"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert meta is not None and meta.mobile is not None and meta.fixed_line is not None
    mobile = meta.mobile.national_number_pattern or r"1[3-9]\d{9}"
    fixed = meta.fixed_line.national_number_pattern or r"[1-9]\d{8,10}"
    if path is not None:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".phone-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"mobile": mobile, "fixed": fixed}, fh)
            os.replace(tmp, path)
        except OSError:  # a cache that cannot be written only costs the import next time
            pass
    return mobile, fixed


@lru_cache(maxsize=1)
def _cn_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    mobile, fixed = _cn_pattern_strings()
    return re.compile(mobile), re.compile(fixed)


def mobile_ok(national: str) -> bool:
    """An 11-digit Chinese mobile number in an allocated range (phonenumbers' metadata)."""
    return len(national) == 11 and _cn_patterns()[0].fullmatch(national) is not None


def landline_ok(national: str) -> bool:
    """Area code (without the trunk 0) + subscriber number, per phonenumbers' fixed-line pattern."""
    return 9 <= len(national) <= 11 and _cn_patterns()[1].fullmatch(national) is not None


def ipv4_ok(s: str) -> bool:
    parts = s.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or len(p) > 3 or (len(p) > 1 and p[0] == "0") or int(p) > 255:
            return False
    return True


def ipv6_ok(s: str) -> bool:
    colons = s.count(":")
    if colons < 2:
        return False
    # without "::" an address has eight groups (seven colons), or six and a dotted quad: the
    # parser below would refuse anything else (a time of day, 12:30:00), at the cost of an exception
    if "::" not in s and colons != 7 and (colons != 6 or "." not in s):
        return False
    if "." in s or "/" in s or "%" in s:  # an IPv4 tail, a prefix or a scope: the parser decides
        return ipv6_parses(s)
    return _ipv6_groups_ok(s.split(":"))


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _ipv6_groups_ok(parts: list[str]) -> bool:
    """What ipaddress.IPv6Address's parser checks of an address without an IPv4 tail, a prefix or
    a scope, split at its colons (three parts or more): at most one "::", as many groups as it
    leaves room for, 1-4 hex digits each (the tests compare this with the parser itself)."""
    if len(parts) > 9:
        return False
    skip = None
    for i in range(1, len(parts) - 1):
        if not parts[i]:
            if skip is not None:
                return False  # "::" twice
            skip = i
    if skip is not None:
        hi, lo = skip, len(parts) - skip - 1
        if not parts[0]:
            hi -= 1
            if hi:
                return False  # a leading ":" must be "::"
        if not parts[-1]:
            lo -= 1
            if lo:
                return False  # a trailing ":" must be "::"
        if 8 - (hi + lo) < 1:
            return False
        groups = parts[:hi] + parts[len(parts) - lo :]
    else:
        if len(parts) != 8 or not parts[0] or not parts[-1]:
            return False
        groups = parts
    return all(len(g) <= 4 and _HEX_DIGITS.issuperset(g) and g for g in groups)


def ipv6_parses(s: str) -> bool:
    """ipv6_ok without its shortcut (the original; the tests compare both): what the standard
    library's parser accepts, of strings with two colons or more."""
    if s.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def normalise_phone(value: str) -> str:
    """E.164 form of a Chinese phone number (for pseudonyms: one person, one token); else folded digits."""
    import phonenumbers

    folded = fold(value)
    try:
        num = phonenumbers.parse(folded, "CN")
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return "".join(c for c in folded if c.isdigit())


# The compiled check digits (src/piguard/_native/checks.c), same results; the originals above are
# the fallback where no compiler was found at install.
py_luhn_ok, py_id_check_digit = luhn_ok, id_check_digit
_checks = _native.load("checks")
if _checks is not None:
    luhn_ok = _checks.luhn_ok  # type: ignore[assignment]
    id_check_digit = _checks.id_check_digit  # type: ignore[assignment]
