"""What "built" means for each obligation: the capability REQUIREMENTS.md names, as checkable parts.

``data/capabilities.yaml`` gives, for every obligation id, the capability (zh/en) broken into 1-4
parts. Each part names where the code must live (``under``: a package prefix such as
``piguard.cases``, or a list of them) and optionally ``name``, a regular expression the qualified
name of the marked function or class must match. The matrix (``matrix.py``) marks a part met when
code there carries the obligation id and at least one test is marked with it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from piguard.regulations.catalogue import catalogue, data_dir, invalid_data, read_yaml

_PREFIX = re.compile(r"^piguard(\.[a-z_][a-z0-9_]*)+$")
MAX_PARTS = 4


class CapabilityPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    under: tuple[str, ...]
    name: str | None = None

    @field_validator("under", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    def matches(self, module: str, qualname: str) -> bool:
        if not any(module == p or module.startswith(p + ".") for p in self.under):
            return False
        return self.name is None or re.search(self.name, qualname) is not None


class Capability(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    parts: tuple[CapabilityPart, ...] = Field(min_length=1, max_length=MAX_PARTS)


class Capabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    planned: tuple[str, ...] = ()
    items: dict[str, Capability]


def parse(raw: Any, where: str = "capabilities.yaml") -> Capabilities:
    """Parse the YAML document; a shape error is ``rules_data_invalid`` naming the entry."""
    if not isinstance(raw, dict) or not isinstance(raw.get("capabilities"), dict):
        raise invalid_data(where, "expected a mapping with a 'capabilities' mapping")
    items: dict[str, Capability] = {}
    for oid, body in raw["capabilities"].items():
        if not isinstance(body, dict):
            raise invalid_data(where, f"{oid}: expected a mapping")
        try:
            items[str(oid)] = Capability(id=str(oid), **body)
        except (ValidationError, TypeError) as exc:
            problem = str(exc).splitlines()[0] if isinstance(exc, TypeError) else _first(exc)
            raise invalid_data(where, f"{oid}: {problem}") from None
    planned = raw.get("planned") or []
    if not isinstance(planned, list) or not all(isinstance(p, str) for p in planned):
        raise invalid_data(where, "planned: expected a list of package names")
    return Capabilities(planned=tuple(planned), items=items)


def _first(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"


@lru_cache(maxsize=1)
def capabilities() -> Capabilities:
    return parse(read_yaml(data_dir() / "capabilities.yaml", "capabilities.yaml"))


def problems(caps: Capabilities, pkg_dir: Path | None = None) -> list[str]:
    """Everything wrong with ``caps`` against the catalogue and the package tree: a missing or unknown
    obligation id, a prefix that is neither an existing package/module nor planned, a bad pattern,
    a duplicate part key."""
    from piguard.regulations.matrix import package_dir

    pkg = pkg_dir or package_dir()
    known = catalogue().obligations
    out: list[str] = []
    out += [f"{oid}: no capability entry" for oid in known if oid not in caps.items]
    out += [f"{oid}: not an obligation of REQUIREMENTS.md" for oid in caps.items if oid not in known]
    for p in caps.planned:
        if not _PREFIX.match(p):
            out.append(f"planned {p!r}: not a piguard package name")
    for oid, cap in caps.items.items():
        keys = [p.key for p in cap.parts]
        if len(set(keys)) != len(keys):
            out.append(f"{oid}: duplicate part keys {keys}")
        for part in cap.parts:
            if part.name is not None:
                try:
                    re.compile(part.name)
                except re.error as exc:
                    out.append(f"{oid}/{part.key}: bad name pattern {part.name!r}: {exc}")
            for prefix in part.under:
                if not _PREFIX.match(prefix):
                    out.append(f"{oid}/{part.key}: {prefix!r} is not a piguard package prefix")
                    continue
                if not _exists(pkg, prefix) and not any(
                    prefix == p or prefix.startswith(p + ".") for p in caps.planned
                ):
                    out.append(f"{oid}/{part.key}: {prefix!r} neither exists nor is planned")
    return out


def _exists(pkg: Path, prefix: str) -> bool:
    rel = Path(*prefix.split(".")[1:])
    return (pkg / rel).is_dir() or (pkg / rel).with_suffix(".py").is_file()
