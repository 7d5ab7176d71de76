"""Administrative-division codes (GB/T 2260) that ever existed, with the years each name was in use.

The table ships as package data (``data/areas.tsv``, about 7,000 rows), built once from
python-stdnum's ``cn/loc.dat`` by ``python -m piguard.discovery.areas --rebuild``. It serves the
resident-ID validator (the first six digits must be a code that ever existed; a code abolished
before the birth year lowers confidence but does not reject) and the address recogniser and the
address-to-city generalisation (province, prefecture and county names).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

_DATA = "areas.tsv"


@dataclass(frozen=True, slots=True)
class Era:
    name: str
    start: int | None
    end: int | None

    def covers(self, year: int) -> bool:
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


@dataclass(frozen=True, slots=True)
class AreaTable:
    eras: dict[str, tuple[Era, ...]]

    def exists(self, code: str) -> bool:
        return code in self.eras

    def abolished_before(self, code: str, year: int) -> bool:
        """True when every name this code ever had ended before ``year`` (era mismatch)."""
        eras = self.eras.get(code, ())
        return bool(eras) and all(e.end is not None and e.end < year for e in eras)

    def province(self, code: str) -> str | None:
        return self._current(code[:2] + "0000")

    def prefecture(self, code: str) -> str | None:
        return self._current(code[:4] + "00")

    def _current(self, code: str) -> str | None:
        eras = self.eras.get(code)
        return eras[-1].name if eras else None

    def names(self) -> dict[str, str]:
        """Every division name that ever existed -> its level: ``province``, ``prefecture``, ``county``."""
        out: dict[str, str] = {}
        for code, eras in self.eras.items():
            level = "province" if code.endswith("0000") else "prefecture" if code.endswith("00") else "county"
            for era in eras:
                out.setdefault(era.name, level)
        return out


def _parse_eras(field: str) -> tuple[Era, ...]:
    eras = []
    for part in field.split("|"):
        span, _, name = part.partition(":")
        start, _, end = span.partition("-")
        eras.append(Era(name, int(start) if start else None, int(end) if end else None))
    return tuple(eras)


@lru_cache(maxsize=1)
def area_table() -> AreaTable:
    text = resources.files("piguard.discovery").joinpath("data", _DATA).read_text(encoding="utf-8")
    eras: dict[str, tuple[Era, ...]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, field = line.split("\t", 1)
        eras[code] = _parse_eras(field)
    return AreaTable(eras)


def _rebuild(out: Path) -> int:
    """Regenerate ``areas.tsv`` from python-stdnum's ``cn/loc.dat`` (run by hand, not at import)."""
    import stdnum.cn

    src = Path(stdnum.cn.__file__).with_name("loc.dat")
    rows: dict[str, list[str]] = {}
    province = ""
    for raw in src.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        key, _, rest = raw.strip().partition(" ")
        value = rest.split('="', 1)[1].rstrip('"')
        if not raw.startswith(" "):
            province = key
            rows[province + "0000"] = [f"-:{value}"]
            continue
        code = province + key
        entries = []
        for item in value.split(","):
            if item.startswith("["):
                span, name = item[1:].split("]", 1)
                entries.append(f"{span}:{name}")
            else:
                entries.append(f"-:{item}")
        rows[code] = entries
    lines = [
        "# GB/T 2260 division codes that ever existed: code<TAB>start-end:name|... (years; empty = open).",
        "# Built from python-stdnum cn/loc.dat (itself from Wikipedia's code lists) by",
        "# `python -m piguard.discovery.areas --rebuild`.",
    ]
    lines += [f"{code}\t{'|'.join(v)}" for code, v in sorted(rows.items())]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if "--rebuild" in sys.argv:
        target = Path(__file__).with_name("data") / _DATA
        print(f"{_rebuild(target)} codes written to {target}")
