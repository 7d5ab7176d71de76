"""The identity API through the real app: login/logout, tokens, staff administration, role checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.core.db import utcnow
from piguard.identity import service
from piguard.identity.deps import SESSION_COOKIE, current_principal, optional_principal, require_roles
from piguard.identity.principal import Principal

from .conftest import PASSWORD

pytestmark = pytest.mark.obligation("O24-13.3", "O24-13.6")


@pytest.fixture()
def app(db_engine) -> FastAPI:  # type: ignore[no-untyped-def]
    return create_app()


@pytest.fixture()
def accounts(session: Session) -> None:
    for username, roles in (
        ("root", ["admin"]),
        ("olga", ["compliance_officer"]),
        ("otto", ["operator"]),
        ("audrey", ["auditor"]),
    ):
        service.create_staff(session, username=username, password=PASSWORD, roles=roles)
    session.commit()


@pytest.fixture()
def client_for(app: FastAPI, accounts: None) -> Callable[[str], TestClient]:
    def make(username: str) -> TestClient:
        client = TestClient(app, client=("198.51.100.7", 40000))
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return client

    return make


def test_login_sets_a_safe_cookie_and_me_answers(app: FastAPI, accounts: None, audit_entries) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app, client=("198.51.100.7", 40000))
    r = client.post(
        "/api/auth/login", json={"username": "olga", "password": PASSWORD}, headers={"User-Agent": "desk-12"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "olga" and body["roles"] == ["compliance_officer"] and body["via"] == "session"
    cookie = r.headers["set-cookie"]
    assert (
        cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    )
    assert PASSWORD not in r.text
    me = client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "olga"
    [entry] = audit_entries("identity.login.succeeded")
    assert entry.client_ip == "198.51.100.7" and entry.terminal == "desk-12"


def test_logout_ends_the_session_even_for_a_replayed_cookie(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("otto")
    stolen = client.cookies.get(SESSION_COOKIE)
    r = client.post("/api/auth/logout")
    assert r.status_code == 200 and r.json() == {"logged_out": True}
    assert client.get("/api/auth/me").status_code == 401
    thief = TestClient(client.app)
    thief.cookies.set(SESSION_COOKIE, stolen or "")
    replay = thief.get("/api/auth/me")
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "unauthenticated"


def test_failed_login_is_generic_then_rate_limited(
    app: FastAPI, accounts: None, login_limits, audit_entries
) -> None:  # type: ignore[no-untyped-def]
    login_limits(3, 300)
    client = TestClient(app, client=("198.51.100.9", 40000))
    bodies = []
    for username in ("otto", "nobody", "otto", "otto"):
        r = client.post("/api/auth/login", json={"username": username, "password": "wrong password!"})
        assert r.status_code == 401
        bodies.append(r.json())
    assert bodies[0] == bodies[1] and bodies[0]["error"]["code"] == "login_failed"
    r = client.post("/api/auth/login", json={"username": "otto", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 300
    assert "O24-13.3" in r.json()["error"]["obligations"]
    # the failures were committed although each request ended in an error
    assert len(audit_entries("identity.login.failed")) == 4
    assert audit_entries("identity.login.lockout") and audit_entries("identity.login.rate_limited")


def test_bearer_token_flow(client_for, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    client = client_for("audrey")
    r = client.post(
        "/api/auth/tokens",
        json={"scopes": ["audit:read", "staff:read"], "expires_in_days": 7, "name": "siem"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    api = TestClient(app)
    auth = {"Authorization": f"Bearer {token}"}
    me = api.get("/api/auth/me", headers=auth).json()
    assert me["via"] == "token" and me["scopes"] == ["audit:read", "staff:read"]
    assert api.get("/api/staff", headers=auth).status_code == 200
    listed = client.get("/api/auth/tokens").json()
    assert [t["prefix"] for t in listed] == [created["prefix"]] and "token" not in listed[0]
    # the token has no token:self scope, so it cannot mint or list tokens
    assert api.post("/api/auth/tokens", headers=auth, json={"scopes": ["audit:read"]}).status_code == 403
    assert client.delete(f"/api/auth/tokens/{created['id']}").status_code == 200
    assert api.get("/api/auth/me", headers=auth).status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer pgt_nope_nope", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000]
)
def test_bad_authorization_headers_are_401(app: FastAPI, accounts: None, header: str) -> None:
    r = TestClient(app).get("/api/auth/me", headers={"Authorization": header})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_token_scopes_must_lie_within_roles_via_api(client_for) -> None:  # type: ignore[no-untyped-def]
    r = client_for("audrey").post("/api/auth/tokens", json={"scopes": ["sms:submit"]})
    assert r.status_code == 403 and r.json()["error"]["reasons"][0]["code"] == "scope_exceeds_roles"


def test_someone_elses_token_looks_missing(client_for, session: Session) -> None:  # type: ignore[no-untyped-def]
    olga = service.get_staff_by_username(session, "olga")
    assert olga is not None
    _, row = service.issue_token(session, olga, ["audit:read"], timedelta(days=1))
    session.commit()
    assert client_for("otto").delete(f"/api/auth/tokens/{row.id}").status_code == 404
    assert client_for("root").delete(f"/api/auth/tokens/{row.id}").status_code == 200


def test_staff_administration_is_admin_only(client_for, audit_entries) -> None:  # type: ignore[no-untyped-def]
    new = {
        "username": "nina",
        "password": "a new long password",
        "roles": ["operator"],
        "display_name": "Nina",
    }
    for who in ("otto", "olga", "audrey"):
        r = client_for(who).post("/api/staff", json=new)
        assert r.status_code == 403, who
        err = r.json()["error"]
        assert err["code"] == "forbidden" and "O24-13.3" in err["obligations"]
        assert err["reasons"][0]["code"] == "role_not_permitted"
    assert client_for("otto").get("/api/staff").status_code == 403
    assert client_for("audrey").get("/api/staff").status_code == 200  # auditors may read the register
    refusals = audit_entries("identity.access.refused")
    assert len(refusals) == 4 and refusals[0].detail["requested"] == "staff.manage"

    root = client_for("root")
    r = root.post("/api/staff", json=new)
    assert r.status_code == 201, r.text
    nina = r.json()
    assert nina["roles"] == ["operator"] and nina["active"] is True and "password" not in r.text
    r = root.patch(f"/api/staff/{nina['id']}", json={"roles": ["operator", "compliance_officer"]})
    assert r.status_code == 200 and r.json()["roles"] == ["compliance_officer", "operator"]
    r = root.patch(f"/api/staff/{nina['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert root.post("/api/staff", json=new).status_code == 409
    actions = [e.action for e in audit_entries() if e.subject_ref == "staff:nina"]
    assert actions == ["identity.staff.created", "identity.staff.roles_changed", "identity.staff.deactivated"]


def test_deactivated_staff_loses_access_at_once(client_for, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    otto = client_for("otto")
    root = client_for("root")
    otto_id = next(s["id"] for s in root.get("/api/staff").json() if s["username"] == "otto")
    assert root.patch(f"/api/staff/{otto_id}", json={"active": False}).status_code == 200
    assert otto.get("/api/auth/me").status_code == 401


def test_last_admin_is_kept(client_for) -> None:  # type: ignore[no-untyped-def]
    root = client_for("root")
    me = root.get("/api/auth/me").json()
    root_id = next(s["id"] for s in root.get("/api/staff").json() if s["username"] == me["username"])
    r = root.patch(f"/api/staff/{root_id}", json={"roles": ["auditor"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_admin"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nina", "password": "short", "roles": ["operator"]},
        {"username": "Nina Smith", "password": "a new long password", "roles": ["operator"]},
        {"username": "13812345678", "password": "a new long password", "roles": ["operator"]},
        {"username": "nina", "password": "a new long password", "roles": ["wizard"]},
        {"username": "nina", "password": "a new long password", "roles": []},
        {"username": "nina", "password": "a new long password", "roles": ["operator"], "is_superuser": True},
        {"username": "nina", "password": "a new long password", "roles": ["agent"], "kind": "agent"},
    ],
)
def test_bad_staff_input_is_422_in_the_error_shape(client_for, body: dict) -> None:  # type: ignore[type-arg]
    r = client_for("root").post("/api/staff", json=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and err["fields"]
    assert "a new long password" not in r.text


def test_login_input_is_validated(app: FastAPI, accounts: None) -> None:
    client = TestClient(app)
    for body in ({"username": "otto"}, {"username": "otto", "password": PASSWORD, "remember": True}, {}):
        r = client.post("/api/auth/login", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


@pytest.mark.obligation("O24-11")
def test_agent_created_via_api_and_refused_after_expiry(client_for, app: FastAPI, session: Session) -> None:  # type: ignore[no-untyped-def]
    root = client_for("root")
    body = {
        "username": "agent1",
        "password": PASSWORD,
        "roles": ["agent"],
        "kind": "agent",
        "agent_org": "Outsourcer Ltd",
        "access_expires_at": (utcnow() + timedelta(days=1)).isoformat(),
    }
    r = root.post("/api/staff", json=body)
    assert r.status_code == 201, r.text
    agent_id = r.json()["id"]
    agent = client_for("agent1")
    assert agent.get("/api/auth/me").json()["actor_type"] == "agent"
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    assert root.patch(f"/api/staff/{agent_id}", json={"access_expires_at": past}).status_code == 200
    r = agent.get("/api/auth/me")
    assert r.status_code == 401
    assert r.json()["error"]["reasons"][0]["code"] == "agent_access_expired"
    assert "O24-11" in r.json()["error"]["obligations"]


def test_dependencies_for_other_routers(app: FastAPI, client_for) -> None:  # type: ignore[no-untyped-def]
    """require_roles and optional_principal, as other rooms will use them."""

    @app.get("/_test/officers")
    def officers(p: Principal = Depends(require_roles("compliance_officer"))) -> dict[str, str]:
        return {"who": p.username or ""}

    @app.get("/_test/maybe")
    def maybe(p: Principal | None = Depends(optional_principal)) -> dict[str, str | None]:
        return {"who": p.username if p else None}

    @app.get("/_test/me")
    def me(p: Principal = Depends(current_principal)) -> dict[str, str | None]:
        return {"who": p.username}

    assert client_for("olga").get("/_test/officers").json() == {"who": "olga"}
    r = client_for("otto").get("/_test/officers")
    assert r.status_code == 403 and r.json()["error"]["obligations"] == ["O24-13.3"]
    anon = TestClient(app)
    assert anon.get("/_test/officers").status_code == 401
    assert anon.get("/_test/maybe").json() == {"who": None}
    anon.cookies.set(SESSION_COOKIE, "garbage")
    assert anon.get("/_test/maybe").json() == {"who": None}
    assert client_for("otto").get("/_test/maybe").json() == {"who": "otto"}


def test_a_new_login_replaces_the_browsers_old_session(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("otto")
    old = client.cookies.get(SESSION_COOKIE)
    r = client.post("/api/auth/login", json={"username": "otto", "password": PASSWORD})
    assert r.status_code == 200 and client.cookies.get(SESSION_COOKIE) != old
    thief = TestClient(client.app)
    thief.cookies.set(SESSION_COOKIE, old or "")
    assert thief.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me").status_code == 200


def test_cookie_requests_from_another_site_are_refused(client_for) -> None:  # type: ignore[no-untyped-def]
    """Issue 14.6: a session could mint a ``*`` token with a foreign Origin (CSRF)."""
    client = client_for("audrey")
    body = {"scopes": ["audit:read"], "expires_in_days": 1, "name": "x"}
    r = client.post("/api/auth/tokens", json=body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["reasons"][0]["code"] == "cross_origin_request" and "O24-13.3" in err["obligations"]
    r = client.post("/api/auth/tokens", json=body, headers={"Referer": "https://evil.example/page"})
    assert r.status_code == 403
    own = str(client.base_url).rstrip("/")
    r = client.post("/api/auth/tokens", json=body, headers={"Origin": own})
    assert r.status_code in (200, 201), r.text
    r = client.get("/api/auth/me", headers={"Origin": "https://evil.example"})  # reads are not refused
    assert r.status_code == 200


def test_nobody_grants_roles_to_themselves(client_for) -> None:  # type: ignore[no-untyped-def]
    """Issue 14.6: an admin gave itself personal-information roles with PATCH /api/staff/{own id}."""
    root = client_for("root")
    me = root.get("/api/auth/me").json()
    root_id = next(s["id"] for s in root.get("/api/staff").json() if s["username"] == me["username"])
    r = root.patch(f"/api/staff/{root_id}", json={"roles": ["admin", "compliance_officer"]})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["reasons"][0]["code"] == "self_role_grant"
    assert "O24-13.3" in r.json()["error"]["obligations"]
    me = root.get("/api/auth/me").json()
    assert me["roles"] == ["admin"]
    otto = next(s for s in root.get("/api/staff").json() if s["username"] == "otto")
    r = root.patch(f"/api/staff/{otto['id']}", json={"roles": ["operator", "compliance_officer"]})
    assert r.status_code == 200  # another person may grant it
