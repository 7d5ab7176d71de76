"""Oversight's entry point for the rooms above (web, CLI): agents, training and the purposes a
personal-information read may name. Functions take a session and never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from piguard.consent import service as consent
from piguard.inventory.taxonomy import taxonomy
from piguard.oversight import access as _guards  # noqa: F401  (installs the PI-read guards)
from piguard.oversight import agents, training
from piguard.oversight.models import TrainingCourse
from piguard.regulations.markers import carries

__all__ = ["agents", "course_to_dict", "read_purposes", "training"]


def course_to_dict(c: TrainingCourse) -> dict[str, Any]:
    return {
        "code": c.code,
        "title": {"zh": c.title_zh, "en": c.title_en},
        "validity_days": c.validity_days or training.default_validity_days(),
        "validity_from": "course" if c.validity_days else "parameter training.validity_days",
        "required": c.required,
        "active": c.active,
    }


@carries("O24-13.3", "O24-9.3")
def read_purposes(session: Session) -> list[dict[str, Any]]:
    """The declared purposes with their names and the categories each may show in clear text."""
    kinds = taxonomy()
    out = []
    for pid, p in sorted(consent.purposes(session).items()):
        kind = kinds.get(pid)
        out.append(
            {
                "id": pid,
                "name": {"zh": kind.zh if kind else pid, "en": kind.en if kind else pid},
                "required": p.required,
                "categories": sorted(p.categories) if p.categories is not None else None,
                "clear": sorted(kind.clear) if kind else [],
            }
        )
    return out
