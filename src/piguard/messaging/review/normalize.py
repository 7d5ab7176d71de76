"""Text normalisation shared by content review and reply classification.

Senders evade keyword filters with full-width letters (ＴＤ), case (Td), zero-width characters,
separators between characters (赌.博, 贷 款, 博*采) and traditional or variant characters (賭博).
Both the keyword sets and every message pass through the same two steps, so a term written once in
a data file matches all these spellings:

``fold``
    NFKC (full-width -> half-width, compatibility forms such as ① -> 1), case-folding, and the
    variant-character table (traditional/variant -> simplified; ``data/variants.txt`` plus any
    operator ``variants.txt``).
``numerals``
    a run of four or more Chinese digits (一二三, 壹贰叁, 〇, 幺, 两) is written in Arabic digits, so a
    QQ number or phone spelt 幺三八… reads as one; shorter runs are words (一起, 三五成群) and stay.
``squeeze``
    every run of characters that are neither letters, digits nor CJK ideographs (punctuation,
    symbols, emoji, spaces, zero-width characters) is removed, except that one space is kept
    between two ASCII letters/digits so that English words stay words ("reply stop").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from piguard import _native

_NONWORD = re.compile(r"[\W_]+")
# After _NONWORD every separator run is one space: drop it unless it sits between two ASCII
# letters/digits (a space not followed by one, or not preceded by one). Written to start with a
# literal space so the regex engine can skip ahead quickly.
_DROP = re.compile(r" (?:(?![a-z0-9])|(?<![a-z0-9] ))")
ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _plain_without(variants: Mapping[int, str]) -> re.Pattern[str]:
    """Text that normalisation leaves as it is, matched whole: CJK unified ideographs (NFKC-stable, no
    case) other than the variant characters, lower-case ASCII letters and digits, nothing else (no
    separators). One pass over the text, where a plain-text check and a variant search were two."""
    ranges: list[str] = []
    start = 0x4E00
    for c in sorted(c for c in variants if 0x4E00 <= c <= 0x9FFF):
        if c > start:
            ranges.append(f"\\u{start:04x}-\\u{c - 1:04x}")
        start = c + 1
    if start <= 0x9FFF:
        ranges.append(f"\\u{start:04x}-\\u9fff")
    return re.compile("[" + "".join(ranges) + "a-z0-9]+")


#: the compiled kernel's variant bitmap covers the characters below this one
_BITMAP_CHARS = 0xA000
_CN_DIGIT_CHARS = "〇零一二三四五六七八九幺两壹贰叁肆伍陆柒捌玖貳參陸"
_CN_DIGIT_VALUES = "0012345678912123456789236"
_CN_DIGITS = re.compile("[" + _CN_DIGIT_CHARS + "]{4,}")
_CN_DIGIT_TABLE = str.maketrans(_CN_DIGIT_CHARS, _CN_DIGIT_VALUES)


def _numerals(text: str) -> str:
    if _CN_DIGITS.search(text) is None:
        return text
    return _CN_DIGITS.sub(lambda m: m.group().translate(_CN_DIGIT_TABLE), text)


class Normalizer:
    """Folds and squeezes text; built once per rule set (it holds the variant table)."""

    __slots__ = ("_bitmap", "_kernel", "_plain", "_table", "_variant_re")

    def __init__(self, variants: Mapping[str, str] | None = None) -> None:
        self._table: dict[int, str] = {ord(k): v for k, v in (variants or {}).items() if len(k) == 1}
        self._variant_re = (
            re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(self._table)) + "]")
            if self._table
            else None
        )
        self._plain = _plain_without(self._table)
        # the compiled kernel (piguard._native.sms_review) when built; it answers texts of ASCII and
        # CJK letters only (None otherwise) and needs one-character replacements
        self._kernel = _native.load("sms_review")
        if self._kernel is not None and not all(len(v) == 1 for v in self._table.values()):
            self._kernel = None
        bits = bytearray(_BITMAP_CHARS // 8)
        for c in self._table:
            if c < _BITMAP_CHARS:
                bits[c >> 3] |= 1 << (c & 7)
        self._bitmap = bytes(bits)

    def _variants(self, text: str) -> str:
        if self._variant_re is not None and self._variant_re.search(text) is not None:
            return text.translate(self._table)
        return text

    def fold(self, text: str) -> str:
        """NFKC, case-folding and variant characters; separators are kept."""
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        return self._variants(text.casefold())

    @staticmethod
    def squeeze(folded: str) -> str:
        """Remove separators (keep one space between ASCII words) from folded text."""
        return _DROP.sub("", _NONWORD.sub(" ", folded))

    def normalize(self, text: str) -> str:
        """``squeeze(fold(text))``, in the order that costs least on typical messages."""
        if self._kernel is not None:
            out: str | None = self._kernel.normalize(text, self._bitmap, self._table)
            if out is not None:
                return out
        return self.normalize_python(text)

    def normalize_python(self, text: str) -> str:
        """:meth:`normalize` without the compiled kernel (the original it must agree with)."""
        if self._plain.fullmatch(text) is not None:
            return _numerals(text)  # already normal: nothing NFKC, case, variants or separators change
        s = _NONWORD.sub(" ", text)  # full-width punctuation goes before NFKC sees it
        if not unicodedata.is_normalized("NFKC", s):
            s = _NONWORD.sub(" ", unicodedata.normalize("NFKC", s))
        return _numerals(_DROP.sub("", self._variants(s.casefold())))
