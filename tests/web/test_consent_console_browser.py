"""The consent console in a real headless Chromium: log in, look a demo user up, see purpose
consents and the SMS subscription together, withdraw marketing with the htmx button, and the use
decision refuses at once (O24-9.1, O31-18.1). Screenshots in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from piguard.consent import engine as consent_engine
from piguard.consent import service
from piguard.core import db
from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [pytest.mark.browser, pytest.mark.obligation("O24-9.1", "O31-18.1"), requires_chromium]


@pytest.fixture()
def live_server(db_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    consent_engine.reset_caches()
    with db.unit_of_work() as session:
        load_demo(session)
    with serving() as base_url:
        yield base_url


def test_withdraw_in_the_console_refuses_the_next_use(live_server: str, open_page, db_engine) -> None:  # type: ignore[no-untyped-def]
    page = open_page(live_server, viewport={"width": 1360, "height": 900})
    page.goto("/console/consent")
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^http://[^/]+/console/consent$"))
    page.fill("#consent-subject", "phone:13800138000")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#consent-entries")
    html = page.content()
    assert "13800138000" not in html.replace('value="phone:13800138000"', "")
    assert page.locator('tr[data-ref^="sms:"]').count() >= 1
    row = page.locator('tr[data-ref="purpose:marketing"]')
    assert row.get_attribute("data-status") == "granted"
    with db.unit_of_work() as session:
        assert service.may(session, None, "phone:13800138000", ["phone_mobile"], "marketing").allowed
    row.locator("button.withdraw").click()
    page.wait_for_selector('tr[data-ref="purpose:marketing"][data-status="withdrawn"]')
    page.screenshot(path=str(screenshot_path("consent-console.png")), full_page=True)
    with db.unit_of_work() as session:
        d = service.may(session, None, "phone:13800138000", ["phone_mobile"], "marketing")
    assert not d.allowed and d.reasons[0].code == "no_consent"


@pytest.mark.obligation("CSL-42.1")
def test_the_sharing_decision_in_the_console(live_server: str, open_page) -> None:  # type: ignore[no-untyped-def]
    """From the consent ledger to the sharing form: a consented provision is allowed with its
    reasons, the same provision to a party the register does not give it to is refused."""
    page = open_page(live_server, viewport={"width": 1360, "height": 900})
    page.goto("/console/consent/share?lang=en")
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#share-register")
    page.fill("#share-subject", "phone:13800138000")
    page.select_option("#share-party", "sms_vendor")
    page.select_option("#share-purpose", "marketing")
    page.check('input[name=categories][value="phone_mobile"]')
    page.click("#share-form button[type=submit]")
    page.wait_for_selector("#share-decision")
    assert page.get_attribute("#share-decision", "data-outcome") == "allow"
    assert page.locator('#share-reasons li[data-code="consent_valid"]').count() == 1
    assert "CSL-42.1" in page.inner_text("#share-reasons")
    page.screenshot(path=str(screenshot_path("consent-share.png")), full_page=True)
    page.fill("#share-subject", "phone:13800138000")
    page.select_option("#share-party", "payment")
    page.click("#share-form button[type=submit]")
    page.wait_for_selector("#share-decision[data-outcome=refuse]")
    assert page.locator('#share-reasons li[data-code="sharing_not_declared"]').count() == 1
