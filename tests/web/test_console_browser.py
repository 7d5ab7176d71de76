"""The console in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
log in, open an obligation, search the audit log. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import re

import pytest

from piguard.core import db
from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [pytest.mark.browser, requires_chromium]


@pytest.fixture()
def page(db_engine, open_page):  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
    with serving() as base_url:
        yield open_page(base_url)


@pytest.mark.obligation("O24-13.6", "O24-8")
def test_login_open_obligation_and_search_audit(page, db_engine) -> None:  # type: ignore[no-untyped-def]
    # Unauthenticated: the console sends us to the login page.
    page.goto("/console/rules/O31-18.2")
    assert "/login" in page.url

    # A wrong password is refused with a message, not a trace.
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", "wrong-password-123")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().strip()

    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    # Back where we were going: the obligation with its article text and parameters.
    page.wait_for_url(re.compile(r"^http://[^/]+/console/rules/O31-18\.2$"))
    assert "O31-18.2" in page.locator("h1").inner_text()
    assert "frequency" in page.locator("#article-text").inner_text().lower()

    # The obligations list filters as you type (htmx).
    page.goto("/console/rules")
    page.fill("#rules-q", "O31-20")
    page.wait_for_function("document.querySelectorAll('#rules-rows tr').length === 1")
    assert "O31-20" in page.locator("#rules-rows").inner_text()

    # English switch.
    page.click("#lang-switch")
    assert "Obligations" in page.locator("h1").inner_text()

    # Audit search: the failed login above is in the log, found by action prefix, with its ids.
    page.goto("/console/audit")
    page.fill("input[name=action]", "identity.login")
    page.click("#audit-search button[type=submit]")
    page.wait_for_function("document.querySelector('#audit-rows').innerText.includes('identity.login')")
    rows = page.locator("#audit-rows tr.audit-entry")
    assert rows.count() >= 2  # the failure and the success
    text = page.locator("#audit-rows").inner_text()
    assert "O24-13.6" in text
    assert DEMO_PASSWORD not in page.content()

    shot = screenshot_path(f"console-audit-{db_engine.dialect.name}.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
