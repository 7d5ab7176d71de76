"""The inventory file (YAML, kept in the operator's git): parse, validate, locate every error.

A malformed file is refused with the file name, the line and the field of each problem (from the
YAML node marks); an unknown category or purpose is refused with the list of known ones. Nothing is
applied here: :func:`parse` returns a validated :class:`InventoryDoc` or raises.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from piguard.core import yamlfiles
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.discovery.categories import CODES
from piguard.inventory.taxonomy import LOCATIONS, taxonomy, valid_retention
from piguard.regulations.markers import carries

CHANNELS = ("inquiry", "correction", "deletion", "cancellation", "complaint")
MAX_BYTES = 5_000_000


class LangText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


Text = str | LangText


def _location(v: Any) -> str:
    code = LOCATIONS.get(str(v).strip().lower()) if v is not None else None
    if code is None:
        raise ValueError(f"unknown location {v!r}; known: in_china (中国境内), outside_china (境外)")
    return code


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OperatorDoc(_Doc):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field("", max_length=500)
    contact: str = Field("", max_length=200)
    phone: str = Field("", max_length=64)
    channels: dict[Literal["inquiry", "correction", "deletion", "cancellation", "complaint"], Text] = {}
    security_measures: list[Text] = []


class PurposeDoc(_Doc):
    id: str = Field(min_length=1, max_length=64)
    required: bool | None = None
    name_zh: str | None = Field(None, max_length=200)
    name_en: str | None = Field(None, max_length=200)


class ThirdPartyDoc(_Doc):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    contact: str = Field("", max_length=200)
    location: str = "in_china"
    purpose: Text = ""
    #: the purposes this provision serves (empty: every purpose of the fields that list it)
    purposes: list[str] = []

    _loc = field_validator("location", mode="before")(_location)


class FieldDoc(_Doc):
    column: str = Field(min_length=1, max_length=200)
    categories: list[str] = []
    purposes: list[str] = []
    necessity: str = Field("", max_length=2000)
    retention: str | None = Field(None, max_length=64)
    collection: Literal["required", "optional"] = "required"
    third_parties: list[str] = []

    @field_validator("retention")
    @classmethod
    def _retention(cls, v: str | None) -> str | None:
        if v is not None and not valid_retention(v):
            raise ValueError(
                f"retention {v!r} is neither an ISO 8601 duration (P3Y, P6M, P30D) nor until_cancellation"
            )
        return v


class TableDoc(_Doc):
    name: str = Field(min_length=1, max_length=200)
    subject_keys: dict[str, str] = {}
    fields: list[FieldDoc] = []


class ConnectorDoc(_Doc):
    model_config = ConfigDict(extra="allow")
    kind: Literal["sql", "manual", "api", "file"] = "manual"


class SystemDoc(_Doc):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    owner: str = Field("", max_length=200)
    location: str = "in_china"
    connector: ConnectorDoc = ConnectorDoc()
    tables: list[TableDoc] = []

    _loc = field_validator("location", mode="before")(_location)


class InventoryDoc(_Doc):
    operator: OperatorDoc
    purposes: list[PurposeDoc] = Field(min_length=1)
    third_parties: list[ThirdPartyDoc] = []
    systems: list[SystemDoc] = []


# ------------------------------------------------------------------ locating errors


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node of ``root`` on the path ``loc``."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            return line
        line = node.start_mark.line + 1
    return line


class _Problems:
    def __init__(self, filename: str, root: yaml.Node | None) -> None:
        self.filename = filename
        self.root = root
        self.items: list[FieldError] = []

    def add(self, loc: tuple[Any, ...], message: str) -> None:
        line = _line(self.root, loc)
        where = f"{self.filename}, line {line}" if line else self.filename
        self.items.append(FieldError(_path(loc) or "document", f"{where}: {message}"))

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise validation_error(
                self.items,
                f"Inventory file {self.filename} is not valid ({n} problem{'s' if n > 1 else ''}); nothing was imported.",
                f"清单文件 {self.filename} 无效（{n} 处问题），未导入任何内容。",
            )


def _syntax_error(filename: str, exc: yaml.YAMLError) -> PiguardError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "not valid YAML"
    where_zh = f"（第 {mark.line + 1} 行第 {mark.column + 1} 列）" if mark is not None else ""
    return validation_error(
        [FieldError("document", f"{filename}{line}: {problem}")],
        f"Inventory file {filename} is not valid YAML{line}; nothing was imported.",
        f"清单文件 {filename} 不是有效的 YAML{where_zh}；未导入任何内容。",
    )


# ------------------------------------------------------------------ parsing


def decode(data: bytes, filename: str) -> str:
    if len(data) > MAX_BYTES:
        raise validation_error(
            [FieldError("document", f"{filename}: larger than {MAX_BYTES} bytes")],
            "Inventory file too large.",
            "清单文件过大。",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise validation_error(
            [FieldError("document", f"{filename}: not UTF-8 (byte {exc.start})")],
            f"Inventory file {filename} is not UTF-8 text.",
            f"清单文件 {filename} 不是 UTF-8 文本。",
        ) from None


@carries("O24-5", "O24-8")
def parse(text: str, filename: str = "<inventory>") -> InventoryDoc:
    """Validate an inventory YAML document; raises ``validation_error`` naming file, line and field."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yamlfiles.load(text)
    except yaml.YAMLError as exc:
        raise _syntax_error(filename, exc) from None
    return _validated(data, filename, root)


def _validated(data: Any, filename: str, root: yaml.Node | None) -> InventoryDoc:
    problems = _Problems(filename, root)
    if not isinstance(data, dict):
        problems.add((), "expected a mapping with operator, purposes and systems")
        problems.raise_if_any()
    try:
        doc = InventoryDoc.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(p for p in e.get("loc", ()) if not (isinstance(p, str) and p in ("str", "LangText")))
            problems.add(loc, str(e.get("msg", "invalid")))
        problems.raise_if_any()
        raise AssertionError("unreachable") from None
    check_references(doc, problems)
    problems.raise_if_any()
    return doc


def validate(doc_data: Any, filename: str = "<inventory>") -> InventoryDoc:
    """The same checks on an already-parsed document (the JSON API): errors named by field."""
    return _validated(doc_data, filename, None)


@carries("O24-5", "O24-9.3")
def shares_for(field_parties: list[str], party_purposes: dict[str, list[str]], purpose: str) -> list[str]:
    """The third parties a field goes to when it is used for ``purpose``."""
    return [q for q in field_parties if not party_purposes.get(q) or purpose in party_purposes[q]]


def check_references(doc: InventoryDoc, problems: _Problems) -> None:
    """Categories from the discovery vocabulary, purposes from the taxonomy and declared, third
    parties declared, retention an ISO 8601 duration or until_cancellation, ids unique."""
    known_purposes = taxonomy()
    declared: set[str] = set()
    for i, pd in enumerate(doc.purposes):
        if pd.id not in known_purposes:
            problems.add(
                ("purposes", i, "id"), f"unknown purpose {pd.id!r}; known: {', '.join(known_purposes)}"
            )
        if pd.id in declared:
            problems.add(("purposes", i, "id"), f"purpose {pd.id!r} declared twice")
        declared.add(pd.id)
    parties: set[str] = set()
    for i, party in enumerate(doc.third_parties):
        if party.id in parties:
            problems.add(("third_parties", i, "id"), f"third party {party.id!r} declared twice")
        parties.add(party.id)
        for pi, pid in enumerate(party.purposes):
            if pid not in declared:
                problems.add(
                    ("third_parties", i, "purposes", pi),
                    f"purpose {pid!r} is not declared under purposes; declared: {', '.join(sorted(declared))}",
                )
    systems: set[str] = set()
    for si, s in enumerate(doc.systems):
        if s.id in systems:
            problems.add(("systems", si, "id"), f"system {s.id!r} declared twice")
        systems.add(s.id)
        tables: set[str] = set()
        for ti, t in enumerate(s.tables):
            if t.name in tables:
                problems.add(("systems", si, "tables", ti, "name"), f"table {t.name!r} listed twice")
            tables.add(t.name)
            columns: set[str] = set()
            for fi, f in enumerate(t.fields):
                at = ("systems", si, "tables", ti, "fields", fi)
                if f.column in columns:
                    problems.add((*at, "column"), f"column {f.column!r} listed twice")
                columns.add(f.column)
                for ci, c in enumerate(f.categories):
                    if c not in CODES:
                        problems.add(
                            (*at, "categories", ci), f"unknown category {c!r}; known: {', '.join(CODES)}"
                        )
                for pi, p in enumerate(f.purposes):
                    if p not in known_purposes:
                        problems.add(
                            (*at, "purposes", pi),
                            f"unknown purpose {p!r}; known: {', '.join(known_purposes)}",
                        )
                    elif p not in declared:
                        problems.add(
                            (*at, "purposes", pi),
                            f"purpose {p!r} is not declared under purposes; declared: {', '.join(sorted(declared))}",
                        )
                for qi, q in enumerate(f.third_parties):
                    if q not in parties:
                        known = ", ".join(sorted(parties)) or "none"
                        problems.add(
                            (*at, "third_parties", qi), f"unknown third party {q!r}; declared: {known}"
                        )
