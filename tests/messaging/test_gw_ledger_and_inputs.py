"""Records (O31-11): consent expiry, delivery time, the consent ledger and subscription events;
and inputs: spaced opt-outs, the China number plan, the request body limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.cli import app as cli_app
from piguard.core import addresses, crypto
from piguard.core.config import reset_settings
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.identity import service as identity
from piguard.messaging import jobs
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import Consent, SubscriptionEvent
from piguard.messaging.records import service as records
from piguard.messaging.subscriptions.inbound import receive_reply
from piguard.messaging.subscriptions.replies import classify_reply

from .gw_setup import COMMERCIAL_PORT, USER, USER_E164, ad, at_noon, build_registry, give_consent

PASSWORD = "correct horse battery"
PORT = COMMERCIAL_PORT + "07"


@pytest.fixture(autouse=True)
def _fast_hasher() -> Iterator[None]:
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(previous)


@pytest.fixture()
def client(db_engine, session: Session) -> TestClient:  # type: ignore[no-untyped-def]
    for name, roles in (("otto", ["operator"]), ("audrey", ["auditor"])):
        identity.create_staff(session, username=name, password=PASSWORD, roles=roles)
    session.commit()
    return TestClient(create_app())


def _login(client: TestClient, name: str) -> TestClient:
    r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


# ----------------------------------------------------------------------------- consent expiry


@pytest.mark.obligation("O31-11", "O31-18.2")
def test_a_consent_whose_period_ended_is_ended_by_the_worker_with_an_event(
    db_engine, session: Session
) -> None:  # type: ignore[no-untyped-def]
    reg = build_registry(session)
    cid = give_consent(session, reg, days=1)
    later = utcnow() + timedelta(days=2)
    out = jobs.run_once(later)
    assert out["consents_expired"] == 1 and "consents_expired" not in out["failed"]
    session.expire_all()
    c = session.get(Consent, cid)
    assert c is not None and c.status == "ended" and c.end_reason == "period_ended"
    assert c.ended_at == c.valid_until
    events = list(session.scalars(select(SubscriptionEvent).where(SubscriptionEvent.consent_id == cid)))
    assert [e.event for e in events] == ["subscribed", "expired"]
    assert all(e.relationship_ended_at == c.valid_until for e in events)
    assert jobs.run_once(later)["consents_expired"] == 0  # once


# ----------------------------------------------------------------------------- the ledger


@pytest.mark.obligation("O31-11")
def test_records_carry_the_delivery_time(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad()], now=at_noon())
    session.commit()
    records.drain_outbox(session, records.LoopbackTransport())
    delivered = at_noon() + timedelta(minutes=1)
    records.deliver_report(session, r.ref or "", "delivered", at=delivered)
    session.commit()
    [row] = records.records_search(session, records.RecordQuery())
    d = records.record_to_dict(row)
    assert d["delivered_at"] == delivered.isoformat() and d["status"] == "delivered"


@pytest.mark.obligation("O31-11", "O31-18.1", "O24-13.6")
def test_the_consent_ledger_and_events_api_filter_and_need_the_read_role(
    client: TestClient, session: Session
) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    give_consent(session, reg, recipient="13900000001")
    receive_reply(session, channel="sms", sender="13900000001", to=PORT, text="退订", received_at=at_noon())
    session.commit()
    assert client.get("/api/sms/consents", params={"purpose": "complaint_handling"}).status_code == 401
    assert (
        client.get(
            "/api/sms/subscription-events",
            params={"purpose": "complaint_handling"},
        ).status_code
        == 401
    )
    _login(client, "audrey")
    all_ = client.get("/api/sms/consents", params={"purpose": "complaint_handling"}).json()["consents"]
    assert len(all_) == 2 and all("13812345678" not in json.dumps(c) for c in all_)
    mine = client.get(
        "/api/sms/consents", params={"purpose": "complaint_handling", "recipient": USER}
    ).json()["consents"]
    assert [c["recipient"] for c in mine] == [addresses.mask_address(USER_E164)]
    h = crypto.address_hash(USER_E164)
    by_hash = client.get(
        "/api/sms/consents", params={"purpose": "complaint_handling", "recipient_hash": h}
    ).json()["consents"]
    assert [c["id"] for c in by_hash] == [c["id"] for c in mine]
    ended = client.get(
        "/api/sms/consents",
        params={"purpose": "complaint_handling", "status": "ended", "content_provider": "youpin"},
    ).json()
    assert [c["end_reason"] for c in ended["consents"]] == ["opt_out"]
    ev = client.get(
        "/api/sms/subscription-events", params={"purpose": "complaint_handling", "event": "unsubscribed"}
    ).json()["events"]
    assert len(ev) == 1 and ev[0]["source"] == "reply"
    bad = client.get("/api/sms/consents", params={"purpose": "complaint_handling", "status": "maybe"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "status"
    bad = client.get(
        "/api/sms/consents", params={"purpose": "complaint_handling", "recipient_hash": "not-hex!"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "recipient_hash"
    bad = client.get("/api/sms/consents", params={"purpose": "complaint_handling", "recipient": "12345"})
    assert bad.status_code == 422 and "12345" not in bad.text


@pytest.mark.obligation("O31-11")
def test_the_consent_ledger_cli(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    reg = build_registry(session)
    give_consent(session, reg)
    runner = CliRunner()
    r = runner.invoke(cli_app, ["sms", "consents", "--recipient", USER])
    assert r.exit_code == 0, r.output
    [line] = r.output.splitlines()
    assert json.loads(line)["status"] == "active" and "13812345678" not in line
    r = runner.invoke(cli_app, ["sms", "subscription-events", "--event", "subscribed"])
    assert r.exit_code == 0 and json.loads(r.output.splitlines()[0])["event"] == "subscribed"
    r = runner.invoke(cli_app, ["sms", "consents", "--status", "maybe"])
    assert r.exit_code != 0 and "status" in r.output + (r.stderr if r.stderr_bytes is not None else "")


# ----------------------------------------------------------------------------- inputs


@pytest.mark.obligation("O31-20")
@pytest.mark.parametrize("text", ["t d", "T D", "t-d", "T.D", "ｔ ｄ", "q x"])
def test_spaced_opt_out_codes_are_opt_outs(text: str) -> None:
    assert classify_reply(text).intent.value == "opt_out"


@pytest.mark.obligation("O31-20")
def test_a_spaced_opt_out_ends_consent(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    out = receive_reply(session, channel="sms", sender=USER, to=PORT, text="t d", received_at=at_noon())
    assert out.intent == "opt_out" and len(out.consents_ended) == 1


def test_words_with_spaces_are_not_read_as_codes() -> None:
    assert classify_reply("it d").intent.value != "opt_out"
    assert classify_reply("a b c").intent.value != "opt_out"


@pytest.mark.obligation("O31-11")
@pytest.mark.parametrize(
    "number", ["+8612345678901", "12345678901", "+8614812345678", "+1415555", "+99912345678"]
)
def test_numbers_outside_the_plans_are_not_mobile_numbers(number: str) -> None:
    with pytest.raises(PiguardError) as e:
        addresses.normalize_address("sms", number)
    assert e.value.code == "validation_error" and number not in e.value.message_en


@pytest.mark.parametrize(
    ("number", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 199 1234 5678", "+8619912345678"),
        ("+447911123456", "+447911123456"),
    ],
)
def test_mobile_numbers_in_the_plans_are_accepted(number: str, e164: str) -> None:
    assert addresses.normalize_address("sms", number) == e164


@pytest.mark.obligation("O31-11")
def test_a_request_body_over_the_limit_is_refused_unread(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, session: Session
) -> None:
    monkeypatch.setenv("PIGUARD_MAX_BODY_BYTES", "4096")
    reset_settings()
    try:
        small = TestClient(create_app())
        big = b'{"messages": [' + b'"x",' * 5000 + b'"x"]}'
        r = small.post("/api/sms/submit/batch", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        err = r.json()["error"]
        assert err["code"] == "payload_too_large" and err["message"]["zh"] and "4096" in err["message"]["en"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b" " * 1000

        r = small.post("/api/sms/submit", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        # under the limit the request goes on (here: to the login check)
        assert small.post("/api/sms/submit", json={"text": "x"}).status_code == 401
    finally:
        monkeypatch.delenv("PIGUARD_MAX_BODY_BYTES")
        reset_settings()


@pytest.mark.obligation("O31-20")
@pytest.mark.parametrize("wording", ["回T D退订", "回复T-D退订", "回复T.D退订"])
def test_spelt_out_opt_out_codes_in_a_message_are_opt_out_wording(wording: str) -> None:
    from piguard.messaging.review import default_reviewer

    found = default_reviewer().review(f"【优品商城】春装5折起，{wording}").findings
    assert "optout_missing" not in [f.code for f in found]
