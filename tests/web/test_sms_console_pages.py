"""The SMS console pages over HTTP (no browser): access by role, masked numbers, reasons with
obligation ids, charts as SVG, alert acknowledgement (audited), bad input, 100k records stay fast."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.core import db
from piguard.core.db import utcnow
from piguard.demo import DEMO_STAFF, DEMO_USERNAME, load_demo
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import MessageRecord
from piguard.messaging.monitor import service as monitor
from piguard.messaging.monitor.models import MonitorAlert
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions.inbound import receive_reply

PASSWORDS = {u: p for u, p, _roles, _name in DEMO_STAFF}
AD = "【优品商城】会员专享：全场春装5折起，满299减50，详询4008123456 回T退订"
NOTICE = "【优品商城】您的订单已发货，快递单号SF1234567，请注意查收。"
NUMBERS = [f"1390000{i:04d}" for i in range(60)]
#: A mainland mobile number standing alone (not inside a hex message reference or another token).
FULL_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")


def seed_sms(now=None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Demo data plus traffic: notices, unconsented ads (refused, O31-18.1), opt-outs, complaints,
    and a raised refusal-rate alert."""
    now = now or utcnow() - timedelta(minutes=5)
    with db.unit_of_work() as session:
        load_demo(session)
        yp = registry.get_content_provider(session, "youpin")
        reqs = [GatewayRequest("sms", "10690002", n, NOTICE) for n in NUMBERS[:30]]
        reqs += [GatewayRequest("sms", "1069000107", n, AD, message_type="promotions") for n in NUMBERS[30:]]
        submit(session, reqs, now=now)
        for n in NUMBERS[:3]:
            receive_reply(
                session,
                channel="sms",
                sender=n,
                to="10690002",
                text="退订",
                received_at=now + timedelta(seconds=30),
            )
        monitor.record_complaint(
            session, yp.id, at=now, source="12321", recipient=NUMBERS[5], summary="骚扰短信"
        )
        res = monitor.evaluate_alerts(
            session,
            now + timedelta(minutes=1),
            settings=monitor.AlertSettings(refusal_rate=0.3, min_volume=10),
        )
        return {"alert": res.raised[0].id, "cp": yp.id}


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(create_app(), follow_redirects=False)
    c.cookies.set("piguard_purpose", "service_provision")  # picked on the purpose picker (O24-13.3)
    return c


def _login(client: TestClient, username: str) -> None:
    r = client.post(
        "/login", data={"username": username, "password": PASSWORDS[username], "next": "/console"}
    )
    assert r.status_code == 303, r.text


def _no_full_numbers(html: str) -> None:
    assert FULL_NUMBER.findall("联系13912340040。")  # the check itself would see one
    found = FULL_NUMBER.findall(html)
    assert not found, found[:3]
    assert not [n for n in NUMBERS if n in html]


@pytest.mark.obligation("O31-22")
def test_overview_has_readable_svg_charts(client: TestClient) -> None:
    seed_sms()
    _login(client, DEMO_USERNAME)
    r = client.get("/console/sms", params={"range": "24h"})
    assert r.status_code == 200
    html = r.text
    for chart in ("chart-decisions", "chart-top-refused", "chart-optout-rate", "chart-complaint-rate"):
        assert f'id="{chart}"' in html
    # accessible: role=img with title and desc; bars with tooltips, a legend naming the reasons
    assert 'role="img"' in html and '<title id="chart-decisions-title">' in html and "<desc" in html
    decisions = html.split('id="chart-decisions"')[1].split("</svg>")[0]
    assert decisions.count('class="bar"') >= 2 and "未经用户同意" in decisions and "放行" in decisions
    refused = html.split('id="chart-top-refused"')[1].split("</svg>")[0]
    assert "优品商城" in refused and 'class="bar' in refused
    # the opt-out chart draws the alert threshold
    assert 'class="threshold"' in html.split('id="chart-optout-rate"')[1].split("</svg>")[0]
    _no_full_numbers(html)
    en = client.get("/console/sms", params={"lang": "en", "range": "7d"}).text
    assert "Decisions by reason" in en and "No consent" in en
    assert client.get("/console/sms", params={"range": "nonsense"}).status_code == 200


@pytest.mark.obligation("O31-11", "O24-13.6")
def test_message_search_masks_numbers_and_number_lookup_is_audited(client: TestClient) -> None:
    seed_sms()
    _login(client, "operator")
    r = client.get(
        "/console/sms/messages/rows",
        params={"outcome": "refuse", "reason": "consent_missing", "cp": "youpin"},
    )
    assert r.status_code == 200
    assert r.text.count('class="sms-record"') >= 30
    assert "+86139****0030" in r.text or "+86139****0031" in r.text
    _no_full_numbers(r.text)
    # look a number up: found by its keyed hash, shown masked, never echoed, and audited
    r = client.get("/console/sms/messages", params={"recipient": NUMBERS[40]})
    assert r.status_code == 200 and r.text.count('class="sms-record"') == 1
    _no_full_numbers(r.text)
    with db.unit_of_work() as session:
        [e] = session.scalars(select(AuditEntry).where(AuditEntry.action == "sms.records.search")).all()
        assert e.actor_id and e.subject_ref == "recipient:+86139****0040"
    # pagination is bounded: a page has at most 50 rows and links to the next
    r = client.get("/console/sms/messages")
    assert r.text.count('class="sms-record"') == 50 and 'rel="next"' in r.text


def test_bad_filters_get_a_clear_message(client: TestClient) -> None:
    seed_sms()
    _login(client, "operator")
    r = client.get("/console/sms/messages", params={"since": "2026-02-30", "outcome": "maybe"})
    assert r.status_code == 200 and 'role="alert"' in r.text and "since" in r.text and "outcome" in r.text
    r = client.get("/console/sms/messages", params={"cp": "nobody"})
    assert 'role="alert"' in r.text
    r = client.get("/console/sms/messages", params={"reason": "x'; drop table"})
    assert 'role="alert"' in r.text
    r = client.get("/console/sms/messages", params={"recipient": "12"})
    assert 'role="alert"' in r.text
    assert client.get("/console/sms/messages/deadbeef").status_code == 404
    assert client.get("/console/sms/messages", params={"page": "-3"}).status_code == 200


@pytest.mark.obligation("O31-18.1", "O31-16")
def test_blocked_message_shows_reasons_with_obligation_links(client: TestClient) -> None:
    seed_sms()
    _login(client, DEMO_USERNAME)
    r = client.get("/console/sms/blocked")
    assert r.status_code == 200 and 'class="sms-record"' in r.text
    with db.unit_of_work() as session:
        ref = session.scalars(select(MessageRecord.ref).where(MessageRecord.outcome == "refuse")).first()
    r = client.get(f"/console/sms/messages/{ref}")
    assert r.status_code == 200
    assert 'class="sms-reason"' in r.text and 'href="/console/rules/O31-18.1"' in r.text
    _no_full_numbers(r.text)


@pytest.mark.obligation("O31-12", "O31-23", "O31-18.2", "O31-20")
def test_registry_consents_and_optouts_pages(client: TestClient) -> None:
    seed_sms()
    _login(client, DEMO_USERNAME)
    with db.unit_of_work() as session:
        registry.suspend_content_provider(
            session, "civic", reason="测试暂停 test suspension", obligations=("O31-23",)
        )
    r = client.get("/console/sms/registry")
    assert r.status_code == 200
    assert "9111" not in r.text.replace("9111****", "")  # identity numbers masked
    assert "91110000600037341L" not in r.text and "B2-20269999" in r.text
    assert "测试暂停" in r.text and 'href="/console/rules/O31-23"' in r.text
    assert "【优品商城】" in r.text and "10690001" in r.text
    r = client.get("/console/sms/consents", params={"status": "pending"})
    assert r.status_code == 200 and "+86138****8002" in r.text
    _no_full_numbers(r.text)
    r = client.get("/console/sms/optouts")
    assert r.status_code == 200 and r.text.count("<tr>") >= 4
    _no_full_numbers(r.text)


@pytest.mark.obligation("O31-22")
def test_acknowledge_and_close_alert_with_htmx_audited(client: TestClient) -> None:
    ids = seed_sms()
    _login(client, DEMO_USERNAME)
    r = client.get("/console/sms/alerts")
    assert r.status_code == 200 and f'id="alert-{ids["alert"]}"' in r.text
    assert 'href="/console/rules/O31-18.1"' in r.text  # the refusal reasons, with their ids
    r = client.post(f"/console/sms/alerts/{ids['alert']}/ack", headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith("<tr") and "alert-acknowledged" in r.text
    r = client.post(f"/console/sms/alerts/{ids['alert']}/ack", headers={"HX-Request": "true"})
    assert 'role="alert"' in r.text  # already acknowledged: said so in the row
    r = client.post(f"/console/sms/alerts/{ids['alert']}/close")
    assert r.status_code == 303
    with db.unit_of_work() as session:
        a = session.get(MonitorAlert, ids["alert"])
        assert a is not None and a.state == "closed" and a.closed_by
        actions = set(
            session.scalars(select(AuditEntry.action).where(AuditEntry.subject_ref == f"alert:{a.id}"))
        )
        assert {"sms.alert.raised", "sms.alert.acknowledged", "sms.alert.closed"} <= actions
    # cross-site posts are refused
    r = client.post(f"/console/sms/alerts/{ids['alert']}/close", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert client.post("/console/sms/alerts/999999/ack").status_code == 404
    r = client.post("/console/sms/alerts-evaluate")
    assert r.status_code == 303 and "evaluated=" in r.headers["location"]


@pytest.mark.obligation("O24-13.3")
def test_roles(client: TestClient) -> None:
    ids = seed_sms()
    _login(client, "auditor")  # sms.read, not sms.manage
    assert client.get("/console/sms").status_code == 200
    r = client.get("/console/sms/alerts")
    assert r.status_code == 200 and "/ack" not in r.text
    r = client.post(f"/console/sms/alerts/{ids['alert']}/ack")
    assert r.status_code == 403 and "O24-13.3" in r.text
    anon = TestClient(create_app(), follow_redirects=False)
    assert anon.get("/console/sms/messages").status_code == 303


@pytest.mark.slow
def test_pages_stay_fast_with_100k_records(client: TestClient, db_engine) -> None:  # type: ignore[no-untyped-def]
    from piguard.messaging.records import service as records

    seed_sms()
    now = utcnow()
    with db.unit_of_work() as session:
        cps = [registry.get_content_provider(session, c).id for c in ("youpin", "civic")]
    combos = [
        ("allow", ["sender_registered", "message_kind"], ["O31-10"]),
        ("refuse", ["consent_missing", "sender_registered", "message_kind"], ["O31-18.1", "O31-10"]),
        ("refuse", ["prohibited_content", "sender_registered"], ["O31-16", "CSL-47"]),
        ("hold", ["quiet_hours", "sender_registered"], ["O31-22"]),
    ]
    enc = "v1:AAAA"  # the pages never decrypt; a placeholder keeps the insert fast
    rows = []
    for i in range(100_000):
        outcome, codes, obls = combos[i % 7 % 4]
        rows.append(
            {
                "ref": f"bulk{i:028d}",
                "at": now - timedelta(seconds=(i * 26) % (30 * 86400)),
                "direction": "out",
                "channel": "sms",
                "sender": "10690002",
                "recipient_hash": f"{i:032x}",
                "recipient_masked": "+86139****0000",
                "recipient_enc": enc,
                "content": NOTICE,
                "kind": "notification",
                "content_provider_id": cps[i % 2],
                "outcome": outcome,
                "reason_codes": codes,
                "obligations": obls,
                "status": "sent",
            }
        )
    with db.unit_of_work() as session:
        for k in range(0, len(rows), 10_000):
            records.write_records(session, rows[k : k + 10_000])
    _login(client, DEMO_USERNAME)
    for url in (
        "/console/sms?range=30d",
        "/console/sms?range=24h",
        "/console/sms/messages?reason=consent_missing",
        "/console/sms/blocked",
        "/console/sms/messages?page=40",
    ):
        r = client.get(url)
        assert r.status_code == 200, url
    with db.unit_of_work() as session:
        monitor.evaluate_alerts(session)


@pytest.mark.obligation("O31-10", "O31-11")
def test_the_links_page_shows_each_carriers_link_state_and_queue(client: TestClient) -> None:
    from piguard.messaging.routing import service as routing

    seed_sms()
    now = utcnow()
    with db.unit_of_work() as session:
        routing.report_link(
            session, name="cmcc", carriers=["china_mobile"], protocol="smpp", address="10.0.0.1:2775",
            bound=True, sent_total=1234, rate_per_s=56.7, now=now, window=16, max_rate=200,
        )  # fmt: skip
        routing.report_link(
            session, name="ctcc", carriers=["china_telecom", "other"], protocol="smpp", address="10.0.0.3:2775",
            bound=False, sent_total=9, rate_per_s=0.0, now=now - timedelta(minutes=5), window=10, max_rate=0,
        )  # fmt: skip
    _login(client, DEMO_USERNAME)
    r = client.get("/console/sms/links")
    assert r.status_code == 200
    assert "cmcc" in r.text and "中国移动" in r.text and "56.7" in r.text and 'data-state="bound"' in r.text
    # a link that stopped reporting is said to be so, not shown as down or bound
    assert 'data-state="not_reporting"' in r.text
    # the queued messages to China Mobile numbers (139…) are counted on cmcc's row
    with db.unit_of_work() as session:
        queued = routing.queue_by_route(session)["china_mobile"]["queued"]
    row = re.search(r"<code>cmcc</code>.*?</tr>", r.text, re.S)
    assert queued >= 30 and row is not None and f"<td>{queued}</td>" in row.group(0)
    # the window and max_rate each link runs with (0: no limit)
    assert 'data-window="16"' in row.group(0) and 'data-max-rate="200"' in row.group(0)
    ctcc = re.search(r"<code>ctcc</code>.*?</tr>", r.text, re.S)
    assert ctcc is not None and 'data-max-rate="0">不限<' in ctcc.group(0)
    _no_full_numbers(r.text)
    r = client.get("/console/sms/links", params={"lang": "en"})
    assert "Carrier links" in r.text and "China Mobile" in r.text and "Max rate (msg/s)" in r.text
    # the same over the API
    api = client.get("/api/sms/links")
    assert api.status_code == 200
    by_link = {x["link"]: x for x in api.json()["links"] if x["link"]}
    assert (by_link["cmcc"]["window"], by_link["cmcc"]["max_rate"], by_link["cmcc"]["state"]) == (
        16,
        200,
        "bound",
    )
    assert (by_link["ctcc"]["window"], by_link["ctcc"]["max_rate"]) == (10, 0)
