"""``piguard cases …`` and ``/api/cases``: the operators' interface, roles, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.cases.complaints_setup import build_registry, old_message, sent_notice
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.cases.models import Case
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.identity import service as identity
from piguard.messaging.models import ContentProvider

PASSWORD = "correct horse battery"
SHAPE = ["id", "kind", "status", "received", "due", "estimated", "obligations"]


@pytest.fixture(autouse=True)
def _fast_hasher() -> Iterator[None]:
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(previous)


@pytest.fixture()
def client(db_engine, session: Session) -> TestClient:  # type: ignore[no-untyped-def]
    for name, roles in (("otto", ["operator"]), ("olga", ["compliance_officer"]), ("audrey", ["auditor"])):
        identity.create_staff(session, username=name, password=PASSWORD, roles=roles)
    session.commit()
    return TestClient(create_app())


def _login(client: TestClient, name: str) -> TestClient:
    r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


@pytest.mark.obligation("O24-12")
@pytest.mark.obligation("O31-27")
def test_cli_open_shape_and_life_cycle(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    from piguard.cli import app

    runner = CliRunner()
    r = runner.invoke(
        app,
        ["cases", "open", "--kind", "pi_complaint", "--received", "2026-09-28T10:00:00+08:00",
         "--text", "泄露了我的手机号", "--format", "json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(SHAPE) <= set(out)
    assert out["kind"] == "pi_complaint" and out["status"] == "open"
    assert out["due"] == "2026-10-13" and out["estimated"] is False and out["obligations"] == ["O24-12"]
    cid = str(out["id"])
    # an SMS complaint received today runs 15 working days into 2027, past the holiday data: estimated
    today = calendar.to_local_date(utcnow())
    r = runner.invoke(
        app,
        ["cases", "open", "--kind", "sms_complaint", "--received", utcnow().isoformat(), "--text", "骚扰短信",
         "--format", "json"],
    )  # fmt: skip
    sms = json.loads(r.output)
    covered = calendar.get_calendar().covered_until
    assert covered is not None
    due = date.fromisoformat(sms["due"])
    assert due > today and sms["estimated"] is (due > covered)
    r = runner.invoke(app, ["cases", "list", "--kind", "pi_complaint", "--format", "json"])
    assert [c["id"] for c in json.loads(r.output)["cases"]] == [int(cid)]
    assert runner.invoke(app, ["cases", "assign", cid, "--owner", "staff:7"]).exit_code == 0
    assert runner.invoke(app, ["cases", "note", cid, "--text", "已联系用户"]).exit_code == 0
    r = runner.invoke(app, ["cases", "reply", cid, "--text", "已处理", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["status"] == "answered"
    r = runner.invoke(app, ["cases", "close", cid, "--format", "json"])
    shown = json.loads(r.output)
    assert shown["status"] == "closed"
    assert [e["kind"] for e in shown["timeline"]][:3] == ["opened", "assigned", "status"]
    # a reply to a closed case is refused, in the error shape
    r = runner.invoke(app, ["cases", "reply", cid, "--text", "again"])
    assert r.exit_code != 0 and "case_closed" in r.output
    r = runner.invoke(app, ["cases", "show", cid])
    assert r.exit_code == 0 and "closed" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ["--kind", "spam", "--received", "2026-09-28T10:00:00+08:00", "--text", "x"],
        ["--kind", "access", "--received", "2026-09-28T10:00:00+08:00", "--text", "x"],
        ["--kind", "pi_complaint", "--received", "2026-09-28T10:00:00", "--text", "x"],
        ["--kind", "pi_complaint", "--received", "yesterday", "--text", "x"],
        ["--kind", "pi_complaint", "--received", "2026-09-28T10:00:00+08:00", "--text", "a\x00b"],
        [
            "--kind",
            "sms_complaint",
            "--received",
            "2026-09-28T10:00:00+08:00",
            "--text",
            "x",
            "--message-ref",
            "NOPE",
        ],
    ],
)
def test_cli_bad_input_is_a_clear_error_and_writes_nothing(
    db_engine, session: Session, args: list[str]
) -> None:  # type: ignore[no-untyped-def]
    from piguard.cli import app

    r = CliRunner().invoke(app, ["cases", "open", *args])
    assert r.exit_code != 0
    assert "Traceback" not in r.output
    assert session.scalar(select(Case.id)) is None


@pytest.mark.obligation("O31-28")
def test_api_open_list_show_assign_note_reply_close_and_roles(client: TestClient, session: Session) -> None:
    reg = build_registry(session)
    now = utcnow()
    loan = old_message(session, reg, now - timedelta(days=1))
    notice = sent_notice(session, now - timedelta(hours=1))
    session.commit()
    body = {"kind": "sms_complaint", "received": now.isoformat(), "text": "非法贷款", "message_ref": loan}
    assert client.post("/api/cases", json=body).status_code == 401
    _login(client, "audrey")  # auditor: read only
    assert client.post("/api/cases", json=body).status_code == 403
    _login(client, "otto")
    r = client.post("/api/cases", json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert set(SHAPE) <= set(case) and case["report"] and case["content_provider_id"] == reg.youpin_id
    cid = case["id"]
    # someone else's message; a message that does not exist; a bad date: clear errors, nothing written
    bad = client.post("/api/cases", json={**body, "message_ref": notice, "content_provider": "civic"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "complaint_message_not_this_provider"
    assert "O31-28" in bad.json()["error"]["obligations"]
    assert client.post("/api/cases", json={**body, "message_ref": "ZZZ"}).status_code == 404
    r = client.post("/api/cases", json={**body, "received": "2026-13-45T99:00:00+08:00"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "received"
    assert client.post("/api/cases", json={**body, "kind": "nonsense"}).status_code == 422
    assert client.post("/api/cases", json={**body, "extra": 1}).status_code == 422
    session.expire_all()
    assert len(list(session.scalars(select(Case.id)))) == 1
    r = client.get("/api/cases", params={"kind": "sms_complaint", "status": "open"})
    assert [c["id"] for c in r.json()["cases"]] == [cid]
    assert client.get("/api/cases", params={"status": "bogus"}).status_code == 422
    # the queue shows no personal information; the case is read for a purpose, and audited
    assert all(c["subject"] is None and "text" not in c for c in r.json()["cases"])
    r = client.get(f"/api/cases/{cid}")
    assert r.status_code == 403 and r.json()["error"]["reasons"][0]["code"] == "purpose_missing"
    assert "O24-9.3" in r.json()["error"]["obligations"]
    r = client.get(f"/api/cases/{cid}", params={"purpose": "complaint_handling"})
    assert r.status_code == 200 and r.json()["purpose"] == "complaint_handling" and r.json()["text"]
    kinds = [e["kind"] for e in r.json()["timeline"]]
    assert {"opened", "evidence", "stop", "report"} <= set(kinds)
    session.expire_all()
    reads = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "pi.read")))
    assert [e.outcome for e in reads][-2:] == ["refused", "ok"] and reads[-1].purpose == "complaint_handling"
    assert client.get("/api/cases/999999", params={"purpose": "complaint_handling"}).status_code == 404
    assert client.post(f"/api/cases/{cid}/assign", json={"owner": "otto"}).json()["owner"] == "otto"
    assert client.post(f"/api/cases/{cid}/note", json={"text": "核查中"}).status_code == 200
    r = client.post(f"/api/cases/{cid}/reply", json={"text": "已停止该发送方"})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    assert client.post(f"/api/cases/{cid}/close").json()["status"] == "closed"
    r = client.post(f"/api/cases/{cid}/reply", json={"text": "again"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "case_closed"
    session.expire_all()
    cp = session.get(ContentProvider, reg.youpin_id)
    assert cp is not None and cp.suspended
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"case.open", "case.evidence", "case.stop", "case.reply", "sms.registry.suspended"} <= actions


@pytest.mark.obligation("O24-14.1")
def test_cli_cases_open_incident_is_an_incident_the_incident_commands_know(db_engine) -> None:  # type: ignore[no-untyped-def]
    from piguard.cli import app

    runner = CliRunner()
    r = runner.invoke(
        app,
        ["cases", "open", "--kind", "incident", "--received", "2026-11-30T10:00:00+08:00",
         "--title", "备份盘丢失", "--text", "机房备份盘丢失", "--format", "json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    opened = json.loads(r.output)
    assert opened["kind"] == "incident" and opened["due"] is None
    shown = runner.invoke(app, ["incidents", "show", str(opened["id"]), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["incident_kind"] == "risk"
