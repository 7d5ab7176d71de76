"""The gateway API through the real app: auth, single and batch submit, inbound, records, registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.core.db import utcnow
from piguard.identity import service as identity

from .gw_setup import AD, BUSINESS_PORT, COMMERCIAL_PORT, NOTICE, USER, build_registry, give_consent

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.obligation("O24-13.3", "O31-10", "O31-18.1", "O31-11")


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


def _msg(**kw: object) -> dict[str, object]:
    return {
        "sender": COMMERCIAL_PORT + "07",
        "recipient": USER,
        "text": AD,
        "message_type": "promotions",
        **kw,
    }


def test_gateway_endpoints_need_login_and_the_right_role(client: TestClient, session: Session) -> None:
    assert client.post("/api/sms/submit", json=_msg()).status_code == 401
    assert client.get("/api/sms/records", params={"purpose": "complaint_handling"}).status_code == 401
    _login(client, "audrey")
    r = client.post("/api/sms/submit", json=_msg())
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.post("/api/sms/providers", json={"name": "x", "licence_number": "y"}).status_code == 403
    assert client.get("/api/sms/records", params={"purpose": "complaint_handling"}).status_code == 200


def test_submit_single_and_batch_with_per_item_errors(client: TestClient, session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    _login(client, "otto")
    r = client.post("/api/sms/submit", json=_msg())
    assert r.status_code == 200 and r.json()["outcome"] == "allow", r.text
    refused = client.post("/api/sms/submit", json=_msg(sender="10699999")).json()
    assert refused["outcome"] == "refuse" and "O31-10" in refused["obligations"]
    assert refused["reasons"][0]["message"]["zh"]
    bad = client.post("/api/sms/submit", json=_msg(text=""))
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "text"
    items = [
        _msg(client_ref="a"),
        {"sender": BUSINESS_PORT},
        "not an object",
        _msg(text="x" * 2000),
        {"sender": BUSINESS_PORT, "recipient": USER, "text": NOTICE},
        _msg(extra=1),
    ]
    body = client.post("/api/sms/submit/batch", json={"messages": items})
    assert body.status_code == 200, body.text
    res = body.json()["results"]
    assert [r.get("outcome") for r in res] == ["allow", None, None, None, "allow", None]
    assert res[0]["client_ref"] == "a"
    assert all("error" in res[i] for i in (1, 2, 3, 5))
    assert res[3]["error"]["fields"][0]["field"] == "text"
    assert body.json()["summary"] == {"allow": 2, "error": 4}
    got = client.get("/api/sms/records", params={"purpose": "complaint_handling", "recipient": USER})
    assert got.status_code == 200, got.text
    recs = got.json()["records"]
    assert recs and all(USER not in str(x) for x in recs) and recs[0]["recipient"] == "+86138****5678"


def test_inbound_opt_out_then_submit_is_refused(client: TestClient, session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    _login(client, "otto")
    r = client.post(
        "/api/sms/inbound", json={"sender": USER, "to": COMMERCIAL_PORT + "07", "text": "回复TD退订"}
    )
    assert r.status_code == 200 and r.json()["intent"] == "opt_out" and r.json()["consents_ended"]
    after = client.post("/api/sms/submit", json=_msg()).json()
    assert after["outcome"] == "refuse" and "consent_missing" in {x["code"] for x in after["reasons"]}
    assert (
        client.post("/api/sms/inbound", json={"sender": "nope", "to": "1", "text": "TD"}).status_code == 422
    )


def test_registry_crud_and_suspension_over_the_api(client: TestClient, session: Session) -> None:
    _login(client, "olga")
    sp = client.post(
        "/api/sms/providers",
        json={
            "name": "示例短信",
            "licence_number": "B2-20150002",
            "access_codes": ["1069"],
            "access_location": "上海",
        },
    )
    assert sp.status_code == 201, sp.text
    cp = client.post(
        "/api/sms/content-providers",
        json={
            "code": "shop",
            "name": "商店",
            "service_provider_id": sp.json()["id"],
            "identity_type": "uscc",
            "identity_number": "91110000600037341L",
        },
    )
    assert cp.status_code == 201 and cp.json()["identity"].startswith("911") and "600037341" not in cp.text
    bad_id = client.post(
        "/api/sms/content-providers",
        json={
            "code": "shop2",
            "name": "商店",
            "service_provider_id": sp.json()["id"],
            "identity_type": "uscc",
            "identity_number": "91110000600037341X",
        },
    )
    assert bad_id.status_code == 422
    assert (
        client.post("/api/sms/content-providers/shop/verification", json={"status": "verified"}).json()[
            "verification_status"
        ]
        == "verified"
    )
    assert (
        client.post("/api/sms/content-providers/shop/signatures", json={"text": "【商店】"}).json()["text"]
        == "商店"
    )
    port = client.post(
        "/api/sms/ports", json={"code": "10691234", "port_type": "commercial", "content_provider": "shop"}
    )
    assert port.status_code == 201, port.text
    s = client.post(
        "/api/sms/suspensions",
        json={
            "target_type": "content_provider",
            "key": "shop",
            "reason": "order",
            "obligations": ["O24-14.2"],
        },
    )
    assert s.status_code == 200 and s.json()["suspended"] is True
    assert client.get("/api/sms/suspensions").json()[0]["action"] == "suspend"
    assert client.get("/api/sms/ports").json()[0]["code"] == "10691234"
    cr = client.post(
        "/api/sms/consent-requests",
        json={
            "sender": "10691234",
            "recipient": USER,
            "message_type": "news",
            "max_messages": 1,
            "period_unit": "week",
            "valid_until": (utcnow() + timedelta(days=30)).isoformat(),
        },
    )
    assert cr.status_code == 403 and cr.json()["error"]["code"] == "refused"  # suspended


@pytest.mark.obligation("O31-11", "O31-18.2")
def test_a_resubmitted_client_ref_returns_the_first_result_and_writes_nothing(
    client: TestClient, session: Session
) -> None:
    """Issue 14.2: resubmitting 100 accepted client_refs made 200 records and 200 outbox rows."""
    from sqlalchemy import func, select

    from piguard.messaging.models import MessageRecord, OutboxMessage

    reg = build_registry(session)
    give_consent(session, reg, max_messages=10)
    _login(client, "otto")

    def counts() -> tuple[int, int]:
        session.expire_all()
        return (
            session.scalar(select(func.count()).select_from(MessageRecord)) or 0,
            session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
        )

    items = [_msg(client_ref=f"order-{i}") for i in range(5)]
    first = client.post("/api/sms/submit/batch", json={"messages": items}).json()["results"]
    assert [r["outcome"] for r in first] == ["allow"] * 5 and not any(r["duplicate"] for r in first)
    before = counts()
    again = client.post("/api/sms/submit/batch", json={"messages": items}).json()["results"]
    assert counts() == before  # nothing new recorded or queued
    assert [r["ref"] for r in again] == [r["ref"] for r in first]
    assert all(r["duplicate"] and r["outcome"] == "allow" for r in again)
    assert {x["code"] for x in again[0]["reasons"]} == {x["code"] for x in first[0]["reasons"]}
    one = client.post("/api/sms/submit", json=_msg(client_ref="order-0")).json()
    assert one["duplicate"] and one["ref"] == first[0]["ref"] and counts() == before
    # the same ref twice in one new batch is decided once; a new ref is a new message
    twice = client.post(
        "/api/sms/submit/batch", json={"messages": [_msg(client_ref="z"), _msg(client_ref="z"), _msg()]}
    ).json()["results"]
    assert twice[0]["ref"] == twice[1]["ref"] and twice[1]["duplicate"] and not twice[0]["duplicate"]
    assert twice[2]["ref"] not in (twice[0]["ref"], None)
    assert counts() == (before[0] + 2, before[1] + 2)


@pytest.mark.obligation("O24-10", "O31-10")
def test_a_phone_number_used_as_a_sender_is_not_kept_in_clear(client: TestClient, session: Session) -> None:
    """Issue 14.8: a phone number used as a sender was kept and shown in clear."""
    from sqlalchemy import select

    from piguard.messaging.models import MessageRecord

    build_registry(session)
    _login(client, "otto")
    r = client.post("/api/sms/submit", json=_msg(sender="13912345678")).json()
    assert r["outcome"] == "refuse" and "O31-10" in r["obligations"]
    session.expire_all()
    rec = session.scalars(select(MessageRecord).where(MessageRecord.ref == r["ref"])).one()
    assert rec.sender == "139****5678"
    shown = client.get("/api/sms/records", params={"purpose": "complaint_handling", "ref": r["ref"]}).text
    assert "13912345678" not in shown


def test_a_reply_time_without_an_offset_is_a_clear_error_not_a_crash(
    client: TestClient, session: Session
) -> None:
    """A naive ``received_at`` reached the database layer and answered 500; now 422, nothing ended."""
    reg = build_registry(session)
    give_consent(session, reg)
    _login(client, "otto")
    reply = {"sender": USER, "to": COMMERCIAL_PORT + "07", "text": "回复TD退订"}
    naive = client.post("/api/sms/inbound", json={**reply, "received_at": "2026-12-07T10:00:00"})
    assert naive.status_code == 422, naive.text
    assert [f["field"] for f in naive.json()["error"]["fields"]] == ["received_at"]
    # Nothing was ended: the consent still lets the commercial message through.
    assert client.post("/api/sms/submit", json=_msg()).json()["outcome"] == "allow"
    aware = client.post("/api/sms/inbound", json={**reply, "received_at": utcnow().isoformat()})
    assert aware.status_code == 200 and aware.json()["consents_ended"]
    delivery = client.post(
        "/api/sms/messages/nope/delivery", json={"status": "sent", "at": "2026-12-07 10:00"}
    )
    assert delivery.status_code == 422 and "时区" in delivery.text
