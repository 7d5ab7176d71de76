"""The agent register (O24-11) and training (O24-15): API, CLI, console, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit.models import AuditEntry
from piguard.cli import app as root_cli
from piguard.core.db import utcnow
from piguard.identity import service as identity
from piguard.oversight.models import AgentFirm, TrainingRecord

from .conftest import PASSWORD

pytestmark = pytest.mark.obligation("O24-11", "O24-15")
Account = Callable[..., dict[str, str]]
runner = CliRunner()


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_agents_api_register_assess_and_bad_input(
    app_client: TestClient, account: Account, session: Session
) -> None:
    officer = account("olga", "compliance_officer", utcnow())
    operator = account("otto", "operator", utcnow())
    now = utcnow()
    body = {
        "code": "kefu2",
        "name": "外包客服二部",
        "contract_no": "WB-2",
        "contract_start": (now - timedelta(days=1)).isoformat(),
        "contract_end": (now + timedelta(days=90)).isoformat(),
        "scope_categories": ["phone_mobile"],
        "scope_purposes": ["complaint_handling"],
        "scope_systems": ["sms"],
    }
    assert app_client.post("/api/agents", json=body, headers=operator).status_code == 403
    r = app_client.post("/api/agents", json=body, headers=officer)
    assert r.status_code == 201 and r.json()["current"] is True, r.text
    assert (
        app_client.post("/api/agents", json=body, headers=officer).json()["error"]["code"]
        == "agent_firm_exists"
    )
    bad = app_client.post(
        "/api/agents", json={**body, "code": "x3", "scope_purposes": ["gossip"]}, headers=officer
    )
    assert bad.status_code == 422 and "gossip" in bad.json()["error"]["fields"][0]["message"]
    bad = app_client.post(
        "/api/agents", json={**body, "code": "x4", "contract_end": body["contract_start"]}, headers=officer
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "contract_end"
    assert _count(session, AgentFirm) == 1
    r = app_client.post(
        "/api/agents/kefu2/assessments",
        json={
            "assessor": "合规部",
            "result": "conditional",
            "findings": [{"text": "权限未按月复核", "severity": "high"}],
        },
        headers=officer,
    )
    assert r.status_code == 201 and r.json()["assessments"][0]["findings"][0]["severity"] == "high"
    r = app_client.post(
        "/api/agents/nobody/assessments", json={"assessor": "x", "result": "pass"}, headers=officer
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "agent_firm_unknown"
    assert "O24-11" in r.json()["error"]["obligations"]
    r = app_client.patch("/api/agents/kefu2", json={"status": "terminated"}, headers=officer)
    assert r.status_code == 200 and r.json()["current"] is False
    listed = app_client.get("/api/agents", headers=officer).json()["agents"]
    assert [a["code"] for a in listed] == ["kefu2"]
    session.expire_all()
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"oversight.agent.registered", "oversight.agent.assessed", "oversight.agent.updated"} <= actions


def test_training_api_records_and_an_unknown_course_changes_nothing(
    app_client: TestClient, account: Account, session: Session, course: str
) -> None:
    officer = account("olga", "compliance_officer", utcnow())
    account("otto", "operator")
    r = app_client.post(
        "/api/training/courses",
        json={"code": "sms-rules", "title_zh": "短信规则", "title_en": "SMS rules", "validity_days": 30},
        headers=officer,
    )
    assert r.status_code == 201 and r.json()["validity_days"] == 30
    courses = app_client.get("/api/training/courses", headers=officer).json()["courses"]
    assert {c["code"]: c["validity_days"] for c in courses} == {"pi-basics": 365, "sms-rules": 30}
    before = _count(session, TrainingRecord)
    bad = app_client.post(
        "/api/training/records", json={"username": "otto", "course": "no-such"}, headers=officer
    )
    assert bad.status_code == 404
    err = bad.json()["error"]
    assert (
        err["code"] == "training_course_unknown"
        and "no-such" in err["message"]["en"]
        and err["message"]["zh"]
    )
    assert err["obligations"] == ["O24-15"] and _count(session, TrainingRecord) == before
    bad = app_client.post(
        "/api/training/records", json={"username": "nobody", "course": "pi-basics"}, headers=officer
    )
    assert bad.status_code == 404 and _count(session, TrainingRecord) == before
    ok = app_client.post(
        "/api/training/records", json={"username": "otto", "course": "pi-basics"}, headers=officer
    )
    assert ok.status_code == 201
    coverage = {
        s["username"]: s for s in app_client.get("/api/training/coverage", headers=officer).json()["staff"]
    }
    assert coverage["otto"]["missing"] == ["sms-rules"] and not coverage["otto"]["current"]
    assert coverage["olga"]["current"] is False  # sms-rules is required too
    me = app_client.get("/api/training/me", headers=officer).json()
    assert me["missing"] == ["sms-rules"]
    purposes = {
        p["id"]: p for p in app_client.get("/api/access/purposes", headers=officer).json()["purposes"]
    }
    assert purposes["marketing"]["clear"] == [] and "phone_mobile" in purposes["complaint_handling"]["clear"]


def test_cli_agents_and_training(db_engine: Any, session: Session) -> None:
    identity.create_staff(session, username="otto", password=PASSWORD, roles=["operator"])
    session.commit()
    now = utcnow()
    r = runner.invoke(
        root_cli,
        [
            "agents",
            "add",
            "kefu3",
            "--name",
            "外包三部",
            "--contract",
            "WB-3",
            "--start",
            (now - timedelta(days=1)).date().isoformat(),
            "--end",
            (now + timedelta(days=60)).date().isoformat(),
            "--purpose",
            "complaint_handling",
            "--category",
            "phone_mobile",
            "--system",
            "sms",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(root_cli, ["agents", "list", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["agents"][0]["scope"]["systems"] == ["sms"]
    r = runner.invoke(
        root_cli,
        [
            "agents",
            "add",
            "kefu4",
            "--name",
            "x",
            "--contract",
            "c",
            "--start",
            "2026-01-01",
            "--end",
            "2027-01-01",
            "--purpose",
            "gossip",
        ],
    )
    assert r.exit_code == 2 and "gossip" in r.output
    r = runner.invoke(
        root_cli,
        ["agents", "assess", "kefu3", "--assessor", "合规部", "--result", "fail", "--finding", "未加密存储"],
    )
    assert r.exit_code == 0 and "suspended" in r.output
    r = runner.invoke(
        root_cli, ["training", "course", "add", "pi-basics", "--title-zh", "基础", "--title-en", "Basics"]
    )
    assert r.exit_code == 0 and "365" in r.output
    r = runner.invoke(root_cli, ["training", "record", "otto", "no-such"])
    assert r.exit_code == 2 and "training_course_unknown" in r.output and "no-such" in r.output
    assert _count(session, TrainingRecord) == 0
    r = runner.invoke(root_cli, ["training", "record", "otto", "pi-basics", "--completed", "2020-01-01"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(root_cli, ["training", "status", "otto", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["staff"][0]["lapsed"] == ["pi-basics"]


def _console(client: TestClient, username: str) -> TestClient:
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303, r.text
    return client


def test_console_pages(app_client: TestClient, account: Account, session: Session, course: str) -> None:
    account("olga", "compliance_officer", utcnow())
    account("audrey", "auditor", utcnow())
    account("tian", "operator")
    c = _console(app_client, "olga")
    r = c.post("/console/training", data={"username": "audrey", "course": "nope"})
    assert r.status_code == 404 and 'data-code="training_course_unknown"' in r.text and "nope" in r.text
    r = c.post(
        "/console/training", data={"username": "audrey", "course": course, "completed_at": "2020-01-01"}
    )
    assert r.status_code == 200 and 'data-username="audrey"' in r.text
    assert "仅脱敏" in r.text  # audrey's completion from 2020 has lapsed
    r = c.post(
        "/console/agents",
        data={
            "code": "kefu5",
            "name": "外包五部",
            "contract_no": "WB-5",
            "contract_start": "2026-01-01",
            "contract_end": "2099-01-01",
            "purposes": "complaint_handling",
            "categories": "phone_mobile",
            "systems": "sms",
        },
    )
    assert r.status_code == 200 and 'data-code="kefu5"' in r.text
    r = c.post(
        "/console/agents",
        data={
            "code": "kefu6",
            "name": "x",
            "contract_no": "y",
            "contract_start": "soon",
            "contract_end": "later",
        },
    )
    assert r.status_code == 422 and "contract_start" in r.text
    c.post("/logout")
    a = _console(app_client, "audrey")
    r = a.get("/console/agents")
    assert r.status_code == 200 and 'id="agent-form"' not in r.text  # read-only
    assert a.post("/console/agents", data={"code": "z"}).status_code == 403


def test_dates_typed_in_the_cli_and_console_are_china_days(
    db_engine: Any, session: Session, app_client: TestClient, account: Account
) -> None:
    """A contract "until 2026-12-31" covers all of 31 December in China; it used to end at 00:00 UTC,
    08:00 in China, cutting the last working day short. The start is 00:00 China time that day."""
    r = runner.invoke(
        root_cli,
        [
            *("agents", "add", "kefu7", "--name", "外包七部", "--contract", "WB-7"),
            *("--start", "2026-01-01", "--end", "2026-12-31", "--purpose", "complaint_handling"),
        ],
    )
    assert r.exit_code == 0, r.output
    session.expire_all()
    firm = session.scalars(select(AgentFirm).where(AgentFirm.code == "kefu7")).one()
    assert firm.contract_start == datetime(2025, 12, 31, 16, tzinfo=UTC)  # 2026-01-01 00:00 in China
    assert firm.contract_end == datetime(2026, 12, 31, 16, tzinfo=UTC)  # 2027-01-01 00:00 in China
    # an explicit time without an offset is China time too; one with an offset is kept
    r = runner.invoke(root_cli, ["agents", "update", "kefu7", "--end", "2026-12-31T18:00"])
    assert r.exit_code == 0, r.output
    session.expire_all()
    assert session.get(AgentFirm, firm.id).contract_end == datetime(2026, 12, 31, 10, tzinfo=UTC)
    r = runner.invoke(root_cli, ["agents", "update", "kefu7", "--end", "31/12/2026"])
    assert r.exit_code == 2 and "China time" in r.output and "北京时间" in r.output
    session.expire_all()
    assert session.get(AgentFirm, firm.id).contract_end == datetime(2026, 12, 31, 10, tzinfo=UTC)

    account("olga", "compliance_officer", utcnow())
    c = _console(app_client, "olga")
    r = c.post(
        "/console/agents",
        data={
            "code": "kefu8",
            "name": "外包八部",
            "contract_no": "WB-8",
            "contract_start": "2026-03-01",
            "contract_end": "2026-06-30",
            "purposes": "complaint_handling",
        },
    )
    assert r.status_code == 200, r.text
    session.expire_all()
    firm8 = session.scalars(select(AgentFirm).where(AgentFirm.code == "kefu8")).one()
    assert firm8.contract_start == datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert firm8.contract_end == datetime(2026, 6, 30, 16, tzinfo=UTC)
