"""Views stay thin (ARCHITECTURE.md, issue 10): no API router or console page module builds a query.

Queries and rules live in each domain's services; a view that imports ``select`` or calls
``session.execute``/``session.scalars`` has taken a piece of a service into the web layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import piguard

SRC = Path(piguard.__file__).parent
QUERY_NAMES = {"select", "insert", "update", "delete", "text"}
QUERY_CALLS = {"execute", "scalars", "scalar"}


def _view_modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name == "views.py" or p.name.endswith("_views.py"))


def _violations(path: Path) -> list[str]:
    where = path.relative_to(SRC) if path.is_relative_to(SRC) else path.name
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            names = {a.name for a in node.names} & QUERY_NAMES
            if names:
                found.append(f"{where}:{node.lineno}: imports {', '.join(sorted(names))}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERY_CALLS
        ):
            target = node.func.value
            if isinstance(target, ast.Name) and target.id == "session":
                found.append(f"{where}:{node.lineno}: session.{node.func.attr}()")
    return found


def test_the_scan_finds_view_modules() -> None:
    names = {p.name for p in _view_modules()}
    assert {"views.py", "messaging_views.py", "consent_views.py"} <= names


def test_the_scan_catches_a_query(tmp_path: Path) -> None:
    bad = tmp_path / "probe_views.py"
    bad.write_text(
        "from sqlalchemy import select\n\ndef f(session):\n    return session.scalars(select(1))\n"
    )
    assert _violations(bad) == ["probe_views.py:1: imports select", "probe_views.py:4: session.scalars()"]


def test_no_view_module_builds_a_query() -> None:
    found = [v for p in _view_modules() for v in _violations(p)]
    assert found == [], "\n".join(found)
