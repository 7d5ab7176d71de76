"""Incidents over the API, the CLI and the console: the same service, roles, clear errors (zh + en)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.cli import app as root_cli
from piguard.core import db
from piguard.demo import DEMO_STAFF, DEMO_USERNAME, load_demo
from piguard.identity import service as identity

from .incident_setup import LEAK_TEXT, LEAKED, LEAKED_2, NOTICE_PORT, setup_world

runner = CliRunner()
PASSWORDS = {u: p for u, p, _roles, _name in DEMO_STAFF}
OPEN = {"kind": "leak", "discovered": "2026-12-01T10:00:00+08:00", "systems": ["crm"], "people": 20}


def _token(session: Session, username: str, roles: list[str]) -> str:
    staff = identity.ensure_staff(session, username, "a long test password 1", roles, username)
    plaintext, _row = identity.issue_token(session, staff, ["*"], timedelta(days=1))
    return plaintext


def _headers(username: str, roles: list[str]) -> dict[str, str]:
    with db.unit_of_work() as session:
        tok = _token(session, username, roles)
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        setup_world(session)
    return TestClient(create_app())


@pytest.mark.obligation("O24-14.1", "CSL-42.2", "NPC-4", "O24-14.2")
def test_api_the_whole_incident(client: TestClient) -> None:
    officer = _headers("officer", ["compliance_officer"])
    r = client.post("/api/incidents", json=OPEN, headers=officer)
    assert r.status_code == 201, r.text
    inc = r.json()
    assert (
        inc["kind"] == "incident"
        and inc["incident_kind"] == "leak"
        and inc["severity"]["severity"] == "not_serious"
    )
    key = inc["id"]
    r = client.post(f"/api/incidents/{key}/scan", json={"text": LEAK_TEXT}, headers=officer)
    assert r.status_code == 201 and r.json()["counts"]["phone_mobile"] == 2
    r = client.post(
        f"/api/incidents/{key}/scan/file",
        files={"file": ("leak.csv", LEAK_TEXT.encode("utf-8"), "text/csv")},
        headers=officer,
    )
    assert r.status_code == 201 and r.json()["name"] == "leak.csv"
    r = client.post(
        f"/api/incidents/{key}/actions", json={"title": "撤销权限", "owner": "安全部"}, headers=officer
    )
    assert r.status_code == 201
    aid = r.json()["id"]
    r = client.post(f"/api/incidents/{key}/actions/{aid}/done", json={"contains": True}, headers=officer)
    assert r.json()["done"] is True
    r = client.post(f"/api/incidents/{key}/severity", json={"people": 5000}, headers=officer)
    assert r.json()["serious"] is True and r.json()["obligations"] == ["O24-14.1", "CSL-42.2"]
    r = client.post(f"/api/incidents/{key}/report", headers=officer)
    assert r.status_code == 200 and "须立即报告" in r.json()["zh"] and r.json()["report_without_delay"]
    r = client.post(
        f"/api/incidents/{key}/notices",
        json={"recipients": [LEAKED, LEAKED_2], "sender": NOTICE_PORT},
        headers=officer,
    )
    assert r.status_code == 200 and r.json()["sent"] == 2 and LEAKED not in r.text
    r = client.post(
        f"/api/incidents/{key}/suspensions",
        json={"order_ref": "京通管〔2026〕12号", "content_providers": ["youpin"]},
        headers=officer,
    )
    assert r.status_code == 201
    order = r.json()
    # a real gateway submit over the API is refused, with the authority's obligation
    r = client.post(
        "/api/sms/submit",
        json={"sender": NOTICE_PORT, "recipient": LEAKED, "text": "【优品商城】您的订单已发货，请注意查收。"},
        headers=officer,
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["outcome"] == "refuse"
    assert any(
        x["code"] == "content_provider_suspended" and "O24-14.2" in x["obligations"] for x in res["reasons"]
    )
    r = client.post(
        f"/api/incidents/{key}/suspensions/{order['id']}/lift",
        json={"lift_ref": "京通管〔2026〕13号"},
        headers=officer,
    )
    assert r.json()["status"] == "lifted"
    r = client.get(f"/api/incidents/{key}", headers=officer)
    full = r.json()
    assert full["contained_at"] and full["notices"]["sent"] == 2 and full["report"]["zh"]
    assert LEAKED not in r.text and LEAKED_2 not in r.text  # people masked only
    assert {e["kind"] for e in full["timeline"]} >= {"opened", "evidence", "step", "report", "notice", "stop"}
    r = client.get("/api/incidents", headers=officer)
    assert [x["id"] for x in r.json()["incidents"]] == [key]


@pytest.mark.obligation("O24-14.1", "O24-14.2", "CSL-42.2")
def test_api_bad_input_and_roles(client: TestClient) -> None:
    officer = _headers("officer", ["compliance_officer"])
    auditor = _headers("auditor1", ["auditor"])
    operator = _headers("operator1", ["operator"])
    r = client.post("/api/incidents", json={**OPEN, "systems": ["nowhere"]}, headers=officer)
    assert r.status_code == 422 and "nowhere" in r.json()["error"]["message"]["en"]
    assert "未知系统" in r.json()["error"]["message"]["zh"]
    r = client.post("/api/incidents", json={**OPEN, "categories": ["shoe_size"]}, headers=officer)
    assert r.status_code == 422
    r = client.post("/api/incidents", json=OPEN, headers=auditor)
    assert r.status_code == 403
    key = client.post("/api/incidents", json=OPEN, headers=operator).json()["id"]
    assert client.get(f"/api/incidents/{key}", headers=auditor).status_code == 200
    r = client.post(
        f"/api/incidents/{key}/notices", json={"recipients": [], "sender": NOTICE_PORT}, headers=officer
    )
    assert r.status_code == 422 and "CSL-42.2" in r.json()["error"]["obligations"]
    r = client.post(
        f"/api/incidents/{key}/suspensions", json={"content_providers": ["youpin"]}, headers=officer
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "incident_order_ref_missing"
    assert r.json()["error"]["obligations"] == ["O24-14.2"]
    # switching the gateway is for those who manage it, not for every case worker
    r = client.post(
        f"/api/incidents/{key}/suspensions",
        json={"order_ref": "X", "content_providers": ["youpin"]},
        headers=operator,
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/incidents/{key}/scan/file",
        files={"file": ("x.bin", b"\x00\x01" * 50, "application/octet-stream")},
        headers=officer,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "incident_scan_unreadable"
    assert client.get("/api/incidents/999999", headers=officer).status_code == 404
    assert client.get(f"/api/incidents/{key}").status_code == 401


def _cli(*args: str, input: str | None = None) -> tuple[int, str]:
    r = runner.invoke(root_cli, ["incidents", *args], input=input)
    return r.exit_code, r.output


@pytest.mark.obligation("O24-14.1", "CSL-42.2", "NPC-4", "O24-14.2")
def test_cli_open_scan_action_severity_report_notify_suspend_lift(db_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        setup_world(session)
    code, out = _cli(
        "open", "--kind", "leak", "--discovered", "2026-12-01T10:00:00+08:00", "--systems", "crm",
        "--people", "20", "--title", "CRM 导出", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    key = str(json.loads(out)["id"])
    leak = tmp_path / "leak.csv"
    leak.write_text(LEAK_TEXT, encoding="utf-8")
    code, out = _cli("scan", key, str(leak), "--format", "json")
    assert code == 0 and json.loads(out)["counts"]["phone_mobile"] == 2 and LEAKED not in out
    code, out = _cli("scan", key, str(tmp_path / "missing.csv"))
    assert code == 2 and "incident_scan_unreadable" in out
    code, out = _cli("action", key, "--title", "撤销权限", "--owner", "安全部", "--format", "json")
    aid = str(json.loads(out)["id"])
    code, out = _cli("action", key, "--done", aid, "--contains", "--format", "json")
    assert code == 0 and json.loads(out)["contains"] is True
    code, out = _cli("severity", key, "--serious", "--format", "json")
    assert code == 2 and "note" in out
    code, out = _cli("severity", key, "--serious", "--note", "含高管号码", "--format", "json")
    assert json.loads(out)["serious"] is True
    code, out = _cli("report", key)
    assert code == 0 and "须立即报告" in out
    code, out = _cli("report", key, "--lang", "en")
    assert "REPORT WITHOUT DELAY" in out
    people = tmp_path / "people.txt"
    people.write_text(f"{LEAKED}\n{LEAKED_2}\n", encoding="utf-8")
    code, out = _cli("notify", key, "--sender", NOTICE_PORT, "--recipients", str(people), "--format", "json")
    assert code == 0 and json.loads(out)["sent"] == 2 and LEAKED not in out
    code, out = _cli(
        "notify", key, "--sender", "10699999", "--recipients", "-", "--again", input=f"{LEAKED}\n"
    )
    assert code == 1 and "FAILED" in out and "sender_unregistered" in out
    empty = tmp_path / "none.txt"
    empty.write_text("\n", encoding="utf-8")
    code, out = _cli("notify", key, "--sender", NOTICE_PORT, "--recipients", str(empty))
    assert code == 2 and "CSL-42.2" in out
    code, out = _cli("suspend", key, "--content-provider", "youpin")
    assert code == 2 and "incident_order_ref_missing" in out and "O24-14.2" in out
    code, out = _cli(
        "suspend",
        key,
        "--order-ref",
        "京通管〔2026〕12号",
        "--content-provider",
        "youpin",
        "--format",
        "json",
    )
    assert code == 0
    order = str(json.loads(out)["id"])
    code, out = _cli("lift", key, "--order", order, "--lift-ref", "京通管〔2026〕13号")
    assert code == 0 and "lifted" in out
    code, out = _cli("show", key, "--format", "json")
    d = json.loads(out)
    assert d["suspensions"][0]["status"] == "lifted" and d["notices"] == {"total": 3, "sent": 2, "failed": 1}
    code, out = _cli("show", key)
    assert code == 0 and "SERIOUS" in out


@pytest.fixture()
def console(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
    return TestClient(create_app(), follow_redirects=False)


def _login(client: TestClient, username: str) -> None:
    r = client.post(
        "/login", data={"username": username, "password": PASSWORDS[username], "next": "/console"}
    )
    assert r.status_code == 303, r.text


@pytest.mark.obligation("O24-14.1", "CSL-42.2", "NPC-4")
def test_console_incident_page_timeline_actions_severity_report_notices(console: TestClient) -> None:
    assert console.get("/console/incidents/1").status_code == 303  # log in first
    _login(console, DEMO_USERNAME)
    r = console.get("/console/incidents")
    assert r.status_code == 200 and 'id="incident-list"' in r.text
    key = r.text.split('href="/console/incidents/')[1].split('"')[0]
    r = console.get(f"/console/incidents/{key}")
    assert r.status_code == 200
    for part in (
        "incident-timeline",
        "incident-actions",
        "incident-severity",
        "incident-report",
        "incident-notices",
    ):
        assert f'id="{part}"' in r.text
    assert "严重：应立即报告" in r.text and "13800138001" not in r.text and "****" in r.text
    r = console.post(
        f"/console/incidents/{key}/actions", data={"title": "通知外包商整改", "owner": "合规部", "due": ""}
    )
    assert r.status_code == 303
    r = console.get(f"/console/incidents/{key}?lang=en")
    assert "通知外包商整改" in r.text and "Serious: report without delay" in r.text
    r = console.post(f"/console/incidents/{key}/actions", data={"title": "", "owner": "x"})
    assert r.status_code == 422 and 'id="incident-error"' in r.text
    r = console.post(f"/console/incidents/{key}/report")
    assert r.status_code == 303
    assert console.get("/console/incidents/999999").status_code == 404


def test_console_roles(console: TestClient) -> None:
    _login(console, "auditor")
    r = console.get("/console/incidents")
    assert r.status_code == 200
    key = r.text.split('href="/console/incidents/')[1].split('"')[0]
    r = console.post(f"/console/incidents/{key}/actions", data={"title": "x", "owner": "y"})
    assert r.status_code == 403
