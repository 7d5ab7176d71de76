"""`GET /api/audit` and `GET /api/audit/verify` through the real app, real accounts and tokens (O24-13.6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor, record
from piguard.identity import service as identity

pytestmark = pytest.mark.obligation("O24-13.6")

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hasher() -> Iterator[None]:
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(previous)


@pytest.fixture()
def token_for(session: Session) -> Callable[..., str]:
    def make(username: str, roles: list[str], scopes: tuple[str, ...] = ("*",)) -> str:
        staff = identity.create_staff(session, username=username, password=PASSWORD, roles=roles)
        session.flush()
        token, _row = identity.issue_token(session, staff, scopes, timedelta(hours=1))
        session.commit()
        return token

    return make


@pytest.fixture()
def client(db_engine: Engine) -> TestClient:
    return TestClient(create_app(), client=("198.51.100.9", 50000))


@pytest.fixture()
def some_entries(session: Session) -> None:
    for i in range(5):
        record(
            session,
            action="pi.read",
            actor=Actor("staff", "otto"),
            subject_ref=f"user-{i % 2}",
            purpose="customer_service",
        )
    session.commit()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "User-Agent": "audit-console"}


@pytest.mark.parametrize("role", ["auditor", "compliance_officer", "admin"])
def test_readers_search_and_their_search_is_recorded(
    client: TestClient, token_for: Callable[..., str], some_entries: None, session: Session, role: str
) -> None:
    token = token_for("reader", [role])
    r = client.get(
        "/api/audit", params={"action": "pi.", "subject_ref": "user-1", "limit": 1}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["seq"] for e in page["items"]] == [4] and page["next_cursor"] == 4
    item = page["items"][0]
    assert item["actor_id"] == "otto" and item["purpose"] == "customer_service" and len(item["hash"]) == 64
    r = client.get(
        "/api/audit",
        params={"action": "pi.", "subject_ref": "user-1", "limit": 1, "cursor": 4},
        headers=auth(token),
    )
    assert [e["seq"] for e in r.json()["items"]] == [2]
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.search")).all()
    assert len(logged) == 2
    assert logged[0].actor_type == "staff" and logged[0].client_ip == "198.51.100.9"
    assert logged[0].terminal == "audit-console"
    assert logged[0].detail["filters"] == {"action": "pi.", "subject_ref": "user-1"}
    assert logged[0].obligations == ["O24-13.6"]


def test_verify_endpoint(
    client: TestClient, token_for: Callable[..., str], some_entries: None, db_engine: Engine
) -> None:
    token = token_for("audrey", ["auditor"])
    r = client.get("/api/audit/verify", headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["ok"]
        and body["checked"] >= 5
        and body["problem"] is None
        and body["obligations"] == ["O24-13.6"]
    )
    with db_engine.begin() as conn:
        conn.execute(
            update(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 3).values(purpose="marketing")
        )
    body = client.get("/api/audit/verify", headers=auth(token)).json()
    assert not body["ok"] and body["problem"] == "altered" and body["first_bad_seq"] == 3
    assert body["message"]["zh"] and body["message"]["en"]


def test_other_roles_and_strangers_are_refused(client: TestClient, token_for: Callable[..., str]) -> None:
    assert client.get("/api/audit").status_code == 401
    assert client.get("/api/audit/verify").json()["error"]["code"] == "unauthenticated"
    operator = token_for("otto", ["operator"])
    r = client.get("/api/audit", headers=auth(operator))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert "O24-13.3" in r.json()["error"]["obligations"]
    assert client.get("/api/audit/verify", headers=auth(operator)).status_code == 403


def test_a_token_scoped_elsewhere_cannot_read_the_log(
    client: TestClient, token_for: Callable[..., str]
) -> None:
    narrow = token_for("olga", ["compliance_officer"], scopes=("consent:read",))
    assert client.get("/api/audit", headers=auth(narrow)).status_code == 403
    scoped = token_for("olga2", ["compliance_officer"], scopes=("audit:read",))
    assert client.get("/api/audit", headers=auth(scoped)).status_code == 200
    assert client.get("/api/audit/verify", headers=auth(scoped)).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 5000},
        {"since": "yesterday"},
        {"cursor": 0},
        {"offset": -1},
        {"outcome": "maybe"},
        {"actor_type": "robot"},
        {"since": "2024-02-01", "until": "2024-01-01"},
    ],
)
def test_bad_filters_are_422_in_the_one_error_shape(
    client: TestClient, token_for: Callable[..., str], params: dict[str, object]
) -> None:
    token = token_for("audrey", ["auditor"])
    r = client.get("/api/audit", params=params, headers=auth(token))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error" and r.json()["error"]["fields"]


def test_times_need_an_offset(client: TestClient, token_for: Callable[..., str], some_entries: None) -> None:
    """A bare ``09:30`` from a machine client is ambiguous (UTC or China time?): 422, not a guess."""
    token = token_for("audrey", ["auditor"])
    naive = client.get("/api/audit", params={"since": "2000-01-01T00:00:00"}, headers=auth(token))
    assert naive.status_code == 422, naive.text
    (field,) = naive.json()["error"]["fields"]
    assert field["field"].endswith("since") and "+08:00" in field["message"] and "时区" in field["message"]
    r = client.get(
        "/api/audit", params={"since": "2000-01-01T00:00:00Z", "action": "pi."}, headers=auth(token)
    )
    assert r.status_code == 200 and len(r.json()["items"]) == 5
    r = client.get("/api/audit", params={"until": "2000-01-01T00:00:00+08:00"}, headers=auth(token))
    assert r.status_code == 200 and r.json()["items"] == []
