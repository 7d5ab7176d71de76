"""The third-party sharing register (CSL-42.1): to whom personal information is provided, which
categories and fields each recipient receives, for which purposes, where it is and how to reach it.

Derived from the inventory, never kept beside it: a third party is declared once
(``third_parties``), each field names the parties it goes to (``FieldDoc.third_parties``) and a
party's ``purposes`` narrow that to the uses it serves (:func:`~piguard.inventory.document.shares_for`).
The same register feeds the published rules' *sharing* section (``rules.context``), the API and CLI
(``piguard inventory sharing``) and the consent domain's sharing decision
(``consent.service.may_share``). A recipient outside China is flagged (``cross_border``): providing
information abroad needs more than consent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from piguard.inventory.document import InventoryDoc, shares_for
from piguard.inventory.taxonomy import OUTSIDE_CHINA
from piguard.regulations.markers import carries


class _Party(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def contact(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def purpose(self) -> Any: ...
    @property
    def purposes(self) -> Sequence[str]: ...


class _Field(Protocol):
    @property
    def column(self) -> str: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def purposes(self) -> Sequence[str]: ...
    @property
    def third_parties(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class SharedField:
    """One inventoried field a recipient receives, with the purposes it is provided for."""

    system: str
    table: str
    column: str
    categories: tuple[str, ...]
    purposes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "table": self.table,
            "column": self.column,
            "categories": list(self.categories),
            "purposes": list(self.purposes),
        }


@dataclass(frozen=True, slots=True)
class Recipient:
    """One entry of the register: a declared third party and what it receives."""

    id: str
    name: str
    contact: str
    location: str  # in_china | outside_china
    #: the free text (or {"zh", "en"}) saying what the provision is for
    purpose_text: Any
    #: the purposes the inventory restricts this party to (empty: every purpose of its fields)
    declared_purposes: tuple[str, ...]
    fields: tuple[SharedField, ...]

    @property
    def cross_border(self) -> bool:
        return self.location == OUTSIDE_CHINA

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for f in self.fields for c in f.categories}))

    @property
    def purposes(self) -> tuple[str, ...]:
        return tuple(sorted({p for f in self.fields for p in f.purposes}))

    def categories_for(self, purpose: str) -> frozenset[str]:
        """The categories this party receives when the information is used for ``purpose``."""
        return frozenset(c for f in self.fields if purpose in f.purposes for c in f.categories)

    def by_purpose(self) -> dict[str, list[str]]:
        return {p: sorted(self.categories_for(p)) for p in self.purposes}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "contact": self.contact,
            "location": self.location,
            "cross_border": self.cross_border,
            "purpose": self.purpose_text,
            "declared_purposes": list(self.declared_purposes),
            "purposes": list(self.purposes),
            "categories": list(self.categories),
            "by_purpose": self.by_purpose(),
            "fields": [f.to_dict() for f in self.fields],
            "obligations": ["CSL-42.1"],
        }


@carries("CSL-42.1", "O24-8", "CSL-41.1")
def sharing_of(parties: Iterable[_Party], fields: Iterable[tuple[str, str, _Field]]) -> list[Recipient]:
    """The register from the declared ``parties`` (in their order) and every inventoried field as
    ``(system id, table name, field)``: per party, the fields it receives and for which purposes."""
    declared = list(parties)
    party_purposes = {p.id: list(p.purposes) for p in declared}
    received: dict[str, list[SharedField]] = {p.id: [] for p in declared}
    for system, table, f in fields:
        per_party: dict[str, list[str]] = {}
        for pid in f.purposes:
            for q in shares_for(list(f.third_parties), party_purposes, pid):
                per_party.setdefault(q, []).append(pid)
        for q, pids in per_party.items():
            if q in received:
                received[q].append(
                    SharedField(system, table, f.column, tuple(f.categories), tuple(dict.fromkeys(pids)))
                )
    return [
        Recipient(
            p.id,
            p.name,
            p.contact or "",
            p.location,
            p.purpose.model_dump() if hasattr(p.purpose, "model_dump") else p.purpose,
            tuple(p.purposes),
            tuple(received[p.id]),
        )
        for p in declared
    ]


def sharing_of_doc(doc: InventoryDoc) -> list[Recipient]:
    """The register of an inventory document (the file, or a published version's snapshot)."""
    return sharing_of(
        doc.third_parties, ((s.id, t.name, f) for s in doc.systems for t in s.tables for f in t.fields)
    )
