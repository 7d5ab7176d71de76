"""The incident page in a real headless Chromium: log in, open the demo incident, see it flagged
serious with its reasons, add a remedial action, mark it done as containing the incident, generate
the report and see its preview and the notices sent (O24-14.1, CSL-42.2, NPC-4). Screenshot in
test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from piguard.cases import incidents
from piguard.core import db
from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [pytest.mark.browser, pytest.mark.obligation("O24-14.1", "CSL-42.2", "NPC-4"), requires_chromium]


@pytest.fixture()
def live_server(db_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
    with serving() as base_url:
        yield base_url


def test_incident_page_actions_report_and_notices(live_server: str, open_page, db_engine) -> None:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        [(case, _inc)] = incidents.queue(session)
        key = case.id
    page = open_page(live_server, viewport={"width": 1360, "height": 900})
    page.goto("/console/incidents")
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/incidents$"))
    page.click(f'a[href="/console/incidents/{key}"]')
    page.wait_for_selector("#incident-severity")
    assert "严重：应立即报告" in page.inner_text("#incident-severity")
    assert page.locator("#incident-notices tbody tr").count() == 3
    assert "13800138001" not in page.content()
    form = page.locator("#incident-action-form")
    form.locator("input[name=title]").fill("封禁泄露源账号")
    form.locator("input[name=owner]").fill("安全部")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#incident-actions >> text=封禁泄露源账号")
    row = page.locator("#incident-actions tbody tr", has_text="封禁泄露源账号")
    row.locator("input[name=contains]").check()
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#incident-actions tr:has-text('封禁泄露源账号') .badge.ok")
    page.click("#incident-report-generate")
    page.wait_for_selector("#incident-report")
    report = page.inner_text("#incident-report")
    assert "封禁泄露源账号" in report and "须立即报告" in report
    page.screenshot(path=str(screenshot_path("incident-console.png")), full_page=True)
    with db.unit_of_work() as session:
        c, inc = incidents.get(session, key)
        assert inc.report_zh and "封禁泄露源账号" in inc.report_zh
        assert any(
            a.done_at is not None and a.title == "封禁泄露源账号" for a in incidents.actions(session, c)
        )
