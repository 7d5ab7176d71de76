"""The SMS console in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
log in, read the overview charts, search messages (numbers masked), open a blocked message's
reasons, acknowledge an alert (htmx). Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from piguard.audit.models import AuditEntry
from piguard.core import db
from piguard.core.db import utcnow
from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.monitor import service as monitor
from piguard.messaging.monitor.models import MonitorAlert
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions.inbound import receive_reply

from .browser import requires_chromium, screenshot_path, serving

#: A mainland mobile number standing alone (not inside a hex message reference or another token).
FULL_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")
NUMBERS = [f"1390000{i:04d}" for i in range(80)]
AD = "【优品商城】会员专享：全场春装5折起，满299减50，详询4008123456 回T退订"
NOTICE = "【优品商城】您的订单已发货，快递单号SF1234567，请注意查收。"
SPAM = "【优品商城】澳门葡京赌场上线，百家乐在线投注，首充送88元 回T退订"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.obligation("O31-22", "O31-23", "O31-11"),
    requires_chromium,
]


def _seed() -> int:
    """The demo data set plus a few days of traffic through the gateway: notices, unconsented ads
    (refused, O31-18.1), prohibited content (O31-16), opt-outs, a complaint, and one evaluation that
    raises a refusal-rate alert. Returns the alert id."""
    now = utcnow()
    with db.unit_of_work() as session:
        load_demo(session)
        yp = registry.get_content_provider(session, "youpin")
        for day in range(6, -1, -1):
            at = now - timedelta(days=day, minutes=20)
            k = 10 + 3 * (6 - day)
            reqs = [GatewayRequest("sms", "10690002", n, NOTICE) for n in NUMBERS[: 2 * k]]
            reqs += [
                GatewayRequest("sms", "1069000107", n, AD, message_type="promotions")
                for n in NUMBERS[40 : 40 + k]
            ]
            reqs += [
                GatewayRequest("sms", "1069000107", n, SPAM, message_type="promotions")
                for n in NUMBERS[70 : 70 + day]
            ]
            submit(session, reqs, now=at)
        for n in NUMBERS[:4]:
            receive_reply(
                session,
                channel="sms",
                sender=n,
                to="10690002",
                text="退订",
                received_at=now - timedelta(minutes=10),
            )
        monitor.record_complaint(
            session, yp.id, at=now - timedelta(minutes=9), source="12321", summary="未经同意发送营销短信"
        )
        res = monitor.evaluate_alerts(
            session, now, settings=monitor.AlertSettings(refusal_rate=0.3, min_volume=20)
        )
        return next(a.id for a in res.raised if a.kind == "refusal_rate")


@pytest.fixture()
def live_server(db_engine) -> Iterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
    alert_id = _seed()
    with serving() as base_url:
        yield base_url, alert_id


@pytest.fixture()
def page(live_server: tuple[str, int], open_page):  # type: ignore[no-untyped-def]
    return open_page(live_server[0], viewport={"width": 1360, "height": 900})


def _no_full_numbers(html: str) -> None:
    assert FULL_NUMBER.findall("联系13912340040。")  # the check itself would see one
    found = FULL_NUMBER.findall(html)
    assert not found, found[:3]
    assert not [n for n in NUMBERS if n in html]


def test_sms_console_overview_search_reasons_and_alert(page, live_server, db_engine) -> None:  # type: ignore[no-untyped-def]
    _base, alert_id = live_server
    backend = db_engine.dialect.name

    page.goto("/console/sms")
    assert "/login" in page.url
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^http://[^/]+/console/sms$"))  # not /login?next=/console/sms

    # Overview: the stacked decisions chart has bars, day labels, a legend naming the reasons.
    chart = page.locator("svg#chart-decisions")
    assert chart.get_attribute("role") == "img"
    assert chart.locator("rect.bar").count() >= 7
    assert chart.locator("text.x-label").count() >= 7
    legend = chart.locator("g.legend-item").all_text_contents()
    assert "放行" in legend and "未经用户同意" in legend and "违禁内容" in legend
    assert (chart.locator("title").first.text_content() or "").startswith("发送决定")
    refused = page.locator("svg#chart-top-refused")
    assert refused.locator("rect.bar").count() >= 1 and "优品商城" in (refused.text_content() or "")
    assert page.locator("svg#chart-optout-rate g.threshold").count() == 1
    assert int(page.locator("#sms-cards .card .n.bad").first.inner_text()) > 0
    page.screenshot(path=str(screenshot_path(f"sms-console-overview-{backend}.png")), full_page=True)
    _no_full_numbers(page.content())

    # Message search (htmx): refused messages of youpin, numbers masked only.
    page.click("nav.sms-tabs >> text=短信查询")
    page.select_option("#sms-search select[name=outcome]", "refuse")
    page.select_option("#sms-search select[name=cp]", "youpin")
    page.click("#sms-search button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#sms-rows tr.sms-record').length > 0")
    assert "+86139****" in page.locator("#sms-rows").inner_text()
    _no_full_numbers(page.content())

    # A blocked message's reasons, each with the obligation it rests on.
    page.goto("/console/sms/blocked?reason=prohibited_content")
    page.locator("#sms-rows tr.sms-record a").first.click()
    page.wait_for_selector("#sms-reasons")
    reasons = page.locator("#sms-reasons").inner_text()
    assert "违禁内容" in reasons and "O31-16" in reasons
    _no_full_numbers(page.content())
    page.locator("#sms-reasons a.id", has_text="O31-16").first.click()
    page.wait_for_url(re.compile(r"^http://[^/]+/console/rules/O31-16$"))

    # Alerts: acknowledge with htmx; the row updates in place and the acknowledgement is audited.
    page.goto("/console/sms/alerts")
    row = page.locator(f"#alert-{alert_id}")
    assert "拒绝率" in row.inner_text() and "O31-18.1" in row.inner_text()
    row.locator("button.ack").click()
    page.wait_for_function(f"document.querySelector('#alert-{alert_id}').classList.contains('acknowledged')")
    assert page.locator(f"#alert-{alert_id} button.ack").count() == 0
    page.screenshot(path=str(screenshot_path(f"sms-console-alerts-{backend}.png")), full_page=True)
    with db.unit_of_work() as session:
        a = session.get(MonitorAlert, alert_id)
        assert a is not None and a.state == "acknowledged" and a.acknowledged_by
        acks = session.scalars(select(AuditEntry).where(AuditEntry.action == "sms.alert.acknowledged")).all()
        assert [e.subject_ref for e in acks] == [f"alert:{alert_id}"]

    # English.
    page.goto("/console/sms?lang=en")
    assert "Decisions by reason" in (page.locator("svg#chart-decisions title").first.text_content() or "")
    assert screenshot_path(f"sms-console-overview-{backend}.png").stat().st_size > 10_000
