"""The maker-checker flow of bulk operations in a real headless Chromium (O24-13.3): one officer
asks for an export (pasted CSV), the discovery summary shows on the request page, the same officer
cannot approve it, a second officer approves it from the queue, the watermarked package is
downloaded and the download listed. Two staff users, two browser contexts. Screenshots are kept in
test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from piguard.core import db
from piguard.discovery.scanners import to_csv_line
from piguard.discovery.synth import Synth
from piguard.identity import service as identity

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [pytest.mark.browser, pytest.mark.obligation("O24-13.3"), requires_chromium]
MAKER, CHECKER, PASSWORD = "maker", "checker", "bulk-browser-2026-pw"


def export_csv(n: int) -> str:
    """Made-up customers (discovery's seeded generator)."""
    s = Synth(11)
    rows = [["name", "mobile", "id_number"]] + [[s.name(), s.mobile_digits(), s.id_card()] for _ in range(n)]
    return "".join(to_csv_line(r) for r in rows)


@pytest.fixture()
def base_url(db_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        identity.ensure_staff(session, MAKER, PASSWORD, ["compliance_officer"], "Maker")
        identity.ensure_staff(session, CHECKER, PASSWORD, ["compliance_officer"], "Checker")
    with serving() as url:
        yield url


def _paste(page: Any, text: str) -> None:
    """Paste the CSV into the form (one value set: typing 600 lines key by key is slow on a busy box)."""
    page.locator("#bulk-data").evaluate("(el, v) => { el.value = v; }", text)


def _login(page: Any, username: str, target: str) -> None:
    page.goto(target)
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def test_maker_checker_in_the_browser(base_url: str, open_page, db_engine) -> None:  # type: ignore[no-untyped-def]
    backend = db_engine.dialect.name
    maker = open_page(base_url, viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    _login(maker, MAKER, "/console/bulk")
    assert "批量" in maker.locator("nav.side").inner_text()
    assert "O24-13.3" in maker.locator("#bulk-intro").inner_text()

    # An unknown purpose first is impossible from the list; a missing justification is a clear error.
    maker.select_option("#bulk-kind", "export")
    maker.select_option("#bulk-purpose", "complaint_handling")
    maker.fill("#bulk-system", "crm")
    maker.fill("#bulk-dataset", "complaints_2026")
    maker.fill("#bulk-recipients", "示例审计事务所")
    _paste(maker, export_csv(600))
    maker.click("#bulk-submit")
    assert "justification" in maker.locator("#bulk-errors").inner_text()

    maker.fill("#bulk-justification", "投诉统计报送")
    _paste(maker, export_csv(600))
    maker.click("#bulk-submit")
    maker.wait_for_selector("#bulk-created")
    ref = maker.locator("#bulk-ref").inner_text().strip()
    assert maker.locator("#bulk-status").inner_text() == "pending"
    summary = maker.locator("#bulk-summary").inner_text()
    assert "身份证号" in summary and "600" in summary and "手机号码" in summary
    reasons = maker.locator("#bulk-reasons").inner_text()
    assert "O24-13.3" in reasons and "O24-9.3" in reasons

    # The maker presses approve on their own request: refused, named, nothing changes.
    maker.click("#bulk-approve")
    errors = maker.locator("#bulk-errors").inner_text()
    assert "bulk_self_approval" in errors and "O24-13.3" in errors
    assert maker.locator("#bulk-status").inner_text() == "pending"
    maker.screenshot(path=str(screenshot_path(f"bulk-self-approval-{backend}.png")), full_page=True)

    # The checker, in another browser context, approves from the queue.
    checker = open_page(base_url, viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    _login(checker, CHECKER, "/console/bulk")
    row = checker.locator(f"#bulk-queue tr[data-ref='{ref}']")
    assert row.get_attribute("data-status") == "pending"
    row.locator("a.bulk-link").click()
    checker.wait_for_selector("#bulk-summary")
    assert "staff:maker" in checker.locator("#bulk-requested-by").inner_text()
    checker.fill("#bulk-note", "同意，限本次报送")
    checker.click("#bulk-approve")
    checker.wait_for_selector("#bulk-download")
    assert checker.locator("#bulk-status").inner_text() == "approved"
    assert "staff:checker" in checker.locator("#bulk-decided-by").inner_text()
    checker.screenshot(path=str(screenshot_path(f"bulk-approved-{backend}.png")), full_page=True)

    # The maker downloads the watermarked package for the named recipient; the download is listed.
    maker.reload()
    with maker.expect_download() as info:
        maker.click("a.bulk-download-link")
    download = info.value
    assert download.suggested_filename == f"piguard-export-{ref}-r1.csv"
    with open(download.path(), encoding="utf-8") as fh:
        first = fh.readline()
    assert first.startswith(f"# piguard export {ref}") and "示例审计事务所" in first
    maker.reload()
    assert "staff:maker" in maker.locator("#bulk-downloads").inner_text()

    # The decided request cannot be decided again (the buttons are gone; the queue shows approved).
    assert maker.locator("#bulk-approve").count() == 0
    checker.goto("/console/bulk")
    assert checker.locator(f"#bulk-queue tr[data-ref='{ref}']").get_attribute("data-status") == "approved"
