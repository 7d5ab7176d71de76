"""The consent API and CLI: roles, the decision with its ids, bad input as clear errors, zh/en."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.cli import app as root_cli
from piguard.consent.purposes import StaticPurposes
from piguard.core import db
from piguard.identity import service as identity

from .conftest import PHONE

runner = CliRunner()
EV = {"channel": "web", "text_shown": "同意将手机号用于营销推广 / marketing with your mobile number"}


def _token(session: Session, username: str, roles: list[str]) -> str:
    staff = identity.ensure_staff(session, username, "a long test password 1", roles, username)
    plaintext, _row = identity.issue_token(session, staff, ["*"], timedelta(days=1))
    return plaintext


@pytest.fixture()
def client(db_engine, source: StaticPurposes) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app())


def _headers(username: str, roles: list[str]) -> dict[str, str]:
    with db.unit_of_work() as session:
        tok = _token(session, username, roles)
    return {"Authorization": f"Bearer {tok}"}


@pytest.mark.obligation("O24-9.1", "O24-13.3")
def test_api_grant_may_withdraw_may(client: TestClient) -> None:
    officer = _headers("olga", ["compliance_officer"])
    r = client.post(
        "/api/consent/grant", json={"subject": PHONE, "purpose": "marketing", "evidence": EV}, headers=officer
    )
    assert r.status_code == 201, r.text
    body = {"subject": PHONE, "purpose": "marketing", "categories": ["phone_mobile"], "audit": True}
    r = client.post("/api/consent/may", json=body, headers=officer)
    assert r.status_code == 200 and r.json()["outcome"] == "allow"
    r = client.post(
        "/api/consent/subject",
        params={"purpose": "service_provision"},
        json={"subject": PHONE},
        headers=officer,
    )
    data = r.json()
    assert data["subject"]["masked"] == "+86138****8000" and "13800138000" not in r.text
    [entry] = data["entries"]
    assert entry["evidence"]["channel"] == "web" and entry["evidence"]["terminal"] == "testclient"
    r = client.post(
        "/api/consent/withdraw",
        json={"subject": PHONE, "target": entry["ref"], "evidence": EV},
        headers=officer,
    )
    assert r.status_code == 200 and r.json()[0]["status"] == "withdrawn"
    r = client.post("/api/consent/may", json=body, headers=officer)
    out = r.json()
    assert out["outcome"] == "refuse" and out["reasons"][0]["code"] == "no_consent"
    assert "O24-9.1" in out["reasons"][0]["obligations"] and out["reasons"][0]["message"]["zh"]


def test_api_bad_input_is_clear(client: TestClient) -> None:
    officer = _headers("olga", ["compliance_officer"])
    r = client.post(
        "/api/consent/grant", json={"subject": PHONE, "purpose": "resale", "evidence": EV}, headers=officer
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_purpose"
    assert "O24-9.1" in r.json()["error"]["obligations"]
    r = client.post(
        "/api/consent/grant",
        json={"subject": "phone:123", "purpose": "marketing", "evidence": EV},
        headers=officer,
    )
    err = r.json()["error"]
    assert r.status_code == 422 and err["fields"][0]["field"] == "subject" and err["message"]["zh"]
    r = client.post(
        "/api/consent/may",
        json={"subject": PHONE, "purpose": "marketing", "categories": ["x"]},
        headers=officer,
    )
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "categories"
    r = client.post("/api/consent/grant", json={"subject": PHONE, "purpose": "marketing"}, headers=officer)
    assert r.status_code == 422 and any(f["field"] == "evidence" for f in r.json()["error"]["fields"])


@pytest.mark.obligation("O24-13.3")
def test_api_roles(client: TestClient) -> None:
    admin = _headers("adam", ["admin"])
    r = client.post(
        "/api/consent/subject",
        params={"purpose": "service_provision"},
        json={"subject": PHONE},
        headers=admin,
    )
    assert r.status_code == 403 and "O24-13.3" in r.json()["error"]["obligations"]
    auditor = _headers("audrey", ["auditor"])
    r = client.post(
        "/api/consent/grant", json={"subject": PHONE, "purpose": "marketing", "evidence": EV}, headers=auditor
    )
    assert r.status_code == 403
    assert (
        client.post(
            "/api/consent/subject",
            params={"purpose": "service_provision"},
            json={"subject": PHONE},
            headers=auditor,
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/api/consent/subject", params={"purpose": "service_provision"}, json={"subject": PHONE}
        ).status_code
        == 401
    )


@pytest.mark.obligation("O24-9.1")
def test_cli_grant_list_may_withdraw(db_engine, source: StaticPurposes) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(
        root_cli, ["consent", "grant", "-", "marketing", "--text", "同意营销推广"], input=PHONE + "\n"
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(root_cli, ["consent", "may", PHONE, "marketing", "-c", "phone_mobile"])
    assert r.exit_code == 0 and "ALLOW" in r.output
    r = runner.invoke(root_cli, ["consent", "list", PHONE, "--format", "json"])
    data = json.loads(r.stdout)
    assert [e["ref"] for e in data["entries"]] == ["purpose:marketing"] and "13800138000" not in r.stdout
    r = runner.invoke(root_cli, ["consent", "withdraw", PHONE, "marketing"])
    assert r.exit_code == 0 and "withdrawn" in r.output
    r = runner.invoke(root_cli, ["consent", "may", PHONE, "marketing", "-c", "phone_mobile"])
    assert r.exit_code == 1 and "no_consent" in r.output and "O24-9.1" in r.output


def test_cli_bad_input(db_engine, source: StaticPurposes) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(root_cli, ["consent", "grant", PHONE, "resale", "--text", "x"])
    assert r.exit_code == 2 and "unknown_purpose" in r.output and "O24-9.1" in r.output
    r = runner.invoke(root_cli, ["consent", "may", "phone:1", "marketing"])
    assert r.exit_code == 2 and "subject" in r.output and "Traceback" not in r.output
