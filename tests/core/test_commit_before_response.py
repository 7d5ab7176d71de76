"""Every write endpoint commits before it answers (issue 14, O31-11, O24-13.6).

A yield dependency whose exit runs after the response is sent (FastAPI's default "request" scope)
would answer 200 for a transaction that then fails to commit, or that a crash just after the answer
loses. ``core.deps.db_session`` is used with ``scope="function"`` everywhere, so the commit happens
before the response: a commit that fails turns into an error answer, never a 200.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.core import db
from piguard.core.deps import DbSession, db_session
from piguard.identity.models import Staff

pytestmark = pytest.mark.obligation("O31-11", "O24-13.6")

SRC = Path(__file__).resolve().parents[2] / "src" / "piguard"


def _staff(username: str) -> Staff:
    from piguard.identity import passwords

    return Staff(username=username, display_name="x", password_hash=passwords.hash_password("Aa1!" * 4))


@pytest.fixture
def app_on(db_engine):
    app = FastAPI()

    @app.post("/dup")
    def dup(session: Session = DbSession) -> dict[str, str]:
        # Two rows with the same unique username, never flushed here: the failure comes at commit.
        session.add(_staff("dup-user"))
        session.add(_staff("dup-user"))
        return {"status": "queued"}

    @app.post("/ok")
    def ok(session: Session = DbSession) -> dict[str, str]:
        session.add(_staff("ok-user"))
        return {"status": "queued"}

    return app


def test_a_commit_that_fails_is_never_answered_with_200(app_on: FastAPI) -> None:
    client = TestClient(app_on, raise_server_exceptions=False)
    r = client.post("/dup")
    assert r.status_code >= 500
    assert "queued" not in r.text
    with db.unit_of_work() as session:
        assert session.scalars(select(Staff).where(Staff.username == "dup-user")).first() is None


def test_what_was_answered_is_committed(app_on: FastAPI) -> None:
    r = TestClient(app_on).post("/ok")
    assert r.status_code == 200
    with db.unit_of_work() as session:
        assert session.scalars(select(Staff).where(Staff.username == "ok-user")).first() is not None


def test_no_route_uses_the_session_dependency_with_the_after_response_scope() -> None:
    bad = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Depends"
                and node.args
                and getattr(node.args[0], "id", None) == db_session.__name__
            ):
                scope = next((k.value for k in node.keywords if k.arg == "scope"), None)
                if not (isinstance(scope, ast.Constant) and scope.value == "function"):
                    bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert bad == [], "use core.deps.DbSession (commit before the response): " + ", ".join(bad)
