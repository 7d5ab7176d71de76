"""The demo inventory and two published rules versions (the second adds marketing: a material
change), loaded by ``piguard demo`` / ``make run``; idempotent."""

from __future__ import annotations

import copy
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.core import yamlfiles
from piguard.inventory import rules, service
from piguard.inventory.document import InventoryDoc, parse

DEMO_FILE = "demo_inventory.yaml"


def demo_text() -> str:
    return resources.files("piguard.inventory.data").joinpath(DEMO_FILE).read_text("utf-8")


def without_purpose(data: dict[str, Any], purpose: str) -> dict[str, Any]:
    """The inventory as it was before ``purpose`` was added (for the demo's first version)."""
    out = copy.deepcopy(data)
    out["purposes"] = [p for p in out["purposes"] if p["id"] != purpose]
    used: set[str] = set()
    for s in out.get("systems", []):
        for t in s.get("tables", []):
            kept = []
            for f in t.get("fields", []):
                f["purposes"] = [p for p in f.get("purposes", []) if p != purpose]
                if f["purposes"]:
                    used.update(f.get("third_parties", []))
                    kept.append(f)
            t["fields"] = kept
    parties = []
    for q in out.get("third_parties", []):
        only = q.get("purposes") or []
        q["purposes"] = [p for p in only if p != purpose]
        if q["id"] in used and (q["purposes"] or not only):
            parties.append(q)
    out["third_parties"] = parties
    used = {q["id"] for q in parties}
    for s in out.get("systems", []):
        for t in s.get("tables", []):
            for f in t["fields"]:
                f["third_parties"] = [q for q in f.get("third_parties", []) if q in used]
    return out


def load_demo_inventory(session: Session) -> None:
    if service.has_inventory(session):
        return
    actor = Actor.system("demo-loader")
    full = yamlfiles.load(demo_text())
    first = InventoryDoc.model_validate(without_purpose(full, "marketing"))
    service.apply(session, first, actor, source="demo")
    rules.publish(session, actor, effective=date(2026, 1, 1))
    service.apply(session, parse(demo_text(), DEMO_FILE), actor, source="demo")
    rules.publish(session, actor, effective=date(2026, 6, 1))
