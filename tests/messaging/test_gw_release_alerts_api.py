"""Held messages released when the hold ends (worker job and operator endpoint), and alerts and
complaints over the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.core.calendar import SHANGHAI
from piguard.identity import service as identity
from piguard.messaging import jobs
from piguard.messaging.gateway import release
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import MessageRecord, OutboxMessage
from piguard.messaging.monitor import service as monitor
from piguard.messaging.monitor.models import MonitorAlert, MonitorComplaint
from piguard.messaging.monitor.service import AlertSettings, evaluate_alerts
from piguard.messaging.registry import service as registry
from piguard.messaging.settings import reset_messaging_settings
from piguard.messaging.subscriptions.inbound import receive_reply

from .gw_setup import COMMERCIAL_PORT, USER, WELFARE_PORT, ad, at_noon, build_registry, give_consent

PASSWORD = "correct horse battery"
WELFARE = "【市应急管理局】防范电信诈骗，不听不信不转账。"


@pytest.fixture()
def quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Quiet hours 20:00-08:00 China time (12:00 China is outside them)."""
    monkeypatch.setenv("PIGUARD_SMS_QUIET_HOURS", "20:00-08:00")
    reset_messaging_settings()
    yield
    monkeypatch.delenv("PIGUARD_SMS_QUIET_HOURS", raising=False)
    reset_messaging_settings()


def _night() -> datetime:
    return at_noon() + timedelta(hours=11)  # 23:00 China


def _audit(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.mark.obligation("O31-22", "O31-18.1", "O31-11")
def test_quiet_hours_hold_is_released_by_the_worker_after_the_quiet_hours(
    session: Session, quiet: None
) -> None:
    reg = build_registry(session)
    give_consent(session, reg, recipient=USER)
    give_consent(session, reg, recipient="13900000002")
    night = _night()
    held = submit(session, [ad(), ad(recipient="13900000002")], now=night)
    session.commit()
    assert {r.outcome for r in held} == {"hold"}
    # still night: nothing to release
    assert release.release_held(session, night + timedelta(hours=1))["considered"] == 0
    # the second recipient opts out during the night: the opt-out wins
    receive_reply(session, channel="sms", sender="13900000002", to=COMMERCIAL_PORT + "07", text="退订")
    session.commit()
    morning = night + timedelta(hours=10)  # 09:00 China
    out = release.release_held(session, morning)
    session.commit()
    assert out == {"considered": 2, "allow": 1, "refuse": 1, "hold": 0}
    first = session.scalar(select(MessageRecord).where(MessageRecord.ref == held[0].ref))
    second = session.scalar(select(MessageRecord).where(MessageRecord.ref == held[1].ref))
    assert first is not None and second is not None
    session.refresh(first)
    session.refresh(second)
    assert first.outcome == "allow" and first.status == "queued" and first.at == night
    assert "released_from_hold" in first.reason_codes and "quiet_hours" not in first.reason_codes
    assert second.outcome == "refuse" and "consent_missing" in second.reason_codes
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == held[0].ref)) is not None
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == held[1].ref)) is None
    assert _audit(session, "sms.held.released")
    # released once only
    assert release.release_held(session, morning)["considered"] == 0


@pytest.mark.obligation("O31-17")
def test_campaign_hold_is_released_on_its_send_date(session: Session) -> None:
    build_registry(session)
    camp = registry.create_campaign(
        session,
        name="反诈宣传",
        department="市公安局",
        content=WELFARE,
        scope="全市",
        content_provider="civic",
        notified_on=date(2025, 9, 26),
        send_on=date(2025, 10, 16),
    )
    session.commit()
    req = GatewayRequest("sms", WELFARE_PORT, USER, WELFARE, kind="public_welfare", campaign_id=camp.id)
    day_before = datetime(2025, 10, 15, 12, tzinfo=SHANGHAI)
    [r] = submit(session, [req], now=day_before)
    session.commit()
    assert r.outcome == "hold"
    assert release.release_held(session, day_before + timedelta(hours=3))["considered"] == 0
    out = release.release_held(session, datetime(2025, 10, 16, 0, 5, tzinfo=SHANGHAI))
    session.commit()
    assert out["allow"] == 1
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == r.ref))
    assert rec is not None
    session.refresh(rec)
    assert rec.status == "queued" and rec.campaign_id == camp.id and "campaign_notified" in rec.reason_codes


@pytest.mark.obligation("O31-22")
def test_worker_round_releases_held_messages(db_engine, session: Session, quiet: None) -> None:  # type: ignore[no-untyped-def]
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad()], now=_night())
    session.commit()
    out = jobs.run_once(_night() + timedelta(hours=10))
    assert out["held_released"] == {"considered": 1, "allow": 1, "refuse": 0, "hold": 0}
    assert "held_released" not in out["failed"]
    session.expire_all()
    assert session.scalar(select(MessageRecord.status).where(MessageRecord.ref == r.ref)) == "queued"


# ------------------------------------------------------------------------------------ API


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


@pytest.mark.obligation("O31-22", "O24-13.3", "O24-13.6")
def test_operator_release_endpoint(
    client: TestClient, session: Session, quiet: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [held] = submit(session, [ad()], now=_night())
    [allowed] = submit(session, [ad()], now=at_noon())
    session.commit()
    # Refs are random hex: give this one a long digit run (like a mobile number) on purpose, as
    # about one random ref in fifteen has; releasing it must still be audited without a refusal.
    phone_like_ref = "13812345678" + held.ref[11:]
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == held.ref))
    assert rec is not None
    rec.ref = phone_like_ref
    session.commit()
    held = replace(held, ref=phone_like_ref)
    monkeypatch.setenv("PIGUARD_SMS_QUIET_HOURS", "")  # the endpoint decides at the real clock
    reset_messaging_settings()
    assert client.post(f"/api/sms/messages/{held.ref}/release").status_code == 401
    _login(client, "otto")  # operator: sms.read only
    assert client.post(f"/api/sms/messages/{held.ref}/release").status_code == 403
    _login(client, "olga")  # compliance officer: sms.manage
    r = client.post(f"/api/sms/messages/{held.ref}/release")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "allow" and body["status"] == "queued"
    assert {"code": "released_from_hold", "obligations": ["O31-11"], "info": True} in body["reasons"]
    assert client.post(f"/api/sms/messages/{allowed.ref}/release").json()["error"]["code"] == "not_held"
    assert client.post("/api/sms/messages/deadbeef/release").status_code == 404
    session.expire_all()
    [entry] = _audit(session, "sms.message.released")
    assert entry.subject_ref == f"message:{rec.id}"


def _alert(session: Session, reg_id: int) -> int:
    submit(session, [ad(recipient=f"1390000{i:04d}") for i in range(6)], now=at_noon())
    res = evaluate_alerts(
        session, at_noon() + timedelta(minutes=1), settings=AlertSettings(volume_max=5, min_volume=1)
    )
    session.commit()
    [a] = [x for x in res.raised if x.kind == "volume"]
    assert a.content_provider_id == reg_id
    return a.id


@pytest.mark.obligation("O31-22", "O24-13.3")
def test_alerts_and_complaints_over_the_api(client: TestClient, session: Session) -> None:
    reg = build_registry(session)
    alert_id = _alert(session, reg.youpin_id)
    assert client.get("/api/sms/alerts").status_code == 401
    _login(client, "audrey")  # auditor: read only
    r = client.get(
        "/api/sms/alerts", params={"state": "open", "content_provider": "youpin", "kind": "volume"}
    )
    assert r.status_code == 200 and [a["id"] for a in r.json()["alerts"]] == [alert_id]
    assert client.get("/api/sms/alerts", params={"state": "nonsense"}).status_code == 422
    assert client.post(f"/api/sms/alerts/{alert_id}/ack").status_code == 403
    assert client.post("/api/sms/complaints", json={"content_provider": "youpin"}).status_code == 403
    _login(client, "olga")
    r = client.post(f"/api/sms/alerts/{alert_id}/ack", json={"note": "looking"})
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    r = client.post(f"/api/sms/alerts/{alert_id}/close")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert client.post("/api/sms/alerts/999999/close").status_code == 404
    # complaints are filed as cases now: the old entry answers 410 with where to go
    r = client.post("/api/sms/complaints", json={"content_provider": "youpin", "source": "12321"})
    assert r.status_code == 410 and r.json()["error"]["code"] == "complaint_moved", r.text
    assert "/api/cases" in r.json()["error"]["message"]["en"]
    c = monitor.complaint_to_dict(
        monitor.record_complaint(
            session, reg.youpin_id, source="12321", recipient=USER, summary="骚扰 13812345678"
        )
    )
    session.commit()
    assert c["recipient"] != USER and "13812345678" not in json.dumps(c) and c["source"] == "12321"
    r = client.get("/api/sms/complaints", params={"content_provider": "youpin"})
    assert r.status_code == 403 and "O24-9.3" in r.json()["error"]["obligations"]  # a purpose first
    r = client.get(
        "/api/sms/complaints", params={"content_provider": "youpin", "purpose": "complaint_handling"}
    )
    assert [x["id"] for x in r.json()["complaints"]] == [c["id"]]
    assert client.get("/api/sms/reasons").json()["reasons"]
    session.expire_all()
    assert _audit(session, "sms.complaint.recorded") and _audit(session, "sms.alert.closed")


@pytest.mark.obligation("O31-22")
def test_alerts_and_complaints_from_the_cli(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    from piguard.cli import app

    reg = build_registry(session)
    alert_id = _alert(session, reg.youpin_id)
    runner = CliRunner()
    r = runner.invoke(app, ["sms", "alerts", "list", "--state", "open", "--kind", "volume"])
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["id"] for x in r.output.splitlines() if x.strip()] == [alert_id]
    r = runner.invoke(app, ["sms", "alerts", "ack", str(alert_id), "--note", "on it"])
    assert r.exit_code == 0 and json.loads(r.output)["state"] == "acknowledged"
    r = runner.invoke(app, ["sms", "alerts", "close", str(alert_id)])
    assert r.exit_code == 0 and json.loads(r.output)["state"] == "closed"
    r = runner.invoke(app, ["sms", "alerts", "close", "999999"])
    assert r.exit_code != 0
    r = runner.invoke(
        app, ["sms", "complaint", "add", "-c", "youpin", "--source", "regulator", "--from", USER]
    )
    assert r.exit_code != 0 and "complaint_moved" in r.output and "cases open" in r.output
    monitor.record_complaint(session, reg.youpin_id, source="regulator", recipient=USER)
    session.commit()
    r = runner.invoke(app, ["sms", "complaint", "list", "-c", "youpin"])
    assert r.exit_code == 0 and json.loads(r.output)["source"] == "regulator" and USER not in r.output
    session.expire_all()
    assert session.scalar(select(MonitorComplaint.source)) == "regulator"
    assert session.scalar(select(MonitorAlert.state).where(MonitorAlert.id == alert_id)) == "closed"
