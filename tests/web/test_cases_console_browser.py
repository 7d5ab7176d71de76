"""The case console in a real headless Chromium: staff open the complaints queue (ordered by due
date, overdue flagged), open the SMS complaint, assign it, answer it with the htmx form; the
timeline shows the reply and the audit trail its entry (O24-12, O31-27). Screenshots in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from piguard.cases.models import Case
from piguard.core import db
from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [pytest.mark.browser, pytest.mark.obligation("O24-12", "O31-27"), requires_chromium]


@pytest.fixture()
def live_server(db_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
    with serving() as base_url:
        yield base_url


def test_staff_queue_case_reply(live_server: str, open_page, db_engine) -> None:  # type: ignore[no-untyped-def]
    page = open_page(live_server, viewport={"width": 1360, "height": 900})
    page.goto("/console/cases?tab=complaints")
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/cases\?tab=complaints$"))
    rows = page.locator("tr.case-row")
    assert rows.count() >= 4
    dues = [rows.nth(i).get_attribute("data-due") for i in range(rows.count())]
    assert dues == sorted(dues)
    assert rows.first.get_attribute("data-overdue") == "true"
    assert page.locator("tr.case-row .flag-overdue").count() >= 1
    page.screenshot(path=str(screenshot_path("cases-queue.png")), full_page=True)
    page.locator('tr.case-row[data-kind="sms_complaint"] a.case-link').click()
    page.wait_for_selector("#case-timeline")
    case_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    page.fill("#form-assign input[name=owner]", "客服一组")
    page.click("#form-assign button[type=submit]")
    page.wait_for_selector("#case-owner:has-text('客服一组')")
    page.fill("#form-reply textarea[name=text]", "您好，已为您退订并核查发送方，今后不会再收到该类短信。")
    page.click("#form-reply button[type=submit]")
    page.wait_for_selector("#case-reply")
    assert page.locator("#case-status").inner_text() == "answered"
    assert page.locator('tr.case-event[data-kind="reply"]').count() == 1
    assert page.locator("#case-audit code:has-text('case.reply')").count() == 1
    assert "13800138000" not in page.content()
    page.screenshot(path=str(screenshot_path("case-page.png")), full_page=True)
    with db.unit_of_work() as session:
        case = session.scalar(select(Case).where(Case.id == case_id))
        assert case is not None and case.status == "answered" and case.owner == "客服一组"
        assert case.reply_text and case.reply_text.startswith("您好")
