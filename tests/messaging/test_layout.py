"""The shape of ``messaging/`` (issue 10): sub-packages that follow one message, no transport
imported below the façade, one name per module."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from piguard.messaging.gateway import release

SRC = Path(__file__).resolve().parents[2] / "src" / "piguard" / "messaging"
_NO_TRANSPORT = ("gateway", "registry", "records", "subscriptions")
_TRANSPORTS = (
    "piguard.messaging.smpp",
    "piguard.messaging.cmpp",
    "piguard.messaging.smgp",
    "piguard.messaging.sgip",
    "piguard.messaging.ismg",
)


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_no_decision_or_record_module_imports_a_transport() -> None:
    """Also lazy imports inside functions: the AST walk sees every ``import``."""
    bad = [
        f"{path.relative_to(SRC)}: {name}"
        for pkg in _NO_TRANSPORT
        for path in sorted((SRC / pkg).rglob("*.py"))
        for name in _imports(path)
        if name.startswith(_TRANSPORTS)
    ]
    assert bad == []
    # the probe is real: the SMPP service does import the gateway and would be caught the other way
    assert any(n.startswith("piguard.messaging.gateway") for n in _imports(SRC / "smpp" / "service.py"))


def test_held_refusal_hooks_resolve() -> None:
    """The transports told of a refused held message are named as "module:function"; each resolves."""
    assert release.ON_HELD_REFUSED
    for target in release.ON_HELD_REFUSED:
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr))


def test_the_old_flat_modules_are_gone() -> None:
    """One name per thing: no compatibility module left at a pre-reshape path."""
    old = [
        "registry", "views_registry", "gateway", "batch", "release", "similarity", "gateway_cli",
        "consent", "inbound", "replies", "views_consent", "records", "partitions", "protect",
        "monitor", "monitor_models", "monitor_jobs", "monitor_cli", "views_monitor",
    ]  # fmt: skip
    assert [n for n in old if (SRC / f"{n}.py").exists()] == []
    for pkg in ("registry", "gateway", "subscriptions", "records", "monitor"):
        assert (SRC / pkg / "__init__.py").read_text(encoding="utf-8").startswith('"""')


_SQL = {"select", "insert", "update", "delete", "text"}


def _sql_imports(path: Path) -> list[str]:
    return [
        f"{path.name}:{node.lineno}: {a.name}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
        for a in node.names
        if a.name in _SQL
    ]


def test_the_smpp_transport_holds_no_sql() -> None:
    """Issue 10: the SMPP bridge's and client's reads and writes are ``smpp/service.py``'s, functions
    that take a session; the transport opens the unit of work around each call."""
    transport = [SRC / "smpp" / name for name in ("bridge.py", "client.py", "server.py", "pdu.py", "text.py")]
    assert [hit for path in transport for hit in _sql_imports(path)] == []
    # the probe is real: the service does build queries
    assert _sql_imports(SRC / "smpp" / "service.py")
