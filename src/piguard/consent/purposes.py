"""Where the declared purposes and the rules version come from: :class:`PurposeSource`.

The inventory (``piguard.inventory.service``) owns the purposes, which of them are required, the
published rules versions and what changed materially between them (O24-8, O24-9.2). The consent
ledger only reads them through this protocol, so it works before the inventory exists (a packaged
fallback list, rules version ``None``) and tests can pass a small real source of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from piguard.core import yamlfiles
from piguard.core.modules import import_if_present

_FALLBACK = Path(__file__).parent / "data" / "purposes.yaml"


@dataclass(frozen=True, slots=True)
class PurposeView:
    """A declared purpose. ``categories``: the PI categories it may use (``None``: the source does
    not say, and the category check is not made for it)."""

    id: str
    required: bool
    categories: frozenset[str] | None = None


@runtime_checkable
class PurposeSource(Protocol):
    def purposes(self, session: Session) -> list[PurposeView]: ...

    def current_rules_version(self, session: Session) -> int | None: ...

    def material_changes_since(self, session: Session, version: int) -> set[str]: ...


def _view(p: Any) -> PurposeView:
    """Adapt whatever the inventory returns (an object or a mapping with id/required/categories)."""
    get = p.get if isinstance(p, dict) else lambda k, d=None: getattr(p, k, d)
    # the categories the inventory declares for the purpose; else what its taxonomy allows
    cats = get("categories", None) or get("allowed_categories", None) or get("allowed", None)
    return PurposeView(
        str(get("id")), bool(get("required", False)), frozenset(str(c) for c in cats) if cats else None
    )


@lru_cache(maxsize=1)
def packaged_purposes() -> tuple[PurposeView, ...]:
    data = yamlfiles.load(_FALLBACK.read_text(encoding="utf-8"))
    return tuple(_view(p) for p in data["purposes"])


class StaticPurposes:
    """A fixed list of purposes and rules versions: the packaged fallback, demos and tests.

    ``changes`` maps a rules version to the purposes that changed materially when it was published
    (a new purpose, a new category, a new third party)."""

    def __init__(
        self,
        purposes: Iterable[PurposeView],
        version: int | None = None,
        changes: dict[int, set[str]] | None = None,
    ) -> None:
        self._purposes = list(purposes)
        self.version = version
        self.changes: dict[int, set[str]] = {k: set(v) for k, v in (changes or {}).items()}

    def purposes(self, session: Session) -> list[PurposeView]:
        return list(self._purposes)

    def current_rules_version(self, session: Session) -> int | None:
        return self.version

    def material_changes_since(self, session: Session, version: int) -> set[str]:
        out: set[str] = set()
        for v, ids in self.changes.items():
            if self.version is not None and version < v <= self.version:
                out |= ids
        return out

    def publish(self, version: int, purposes: Iterable[PurposeView], changed: set[str]) -> None:
        """A new rules version (tests, demo): ``changed`` are the purposes that changed materially."""
        self._purposes = list(purposes)
        self.version = version
        self.changes[version] = set(changed)


class InventoryPurposes:
    """The default source: ``piguard.inventory.service`` when it is installed, imported lazily on
    each call (cheap after the first); the packaged purposes list, rules version ``None``, when not."""

    def _inventory(self) -> Any:
        return import_if_present("piguard.inventory.service")

    def purposes(self, session: Session) -> list[PurposeView]:
        inv = self._inventory()
        if inv is not None and hasattr(inv, "purposes"):
            found = [_view(p) for p in inv.purposes(session)]
            if found:
                return found
        return list(packaged_purposes())

    def current_rules_version(self, session: Session) -> int | None:
        inv = self._inventory()
        if inv is not None and hasattr(inv, "current_rules_version"):
            v = inv.current_rules_version(session)
            if v is None:
                return None
            return int(getattr(v, "number", v))  # the inventory returns its RulesVersion row
        return None

    def material_changes_since(self, session: Session, version: int) -> set[str]:
        inv = self._inventory()
        if inv is not None and hasattr(inv, "material_changes_since"):
            return {str(p) for p in inv.material_changes_since(session, version)}
        return set()


_source: PurposeSource = InventoryPurposes()


def get_source() -> PurposeSource:
    return _source


def set_source(source: PurposeSource | None) -> None:
    """Replace the process's purpose source (``None``: back to the inventory default)."""
    global _source
    _source = source if source is not None else InventoryPurposes()
