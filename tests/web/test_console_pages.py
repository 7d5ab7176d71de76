"""Console pages over HTTP (no browser): access by role, bad input, language switch."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from piguard.app import create_app
from piguard.core import db
from piguard.demo import DEMO_PASSWORD, DEMO_STAFF, DEMO_USERNAME, load_demo
from piguard.regulations.matrix import build_matrix

PASSWORDS = {u: p for u, p, _roles, _name in DEMO_STAFF}


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
    return TestClient(create_app(), follow_redirects=False)


def _login(client: TestClient, username: str) -> None:
    r = client.post(
        "/login", data={"username": username, "password": PASSWORDS[username], "next": "/console"}
    )
    assert r.status_code == 303, r.text


@pytest.mark.obligation("O24-13.3")
def test_operator_cannot_open_the_audit_log_and_is_told_why(client: TestClient) -> None:
    _login(client, "operator")
    r = client.get("/console/audit")
    assert r.status_code == 403
    assert "O24-13.3" in r.text
    assert "审计" in r.text or "audit" in r.text.lower()


@pytest.mark.obligation("O24-13.6")
def test_auditor_searches_and_the_search_is_itself_audited(client: TestClient) -> None:
    _login(client, "auditor")
    r = client.get("/console/audit/rows", params={"action": "pi.", "subject": "user:10001"})
    assert r.status_code == 200
    assert r.text.count('class="audit-entry"') == 1 and "customer_service" in r.text
    # The next search shows the previous one, recorded with who searched.
    r = client.get("/console/audit/rows", params={"action": "audit.search"})
    assert "audit.search" in r.text and "staff:auditor" in r.text


def test_bad_dates_get_a_clear_message_not_an_error_page(client: TestClient) -> None:
    _login(client, "auditor")
    r = client.get("/console/audit", params={"since": "2026-02-30", "until": "yesterday"})
    assert r.status_code == 200
    assert 'role="alert"' in r.text and "since" in r.text and "until" in r.text


def test_unknown_obligation_page_suggests_nothing_crashes(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    r = client.get("/console/rules/O31-99")
    assert r.status_code == 404
    assert 'role="alert"' in r.text


def test_login_page_does_not_redirect_off_site(client: TestClient) -> None:
    r = client.post(
        "/login", data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD, "next": "//evil.example/phish"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/console"


def test_wrong_password_shows_a_message_in_the_chosen_language(client: TestClient) -> None:
    r = client.post("/login?lang=en", data={"username": DEMO_USERNAME, "password": "not-the-password"})
    assert r.status_code == 401 and "Wrong username or password." in r.text
    r = client.post("/login?lang=zh", data={"username": DEMO_USERNAME, "password": "not-the-password"})
    assert "用户名或密码错误" in r.text
    assert "not-the-password" not in r.text


def test_logout_ends_the_session(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    assert client.get("/console").status_code == 200
    cookie = client.cookies.get("piguard_session")
    client.post("/logout")
    client.cookies.set("piguard_session", cookie or "")
    r = client.get("/console")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.obligation("O24-13.6")
def test_home_shows_the_last_recorded_verification_without_walking_the_chain(client: TestClient) -> None:
    """Issue 9.11: the home page walked the whole audit chain on every load. It now shows the last
    recorded verification and the signed head; the worker verifies on its schedule."""
    from datetime import timedelta

    from sqlalchemy import text

    from piguard.core.db import utcnow
    from piguard.worker import _verify_audit_when_due

    _login(client, "auditor")
    r = client.get("/console")
    assert r.status_code == 200 and 'id="audit-integrity"' in r.text
    failed: list[str] = []
    assert _verify_audit_when_due(failed) is None  # the demo recorded one just now: not due
    assert _verify_audit_when_due(failed, now=utcnow() + timedelta(days=1, hours=1)) is not None
    assert failed == []
    r = client.get("/console")
    assert "最近校验" in r.text or "Last verified" in r.text
    assert 'class="badge ok"' in r.text.split('id="audit-integrity"')[1].split("</div>\n  </div>")[0]
    # tamper behind the log's back: the page (no walk) still shows the last verification …
    with db.get_engine().begin() as conn:
        conn.execute(text("UPDATE audit_entry SET purpose = 'marketing' WHERE seq = 1"))
    r = client.get("/console")
    block = r.text.split('id="audit-integrity"')[1].split("</div>\n  </div>")[0]
    assert 'class="badge ok"' in block
    # … and the worker's next due verification records the break, which the page then shows
    result = _verify_audit_when_due(failed, now=utcnow() + timedelta(days=3))
    assert result is not None and result["ok"] is False and failed == ["audit_verify"]
    block = client.get("/console").text.split('id="audit-integrity"')[1].split("</div>\n  </div>")[0]
    assert 'class="badge bad"' in block and "altered" in block


def test_matrix_page_names_the_missing_parts_in_both_languages(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    r = client.get("/console/matrix", params={"lang": "en"})
    assert r.status_code == 200
    assert "Capability and missing parts" in r.text
    missing = [p for row in build_matrix().rows for p in row.missing]  # what is still to build
    for p in missing:
        assert str(escape(p.en)) in r.text and any(u in r.text for u in p.under), p.key
    r = client.get("/console/matrix", params={"lang": "zh"})
    assert "能力与缺少部分" in r.text
    assert all(str(escape(p.zh)) in r.text for p in missing)
    r = client.get("/console/rules/O31-28", params={"lang": "en"})
    assert r.status_code == 200
    assert "✓ report to the authority drafted" in r.text  # cases.complaints.draft_report
    assert "✓ suspension switch enforced by the gateway" in r.text


def test_console_dates_are_the_day_in_china() -> None:
    """Regression: the oversight pages cut the UTC ISO string (``[:10]``): a campaign due at 20:00 UTC
    on 31 Dec showed 31 Dec; in Shanghai it is due on 1 Jan."""
    from piguard.web.views import china_date

    assert china_date("2026-12-31T20:00:00+00:00") == "2027-01-01"
    assert china_date("2026-12-31T15:59:59+00:00") == "2026-12-31"
    assert china_date("2027-06-30") == "2027-06-30"  # a bare date is a China date already
    assert china_date(None) == "" and china_date("") == ""
