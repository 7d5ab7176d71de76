"""Inventory fixtures: the packaged demo inventory as text and as data, and staff to log in as."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from piguard.inventory.demo import demo_text


@pytest.fixture()
def demo_yaml() -> str:
    return demo_text()


@pytest.fixture()
def demo_data() -> dict[str, Any]:
    return dict(yaml.safe_load(demo_text()))


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def field(data: dict[str, Any], system: str, table: str, column: str) -> dict[str, Any]:
    s = next(s for s in data["systems"] if s["id"] == system)
    t = next(t for t in s["tables"] if t["name"] == table)
    return next(f for f in t["fields"] if f["column"] == column)
