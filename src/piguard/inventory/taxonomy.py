"""The packaged purpose taxonomy and the rules defaults, as data (``data/purposes.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from piguard.core import yamlfiles
from piguard.regulations.markers import carries


@dataclass(frozen=True, slots=True)
class PurposeKind:
    id: str
    zh: str
    en: str
    required: bool  # the default when the inventory does not say
    optional_only: bool  # a service may never make it a condition of the service (O24-9.3)
    allowed: frozenset[str]  # the categories it can need (minimisation, O24-9.3, CSL-41.2)
    methods_zh: str
    methods_en: str
    refusal_zh: str
    refusal_en: str
    #: the categories a staff reader may see in clear text for this purpose (O24-13.3); else masked
    clear: frozenset[str] = frozenset()


def _read(name: str) -> Any:
    return yamlfiles.load(resources.files("piguard.inventory.data").joinpath(name).read_text("utf-8"))


@cache
@carries("O24-5", "O24-9.3", "CSL-41.2")
def taxonomy() -> dict[str, PurposeKind]:
    """Every known purpose, by id, with the categories it may hold."""
    out: dict[str, PurposeKind] = {}
    for pid, p in _read("purposes.yaml")["purposes"].items():
        methods, refusal = p.get("methods", {}), p.get("refusal", {})
        out[pid] = PurposeKind(
            pid,
            p["zh"],
            p["en"],
            bool(p["required"]),
            bool(p.get("optional_only", False)),
            frozenset(p["allowed"]),
            methods.get("zh", ""),
            methods.get("en", ""),
            refusal.get("zh", ""),
            refusal.get("en", ""),
            frozenset(p.get("clear") or ()),
        )
    return out


@cache
def rules_defaults() -> dict[str, Any]:
    return dict(_read("rules.yaml"))


# ------------------------------------------------------------------ retention and locations

UNTIL_CANCELLATION = "until_cancellation"
_DURATION = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_UNITS = (("Y", "年", "year"), ("M", "个月", "month"), ("W", "周", "week"), ("D", "天", "day"))


def parse_retention(text: str) -> tuple[int, int, int, int] | None:
    """(years, months, weeks, days) of an ISO 8601 date duration; None if not one."""
    m = _DURATION.match(text)
    if m is None:
        return None
    parts = tuple(int(g) if g else 0 for g in m.groups())
    return None if not any(parts) else (parts[0], parts[1], parts[2], parts[3])


def valid_retention(text: str) -> bool:
    return text == UNTIL_CANCELLATION or parse_retention(text) is not None


def retention_text(text: str | None, lang: str) -> str:
    if not text:
        return "未声明" if lang == "zh" else "not stated"
    if text == UNTIL_CANCELLATION:
        return "至您注销账号（号码）时" if lang == "zh" else "until you cancel your account (number)"
    parts = parse_retention(text)
    if parts is None:
        return text
    words = []
    for n, (_, zh, en) in zip(parts, _UNITS, strict=True):
        if n:
            words.append(f"{n}{zh}" if lang == "zh" else f"{n} {en}{'s' if n > 1 else ''}")
    return "".join(words) if lang == "zh" else " ".join(words)


IN_CHINA, OUTSIDE_CHINA = "in_china", "outside_china"
LOCATIONS = {
    "in_china": IN_CHINA,
    "中国境内": IN_CHINA,
    "境内": IN_CHINA,
    "cn": IN_CHINA,
    "outside_china": OUTSIDE_CHINA,
    "境外": OUTSIDE_CHINA,
    "中国境外": OUTSIDE_CHINA,
}


def location_text(code: str, lang: str) -> str:
    if code == OUTSIDE_CHINA:
        return "中华人民共和国境外" if lang == "zh" else "outside the People's Republic of China"
    return "中华人民共和国境内" if lang == "zh" else "within the People's Republic of China"
