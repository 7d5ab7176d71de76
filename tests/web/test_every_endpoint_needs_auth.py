"""Every API endpoint requires authentication unless it is deliberately public (O24-13.3)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.web.routes import api_routes

from piguard.app import create_app

pytestmark = pytest.mark.obligation("O24-13.3")

# Deliberately public: health and metrics, the published rules (O24-8), the calendar, logging in,
# the console's login page and static files.
PUBLIC = [
    r"^/healthz$",
    r"^/metrics$",
    r"^/api/rules",
    r"^/rules/privacy",
    r"^/api/parameters",
    r"^/api/calendar/",
    r"^/api/auth/login$",
    r"^/api/auth/logout$",
    r"^/login$",
    r"^/logout$",
    r"^/$",
    r"^/portal/login",  # the end-user portal's login (phone + one-time code)
    r"^/portal/logout$",
    r"^/unsubscribe/",  # commercial e-mail's one-click unsubscribe: the signed link is the authority
]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_non_public_route_refuses_anonymous_callers(db_engine) -> None:  # type: ignore[no-untyped-def]
    app = create_app()
    client = TestClient(app, follow_redirects=False)
    checked = 0
    for route in api_routes(app.routes):
        if any(re.search(p, route.path) for p in PUBLIC):
            continue
        if route.path in ("/openapi.json", "/docs", "/redoc"):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            r = client.request(method, _concrete(route.path), json={})
            if route.path.startswith("/portal"):
                # Portal pages send anonymous visitors to the portal's own login page.
                assert r.status_code == 303 and r.headers["location"] == "/portal/login", (
                    method,
                    route.path,
                )
            elif route.path.startswith("/console"):
                # Console pages send anonymous visitors to the login page.
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (
                    method,
                    route.path,
                )
            else:
                assert r.status_code == 401, (method, route.path, r.status_code, r.text[:200])
                assert r.json()["error"]["code"] == "unauthenticated"
            checked += 1
    assert checked >= 10  # the audit, identity and console routes at least
