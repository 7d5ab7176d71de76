"""Decisions and reasons: the rule that runs through piguard.

Every decision that allows, refuses or holds something returns :class:`Decision`, whose reasons each
carry the obligation ids (REQUIREMENTS.md) they rest on. API, CLI, console, audit and reports all
render the same objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from piguard.core.frozen import fast_init


def obligations_of(reasons: Iterable[Reason]) -> tuple[str, ...]:
    """The obligation ids of ``reasons``, each once, in the order they first appear."""
    seen: dict[str, None] = {}
    for r in reasons:
        for o in r.obligations:
            seen.setdefault(o, None)
    return tuple(seen)


class Outcome(StrEnum):
    ALLOW = "allow"
    REFUSE = "refuse"
    HOLD = "hold"


@fast_init
@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    obligations: tuple[str, ...]
    message_en: str
    message_zh: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "obligations": list(self.obligations),
            "message": {"zh": self.message_zh, "en": self.message_en},
            **({"detail": self.detail} if self.detail else {}),
        }


@fast_init
@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def obligations(self) -> tuple[str, ...]:
        return obligations_of(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "reasons": [r.to_dict() for r in self.reasons]}

    @classmethod
    def allow(cls, *reasons: Reason) -> Decision:
        return cls(Outcome.ALLOW, reasons)

    @classmethod
    def refuse(cls, *reasons: Reason) -> Decision:
        return cls(Outcome.REFUSE, reasons)

    @classmethod
    def hold(cls, *reasons: Reason) -> Decision:
        return cls(Outcome.HOLD, reasons)

    @classmethod
    def combine(cls, reasons: list[Reason], refusals: list[Reason], holds: list[Reason]) -> Decision:
        """Refusals win over holds, holds over allow; all reasons are kept."""
        if refusals:
            return cls(Outcome.REFUSE, tuple(refusals + holds + reasons))
        if holds:
            return cls(Outcome.HOLD, tuple(holds + reasons))
        return cls(Outcome.ALLOW, tuple(reasons))
