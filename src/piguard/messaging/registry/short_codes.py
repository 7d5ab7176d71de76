"""Official short codes (``data/official_short_codes.yaml``): what the registry consults before it
vouches for a sender as an official short code (``ReviewContext.clearances``; O31-16, O31-17).

A port registered under such a code by a verified content provider sends as an official short code:
the content review then clears a fraud finding in a message worded as a warning (a 12321 or 96110
notice quoting a scam's words), and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from piguard.core import yamlfiles
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.regulations.markers import carries

_DIGITS = re.compile(r"[0-9]{3,8}")


@dataclass(frozen=True, slots=True)
class ShortCodes:
    codes: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        return code in self.codes or any(p.fullmatch(code) is not None for p in self.patterns)


def _bad(source: str, message: str) -> PiguardError:
    return validation_error(
        [FieldError("official_short_codes", message)],
        f"{source}: {message}",
        f"{source}：官方短号码数据有误（{message}）。",
    )


def parse_short_codes(text: str, source: str = "official_short_codes.yaml") -> ShortCodes:
    """Read the data (``codes: [{code, holder}]``, ``patterns: [{regex, holder}]``); a mistake is a
    validation error naming the file and the entry."""
    try:
        data = yamlfiles.load(text)
    except yaml.YAMLError as exc:
        raise _bad(source, f"not YAML: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"codes", "patterns"}:
        raise _bad(source, "expected a mapping with 'codes' and 'patterns'")
    codes: set[str] = set()
    for i, entry in enumerate(data.get("codes") or []):
        code = entry.get("code") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not _DIGITS.fullmatch(code):
            raise _bad(source, f"codes[{i}]: 'code' must be a quoted string of 3 to 8 digits")
        codes.add(code)
    patterns: list[re.Pattern[str]] = []
    for i, entry in enumerate(data.get("patterns") or []):
        regex = entry.get("regex") if isinstance(entry, dict) else None
        if not isinstance(regex, str):
            raise _bad(source, f"patterns[{i}]: 'regex' must be a string")
        try:
            patterns.append(re.compile(regex))
        except re.error as exc:
            raise _bad(source, f"patterns[{i}]: {exc}") from None
    return ShortCodes(frozenset(codes), tuple(patterns))


@cache
def official_short_codes() -> ShortCodes:
    """The built-in table, read once per process."""
    text = (resources.files("piguard.messaging.registry") / "data" / "official_short_codes.yaml").read_text(
        encoding="utf-8"
    )
    return parse_short_codes(text)


@carries("O31-16", "O31-17")
def is_official_short_code(code: str) -> bool:
    """Whether a port's code (without extension) is an official short code (O31-16, O31-17)."""
    return code in official_short_codes()
