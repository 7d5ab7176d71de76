"""The console's consent page over HTTP: the demo's consents from both ledgers, withdraw with htmx,
roles, bad input, no identifier in URLs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.consent import engine as consent_engine
from piguard.core import db
from piguard.demo import DEMO_STAFF, DEMO_USERNAME, load_demo

PASSWORDS = {u: p for u, p, _roles, _name in DEMO_STAFF}


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    consent_engine.reset_caches()
    with db.unit_of_work() as session:
        load_demo(session)
    c = TestClient(create_app(), follow_redirects=False)
    c.cookies.set("piguard_purpose", "service_provision")  # picked on the purpose picker (O24-13.3)
    return c


def _login(client: TestClient, username: str) -> None:
    r = client.post(
        "/login", data={"username": username, "password": PASSWORDS[username], "next": "/console"}
    )
    assert r.status_code == 303, r.text


@pytest.mark.obligation("O24-9.1", "O31-18.1", "O31-20")
def test_demo_consents_are_listed_together_and_withdrawn_with_htmx(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    r = client.get("/console/consent")
    assert r.status_code == 200 and "+86138****8000" in r.text and "13800138000" not in r.text
    r = client.post("/console/consent", data={"subject": "phone:13800138000"})
    assert r.status_code == 200
    ledgers = set(re.findall(r'data-ref="(purpose|sms):', r.text))
    assert ledgers == {"purpose", "sms"}  # purpose consents and the SMS subscription together
    assert 'data-ref="purpose:marketing" data-status="granted"' in r.text
    ref = re.search(r'name="ref" value="([0-9a-f]{32})"', r.text)
    assert ref is not None
    r = client.post(
        "/console/consent/withdraw",
        data={"ref": ref.group(1), "target": "purpose:marketing"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="consent-ledger">')
    assert 'data-ref="purpose:marketing" data-status="withdrawn"' in r.text
    sms = re.search(r'data-ref="(sms:\d+)" data-status="granted"', r.text)
    assert sms is not None
    r = client.post(
        "/console/consent/withdraw",
        data={"ref": ref.group(1), "target": sms.group(1)},
        headers={"HX-Request": "true"},
    )
    assert f'data-ref="{sms.group(1)}" data-status="withdrawn"' in r.text
    # the decision agrees at once
    from piguard.consent import service

    with db.unit_of_work() as session:
        assert not service.may(session, None, "phone:13800138000", ["phone_mobile"], "marketing").allowed


def test_bad_subject_in_the_console_is_a_clear_message(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    r = client.post("/console/consent", data={"subject": "13800138000"})
    assert r.status_code == 200 and 'role="alert"' in r.text and "13800138000" not in r.text
    r = client.get("/console/consent", params={"ref": "not-a-hash"})
    assert r.status_code == 200 and 'role="alert"' in r.text


@pytest.mark.obligation("O24-13.3")
def test_auditor_sees_no_withdraw_button_and_cannot_post_one(client: TestClient) -> None:
    _login(client, "auditor")
    r = client.post("/console/consent", data={"subject": "phone:13800138000"})
    assert r.status_code == 200 and "consent-entry" in r.text and 'class="withdraw"' not in r.text
    r = client.post("/console/consent/withdraw", data={"ref": "0" * 32, "target": "purpose:marketing"})
    assert r.status_code == 403 and "O24-13.3" in r.text


def test_the_page_speaks_english_too(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    r = client.get("/console/consent", params={"lang": "en"})
    assert r.status_code == 200 and "Consent ledger" in r.text and "Subjects changed last" in r.text
    r = client.get("/console/consent", params={"lang": "zh"})
    assert "用户同意记录" in r.text


# ------------------------------------------------------------------ the sharing decision (CSL-42.1)
PHONE = "phone:13800138000"
VENDOR_MARKETING = {"third_party": "sms_vendor", "purpose": "marketing", "categories": ["phone_mobile"]}


def _share_decisions() -> list[Any]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.share_decided")))


def _share(client: TestClient, lang: str = "en", **data: Any) -> Any:
    return client.post(f"/console/consent/share?lang={lang}", data=data)


@pytest.mark.obligation("CSL-42.1")
def test_the_sharing_page_lists_the_register(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    r = client.get("/console/consent/share?lang=en")
    assert r.status_code == 200
    assert 'data-party="sms_vendor"' in r.text and 'data-party="payment"' in r.text
    assert 'name="purpose"' in r.text and 'value="marketing"' in r.text


@pytest.mark.obligation("CSL-42.1", "O24-9.1")
def test_a_consented_provision_is_allowed_with_its_reasons_and_audited(client: TestClient) -> None:
    _login(client, "operator")  # consent.read: operators ask before they hand anything over
    r = _share(client, subject=PHONE, **VENDOR_MARKETING)
    assert r.status_code == 200, r.text
    assert 'data-outcome="allow"' in r.text
    assert 'data-code="sharing_declared"' in r.text and 'data-code="consent_valid"' in r.text
    assert "CSL-42.1" in r.text
    assert "13800138000" not in r.text  # the subject typed in is not echoed
    [entry] = _share_decisions()
    assert entry.outcome == "ok" and "13800138000" not in str(entry.detail)


@pytest.mark.obligation("CSL-42.1")
def test_undeclared_or_unregistered_provisions_are_refused(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    r = _share(client, subject=PHONE, **{**VENDOR_MARKETING, "third_party": "payment"})
    assert 'data-outcome="refuse"' in r.text and 'data-code="sharing_not_declared"' in r.text
    r = _share(client, subject=PHONE, **{**VENDOR_MARKETING, "third_party": "broker_x"})
    assert 'data-code="third_party_unregistered"' in r.text
    r = _share(client, deidentified="on", method="pseudonymise", **VENDOR_MARKETING)
    assert 'data-outcome="refuse"' in r.text  # a keyed pseudonym can be restored
    assert [e.outcome for e in _share_decisions()] == ["refused", "refused", "refused"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (VENDOR_MARKETING, "subject"),
        ({"subject": PHONE, **VENDOR_MARKETING, "purpose": "no_such"}, "purpose"),
        ({"subject": PHONE, "third_party": "sms_vendor", "purpose": "marketing"}, "categories"),
        ({"subject": "nonsense", **VENDOR_MARKETING}, "subject"),
        ({"subject": PHONE, **VENDOR_MARKETING, "method": "redact"}, "method"),
    ],
)
def test_bad_sharing_input_is_shown_on_the_page_and_nothing_is_decided(
    client: TestClient, data: dict[str, Any], field: str
) -> None:
    _login(client, DEMO_USERNAME)
    r = _share(client, **data)
    assert r.status_code == 422, r.text
    assert 'id="share-error"' in r.text and f"<code>{field}" in r.text
    assert "data-outcome" not in r.text
    assert _share_decisions() == []


def test_the_sharing_page_needs_a_login_and_refuses_cross_site_posts(client: TestClient) -> None:
    assert client.get("/console/consent/share").status_code == 303  # to the login page
    _login(client, DEMO_USERNAME)
    r = client.post(
        "/console/consent/share",
        data={"subject": PHONE, **VENDOR_MARKETING},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403 and _share_decisions() == []
