"""PI recognisers: one small class per kind of evidence, configured from ``data/recognizers.yaml``.

The engine (:mod:`piguard.discovery.engine`) makes one structural pass (digit clusters, ``@``,
plate heads, IPv6 colons) and one Aho-Corasick pass (trigger and context words, division names),
then calls each recogniser only on the candidates it registered for:

- *number* recognisers get digit tokens of the lengths they declare (``digit_lengths``);
- *dotted* ones get tokens holding a ``.`` (IPv4, GPS);
- *anchor* ones get ``@``, plate heads or IPv6 colons;
- *keyword* ones get the position right after one of their trigger words.

Each returns candidates ``(start, end, confidence)``; the engine adds context scoring (words from
the recogniser's ``context`` list near the match raise confidence, ``negative`` ones lower it),
resolves overlaps and drops what falls under ``min_confidence``. Python counts CJK characters as
word characters, so no pattern here uses ``\\b`` next to digits: boundaries are explicit
look-arounds on ASCII classes.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from piguard.discovery import validators as v
from piguard.discovery.areas import area_table
from piguard.regulations.markers import carries

if TYPE_CHECKING:
    from piguard.discovery.engine import Scan

Cand = tuple[int, int, float]
ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SEP = r"[\"' \t:：=＝]*(?:是|为|is|:|：|=)?[\"' \t:：=＝]*"  # quotes: "username":"x"


@dataclass
class RecognizerSpec:
    name: str
    cls: str
    category: str
    base: float
    context: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    context_bonus: float = 0.15
    negative_penalty: float = 0.4
    triggers: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RecognizerSpec:
        known = {
            "name",
            "class",
            "category",
            "base",
            "context",
            "negative",
            "context_bonus",
            "negative_penalty",
            "triggers",
        }
        return cls(
            name=str(d["name"]),
            cls=str(d["class"]),
            category=str(d["category"]),
            base=float(d["base"]),
            context=tuple(d.get("context", ())),
            negative=tuple(d.get("negative", ())),
            context_bonus=float(d.get("context_bonus", 0.15)),
            negative_penalty=float(d.get("negative_penalty", 0.4)),
            triggers=tuple(d.get("triggers", ())),
            options={k: val for k, val in d.items() if k not in known},
        )


class Recognizer:
    """Base class. ``anchor`` says which candidates the engine hands over."""

    anchor: ClassVar[str] = ""  # number | dotted | at | plate | colon | keyword | post
    digit_lengths: ClassVar[tuple[int, ...]] = ()
    numeric: ClassVar[bool] = False  # lowered by the shared numeric negative words (order no. ...)

    def __init__(self, spec: RecognizerSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.category = spec.category
        self.base = spec.base

    def keywords(self) -> Iterable[str]:
        """Trigger words (anchors) for keyword recognisers."""
        return self.spec.triggers

    # number / dotted: ``start`` is the token's offset in the text, ``tok`` the folded token.
    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        return None

    # at / plate / colon / keyword: ``pos`` is the anchor's position (keyword: just after the word).
    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        return ()

    def gate_kind(self, trigger: str) -> int:
        """How the engine's compiled gate (piguard/_native/anchorgate.c) may drop a hit of
        ``trigger`` before this recogniser is called: GATE_KEEP (never), GATE_NAME or GATE_ADDRESS
        (a necessary condition of on_anchor's first checks, tested in C on ``gate_table()``)."""
        return GATE_KEEP


def _alnum_before(text: str, i: int) -> bool:
    return i > 0 and text[i - 1] in ASCII_ALNUM


def _alnum_after(text: str, i: int) -> bool:
    return i < len(text) and text[i] in ASCII_ALNUM


_PLAIN = re.compile(r"[0-9 \-]+")


def _plain_separators(tok: str, allowed: str = " -") -> bool:
    return tok.isdigit() or _PLAIN.fullmatch(tok) is not None


# ---------------------------------------------------------------- numbers


@carries("O24-4", "GC-111")
class IdCardRecognizer(Recognizer):
    """18-digit resident ID (GB 11643 check digit, date, area code) and 15-digit legacy IDs."""

    anchor = "number"
    digit_lengths = (15, 17, 18)  # 17 digits + X arrive as 17 digits plus a trailing X
    numeric = True

    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        number = digits
        if tok[-1] in "Xx":
            number = digits + "X"
        elif len(digits) == 17:
            return None
        if not _plain_separators(tok.rstrip("Xx"), " -"):
            return None
        q = v.id_card_quality(number)
        if not q:
            return None
        end = start + len(tok)
        if _alnum_before(scan.text, start) or _alnum_after(scan.text, end):
            return None
        return start, end, self.base * q if len(number) == 18 else q


@carries("O24-4", "GC-111")
class MobileRecognizer(Recognizer):
    """Chinese mobile numbers: 11 digits in an allocated range, +86/0086 optional, any grouping."""

    anchor = "number"
    digit_lengths = (11, 13, 15)
    numeric = True

    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        n = len(digits)
        if n == 13:
            if not digits.startswith("86"):
                return None
            national = digits[2:]
        elif n == 15:
            if not digits.startswith("0086"):
                return None
            national = digits[4:]
        else:
            national = digits
        if not _plain_separators(tok.lstrip("+"), " -") or not v.mobile_ok(national):
            return None
        end = start + len(tok)
        if _alnum_before(scan.text, start) or _alnum_after(scan.text, end):
            return None
        if n == 11 and tok[0] == "+":
            return None
        return start, end, self.base


_LANDLINE = re.compile(
    r"(?:\+?86[ \-]?|0086[ \-]?)?(?:0?(\d{2,3})[ \-]?)(\d{7,8})(?:[ \-]?(?:转|ext\.?|-)\d{1,6})?"
)
_LANDLINE_PAREN = re.compile(r"[(（]0(\d{2,3})[)）][ \-]?\Z")
# an extension after the number belongs to the span: -8898, 转99, 转 99, ext. 12, x12, 分机 12, #12
_EXTENSION = re.compile(
    r"(?:[ \t]*(?:转|分机号?|内线|ext\.?|Ext\.?|EXT\.?|extension|x|X|#)[ \t:：]*|-)([0-9]{1,6})(?![0-9])"
)


@carries("O24-4", "GC-111")
class LandlineRecognizer(Recognizer):
    """Landlines: 0 + area code + 7-8 digit subscriber; +86, parentheses, spaces and dashes; an
    extension (``-8898``, ``转99``, `` ext. 12``, ``分机 12``) is part of the span."""

    anchor = "number"
    digit_lengths = tuple(range(7, 20))
    numeric = True

    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        if len(digits) > 8 and digits[0] not in "08" and tok[0] != "+":
            return None  # the cheap rejection first: a landline starts with 0, 86 or +
        if tok[-1] in "Xx":  # 021-61234567x12: the structural pass took the x along
            tok = tok[:-1]
        c = self._number(scan, start, tok, digits)
        if c is None:
            return None
        s, end, conf = c
        m = _EXTENSION.match(scan.folded, end, end + 16)
        if m:
            end = m.end()
        elif _alnum_after(scan.text, end):
            return None
        return s, end, conf

    def _number(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        text = scan.text
        end = start + len(tok)
        if _alnum_before(text, start):
            return None
        if not _plain_separators(tok.lstrip("+"), " -"):
            return None
        n = len(digits)
        if n <= 8:  # (010)12345678: the area code sits in parentheses before the token
            head = scan.folded[max(0, start - 7) : start]
            m = _LANDLINE_PAREN.search(head)
            if not m or not digits.isdigit() or not v.landline_ok(m.group(1) + digits):
                return None
            return start - len(m.group(0)), end, min(1.0, self.base + 0.1)
        plus = tok[0] == "+" or digits.startswith("86") or digits.startswith("0086")
        if not plus and digits[0] != "0":
            return None
        if n <= 14:
            if plus:
                national = digits[4:] if digits.startswith("0086") else digits[2:]
                if national.startswith("0"):
                    national = national[1:]
            else:
                national = digits[1:]
            if v.landline_ok(national):
                grouped = any(c in tok for c in " -")
                return start, end, min(1.0, self.base + (0.1 if grouped or plus else 0.0))
        # extension inside the token: 010-12345678-8898
        if "-" in tok or " " in tok:
            m = _LANDLINE.fullmatch(tok)
            if m and v.landline_ok(m.group(1) + m.group(2)):
                return start, end, self.base
        return None


@carries("O24-4", "GC-111")
class BankCardRecognizer(Recognizer):
    """Bank cards of every brand issued in China: UnionPay 62 (16-19 digits), Visa 4 (13/16/19),
    Mastercard 51-55 and 2221-2720 (16), Amex 34/37 (15), JCB 3528-3589, Discover, Diners; Luhn,
    and a prefix that fits the length (``validators.CARD_BRANDS``)."""

    anchor = "number"
    digit_lengths = v.CARD_LENGTHS
    numeric = True

    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        if digits[0] not in "234569" or not digits.isdigit():
            return None  # no card brand starts with 0, 1, 7 or 8
        if not _plain_separators(tok, " -") or not v.luhn_ok(digits):
            return None
        issuer = v.card_issuer_score(digits)
        if not issuer:
            return None
        n = len(digits)
        if n == 18 and v.id_structure_ok(digits):  # a resident ID with a typo, not a card
            return None
        end = start + len(tok)
        if _alnum_before(scan.text, start) or _alnum_after(scan.text, end):
            return None
        conf = self.base * issuer
        if n < 16 and not scan.near_context(self, start, end):
            # 13-15 digit cards (Visa 13, Amex, Diners) only with a card word near; without one a
            # legacy 15-digit ID (areas 34/37 look like Amex) stays an ID
            if n == 15 and v.id_card_quality(digits):
                return None
            conf -= 0.2
        return start, end, conf


_PASSPORT = re.compile(r"(?:E[A-HJ-NP-Z]?|G|D|DE|S|SE|P|PE)\Z")


@carries("O24-4", "GC-111")
class PassportRecognizer(Recognizer):
    """PRC passports: E/G + 8 digits, E + letter + 7 digits (2019 series), D/S/P service passports."""

    anchor = "number"
    digit_lengths = (7, 8)
    numeric = True

    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        if not tok.isdigit():
            return None
        text = scan.text
        head = scan.folded[max(0, start - 2) : start]
        m = _PASSPORT.search(head)
        if not m:
            return None
        prefix = m.group(0)
        s = start - len(prefix)
        if _alnum_before(text, s) or _alnum_after(text, start + len(tok)):
            return None
        if prefix == "G":  # G series stopped in 2012: every one has expired, so only with context
            return (s, start + len(tok), self.base - 0.25) if len(digits) == 8 else None
        if prefix == "E":
            ok = len(digits) == 8
        elif len(prefix) == 2 and prefix[0] == "E":
            ok = len(digits) == 7
        else:  # D, S, P, DE, SE, PE: diplomatic, service and official passports, 7 digits
            ok = len(digits) == 7
        return (s, start + len(tok), self.base) if ok else None


_VERSION_BEFORE = re.compile(
    r"(?:(?<![A-Za-z])(?:ver|rev|build|firmware|sdk|release|software)|[Vv]ersion|VERSION|Build|Firmware"
    r"|版本号?|固件|内核|软件|型号)"
    r"[A-Za-z_]*[\"']?[ \t]*(?:[:：=为是][ \t]*)?[\"']?[ \t]*\Z"
)
_DOTTED_IP = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?(?:/\d{1,2})?")


@carries("O24-4", "GC-111")
class Ipv4Recognizer(Recognizer):
    anchor = "dotted"
    numeric = False

    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        m = _DOTTED_IP.fullmatch(tok)
        if not m or not v.ipv4_ok(m.group(1)):
            return None
        end = start + len(m.group(1))
        text = scan.text
        # "IP1.2.3.4" is an address, "v1.2.3.4" a version
        if (start and (text[start - 1].isdigit() or text[start - 1] in "vV.")) or (
            end < len(text) and text[end] in ASCII_LETTERS
        ):
            return None
        # a dotted quad right after a version marker is a version: "appVersion":"1.2.3.4",
        # 版本号：1.2.3.4, version=1.2.3.4, build 1.2.3.4
        if _VERSION_BEFORE.search(scan.folded, max(0, start - 40), start):
            return None
        return start, end, self.base


_GPS_NUM = re.compile(r"-?\d{1,3}\.\d{3,}")
_AXIS = r"(?:东经|西经|北纬|南纬|经度|纬度|[EeWwNnSs东西南北]|lng|lon|lat)"
_GPS_PAIR = re.compile(
    r"[°度]?[ \t]*(?:[,，/;；、][ \t]*|[ \t]+)" + _AXIS + r"?[ \t:：=]*(-?\d{1,3}\.\d{3,})(?![\d.])[°度]?"
)
# the axis word just before a lone value (纬度 39.9, "lat":39.9, 北纬39.9°)
_AXIS_BEFORE = re.compile(
    r"(?:东经|西经|北纬|南纬|经度|纬度|(?<![A-Za-z])(?:lat|lng|lon|latitude|longitude|Lat|Lng|Lon|Latitude|Longitude))"
    r"[\"']?[ \t]*[:：=]?[ \t]*[\"']?\Z"
)
_CN_AXIS_BEFORE = re.compile(r"(?:东经|西经|北纬|南纬)[ \t]*\Z")


@carries("O24-4", "GC-111")
class GpsRecognizer(Recognizer):
    """Latitude/longitude pairs in decimal degrees, either order (``116.397128,39.916527`` as map
    APIs give it, ``39.9165, 116.3971``, ``北纬39.9165°，东经116.3971°``), or a single value right after
    its axis word (纬度/经度/lat/lng). A pair outside China needs a location word near: two
    decimals side by side (``0.9123,0.8812``, scores) are no place."""

    anchor = "dotted"

    def on_token(self, scan: Scan, start: int, tok: str, digits: str) -> Cand | None:
        if not _GPS_NUM.fullmatch(tok):
            return None
        text = scan.text
        if start > 0 and text[start - 1] == "-":
            start -= 1
            tok = "-" + tok
        if _alnum_before(text, start) and text[start - 1] not in "NSEWnsew":
            return None
        first = float(tok)
        end = start + len(tok)
        decimals = len(tok) - tok.index(".") - 1
        head = _CN_AXIS_BEFORE.search(scan.folded, max(0, start - 4), start)
        s0 = head.start() if head else start
        m = _GPS_PAIR.match(scan.folded, end, end + 40)
        if m:
            second = float(m.group(1))
            pair_ok = (abs(first) <= 90 and abs(second) <= 180) or (abs(first) <= 180 and abs(second) <= 90)
            if pair_ok and min(decimals, len(m.group(1)) - m.group(1).index(".") - 1) >= 3:
                in_china = (3 <= first <= 54 and 73 <= second <= 136) or (
                    73 <= first <= 136 and 3 <= second <= 54
                )
                if in_china or head or scan.near_context(self, start, m.end()):
                    e = m.end() if head else m.end() - (1 if m.group(0)[-1] in "°度" else 0)
                    return s0, e, self.base + (0.1 if in_china else 0.0)
        # lone coordinate: only right after its own axis word (纬度 39.9, lat=39.9)
        if (
            abs(first) <= 180
            and decimals >= 4
            and _AXIS_BEFORE.search(scan.folded, max(0, start - 14), start)
        ):
            return start, end, 0.6
        return None


_DMS_NUM = (
    r"\d{1,3}(?:\.\d+)?[°º](?:[ \t]?\d{1,2}(?:\.\d+)?['′’])?(?:[ \t]?\d{1,2}(?:\.\d+)?(?:\"|″|”|''|′′))?"
)
_DMS_ONE = (
    rf"(?<![A-Za-z])[NSEWnsew][ \t]?{_DMS_NUM}"  # N39°54′27″
    rf"|{_DMS_NUM}[ \t]?[NSEWnsew](?![A-Za-z])"  # 39°54'27"N
    r"|(?:东经|西经|北纬|南纬)[ \t]?\d{1,3}(?:\.\d+)?(?:[°º度])?(?:\d{1,2}(?:\.\d+)?[分'′’])?"
    r"(?:\d{1,2}(?:\.\d+)?(?:秒|\"|″|”))?"
)
_DMS_PAIR = re.compile(rf"({_DMS_ONE})[ \t]*[,，、;；/]?[ \t]*({_DMS_ONE})")
_DMS_PARTS = re.compile(
    r"(\d{1,3}(?:\.\d+)?)(?:[°º度][ \t]?(?:(\d{1,2}(?:\.\d+)?)[分'′’][ \t]?(?:(\d{1,2}(?:\.\d+)?))?)?)?"
)


def _dms_axis(coord: str) -> tuple[str, float] | None:
    """``("lat"|"lon", degrees)`` of one DMS or 北纬/东经 coordinate; None without a hemisphere."""
    c = coord.strip()
    if c[:2] in ("北纬", "南纬") or c[:1] in "NSns" or c[-1:] in "NSns":
        axis = "lat"
    elif c[:2] in ("东经", "西经") or c[:1] in "EWew" or c[-1:] in "EWew":
        axis = "lon"
    else:
        return None
    m = _DMS_PARTS.search(c)
    if m is None:
        return None
    deg = float(m.group(1))
    mins = float(m.group(2) or 0)
    secs = float(m.group(3) or 0)
    if mins >= 60 or secs >= 60:
        return None
    return axis, deg + mins / 60 + secs / 3600


@carries("O24-4", "GC-111")
class DmsRecognizer(Recognizer):
    """Coordinate pairs in degrees, minutes and seconds with their hemispheres (``39°54'27"N
    116°23'17"E``, ``N39°54′27″ E116°23′17″``) and with 北纬/东经 words (``北纬39度54分27秒 东经116度23分
    17秒``, ``东经116.3971°，北纬39.9165°``): one latitude and one longitude, each within range."""

    anchor = "keyword"

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.folded
        lo = max(0, kw_start - 8)
        for m in _DMS_PAIR.finditer(text, lo, min(len(text), pos + 60)):
            if m.start() > kw_start:
                break
            if m.end() <= kw_start:
                continue
            a, b = _dms_axis(m.group(1)), _dms_axis(m.group(2))
            if a is None or b is None or a[0] == b[0]:
                continue
            lat, lon = (a[1], b[1]) if a[0] == "lat" else (b[1], a[1])
            if lat > 90 or lon > 180:
                continue
            if _alnum_before(text, m.start()) or _alnum_after(text, m.end()):
                continue
            return ((m.start(), m.end(), self.base),)
        return ()


# ---------------------------------------------------------------- anchors

_EMAIL_DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_EMAIL_LOCAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")


@carries("O24-4", "GC-111")
class EmailRecognizer(Recognizer):
    """E-mail addresses: ASCII local part and domain only, so adjacent Chinese is never swallowed."""

    anchor = "at"

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        i = pos
        lo = max(0, pos - 64)
        while i > lo and text[i - 1] in _EMAIL_LOCAL:
            i -= 1
        while i < pos and text[i] in ".":
            i += 1
        if i == pos:
            return ()
        m = _EMAIL_DOMAIN.match(scan.folded, pos + 1, pos + 256)
        if not m:
            return ()
        return ((i, m.end(), self.base),)


# Letters I and O are never used; people type plates in lower case too (粤b12345), so letters match
# either case, with the same rules.
_PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Za-hj-np-z][·•・.\- ]?"
    r"(?:[DFdf][A-HJ-NP-Za-hj-np-z0-9][0-9]{4}|[0-9]{5}[DFdf]"
    r"|[A-HJ-NP-Za-hj-np-z0-9]{4}[A-HJ-NP-Za-hj-np-z0-9挂学警港澳])"
    r"(?![A-Za-z0-9])"
)


@carries("O24-4", "GC-111")
class PlateRecognizer(Recognizer):
    """Mainland licence plates: 7 characters, or 8 for new-energy vehicles (D/F series)."""

    anchor = "plate"

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        m = _PLATE.match(scan.text, pos)
        if not m:
            return ()
        body = m.group(0)[2:].lstrip("·•・.- ")
        if sum(c.isdigit() for c in body) < 2:  # words like 京AB... in running text
            return ()
        return ((pos, m.end(), self.base),)


_V6_PY = re.compile(
    r"(?:(?<=IP)|(?<=ip)|(?<=IP:)|(?<=ip:)|(?<=v6:)|(?<![0-9A-Za-z:.]))(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![0-9A-Za-z:])"
)
# _V6_PY (the readable original) opening with one character class, so that the regex engine skips
# at C speed to the characters a match can start with (a hex digit or a colon) instead of trying
# the look-behinds at every position: the first character is consumed, then the look-behinds are
# checked one character further back, and the first group is that character's rest (1-4 hex
# digits and a colon, or the colon alone). Same matches, in the same order (tests); half the time.
_H = "[0-9A-Fa-f]"
_V6 = re.compile(
    rf"[0-9A-Fa-f:](?:(?<={_H})(?:(?<=IP{_H})|(?<=ip{_H})|(?<=IP:{_H})|(?<=ip:{_H})|(?<=v6:{_H})"
    rf"|(?<![0-9A-Za-z:.]{_H})){_H}{{0,3}}:"
    r"|(?<=:)(?:(?<=IP:)|(?<=ip:)|(?<=IP::)|(?<=ip::)|(?<=v6::)|(?<![0-9A-Za-z:.]:)))"
    rf"(?:{_H}{{0,4}}:){{1,6}}(?:{_H}{{1,4}}|\d{{1,3}}(?:\.\d{{1,3}}){{3}})?(?![0-9A-Za-z:])"
)


@carries("O24-4", "GC-111")
class Ipv6Recognizer(Recognizer):
    anchor = "colon"

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        lo = max(0, pos - 40)
        for m in _V6.finditer(text, lo, min(len(text), pos + 46)):
            if m.start() <= pos < m.end():
                s, start = m.group(0), m.start()
                if s.startswith(":") and not s.startswith("::"):  # "IP:2001:db8::1"
                    s, start = s[1:], start + 1
                if any(c in "0123456789abcdefABCDEF" for c in s) and v.ipv6_ok(s):
                    return ((start, m.end(), self.base),)
                return ()
        return ()


# ---------------------------------------------------------------- keyword-driven


_MASK_CHARS = frozenset("x*#•●·-_")
# a key's tail after an ASCII trigger word; the key must then be followed by a separator
_KEY_TAIL = re.compile(r"[_\-]?(?:id|Id|ID|no|No|NO|num|Num|number|Number)(?=[\"' \t]*[:=：])")


class KeywordValueRecognizer(Recognizer):
    """``trigger [separator] value``: QQ, WeChat IDs, accounts (value pattern from the registry)."""

    anchor = "keyword"

    def __init__(self, spec: RecognizerSpec) -> None:
        super().__init__(spec)
        self.value = re.compile(_SEP + r"(?:号码|号|ID|id)?" + _SEP + "(" + str(spec.options["value"]) + ")")
        self.sep_bonus = float(spec.options.get("need_separator_bonus", 0.0))
        self.ascii_needs_separator = bool(spec.options.get("ascii_needs_separator", False))

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        keyed = False
        if trigger.isascii() and trigger[0].isalpha():
            if _alnum_before(text, kw_start):
                return ()  # "vx" inside an English word
            if pos < len(text) and (text[pos] in ASCII_LETTERS or text[pos] == "_"):
                t = _KEY_TAIL.match(text, pos)
                if t is None:
                    return ()
                pos, keyed = t.end(), True  # qq_number=, wechat_id:, qqNo
        folded = scan.folded
        m = self.value.match(folded, pos, pos + 48)
        if not m:
            return ()
        if set(m.group(1).lower()) <= _MASK_CHARS:
            return ()  # already masked (xxxx)
        head = folded[pos : m.start(1)]
        explicit = ":" in head or "：" in head or "=" in head
        if keyed and not explicit:
            return ()
        if self.ascii_needs_separator and trigger.isascii() and not explicit:
            return ()  # "login from ...": English trigger words need "key: value"
        conf = self.base + (self.sep_bonus if explicit else 0.0)
        return ((m.start(1), m.end(1), min(conf, 1.0)),)


_NEXT_KEY = re.compile(r"[&|](?=[A-Za-z_][A-Za-z0-9_.\-]{0,30}=)")
_PASSWORD_VALUE = re.compile(
    r"[\"']?[ \t]*(?:[:：=＝]|是|为|is)[ \t]*[\"']?([^\s，。；;,、)）】\]\"'<>“”]{1,64})"
)


@carries("O24-4", "GC-111")
class PasswordRecognizer(Recognizer):
    """Passwords in key/value form: ``密码：…``, ``password=…`` (never a bare word)."""

    anchor = "keyword"

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        if (
            trigger.isascii()
            and _alnum_before(text, kw_start)
            and not (trigger[0].isupper() and text[kw_start - 1].islower())  # userPassword, loginPwd
        ):
            return ()
        m = _PASSWORD_VALUE.match(text, pos, min(len(text), pos + 80))
        if not m:
            return ()
        value = m.group(1)
        # in a query string or a |-separated log the next key ends the value: pwd=abc&ip=1.2.3.4
        nxt = _NEXT_KEY.search(value)
        if nxt is not None:
            value = value[: nxt.start()]
            if not value:
                return ()
        if (
            set(value) <= set("*•●·xX#-_?？")
            or value.lower() in ("null", "none", "空", "无")
            or (len(value) > 3 and sum(c in "xX*" for c in value) * 2 > len(value))
        ):
            return ()  # already masked or empty
        return ((m.start(1), m.start(1) + len(value), self.base),)


_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DATE_BODY = (
    r"(?P<y>(?:19|20)\d{2})[ \t]*[年\-/.][ \t]*(?P<m>\d{1,2})[ \t]*[月\-/.][ \t]*(?P<d>\d{1,2})日?"
    r"|(?P<y2>(?:19|20)\d{2})(?P<m2>[01]\d)(?P<d2>[0-3]\d)(?!\d)"
    r"|(?P<mon>[A-Z][a-z]{2,8})\.? (?P<d3>\d{1,2}),? (?P<y3>(?:19|20)\d{2})"
    r"|(?P<d4>\d{1,2})[ \-](?P<mon4>[A-Z][a-z]{2,8})\.?,?[ \-](?P<y4>(?:19|20)\d{2})"
    r"|(?P<d5>\d{1,2})/(?P<m5>\d{1,2})/(?P<y5>(?:19|20)\d{2})"
)
# after the cue word: a key's tail (birth_date, birthDate, "dob"), quotes, a separator
_DATE = re.compile(r"[\"']?[ \t:：=是为在于\"']{0,4}(?:" + _DATE_BODY + ")")
_DATE_KEY = re.compile(r"(?:_?[A-Za-z]{0,6})[\"']?[ \t:：=\"']{0,4}(?:" + _DATE_BODY + ")")
_DATE_CELL = re.compile("(?:" + _DATE_BODY + ")")
# a date just before 出生 (他1990年3月7日出生于湖南)
_DATE_BEFORE = re.compile(r"(?:" + _DATE_BODY + r")[ \t]?\Z")
# a birthday written without its year, right after the cue and a separator (生日：3月5日)
_MONTH_DAY = re.compile(r"[ \t]*[:：=是为][ \t]*(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号](?!\d)")
_KEY_CONT = frozenset("_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _date_of(m: re.Match[str]) -> tuple[int, int, int] | None:
    g = m.groupdict()
    try:
        if g["y"]:
            return int(g["y"]), int(g["m"]), int(g["d"])
        if g["y2"]:
            return int(g["y2"]), int(g["m2"]), int(g["d2"])
        if g["y3"]:
            return int(g["y3"]), _MONTHS[g["mon"][:3].lower()], int(g["d3"])
        if g["y4"]:
            return int(g["y4"]), _MONTHS[g["mon4"][:3].lower()], int(g["d4"])
        return int(g["y5"]), int(g["m5"]), int(g["d5"])
    except KeyError:
        return None


def birth_date_cell(value: str) -> bool:
    """Is the whole value a real date (a cell under a birth-date column)?"""
    m = _DATE_CELL.fullmatch(value)
    d = _date_of(m) if m else None
    return d is not None and v._valid_date(*d, lo=1900)


@carries("O24-4", "GC-111")
class BirthDateRecognizer(Recognizer):
    """Dates next to 出生/生日/DOB words: a date alone is a timestamp, not a birth date. The word may
    be a key (``"birthday":"19900307"``, ``birth_date=``, ``DOB: 07-Mar-1990``), and a date may
    stand just before 出生 (``1990年3月7日出生``)."""

    anchor = "keyword"

    def __init__(self, spec: RecognizerSpec) -> None:
        super().__init__(spec)
        self.before = frozenset(spec.options.get("before_triggers", ()))

    def keywords(self) -> Iterable[str]:
        yield from self.spec.triggers
        yield from self.before

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        folded = scan.folded
        out: list[Cand] = []
        if trigger in self.before:
            m = _DATE_BEFORE.search(folded, max(0, kw_start - 24), kw_start)
            d = _date_of(m) if m else None
            if m and d and v._valid_date(*d, lo=1900):
                out.append((m.start(), m.start() + len(m.group(0).rstrip(" \t")), self.base - 0.05))
        ascii_word = trigger.isascii() and trigger[0].isalpha()
        if ascii_word and _alnum_before(folded, kw_start):
            return out  # rebirth, newborn
        m = (_DATE_KEY if ascii_word else _DATE).match(folded, pos, pos + 48)
        if not m:
            if not ascii_word:  # 生日：3月5日: a birthday without the year, after a separator only
                md = _MONTH_DAY.match(folded, pos, pos + 16)
                if md and v._valid_date(2000, int(md.group("m")), int(md.group("d")), lo=1900):
                    out.append((md.start("m"), md.end(), self.base - 0.1))
            return out
        d = _date_of(m)
        if d is None or not v._valid_date(*d, lo=1900):
            return out
        body = next(k for k in ("y", "y2", "mon", "d4", "d5") if m.group(k) is not None)
        out.append((m.start(body), m.end(), self.base))
        return out


# The compiled trigger gate (piguard/_native/anchorgate.c, which says what it tests): per word,
# what may be checked before the recogniser is called; per BMP character, these bits (a character
# beyond the BMP counts as everything but a separator and a body character, so the gate keeps its
# hit and Python decides).
GATE_KEEP, GATE_NAME, GATE_ADDRESS = 1, 2, 3
_G_LATIN, _G_NAME_SKIP, _G_BODY, _G_MARK = 1, 2, 4, 8
_G_SINGLE, _G_COMPOUND_FIRST, _G_GIVEN, _G_ALONE = 16, 32, 64, 128
_G_NUMBERED, _G_NUMERAL, _G_PAIR_FIRST = 256, 512, 1024
_NAME_SKIP = " \t:：=是为叫\"'"
_ADDR_MARK_CHARS = "号院栋幢座单室楼层弄组村镇小大公花苑路街巷胡"
_ADDR_BODY_OTHER = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789０１２３４５６７８９-－#()（）·"
)
# _ADDR_MARK's words by their characters: alone, the first of a two-character word (小区 大厦 大道
# 公寓 花园 胡同, whose second characters the kernel knows), after a digit, numeral or Latin letter
_ADDR_ALONE, _ADDR_PAIR_FIRST, _ADDR_NUMBERED = "村镇苑路街巷", "小大公花胡", "号栋幢座单室楼层弄组"
_ADDR_NUMERALS = "0123456789０１２３４５６７８９一二三四五六七八九十百零"


@lru_cache(maxsize=1)
def gate_table() -> bytes:
    """The 65,536 16-bit character words (native byte order) the gate reads: see _G_*."""
    table = array("H", bytes(2 * 0x10000))
    single, compound = surnames()
    sets = (
        (_G_LATIN, ASCII_LETTERS),
        (_G_NAME_SKIP, _NAME_SKIP),
        (_G_BODY, _ADDR_BODY_OTHER),
        (_G_MARK, _ADDR_MARK_CHARS),
        (_G_SINGLE, single),
        (_G_COMPOUND_FIRST, {w[0] for w in compound}),
        (_G_ALONE, _ADDR_ALONE),
        (_G_NUMBERED, _ADDR_NUMBERED),
        (_G_NUMERAL, _ADDR_NUMERALS),
        (_G_PAIR_FIRST, _ADDR_PAIR_FIRST),
    )
    for code in range(0x4E00, 0xA000):
        table[code] = _G_BODY if chr(code) in _NAME_STOP else _G_BODY | _G_GIVEN
    for bit, chars in sets:
        for c in chars:
            if ord(c) < 0x10000:
                table[ord(c)] |= bit
    return table.tobytes()


@lru_cache(maxsize=1)
def surnames() -> tuple[frozenset[str], frozenset[str]]:
    text = resources.files("piguard.discovery").joinpath("data", "surnames.txt").read_text(encoding="utf-8")
    single: set[str] = set()
    compound: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        for s in line.split():
            (compound if len(s) > 1 else single).add(s)
    return frozenset(single), frozenset(compound)


# characters that end a Chinese given name: the next word starts here
_NAME_STOP = frozenset(
    "的了是在和与及或等您你我他她们说要去来到从给向于为被把将会已也都就还很再又请先女电手号身证住地邮微银卡收寄联系"
    "姓名址码话机箱账户密年生士姐同学老师经理总今昨未办申客用患乘各位们全体家这那些个物业管理员工"
)
# surnames that are far more often a function word (患者和亲属, 当时那个)
_AMBIGUOUS_SURNAMES = frozenset("和时那都相但由来能可所同")
# later parts also as O'Brien, McDonald, D'Angelo
_EN_NAME = re.compile(
    r"[ \t]*((?:[A-Z]\.[ \t]?){0,2}[A-Z][a-z]+"
    r"(?:[ \-][A-Z](?:'[A-Z][a-z]+|[a-z]+(?:[A-Z][a-z]+)?|[a-z]*'[a-z]+)|[ \t][A-Z]\.){0,3})"
)
_NOT_NAME_WORDS = frozenset(
    [
        "Company",
        "Ltd",
        "Inc",
        "Co",
        "Corp",
        "Branch",
        "Bank",
        "Store",
        "Shop",
        "Team",
        "Group",
        "Department",
        "Service",
        "Services",
        "Center",
        "Centre",
        "Default",
        "Unknown",
        "Test",
        "Admin",
        "System",
        "Product",
        "Order",
        "Item",
        "Hotel",
        "Restaurant",
        "University",
        "School",
        "Hospital",
        # salutations that are no name: "Dear Customer,", "Dear Valued Member"
        "Customer",
        "Customers",
        "Sir",
        "Madam",
        "Friend",
        "Friends",
        "User",
        "Users",
        "Member",
        "Members",
        "Valued",
        "All",
        "Colleague",
        "Colleagues",
        "Client",
        "Clients",
        "Guest",
        "Guests",
        "Partner",
        "Partners",
        "Applicant",
        "Parents",
        "Everyone",
        "Subscriber",
        "Cardholder",
        "Passenger",
        "Passengers",
        "Manager",
        "Support",
    ]
)
# characters that are no given name in a greeting (周一您好, 今天您好)
_NOT_GIVEN = frozenset("一二三四五六七八九十日天末好啊呀吗呢吧哦")
# never the last character of a name before a greeting (好啊您好), and words of days (星期一, 礼拜天)
_NOT_GREETED = frozenset("好啊呀吗呢吧哦")
_DAY_WORD = frozenset("期拜周今明昨每后前当")


def _en_name_ok(value: str) -> bool:
    return not any(w.strip(".") in _NOT_NAME_WORDS for w in re.split(r"[ \-]", value))


# words that label the next field of a record, not the last part of a name ("Li Xiaoming Tel:…")
_EN_FIELD_WORDS = frozenset(
    [
        "Tel",
        "Phone",
        "Mobile",
        "Cell",
        "Fax",
        "Email",
        "Mail",
        "Address",
        "Addr",
        "Add",
        "ID",
        "No",
        "Name",
        "Date",
        "Age",
        "Gender",
        "Sex",
        "Company",
        "Dept",
        "Title",
        "Position",
        "Card",
        "Account",
        "Amount",
        "Note",
        "Remark",
        "Remarks",
        "Time",
        "Code",
        "Zip",
        "Postcode",
        "City",
        "Province",
    ]
)
# titles before an English name, skipped: "Dear Mr. John Smith"
_EN_TITLE = re.compile(r"[ \t]*(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?(?=[ \t]+[A-Z])")
_EN_KEY_AFTER = re.compile(r"[ \t]*[:：=]")


def _en_name_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``(start, end)`` of an English name matched by :data:`_EN_NAME`, without a trailing word
    that is the next field's label: "Li Xiaoming Tel:", "Wang Fang Phone 138…"."""
    words = text[start:end].split(" ")
    keyed = _EN_KEY_AFTER.match(text, end) is not None
    while len(words) > 1 and (words[-1].rstrip(".") in _EN_FIELD_WORDS or keyed):
        end -= len(words.pop()) + 1
        keyed = False
    return (start, end) if end > start else None


def _en_intro_ok(text: str, start: int, end: int, trigger: str) -> bool:
    """ "This is" and "I'm" introduce a name only as a first and last name; "this is" also only
    when the speaker then says where they are from ("this is Mike Chen from HR")."""
    if trigger.lower() not in ("this is", "i'm", "i am"):
        return True
    if " " not in text[start:end]:
        return False
    if trigger.lower() == "this is":
        if _GREETING_BEFORE.search(text, max(0, start - 24), start):
            return True  # "Hi, this is David Smith."
        return re.match(r"[ \t]+(?:from|at|of|with|here)\b|[ \t]*,", text[end:]) is not None
    return True


_GREETING_BEFORE = re.compile(r"(?:^|\b)(?:Hi|Hello|Hey|hi|hello|hey)[ \t]*[,!]?[ \t]*[Tt]his is[ \t]+\Z")


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _is_cjk(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff"


@carries("O24-4", "GC-111")
class NameRecognizer(Recognizer):
    """Chinese names after trigger words (姓名、收件人…) or before 先生/女士; English after Name:/Mr."""

    anchor = "keyword"

    def __init__(self, spec: RecognizerSpec) -> None:
        super().__init__(spec)
        self.weak = frozenset(spec.options.get("weak_triggers", ()))
        self.suffixes = frozenset(spec.options.get("suffixes", ()))
        self.en = frozenset(spec.options.get("en_triggers", ()))
        self.roles = frozenset(spec.options.get("role_triggers", ()))
        self.greetings = frozenset(spec.options.get("greetings", ()))

    def keywords(self) -> Iterable[str]:
        yield from self.spec.triggers
        yield from self.weak
        yield from self.suffixes
        yield from self.en
        yield from self.roles
        yield from self.greetings

    @staticmethod
    def _role_ok(text: str, i: int, end: int) -> bool:
        """After a role word the name must end at a boundary: punctuation, a space, a digit, or a
        word that commonly follows a name (已, 在, 说, 电话...), never in the middle of a word."""
        return end >= len(text) or not _is_cjk(text[end]) or text[end] in _NAME_STOP

    @staticmethod
    def _before(text: str, k: int, single: frozenset[str], compound: frozenset[str]) -> int | None:
        """Start of a 2-4 character Chinese name ending at ``k`` (greetings: 胡洋飞您好)."""
        if k < 2 or not _is_cjk(text[k - 1]) or text[k - 1] in _NAME_STOP or text[k - 1] in _NOT_GREETED:
            return None  # cheap rejection first: 大家好, 各位您好, ，您好
        for n in (4, 3, 2):
            s = k - n
            if s < 0:
                continue
            cand = text[s:k]
            if not all(_is_cjk(c) for c in cand) or any(c in _NAME_STOP for c in cand[1:]):
                continue
            # a day word is no given name (周一您好, 今天您好), but a third character may be one
            # (云伟天您好, 巩勇一你好) when the second is not (星期一, 周日天)
            if cand[1] in _NOT_GIVEN or (n != 3 and any(c in _NOT_GIVEN for c in cand[2:])):
                continue
            if n == 3 and cand[2] in _NOT_GIVEN and (cand[1] in _DAY_WORD or cand[2] in _NOT_GREETED):
                continue
            if s > 0 and _is_cjk(text[s - 1]) and text[s - 1] not in _NAME_STOP:
                continue  # inside a longer run of characters: not clearly a name
            if n == 4 and cand[:2] not in compound:
                continue
            if cand[:2] in compound or (cand[0] in single and cand[0] not in _AMBIGUOUS_SURNAMES):
                return s
        return None

    def _given(self, text: str, i: int, limit: int = 2) -> int:
        """End of the given name starting at ``i`` (1-2 CJK characters not in the stop set)."""
        j = i
        while j < len(text) and j - i < limit and _is_cjk(text[j]) and text[j] not in _NAME_STOP:
            j += 1
        return j

    def gate_kind(self, trigger: str) -> int:
        # the plain path of on_anchor: a surname (or a Latin letter) after at most five of _NAME_SKIP
        if trigger in self.en or trigger in self.suffixes or trigger in self.greetings:
            return GATE_KEEP
        return GATE_NAME

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        if trigger in self.en:
            if trigger[0].isalpha() and _alnum_before(text, kw_start):
                return ()
            title = _EN_TITLE.match(text, pos)
            m = _EN_NAME.match(text, title.end() if title else pos)
            if not m or not _en_name_ok(m.group(1)):
                return ()
            span = _en_name_span(text, m.start(1), m.end(1))
            if span is None or not _en_intro_ok(text, *span, trigger):
                return ()
            return ((*span, self.base - 0.05),)
        single, compound = surnames()
        if trigger in self.suffixes:  # 张伟先生: look back
            four = text[max(0, kw_start - 4) : kw_start]
            if len(four) == 4 and four[:2] in compound and all(_is_cjk(c) for c in four):
                return ((kw_start - 4, kw_start, self.base - 0.1),)
            for n in (3, 2):
                s = kw_start - n
                if s < 0:
                    continue
                cand = text[s:kw_start]
                if not all(_is_cjk(c) for c in cand) or any(c in _NAME_STOP for c in cand[1:]):
                    continue
                if cand[:2] in compound or (
                    cand[0] in single
                    and not (n == 3 and cand[1] in single and text[s - 1 : s] not in ("", " "))
                ):
                    return ((s, kw_start, self.base - 0.1),)
            return ()
        if trigger in self.greetings:  # 胡洋飞您好: the name sits just before the greeting
            s0 = self._before(text, kw_start, single, compound)
            return ((s0, kw_start, self.base - 0.15),) if s0 is not None else ()
        i = pos
        while i < len(text) and i - pos < 5 and text[i] in _NAME_SKIP:
            i += 1
        if i >= len(text):
            return ()
        c0 = text[i]
        if c0 not in ASCII_LETTERS and c0 not in single and text[i : i + 2] not in compound:
            return ()  # the cheap rejection first: no surname (nor a Latin name) where a name starts
        explicit = any(c in ":：=" for c in text[pos:i])
        if explicit and text[i] in ASCII_LETTERS and trigger not in self.weak:
            m = _EN_NAME.match(text, i)  # "姓名":"Xie Yang"
            if m and _en_name_ok(m.group(1)):
                span = _en_name_span(text, m.start(1), m.end(1))
                return ((*span, self.base - 0.1),) if span is not None else ()
            return ()
        if text[i : i + 2] in compound:
            end = self._given(text, i + 2)
            if end == i + 2:
                return ()
        elif text[i] in single:
            end = self._given(text, i + 1)
            if end == i + 1:
                return ()
        else:
            return ()
        if trigger in self.roles:  # 快递员陈凯玲, 收款人王芳: a role word, then the name
            if explicit or (end - i >= 2 and self._role_ok(text, i, end)):
                return ((i, end, self.base - 0.15),)
            return ()
        weak_penalty = 0.45
        if (
            trigger in self.weak
            and not explicit
            and " " in text[pos:i]
            and end - i >= 2
            and (end >= len(text) or text[end] in " \t，,。；;：:、")
        ):
            weak_penalty = 0.2  # "客户 刘德华 于…": set apart by spaces, as records print a name
        conf = self.base - (weak_penalty if trigger in self.weak and not explicit else 0.0)
        if text[i] in _AMBIGUOUS_SURNAMES and not (explicit and trigger not in self.weak):
            conf -= 0.45
        return ((i, end, conf),)


def _cjk_name_end(text: str, i: int, end_limit: int | None = None, explicit: bool = False) -> int | None:
    """End of a Chinese name (single or compound surname + 1-2 given characters) starting at ``i``.
    Surnames that are more often function words (时, 和, 那) count only where the field is
    ``explicit`` (a name-like key or column header)."""
    single, compound = surnames()
    hi = len(text) if end_limit is None else end_limit
    if text[i : i + 2] in compound:
        g = i + 2
    elif i < hi and text[i] in single and (explicit or text[i] not in _AMBIGUOUS_SURNAMES):
        g = i + 1
    else:
        return None
    j = g
    while j < hi and j - g < 2 and _is_cjk(text[j]) and text[j] not in _NAME_STOP:
        j += 1
    return j if j > g else None


_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
_FIELD_SEP = re.compile(r"[\"']?[ \t]*[:=：][ \t]*([\"']?)")


def _field_key(text: str, kw_start: int, pos: int) -> str | None:
    """The whole key a trigger word ends (``customer.name``, ``real_name``), normalised: its last
    dotted segment, lower case, without ``_``/``-``. None when the word goes on (``names``)."""
    if pos < len(text) and (text[pos] in ASCII_ALNUM or text[pos] == "_"):
        return None
    i = kw_start
    lo = max(0, kw_start - 40)
    while i > lo and text[i - 1] in _KEY_CHARS:
        i -= 1
    key = text[i:pos].rsplit(".", 1)[-1]
    return key.lower().replace("_", "").replace("-", "")


@carries("O24-4", "GC-111")
class FieldNameRecognizer(Recognizer):
    """Names as values of name-like fields in JSON, key=value logs and forms: ``"name":"Xie Yang"``,
    ``"customer.name": "张伟"``, ``real_name=王芳``, ``recipient: Mary-Jane Smith``. The key must be
    one of ``keys`` (normalised: last dotted segment, no ``_``/``-``), so ``product_name``,
    ``hostname`` and ``filename`` are not read as person names."""

    anchor = "keyword"

    def __init__(self, spec: RecognizerSpec) -> None:
        super().__init__(spec)
        self.keys = frozenset(str(k) for k in spec.options.get("keys", ()))

    def keywords(self) -> Iterable[str]:
        for t in self.spec.triggers:
            yield from dict.fromkeys((t, t.capitalize(), t.upper()))

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        key = _field_key(text, kw_start, pos)
        if key is None or key not in self.keys:
            return ()
        m = _FIELD_SEP.match(text, pos, pos + 8)
        if not m:
            return ()
        i = m.end()
        quote = m.group(1)
        if i >= len(text):
            return ()
        if _is_cjk(text[i]):
            end = _cjk_name_end(text, i, explicit=True)
            if end is None:
                return ()
        else:
            em = _EN_NAME.match(text, i)
            if not em or em.start(1) != i or not _en_name_ok(em.group(1)):
                return ()
            end = em.end(1)
        if quote:
            if text[end : end + 1] != quote:
                return ()  # the whole quoted value must be the name
            return ((i, end, self.base),)
        if end < len(text) and (
            text[end] in ASCII_ALNUM or (_is_cjk(text[end]) and text[end] not in _NAME_STOP)
        ):
            return ()
        return ((i, end, self.base - 0.1),)


_DELIMS = (",", "\t", "|", ";", "，")
_CELL_EDGE = frozenset(",\t|;，\n\r \"'")
_MASKED_CELL = frozenset("*•●·xX#-_?？")


@carries("O24-4", "GC-111")
class HeaderColumnRecognizer(Recognizer):
    """Cells under a column header in CSV-like text (姓名,手机,地址 / name|username|pwd): the header
    word must be a whole field of a delimited line; the cells in that column of the rows that follow
    (up to a blank line or the end of the record; ragged rows are skipped) are checked for the
    category's shape. One registry entry per category (name, account, password)."""

    anchor = "keyword"
    max_rows: ClassVar[int] = 10_000

    def __init__(self, spec: RecognizerSpec) -> None:
        super().__init__(spec)
        self.headers = frozenset(spec.triggers)
        self.folded_headers = frozenset(h.lower() for h in spec.triggers)
        # a generic header ("name") beside these columns names things, not people (name,price,sku)
        self.generic = frozenset(str(h).lower() for h in spec.options.get("generic", ()))
        self.not_with = frozenset(str(h).lower() for h in spec.options.get("not_with", ()))

    def keywords(self) -> Iterable[str]:
        for t in self.spec.triggers:
            yield from dict.fromkeys((t, t.capitalize(), t.upper()))

    @staticmethod
    def _fields(text: str, a: int, b: int, delim: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        i = a
        while True:
            j = text.find(delim, i, b)
            if j < 0:
                out.append((i, b))
                return out
            out.append((i, j))
            i = j + 1

    def _cell_ok(self, text: str, s: int, e: int) -> float:
        value = text[s:e]
        if not value or set(value) <= _MASKED_CELL:
            return 0.0
        cat = self.category
        if cat == "name":
            if _is_cjk(value[0]):
                end = _cjk_name_end(text, s, e, explicit=True)
                return self.base if end == e else 0.0
            m = _EN_NAME.fullmatch(value)
            return self.base - 0.05 if m and _en_name_ok(value) else 0.0
        if cat == "account":
            return self.base if _ACCOUNT_CELL.fullmatch(value) else 0.0
        if cat == "birth_date":
            return self.base if birth_date_cell(value) else 0.0
        # password: one token, no spaces, not a placeholder
        if len(value) > 64 or " " in value or value.lower() in ("null", "none", "n/a", "空", "无"):
            return 0.0
        return self.base

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        # cheap rejection first: a header word is flanked by delimiters, quotes or line ends (the
        # compiled anchor loop, numscan.anchors, makes this same check before calling: engine plan
        # "call_c" hands it _CELL_EDGE)
        if (pos < len(text) and text[pos] not in _CELL_EDGE) or (
            kw_start and text[kw_start - 1] not in _CELL_EDGE
        ):
            return ()
        ls = text.rfind("\n", 0, kw_start) + 1
        le = text.find("\n", pos)
        if le < 0:
            return ()  # a header with no row after it
        rec_end = scan.record_end(kw_start)
        if le >= rec_end:
            return ()
        line = text[ls:le]
        delim = max(_DELIMS, key=line.count)
        if line.count(delim) == 0:
            return ()
        header = self._fields(text, ls, le, delim)
        col = next((k for k, (a, b) in enumerate(header) if a <= kw_start < b), -1)
        if col < 0:
            return ()
        a, b = header[col]
        a, b = _strip_cell(text, a, b)
        if (a, b) != (kw_start, pos) or text[a:b].lower() not in self.folded_headers:
            return ()  # the header word must be the whole field
        if text[a:b].lower() in self.generic and any(
            text[x:y].strip(" \t\r\"'").lower() in self.not_with for x, y in header
        ):
            return ()
        out: list[Cand] = []
        start = le + 1
        rows = 0
        while start < rec_end and rows < self.max_rows:
            end = text.find("\n", start, rec_end)
            if end < 0:
                end = rec_end
            if end == start or not text[start:end].strip():
                break  # a blank line ends the table
            cells = self._fields(text, start, end, delim)
            if len(cells) == len(header):
                s, e = _strip_cell(text, *cells[col])
                conf = self._cell_ok(text, s, e) if e > s else 0.0
                if conf:
                    out.append((s, e, conf))
            start = end + 1
            rows += 1
        return out


_ACCOUNT_CELL = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.@\-]{2,63}|[\u4e00-\u9fff][\u4e00-\u9fffA-Za-z0-9_]{1,15}"
)


def _strip_cell(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in " \t\r\"'":
        a += 1
    while b > a and text[b - 1] in " \t\r\"'":
        b -= 1
    return a, b


_ADDR_BODY = re.compile(r"[\u4e00-\u9fffA-Za-z0-9０-９\-－#()（）·]{0,48}")
_ADDR_STOP = re.compile(
    r"电话|手机|联系|收件|收货人|邮编|邮箱|姓名|身份证|的|，|。|；|、|先生|女士|小姐|寄件|号码|微信|卡号|附近|旁边|门口|对面"
)
_ADDR_MARK_PY = re.compile(
    r"(?:\d+|[A-Za-z]\d*)(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|弄|组)|[一二三四五六七八九十百零]+(?:号楼|号院|号|栋|幢|单元|室|楼|层|弄|组)|村|镇|小区|大厦|公寓|花园|苑|路|街道|街|巷|胡同|大道"
)
# _ADDR_MARK_PY (the readable original) opening with one character class (the first characters of
# its alternatives), so that the regex engine skips to them at C speed; the alternative is then
# chosen by a look-behind on that character, in the original's order. Same matches (tests).
_NUMBERED_SUFFIX = "(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|弄|组)"
# 座 only after a digit or a letter (A座, 2座): after a numeral it is a measure word (第一座, 一座山)
_NUMERAL_SUFFIX = "(?:号楼|号院|号|栋|幢|单元|室|楼|层|弄|组)"
_ADDR_MARK = re.compile(
    r"[\d一二三四五六七八九十百零A-Za-z村镇小大公花苑路街巷胡]"
    rf"(?:(?<=\d)\d*{_NUMBERED_SUFFIX}|(?<=[一二三四五六七八九十百零])[一二三四五六七八九十百零]*{_NUMERAL_SUFFIX}"
    rf"|(?<=[A-Za-z])\d*{_NUMBERED_SUFFIX}"
    r"|(?<=村)|(?<=镇)|(?<=小)区|(?<=大)厦|(?<=公)寓|(?<=花)园|(?<=苑)|(?<=路)|(?<=街)道|(?<=街)|(?<=巷)|(?<=胡)同|(?<=大)道)"
)
# every match of _ADDR_MARK holds one of these characters: a text without one has no address
# word, which one character-class search tells at C speed (the alternation above costs ~4 us per
# search, and most division names in running text have no address word after them)
_ADDR_MARK_CHAR = re.compile(r"[号院栋幢座单室楼层弄组村镇小大公花苑路街巷胡]")


def _body_to_mark_char() -> re.Pattern[str]:
    """Body characters (_ADDR_BODY's class) other than address characters, then one address
    character: matched at a body's start, it finds the first address character in the body."""
    marks = sorted(ord(c) for c in "号院栋幢座单室楼层弄组村镇小大公花苑路街巷胡")
    ranges, lo = [], 0x4E00
    for m in marks:  # the CJK block with the address characters cut out
        if lo < m:
            ranges.append(f"\\u{lo:04x}-\\u{m - 1:04x}")
        lo = m + 1
    ranges.append(f"\\u{lo:04x}-\\u9fff")
    other = "A-Za-z0-9０-９\\-－#()（）·"
    return re.compile(f"[{''.join(ranges)}{other}]*[号院栋幢座单室楼层弄组村镇小大公花苑路街巷胡]")


_BODY_TO_MARK_CHAR = _body_to_mark_char()
# what can come before that character in a match, besides decimal digits (\\d: str.isdecimal)
_MARK_PREFIX = frozenset("一二三四五六七八九十百零ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_STREET = re.compile(r"路|街|巷|胡同|大道|弄|道")
# how deep in an address each kind of address word sits: once a number is reached, an address goes
# deeper (number, estate, building, unit, floor, room) and ends where a word is no deeper than the
# last (``…1157室请尽快发货，客服385号``: the 385号 after a room is no part of the address)
_RANK_SUFFIX = (
    ("单元", 7),
    ("号楼", 6),
    ("号院", 5),
    ("栋", 6),
    ("幢", 6),
    ("座", 6),
    ("室", 9),
    ("层", 8),
    ("楼", 8),
    ("弄", 3),
    ("组", 2),
    ("号", 4),
)
_RANK_WORD = {"镇": 1, "村": 2, "街道": 1, "路": 3, "街": 3, "巷": 3, "胡同": 3, "大道": 3}


@lru_cache(maxsize=4096)  # address words repeat (路, 小区, 1号楼): the suffix walk once per word
def _addr_rank(word: str) -> int:
    for suffix, rank in _RANK_SUFFIX:
        if word.endswith(suffix) and len(word) > len(suffix):
            return rank
    return _RANK_WORD.get(word, 5)  # 小区, 大厦, 公寓, 花园, 苑: an estate


_EN_ADDR = re.compile(
    r"[ \t]*(\d{1,6}[ \t]+(?:[A-Z][A-Za-z'.\-]*[ \t]+){1,4}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Drive|Dr|Way|Court|Ct|Place|Pl|Square|Sq)\.?"
    r"(?:,[ \t]*[A-Z][A-Za-z'\-]*(?:[ \t]+[A-Z][A-Za-z'\-]*){0,3}){0,3})"
)


def _walk_marks(text: str, first: int, tail_end: int) -> tuple[re.Match[str] | None, bool, int]:
    """The address words from ``first`` on, while the address goes on: the last one, whether a
    street word was among them, and the deepest rank reached."""
    last = None
    street = False
    rank = -1
    numbered = False
    for m in _ADDR_MARK.finditer(text, first, tail_end):
        if last is not None and m.start() - last.end() > 12:
            break  # a long run with no address word: the address ended before it
        r_ = _addr_rank(m.group(0))
        adjacent = last is not None and m.start() == last.end()  # 学院路街道, 村镇: one name
        if numbered and r_ <= rank and not adjacent:
            break  # after a number, a word no deeper than the last: the address ended before it
        rank = max(rank, r_)
        numbered = numbered or m.group(0)[0] not in "村镇小大公花苑路街巷胡"
        last = m
        street = street or bool(_STREET.fullmatch(m.group(0)[-1:])) or bool(_STREET.search(m.group(0)))
    return last, street, rank


@carries("O24-4", "GC-111")
class AddressRecognizer(Recognizer):
    """Chinese addresses from administrative-division names and address words; English after Address:."""

    anchor = "keyword"

    def __init__(self, spec: RecognizerSpec) -> None:
        super().__init__(spec)
        self.en = frozenset(spec.options.get("en_triggers", ()))
        self.context_words = frozenset(spec.triggers)
        self.divisions = division_anchor_names()

    def keywords(self) -> Iterable[str]:
        yield from self.spec.triggers
        yield from self.en
        yield from self.divisions

    def gate_kind(self, trigger: str) -> int:
        # a division name: _BODY_TO_MARK_CHAR must match at the word's start (below)
        if trigger in self.en or trigger in self.context_words:
            return GATE_KEEP
        return GATE_ADDRESS

    def on_anchor(self, scan: Scan, pos: int, kw_start: int, trigger: str) -> Iterable[Cand]:
        text = scan.text
        if kw_start < scan.address_end:
            return ()
        if trigger in self.en:
            m = _EN_ADDR.match(text, pos)
            if not m:
                return ()
            scan.address_end = m.end(1)
            return ((m.start(1), m.end(1), self.base),)
        if trigger in self.context_words:
            i = pos
            while i < len(text) and i - pos < 3 and text[i] in " \t:：=是为在":
                i += 1
            start, context = i, True
        else:
            start, context = kw_start, False  # division-name context looked up only when needed
        # cheap rejection first: no address character in the body, where the search for the first
        # address word below would find none (one match up to the first such character)
        key = _BODY_TO_MARK_CHAR.match(text, start, start + 48)
        if key is None:
            return ()
        body = _ADDR_BODY.match(text, start)
        if not body:
            return ()
        tail_end = body.end()
        stop = _ADDR_STOP.search(text, start + 2, tail_end)
        if stop:
            tail_end = stop.start()
        # cheap rejection first (most division names in running text are no address): the first
        # address word must start within 16 characters
        # the first address word starts no earlier than the run of digits, numerals and letters
        # just before the first address character (a match is such a run, then that character)
        k = key.end() - 1
        while k > start and (text[k - 1] in _MARK_PREFIX or text[k - 1].isdecimal()):
            k -= 1
        first = _ADDR_MARK.search(text, k, tail_end)
        if first is None:
            return ()
        if first.start() - start > 16:
            # the first address word must start within 16 characters, counted after the division
            # names that follow one another (新疆维吾尔自治区和田地区和安县…)
            j = pos if trigger not in self.context_words else start
            while True:
                nxt = next((j + n for n in range(10, 1, -1) if text[j : j + n] in self.divisions), None)
                if nxt is None:
                    break
                j = nxt
            if j == start or first.start() - j > 16:
                return ()
        if not context and trigger not in self.context_words:
            context = scan.address_context(kw_start)
        last, street, _ = _walk_marks(text, first.start(), tail_end)
        if last is None:
            return ()
        end = last.end()
        if 6 <= _addr_rank(last.group(0)) <= 8:
            # a bare room number after a building, unit or floor (…A座1201, …3号楼542, …12楼1201)
            room = _BARE_ROOM.match(text, end)
            if room and room.end() <= tail_end:
                end = room.end()
        # a division name followed only by another division suffix (广东省深圳市) is a place, not an address
        conf = self.base if street else self.base - 0.2
        if context:
            conf += 0.1
        if end - start < 5 and not context:
            return ()
        scan.address_end = end
        return ((start, end, min(conf, 1.0)),)


# A road and its number with no division name or address word before them (朝阳路88号3单元,
# 中关村大街27号, 长乐路123弄): the road word, then a number and 号 (or 弄).
# One character class first, so the regex engine skips through the text (an alternation of words
# first made this pass three times slower); 道 and 同 count only as 大道 and 胡同.
_ROAD_NUMBER = re.compile(r"[路街巷道同](?:\d{1,5}(?:-\d{1,4})?|[一二三四五六七八九十百零]{1,5})[号弄]")
_ROAD_TWO = {"道": "大", "同": "胡"}
# words the road's name stops at, going back from the road word: prepositions, verbs and pronouns
# that come before an address in running text (送到…, 住在…, 公司在…), and the places an address is
# given for (专卖店…, 办理点…)
_ROAD_NAME_STOP = frozenset(
    "在到住于是往至址寄送去从的放来与及或就还也了我你他她们请把给向由自近离靠为被让找搬发收说要将已每个这那店馆处点站厅"
)
# a road word that is part of a common word when the character before it is one of these
# (线路, 电路, 马路, 道路, 走路, 逛街): no road name
_NOT_ROAD = {
    "路": frozenset("线电回网套思马道走出退水陆铁通"),
    "街": frozenset("逛上沿"),
}
_BESIDE = frozenset("下上前后旁里外边")
_ROOM = re.compile(r"\d{3,4}(?!\d)")
# after a division-led address, a number followed by a unit word is no room (1座2023年入驻)
_BARE_ROOM = re.compile(r"\d{3,4}(?![\d年月日号元个人次届期级万%.])")


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@carries("O24-4", "GC-111")
class StreetAddressRecognizer(Recognizer):
    """Addresses that start at the road: a road name (two to six characters), a road word and a
    number (``朝阳路88号3单元``), with no division name or address word before them. Runs after
    the other recognisers and only where they found no address; the span grows as the division-led
    one does (building, unit, floor, room), and a bare room number after a building or unit counts
    (``…14号楼1345``)."""

    anchor = "post"

    def keywords(self) -> Iterable[str]:
        return ()

    def on_post(self, scan: Scan, found: list[tuple[int, int, str, float]]) -> Iterable[Cand]:
        text = scan.folded
        roads = _road_numbers(text)
        if not roads:
            return
        taken = sorted(found)
        starts = [f[0] for f in taken]
        done = -1
        for road, pos in roads:
            if road < done:
                continue
            word = text[road]
            if word in _ROAD_TWO or (word == "街" and road > 0 and text[road - 1] == "大"):
                if road == 0 or text[road - 1] != _ROAD_TWO.get(word, "大"):
                    continue  # 道 and 同 alone are no road words
                road -= 1  # 大街, 大道, 胡同
            if text[road] in _NOT_ROAD and road > 0 and text[road - 1] in _NOT_ROAD[text[road]]:
                continue
            i = _road_name_start(text, road)
            k = bisect_right(starts, road)
            before = taken[k - 1] if k else None
            if before is not None and before[1] > road:  # inside a finding already made
                fs, fe, cat, conf = before
                if cat == "address" and i < fs:
                    # a road named after a division (中山西路, 滨河南大道): the division-led address
                    # began inside the road's name; the same address, from the name's start
                    yield (i, fe, conf)
                continue
            if before is not None and before[1] > i:
                i = before[1]  # the name starts after the finding before it
            if road - i < 2:
                continue
            end = _road_address_end(text, i, road, pos)
            if k < len(starts) and starts[k] < end:  # stop before the next finding
                end = max(pos, starts[k])
            yield (i, end, self.base)
            done = end


_ROAD_DIGITS = frozenset("0123456789-一二三四五六七八九十百零")


def _road_numbers(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each road word and number (:data:`_ROAD_NUMBER`). Found from the 号
    and 弄 characters with ``str.find`` and checked backwards: a regex search through the whole
    text cost three times as much, for a shape most texts never hold."""
    out: list[tuple[int, int]] = []
    for mark in "号弄":
        j = text.find(mark)
        while j >= 0:
            i = j
            while i > 0 and j - i < 11 and text[i - 1] in _ROAD_DIGITS:
                i -= 1
            if i < j and i > 0:
                m = _ROAD_NUMBER.match(text, i - 1, j + 1)
                if m is not None and m.end() == j + 1:
                    out.append((i - 1, j + 1))
            j = text.find(mark, j + 1)
    if len(out) > 1:
        out.sort()
    return out


def _road_name_start(text: str, road: int) -> int:
    """Where a road's name starts: up to six Chinese characters back from the road word, stopping
    at a preposition, verb or pronoun once two characters are in (和平路, 解放路 keep their 和, 放)."""
    i = road
    while i > 0 and road - i < 6 and _cjk(text[i - 1]):
        if text[i - 1] in _ROAD_NAME_STOP and road - i >= 2:
            break
        i -= 1
    return i


def _road_address_end(text: str, start: int, road: int, pos: int) -> int:
    """Where an address that starts at a road ends: its number, then deeper words as far as the
    division-led address would go (:func:`_walk_marks`), a bare room number after a building or
    unit (``…14号楼1345``); ``324号楼下`` is number 324 and downstairs, not a building."""
    body = _ADDR_BODY.match(text, start)
    tail_end = max(body.end() if body else pos, pos)
    stop = _ADDR_STOP.search(text, pos, tail_end)
    if stop:
        tail_end = max(stop.start(), pos)
    last, _, rank = _walk_marks(text, road, tail_end)
    end = max(pos, last.end() if last else pos)
    if text.endswith("号楼", 0, end) and text[end : end + 1] in _BESIDE and end - 1 >= pos:
        return end - 1
    if rank >= 6:
        room = _ROOM.match(text, end)
        if room and room.end() <= tail_end:
            end = room.end()
    return end


_GENERIC_DIVISIONS = frozenset(
    {
        "市辖区",
        "县",
        "郊区",
        "矿区",
        "城区",
        "市区",
        "新区",
        "开发区",
        "省直辖县级行政区划",
        "自治区直辖县级行政区划",
        "省直辖行政单位",
    }
)


@lru_cache(maxsize=1)
def division_anchor_names() -> frozenset[str]:
    """Division names that anchor the address recogniser: full names (3+ chars) and short forms."""
    out: set[str] = set()
    for name, level in area_table().names().items():
        if name in _GENERIC_DIVISIONS or "直辖" in name or len(name) < 2:
            continue
        if len(name) >= 3:
            out.add(name)
        if level == "province":
            short = re.sub(
                r"(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|地区|盟)$", "", name
            )
            if len(short) >= 2:
                out.add(short)
    return frozenset(out)


_TIMESTAMP_PY = re.compile(
    r"(?<!\d)(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日)[ T]?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d{1,6})?"
    r"(?:Z|[+-]\d{2}:?\d{2})?(?!\d)"
)
# _TIMESTAMP_PY (the readable original) opening with its first digit, the "no digit before" look-
# behind checked after it (no two digits end there), so that the regex engine skips to digits at C
# speed. Same matches (tests); half the time.
_TIMESTAMP = re.compile(
    r"\d(?<!\d\d)(?:\d{3}[-/.]\d{1,2}[-/.]\d{1,2}|\d{3}年\d{1,2}月\d{1,2}日)[ T]?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d{1,6})?"
    r"(?:Z|[+-]\d{2}:?\d{2})?(?!\d)"
)


_SCHEDULE = re.compile(r"会议|截止|活动|预约|发布|开始|结束|到期|开会|deadline|meeting|due")


@carries("O24-4", "GC-111")
class LocationTimeRecognizer(Recognizer):
    """Time of service use next to its place (O24-4): a timestamp on the same line as a location."""

    anchor = "post"
    LOCATION_CATEGORIES: ClassVar[frozenset[str]] = frozenset({"gps", "ip_address", "address"})

    def on_post(self, scan: Scan, found: list[tuple[int, int, str, float]]) -> Iterable[Cand]:
        text = scan.text
        places = [(s, e) for s, e, c, _ in found if c in self.LOCATION_CATEGORIES]
        if not places:
            return
        words = scan.anchor_positions(self)
        if not words:
            return
        seen: set[int] = set()
        for s, e in places:
            # cheap rejections first: a service word and a clock time must both be near the place
            k = bisect_left(words, s - 84)
            if k >= len(words) or words[k] > e + 80:
                continue
            lo = max(text.rfind("\n", max(0, s - 80), s) + 1, s - 80)
            nl = text.find("\n", e, e + 80)
            hi = min(len(text) if nl < 0 else nl, e + 80)
            if text.find(":", lo, hi) < 0:
                continue
            for m in _TIMESTAMP.finditer(text, lo, hi):
                if m.start() in seen:
                    continue
                a, b = (m.end(), s) if m.end() <= s else (e, m.start())
                # a service-use word (登录, 定位, login...) between the time and the place
                k = bisect_left(words, a - 4)
                if k >= len(words) or words[k] > b:
                    continue
                head = re.split(r"[，。；,;\n]", text[max(0, m.start() - 6) : m.start()])[-1]
                if _SCHEDULE.search(head):
                    continue  # 会议时间, 截止: a scheduled time, not a time of use
                seen.add(m.start())
                yield m.start(), m.end(), self.base


CLASSES: dict[str, type[Recognizer]] = {
    c.__name__: c
    for c in (
        IdCardRecognizer,
        MobileRecognizer,
        LandlineRecognizer,
        BankCardRecognizer,
        PassportRecognizer,
        Ipv4Recognizer,
        GpsRecognizer,
        DmsRecognizer,
        EmailRecognizer,
        PlateRecognizer,
        Ipv6Recognizer,
        KeywordValueRecognizer,
        PasswordRecognizer,
        BirthDateRecognizer,
        NameRecognizer,
        FieldNameRecognizer,
        HeaderColumnRecognizer,
        AddressRecognizer,
        StreetAddressRecognizer,
        LocationTimeRecognizer,
    )
}


def build(spec: RecognizerSpec) -> Recognizer:
    cls = CLASSES.get(spec.cls)
    if cls is None:
        raise ValueError(f"unknown recogniser class {spec.cls!r} in {spec.name!r}")
    return cls(spec)
