"""Issue 11: licensed lottery content providers as registry data that the review's clearances consult.

The operator records a content provider's authorisation to publish lottery results
(``record_lottery_licence``, ``piguard sms registry lottery-licence``); a verified provider with one
sends as a licensed lottery content provider, whose lottery results are not gambling. 六合彩 tips
stay prohibited from anyone (O31-16, CSL-47).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.cli import app
from piguard.core.errors import PiguardError
from piguard.identity import service as identity
from piguard.messaging.models import ContentProvider
from piguard.messaging.registry import service as registry
from piguard.messaging.review import default_reviewer

from .gw_setup import COMMERCIAL_PORT, build_registry

pytestmark = pytest.mark.obligation("O31-16", "CSL-47")

RESULTS = "【福彩】双色球第2024088期开奖公告：一等奖5注，下期彩票投注倍投赢大奖，押注请到投注站"
TIPS = "六合彩特码，期期必中，加微信"


def _context(session: Session):  # type: ignore[no-untyped-def]
    snap = registry.snapshot(session)
    port, _ext = snap.resolve("sms", COMMERCIAL_PORT + "07")
    assert port is not None
    return snap.port_context(port, None)


def test_a_licensed_providers_lottery_results_are_cleared_and_tips_are_not(session: Session) -> None:
    build_registry(session)
    reviewer = default_reviewer()
    assert "licensed_lottery" not in _context(session).clearances
    assert "gambling" in reviewer.review(RESULTS, _context(session)).prohibited

    cp = registry.record_lottery_licence(session, "youpin", "福彩授权-2025-0042")
    session.commit()
    assert cp.lottery_licence == "福彩授权-2025-0042"
    ctx = _context(session)
    assert "licensed_lottery" in ctx.clearances
    result = reviewer.review(RESULTS, ctx)
    assert result.prohibited == ()
    note = next(f for f in result.findings if f.code == "prohibited_content_cleared")
    assert note.detail["category"] == "gambling" and note.detail["clearances"] == ["licensed_lottery"]
    assert "gambling" in reviewer.review(TIPS, ctx).prohibited

    registry.record_lottery_licence(session, "youpin", None)  # withdrawn: reviewed as anyone's again
    session.commit()
    assert "licensed_lottery" not in _context(session).clearances


def test_an_unverified_provider_with_a_licence_is_not_vouched_for(session: Session) -> None:
    build_registry(session)
    registry.record_lottery_licence(session, "youpin", "体彩授权-0007")
    registry.verify_content_provider(session, "youpin", status="rejected")
    session.commit()
    assert _context(session).clearances == frozenset()


@pytest.mark.parametrize("licence", ["", "   ", "x" * 65])
def test_a_bad_licence_is_a_clear_error_and_nothing_is_recorded(session: Session, licence: str) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as err:
        registry.record_lottery_licence(session, "youpin", licence)
    assert err.value.code == "validation_error"
    assert any(f.field == "lottery_licence" for f in err.value.fields)
    session.rollback()
    cp = session.query(ContentProvider).filter_by(code="youpin").one()
    assert cp.lottery_licence is None


def test_the_cli_records_and_withdraws(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    build_registry(session)
    runner = CliRunner()
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "youpin", "--licence", "福彩授权-1"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"content_provider": "youpin", "lottery_licensed": True}
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "youpin", "--withdraw"])
    assert r.exit_code == 0 and json.loads(r.output)["lottery_licensed"] is False
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "youpin"])
    assert r.exit_code != 0 and "licence" in r.output
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "nobody", "--licence", "x"])
    assert r.exit_code != 0


# ------------------------------------------------------------------ the HTTP API
PASSWORD = "correct horse battery"
LICENCE_URL = "/api/sms/content-providers/youpin/lottery-licence"


@pytest.fixture()
def api(db_engine, session: Session) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    build_registry(session)
    for name, roles in (("olga", ["compliance_officer"]), ("otto", ["operator"])):
        identity.create_staff(session, username=name, password=PASSWORD, roles=roles)
    session.commit()
    yield TestClient(create_app())
    identity.use_password_hasher(previous)


def _login(client: TestClient, name: str) -> TestClient:
    r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


def test_the_api_records_and_withdraws_and_the_review_follows(api: TestClient, session: Session) -> None:
    _login(api, "olga")
    r = api.put(LICENCE_URL, json={"lottery_licence": " 福彩授权-2025-0042 "})
    assert r.status_code == 200, r.text
    assert r.json()["code"] == "youpin" and r.json()["lottery_licensed"] is True
    session.expire_all()
    assert (
        session.query(ContentProvider).filter_by(code="youpin").one().lottery_licence == "福彩授权-2025-0042"
    )
    assert "licensed_lottery" in _context(session).clearances
    assert default_reviewer().review(RESULTS, _context(session)).prohibited == ()
    listed = {c["code"]: c for c in api.get("/api/sms/content-providers").json()}
    assert listed["youpin"]["lottery_licensed"] is True and listed["civic"]["lottery_licensed"] is False

    r = api.delete(LICENCE_URL)
    assert r.status_code == 200 and r.json()["lottery_licensed"] is False
    session.expire_all()
    assert "licensed_lottery" not in _context(session).clearances
    assert "gambling" in default_reviewer().review(RESULTS, _context(session)).prohibited


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lottery_licence": ""}, "lottery_licence"),
        ({"lottery_licence": "   "}, "lottery_licence"),
        ({"lottery_licence": "x" * 65}, "lottery_licence"),
        ({"lottery_licence": 42}, "lottery_licence"),
        ({"lottery_licence": None}, "lottery_licence"),
        ({}, "lottery_licence"),
        ({"lottery_licence": "福彩授权-1", "verified": True}, "verified"),
    ],
)
def test_bad_input_over_the_api_is_a_clear_error_and_nothing_is_recorded(
    api: TestClient, session: Session, body: dict[str, object], field: str
) -> None:
    _login(api, "olga")
    r = api.put(LICENCE_URL, json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert [f["field"] for f in error["fields"]] == [field]
    assert error["message"]["zh"] and error["message"]["en"]
    session.expire_all()
    assert session.query(ContentProvider).filter_by(code="youpin").one().lottery_licence is None


def test_the_api_names_an_unknown_provider_and_needs_sms_manage(api: TestClient, session: Session) -> None:
    assert api.put(LICENCE_URL, json={"lottery_licence": "福彩授权-1"}).status_code == 401
    _login(api, "otto")  # an operator reads the registry but may not change it
    r = api.put(LICENCE_URL, json={"lottery_licence": "福彩授权-1"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert api.delete(LICENCE_URL).status_code == 403
    api.post("/api/auth/logout")
    _login(api, "olga")
    r = api.put("/api/sms/content-providers/nobody/lottery-licence", json={"lottery_licence": "福彩授权-1"})
    assert r.status_code == 404 and "nobody" in r.text
    assert api.delete("/api/sms/content-providers/nobody/lottery-licence").status_code == 404
    session.expire_all()
    assert session.query(ContentProvider).filter_by(code="youpin").one().lottery_licence is None
