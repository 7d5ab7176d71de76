"""Personal information leaked in message content (resident ID numbers, bank cards, ...).

Uses the discovery engine (``piguard.discovery.engine.detect``) when that module is installed, so
SMS review and data discovery agree on what an ID number is; until then (or if the engine fails) a
minimal validator of our own: 18-digit resident ID with a valid check digit and birth date
(python-stdnum ``cn.ric``), 16-19 digit card numbers with a card prefix and a valid Luhn digit,
and optionally mainland mobile numbers. Results never carry the matched value, only the category
and the position.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from stdnum import luhn
from stdnum.cn import ric

from piguard.core.logging import get_logger
from piguard.regulations.markers import carries

ENGINE_MODULE = "piguard.discovery.engine"
DEFAULT_PI_CATEGORIES = frozenset({"id_card", "bank_card"})
MIN_CONFIDENCE = 0.5
FALLBACK_CATEGORIES = frozenset({"id_card", "bank_card", "phone_mobile"})

# cheap pre-check: anything the fallback looks for needs a run of >= 11 digits (spaces/dashes allowed)
_PRECHECK = re.compile(r"[0-9０-９](?:[ \-－]?[0-9０-９]){10}")
_LONG = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9]){14,18}(?:[ \-]?[0-9xX])?(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]){8}(?![0-9])")
_CARD_PREFIX = re.compile(r"(?:62|60|65|4|5[1-5]|2[2-7]|3[4-7]|9)")

_engine_cache: list[Callable[..., Any] | None] = []


@dataclass(frozen=True, slots=True)
class PiHit:
    category: str
    start: int
    end: int
    source: str  # "engine" | "builtin"


def engine_detect() -> Callable[..., Any] | None:
    """The discovery engine's ``detect`` if that module exists (looked up once)."""
    if not _engine_cache:
        fn: Callable[..., Any] | None = None
        try:
            if importlib.util.find_spec(ENGINE_MODULE) is not None:
                fn = getattr(importlib.import_module(ENGINE_MODULE), "detect", None)
        except ImportError:
            fn = None
        _engine_cache.append(fn if callable(fn) else None)
    return _engine_cache[0]


def reset_engine_cache() -> None:
    """Look the engine up again on next use (tests, or after installing it)."""
    _engine_cache.clear()


def _builtin(text: str, categories: Collection[str]) -> list[PiHit]:
    folded = unicodedata.normalize("NFKC", text)
    out: list[PiHit] = []
    taken: list[tuple[int, int]] = []
    for m in _LONG.finditer(folded):
        digits = re.sub(r"[ \-]", "", m.group()).upper()
        if len(digits) == 18 and ric.is_valid(digits):
            if "id_card" in categories:
                out.append(PiHit("id_card", m.start(), m.end(), "builtin"))
            taken.append(m.span())
        elif (
            "bank_card" in categories
            and 16 <= len(digits) <= 19
            and digits.isdigit()
            and _CARD_PREFIX.match(digits)
            and luhn.is_valid(digits)
        ):
            out.append(PiHit("bank_card", m.start(), m.end(), "builtin"))
            taken.append(m.span())
    if "phone_mobile" in categories:
        for m in _MOBILE.finditer(folded):
            if not any(a <= m.start() < b for a, b in taken):
                out.append(PiHit("phone_mobile", m.start(), m.end(), "builtin"))
    return out


# the same pre-check on text already normalised for review (half-width digits, one space at most
# between them): a run of digits and spaces, then count its digits
_NORMALIZED_RUN = re.compile(r"[0-9][0-9 ]{9,}[0-9]")


def may_hold_pi(normalized: str) -> bool:
    """Cheap test on review-normalised text: could any of the built-in categories be present?"""
    return any(len(m.group()) - m.group().count(" ") >= 11 for m in _NORMALIZED_RUN.finditer(normalized))


@carries("O24-10", "CSL-40", "CSL-42.1")
def find_pi(
    text: str, categories: Collection[str] = DEFAULT_PI_CATEGORIES, *, prechecked: bool = False
) -> list[PiHit]:
    """Where personal information of the listed categories appears in ``text``.

    ``prechecked``: the caller already ran :func:`may_hold_pi` on the normalised text.
    """
    if not categories:
        return []
    cats = frozenset(categories)
    if cats <= FALLBACK_CATEGORIES and not prechecked and not _PRECHECK.search(text):
        return []
    detect = engine_detect()
    if detect is not None:
        try:
            findings = detect(text, categories=cats)
            return [
                PiHit(str(f.category), int(f.start), int(f.end), "engine")
                for f in findings
                if str(f.category) in cats and float(getattr(f, "confidence", 1.0)) >= MIN_CONFIDENCE
            ]
        except Exception as exc:  # the engine must never take the gateway down
            get_logger(__name__).warning("sms_review_pi_engine_failed", error=type(exc).__name__)
    return _builtin(text, cats & FALLBACK_CATEGORIES)
