"""The authorisation matrix (O24-13.3): every endpoint x every role, and narrowed token scopes.

The matrix is data (``piguard/identity/data/access_matrix.yaml``). A route of the app without an
entry fails :func:`test_every_endpoint_has_an_entry`; every entry is then called as each role (API
routes with a bearer token, console routes with a session) and must answer 403 exactly for the
roles the permission table leaves out.
"""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.web.routes import api_routes

from piguard.app import create_app
from piguard.audit.service import Actor
from piguard.core import db
from piguard.core.db import utcnow
from piguard.identity import service as identity
from piguard.identity.access import ALL_ROLES
from piguard.identity.accounts import principal_for_staff
from piguard.identity.matrix import AUTHENTICATED, PUBLIC, access_matrix
from piguard.identity.principal import scope_for_action
from piguard.oversight import agents, training

pytestmark = pytest.mark.obligation("O24-13.3")

PASSWORD = "a long matrix password 1"
FIRM = "matrix-firm"
PURPOSE = "complaint_handling"
ACTOR = Actor.system("test")


def _endpoints(app: Any) -> dict[tuple[str, str], APIRoute]:
    return {(m, r.path): r for r in api_routes(app.routes) for m in sorted(r.methods - {"HEAD"})}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)


def _declared_action(route: APIRoute) -> str | None:
    """The action a route's require_action / require_pi_read dependency asks, if it has one."""

    def walk(dep: Any) -> str | None:
        for sub in dep.dependencies:
            call = sub.call
            pi = getattr(call, "pi_read", None)
            if pi:
                return str(pi[0])
            if inspect.isfunction(call):
                action = inspect.getclosurevars(call).nonlocals.get("action")
                if isinstance(action, str):
                    return action
            found = walk(sub)
            if found:
                return found
        return None

    return walk(route.dependant)


def test_every_endpoint_has_an_entry_and_no_entry_is_stale() -> None:
    app = create_app()
    routes = set(_endpoints(app))
    matrix = set(access_matrix())
    missing = sorted(routes - matrix)
    assert not missing, f"endpoints without an entry in access_matrix.yaml: {missing}"
    stale = sorted(matrix - routes)
    assert not stale, f"entries in access_matrix.yaml for endpoints that do not exist: {stale}"


def test_the_matrix_says_what_the_code_asks() -> None:
    app = create_app()
    matrix = access_matrix()
    for key, route in _endpoints(app).items():
        declared = _declared_action(route)
        if declared is not None:
            assert matrix[key].action == declared, (key, matrix[key].action, declared)
        if getattr(route.endpoint, "__module__", "").startswith("piguard.web"):
            continue
        if matrix[key].action not in (PUBLIC, AUTHENTICATED):
            assert declared is not None, (
                f"{key}: the matrix names {matrix[key].action} but the route asks none"
            )


def test_every_pi_endpoint_is_marked() -> None:
    """A route whose dependency is a purpose-bound read is marked pi in the matrix."""
    app = create_app()
    matrix = access_matrix()
    for key, route in _endpoints(app).items():
        pi = any(getattr(d.call, "pi_read", None) for d in route.dependant.dependencies)
        if pi:
            assert matrix[key].pi in ("masked", "clear"), key


@pytest.fixture()
def world(db_engine: Any) -> dict[str, Any]:
    """One account per role (the agent within a current, registered contract), all trained."""
    now = utcnow()
    tokens: dict[str, str] = {}
    cookies: dict[str, str] = {}
    staff_ids: dict[str, Any] = {}
    with db.unit_of_work() as s:
        agents.register_firm(
            s,
            code=FIRM,
            name="Matrix outsourcing",
            contract_no="C-1",
            contract_start=now - timedelta(days=1),
            contract_end=now + timedelta(days=30),
            scope_categories=["phone_mobile", "name", "email", "account"],
            scope_purposes=[PURPOSE],
            scope_systems=["sms"],
            actor=ACTOR,
        )
        training.add_course(s, code="pi-basics", title_zh="个人信息保护", title_en="PI basics", actor=ACTOR)
        for role in sorted(ALL_ROLES):
            agent = role == "agent"
            staff = identity.create_staff(
                s,
                username=f"m-{role.replace('_', '-')}",
                password=PASSWORD,
                roles=[role],
                kind="agent" if agent else "staff",
                agent_org=FIRM if agent else None,
                access_expires_at=now + timedelta(days=30) if agent else None,
            )
            training.record_completion(s, username=staff.username, course="pi-basics", actor=ACTOR)
            tokens[role], _ = identity.issue_token(s, staff, ["*"], timedelta(days=1))
            cookies[role] = identity.start_session(s, principal_for_staff(staff, via="session"))
            staff_ids[role] = staff
    return {"tokens": tokens, "cookies": cookies, "staff": staff_ids}


def _call(client: TestClient, method: str, path: str, *, token: str | None, cookie: str | None) -> Any:
    client.cookies.clear()
    headers = {"X-Piguard-Purpose": PURPOSE}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        client.cookies.set("piguard_session", cookie)
        client.cookies.set("piguard_purpose", PURPOSE)
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return client.request(method, _concrete(path), headers=headers, **body)


def test_every_endpoint_times_every_role(world: dict[str, Any]) -> None:
    client = TestClient(create_app(), follow_redirects=False)
    checked = 0
    wrong: list[tuple[str, str, str, int, bool]] = []
    for (method, path), entry in sorted(access_matrix().items()):
        if entry.action == PUBLIC:
            r = client.request(method, _concrete(path))
            # no login needed (a login with wrong credentials answers 401 for that reason only)
            assert r.status_code != 403, (method, path, r.status_code)
            continue
        console = not path.startswith("/api/")
        for role in sorted(ALL_ROLES):
            auth = (
                {"cookie": world["cookies"][role], "token": None}
                if console
                else {
                    "token": world["tokens"][role],
                    "cookie": None,
                }
            )
            r = _call(client, method, path, **auth)
            allowed = role in entry.roles()
            if allowed and entry.bound:
                # the role may, but these tokens are bound to no content provider
                if r.status_code != 403 or r.json()["error"]["code"] != "content_provider_token_required":
                    wrong.append((method, path, role, r.status_code, allowed))
            elif (allowed and r.status_code in (401, 403)) or (not allowed and r.status_code != 403):
                wrong.append((method, path, role, r.status_code, allowed))
            checked += 1
    assert not wrong, wrong
    assert checked >= 5 * 100


def _narrow_token(role_staff: Any, scopes: list[str], content_provider: str | None = None) -> str:
    with db.unit_of_work() as s:
        staff = identity.get_staff(s, role_staff.id)
        plaintext, _ = identity.issue_token(
            s, staff, scopes, timedelta(hours=1), content_provider=content_provider
        )
    return plaintext


def _matrix_content_provider() -> str:
    """A registered content provider for the tokens of ``bound`` endpoints."""
    from piguard.messaging.registry import service as registry

    with db.unit_of_work() as s:
        sp = registry.create_service_provider(
            s, name="矩阵短信", licence_number="B2-20150009", access_codes=["106900"], access_location="北京"
        )
        registry.create_content_provider(
            s,
            code="matrix-cp",
            name="矩阵内容提供者",
            service_provider_id=sp.id,
            identity_type="uscc",
            identity_number="91110000600037341L",
        )
    return "matrix-cp"


def test_token_scopes_narrow_every_api_endpoint(world: dict[str, Any]) -> None:
    """A token carrying exactly the endpoint's scope passes; one carrying another scope is refused."""
    client = TestClient(create_app(), follow_redirects=False)
    wrong = []
    tokens: dict[tuple[str, ...], str] = {}
    for (method, path), entry in sorted(access_matrix().items()):
        if not path.startswith("/api/") or entry.action in (PUBLIC, AUTHENTICATED):
            continue
        role = sorted(entry.roles())[0]
        scope = scope_for_action(entry.action)
        cp = (
            (tokens.get(("cp", "")) or tokens.setdefault(("cp", ""), _matrix_content_provider()))
            if entry.bound
            else None
        )
        exact = tokens.setdefault((role, scope, cp or ""), _narrow_token(world["staff"][role], [scope], cp))
        other = tokens.setdefault((role, "rules:read"), _narrow_token(world["staff"][role], ["rules:read"]))
        ok = _call(client, method, path, token=exact, cookie=None)
        if ok.status_code in (401, 403):
            wrong.append((method, path, role, scope, ok.status_code, ok.text[:200]))
        no = _call(client, method, path, token=other, cookie=None)
        if no.status_code != 403:
            wrong.append((method, path, role, "rules:read", no.status_code, ""))
    assert not wrong, wrong
