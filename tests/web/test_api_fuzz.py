"""schemathesis against the OpenAPI of every endpoint: generated input never gives a 5xx.

Runs with an admin token, so the authenticated endpoints are exercised past their auth check, on
every storage backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from piguard.app import create_app
from piguard.core import db
from piguard.demo import DEMO_USERNAME, load_demo

pytestmark = pytest.mark.slow


@pytest.fixture()
def admin_token(db_engine) -> str:  # type: ignore[no-untyped-def]
    import piguard.identity.service as identity

    with db.unit_of_work() as session:
        load_demo(session)
        staff = identity.require_staff(session, DEMO_USERNAME)
        token, _row = identity.issue_token(session, staff, ["*"], timedelta(hours=1), name="fuzz")
    return token


# The app reads the database only per request (through the engine the db_engine fixture sets),
# so the schema can be loaded once at import.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, admin_token: str) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_token}"}, checks=[checks.not_a_server_error]
    )
