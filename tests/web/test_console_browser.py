"""The console in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
log in, open an obligation, search the audit log. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from piguard.app import create_app
from piguard.core import db
from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo

CHROMIUM = os.environ.get("PIGUARD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
        reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def live_server(db_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("console server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def page(live_server: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(base_url=live_server, locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        yield pg
        context.close()
        browser.close()


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

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-audit-{db_engine.dialect.name}.png"), full_page=True)
    assert (ARTIFACTS / f"console-audit-{db_engine.dialect.name}.png").stat().st_size > 10_000
