"""Purpose-bound reads (O24-13.3, O24-9.3): masked by default, clear text only for a purpose that
needs it, current training (O24-15), agents within contract scope and period (O24-11), consent where
the person's consent is the basis (O24-9.1); every read, allowed or refused, audited with its purpose."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from tests.messaging.gw_setup import USER

from piguard.audit.service import Actor
from piguard.core.db import utcnow
from piguard.oversight import agents

from .conftest import FIRM, pi_reads

pytestmark = pytest.mark.obligation("O24-13.3")
CLEAR_NUMBER = "+86" + USER
ACTOR = Actor.system("test")
Account = Callable[..., dict[str, str]]


def _records(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.get("/api/sms/records", params=params, headers=headers)


def _codes(r: Any) -> list[str]:
    return [x["code"] for x in r.json()["error"].get("reasons", [])]


def test_masked_by_default_and_audited_with_the_purpose(
    app_client: TestClient, account: Account, notice: str, session: Session
) -> None:
    officer = account("olga", "compliance_officer", utcnow())
    r = _records(app_client, officer, purpose="complaint_handling")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["view"] == "masked" and body["purpose"] == "complaint_handling"
    assert body["records"][0]["recipient"] == "+86138****5678" and USER not in r.text
    entry = pi_reads(session)[-1]
    assert (entry.outcome, entry.purpose, entry.detail["view"]) == ("ok", "complaint_handling", "masked")
    assert entry.actor_id == "olga" and entry.data_categories == ["phone_mobile"]


def test_a_read_without_a_purpose_is_refused_and_audited(
    app_client: TestClient, account: Account, notice: str, session: Session
) -> None:
    officer = account("olga", "compliance_officer", utcnow())
    r = _records(app_client, officer)
    assert r.status_code == 403 and _codes(r) == ["purpose_missing"]
    assert "O24-9.3" in r.json()["error"]["obligations"]
    r = _records(app_client, officer, purpose="gossip")
    assert r.status_code == 403 and _codes(r) == ["purpose_not_declared"]
    assert "complaint_handling" in r.json()["error"]["reasons"][0]["message"]["en"]
    refused = [e for e in pi_reads(session) if e.outcome == "refused"]
    assert len(refused) == 2 and refused[0].purpose is None
    assert refused[0].detail["reasons"] == ["purpose_missing"]


def test_clear_text_for_a_purpose_that_needs_it_is_audited_with_the_purpose(
    app_client: TestClient, account: Account, notice: str, session: Session
) -> None:
    officer = account("olga", "compliance_officer", utcnow())
    r = _records(app_client, officer, purpose="complaint_handling", view="clear")
    assert r.status_code == 200, r.text
    assert r.json()["view"] == "clear" and r.json()["records"][0]["recipient"] == CLEAR_NUMBER
    entry = pi_reads(session)[-1]
    assert entry.outcome == "ok" and entry.purpose == "complaint_handling" and entry.detail["view"] == "clear"
    assert USER not in str(entry.detail)
    # marketing never needs the number in clear (its inventory entry: clear: [])
    r = _records(app_client, officer, purpose="marketing", view="clear")
    assert r.status_code == 403 and _codes(r) == ["clear_text_not_needed"]
    assert pi_reads(session)[-1].purpose == "marketing" and pi_reads(session)[-1].outcome == "refused"
    r = _records(app_client, officer, purpose="complaint_handling", view="plain")
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "view"


def test_an_auditor_sees_masked_only(app_client: TestClient, account: Account, notice: str) -> None:
    auditor = account("audrey", "auditor", utcnow())
    assert _records(app_client, auditor, purpose="complaint_handling").status_code == 200
    r = _records(app_client, auditor, purpose="complaint_handling", view="clear")
    assert r.status_code == 403 and "clear_text_role_not_permitted" in _codes(r)


@pytest.mark.obligation("O24-15")
def test_lapsed_training_loses_clear_text_but_keeps_the_masked_view(
    app_client: TestClient, account: Account, notice: str, session: Session
) -> None:
    lapsed = account("lao", "compliance_officer", utcnow() - timedelta(days=400))  # 365-day validity
    never = account("xin", "operator")
    for who in (lapsed, never):
        r = _records(app_client, who, purpose="complaint_handling", view="clear")
        assert r.status_code == 403 and _codes(r) == ["training_lapsed"], r.text
        assert "O24-15" in r.json()["error"]["obligations"]
        masked = _records(app_client, who, purpose="complaint_handling")
        assert masked.status_code == 200 and masked.json()["records"][0]["recipient"] == "+86138****5678"
        assert "training_lapsed" in [n["code"] for n in masked.json()["notes"]]
    assert [e.detail["reasons"] for e in pi_reads(session) if e.outcome == "refused"] == [
        ["training_lapsed"],
        ["training_lapsed"],
    ]


@pytest.mark.obligation("O24-11")
def test_agent_within_scope_reads_and_outside_scope_is_denied_and_audited(
    app_client: TestClient, account: Account, notice: str, firm: str, session: Session
) -> None:
    agent = account("agent-wang", "operator", utcnow(), agent=True)
    ok = _records(app_client, agent, purpose="complaint_handling", view="clear")
    assert ok.status_code == 200 and ok.json()["records"][0]["recipient"] == CLEAR_NUMBER
    assert "agent_within_scope" in [n["code"] for n in ok.json()["notes"]]
    r = _records(app_client, agent, purpose="billing")
    assert r.status_code == 403 and _codes(r) == ["agent_outside_scope"]
    assert r.json()["error"]["reasons"][0]["detail"]["purposes"] == ["billing"]
    entry = pi_reads(session)[-1]
    assert entry.outcome == "refused" and entry.purpose == "billing" and "O24-11" in entry.obligations
    # a system outside the contract's scope
    agents.update_firm(session, firm, scope_systems=["crm"], actor=ACTOR)
    session.commit()
    r = _records(app_client, agent, purpose="complaint_handling")
    assert r.status_code == 403 and r.json()["error"]["reasons"][0]["detail"]["systems"] == ["sms"]


@pytest.mark.obligation("O24-11")
def test_expired_or_failed_agent_firm_is_denied(
    app_client: TestClient, account: Account, notice: str, firm: str, session: Session
) -> None:
    agent = account("agent-wang", "operator", utcnow(), agent=True)
    row = agents.get_firm(session, firm)
    row.contract_end = utcnow() - timedelta(seconds=1)
    session.commit()
    r = _records(app_client, agent, purpose="complaint_handling")
    assert r.status_code == 403 and _codes(r) == ["agent_contract_expired"]
    # the expired contract stops non-PI work too
    r = app_client.get("/api/sms/counters", headers=agent)
    assert r.status_code == 403 and _codes(r) == ["agent_contract_expired"]
    agents.update_firm(session, firm, contract_end=utcnow() + timedelta(days=5), actor=ACTOR)
    session.commit()
    assert _records(app_client, agent, purpose="complaint_handling").status_code == 200
    agents.add_assessment(
        session, firm, assessor="合规部", result="fail", findings=["日志未留存"], actor=ACTOR
    )
    session.commit()
    assert agents.get_firm(session, firm).status == "suspended"
    r = _records(app_client, agent, purpose="complaint_handling")
    assert r.status_code == 403 and _codes(r) == ["agent_firm_not_active"]


@pytest.mark.obligation("O24-11")
def test_agent_of_an_unregistered_firm_sees_no_pi(
    app_client: TestClient, account: Account, notice: str
) -> None:
    agent = account("agent-wang", "operator", utcnow(), agent=True)  # FIRM not registered in this test
    r = _records(app_client, agent, purpose="complaint_handling")
    assert r.status_code == 403 and _codes(r) == ["agent_firm_unregistered"]
    assert FIRM == "kefu"


@pytest.mark.obligation("O24-9.1")
def test_consent_is_asked_when_the_read_is_about_one_person(
    app_client: TestClient, account: Account, notice: str
) -> None:
    officer = account("olga", "compliance_officer", utcnow())
    # a required purpose rests on the service, not on a separate consent
    ok = _records(app_client, officer, purpose="complaint_handling", recipient=USER)
    assert ok.status_code == 200 and len(ok.json()["records"]) == 1
    assert "consent_not_basis" in [n["code"] for n in ok.json()["notes"]]
    # an optional one needs the person's consent
    r = _records(app_client, officer, purpose="marketing", recipient=USER)
    assert r.status_code == 403 and _codes(r) == ["no_consent"]
    assert "O24-9.1" in r.json()["error"]["obligations"]


def test_console_asks_the_purpose_masks_by_default_and_audits_clear_text(
    app_client: TestClient, account: Account, notice: str, session: Session
) -> None:
    account("olga", "compliance_officer", utcnow())
    r = app_client.post(
        "/login", data={"username": "olga", "password": "a long oversight password 1", "next": "/"}
    )
    assert r.status_code == 303
    page = app_client.get(f"/console/sms/messages/{notice}")
    assert (
        page.status_code == 200 and 'id="purpose-picker"' in page.text and "+86138****5678" not in page.text
    )
    page = app_client.get(f"/console/sms/messages/{notice}", params={"purpose": "complaint_handling"})
    assert page.status_code == 200 and "+86138****5678" in page.text and USER not in page.text
    assert 'id="show-clear"' in page.text and page.cookies.get("piguard_purpose") == "complaint_handling"
    clear = app_client.get(f"/console/sms/messages/{notice}", params={"view": "clear"})  # purpose kept
    assert clear.status_code == 200 and CLEAR_NUMBER in clear.text
    entry = pi_reads(session)[-1]
    assert (entry.purpose, entry.detail["view"], entry.outcome) == ("complaint_handling", "clear", "ok")
    refused = app_client.get(
        f"/console/sms/messages/{notice}", params={"purpose": "analytics", "view": "clear"}
    )
    assert refused.status_code == 403 and CLEAR_NUMBER not in refused.text
    assert (
        'data-code="category_not_needed"' in refused.text
        or 'data-code="clear_text_not_needed"' in refused.text
    )
