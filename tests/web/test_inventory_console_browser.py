"""The inventory console in a real headless Chromium: log in, edit the inventory, publish a
version, open the public rules page (no login) and see the diff to the last version (O24-8, O24-5).
Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from piguard.core import db
from piguard.identity import service as identity
from piguard.inventory.demo import load_demo_inventory

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [pytest.mark.browser, pytest.mark.obligation("O24-8", "O24-5"), requires_chromium]
USER, PASSWORD = "officer", "inventory-browser-2026"


@pytest.fixture()
def base_url(db_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        identity.ensure_staff(session, USER, PASSWORD, ["compliance_officer"], "Officer")
        load_demo_inventory(session)  # versions 1 and 2
    with serving() as url:
        yield url


def test_edit_publish_and_read_the_public_rules(base_url: str, open_page, db_engine) -> None:  # type: ignore[no-untyped-def]
    backend = db_engine.dialect.name
    page = open_page(base_url, viewport={"width": 1360, "height": 900})
    page.goto("/console/inventory")
    assert "/login" in page.url
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/inventory$"))
    assert "示例网络科技有限公司" in page.locator("#inv-operator").inner_text()
    assert page.locator("#inv-check-ok").count() == 1

    # A typo first: the page names the line and the field, and nothing is saved.
    original = page.locator("#inv-yaml").input_value()
    page.fill("#inv-yaml", original.replace("- ip_address", "- ip_addr", 1))
    page.click("#inv-save")
    errors = page.locator("#inv-errors").inner_text()
    assert "ip_addr" in errors and "inventory.yaml, line" in errors and "categories[0]" in errors

    # The real edit: login IP addresses are kept a year instead of six months; a new third party
    # receives complaint contacts (a material change for complaint handling).
    edited = original.replace("retention: P6M", "retention: P1Y", 1)
    edited = edited.replace(
        "third_parties:\n",
        "third_parties:\n- id: callcentre\n  name: 示例呼叫中心有限公司\n  location: in_china\n"
        "  purpose: 代为回复投诉\n  purposes:\n  - complaint_handling\n",
        1,
    )
    edited = re.sub(
        r"(- column: contact_phone\n(?:\s+.*\n)*?\s+retention: P3Y\n)",
        r"\1      third_parties:\n      - callcentre\n",
        edited,
        count=1,
    )
    assert "- callcentre" in edited
    page.fill("#inv-yaml", edited)
    page.click("#inv-save")
    page.wait_for_selector("#inv-saved")
    assert "callcentre" in page.locator("#inv-fields").inner_text()

    # Publish version 3.
    page.fill("#inv-effective", "2026-12-01")
    page.click("#inv-publish")
    page.wait_for_selector("#inv-published")
    versions = page.locator("#inv-versions").inner_text()
    assert "2026-12-01" in versions and "complaint_handling" in versions and "new_third_party" in versions
    page.screenshot(path=str(screenshot_path(f"inventory-versions-{backend}.png")), full_page=True)

    # Lint the version just published, from the inventory page: every item present, in Chinese;
    # then in English through the form (htmx swaps the result in place).
    page.goto("/console/inventory")
    page.click("#inv-lint-link")
    page.wait_for_selector("#lint-items")
    assert "version=3" in page.url
    assert page.locator("#lint-items tbody tr").count() == 16
    assert page.locator('#lint-items tr[data-present="false"]').count() == 0, page.locator(
        "#lint-items"
    ).inner_text()
    assert "16 / 16" in page.locator("#lint-summary").inner_text()
    sharing = page.locator("#lint-item-third_party_sharing")
    assert any("有限公司" in t for t in sharing.locator("mark").all_inner_texts())  # a named recipient
    href = sharing.locator("a.id").first.get_attribute("href")
    assert href == "/console/rules/CSL-42.1"
    assert page.locator("#lint-marked mark").count() > 0
    page.screenshot(path=str(screenshot_path(f"inventory-lint-{backend}.png")), full_page=True)
    page.select_option("#lint-version", "3")
    page.select_option("#lint-rules-lang", "en")
    page.click("#lint-version-run")
    page.wait_for_selector(
        "#lint-source:has-text('Rules version 3 (en)'), #lint-source:has-text('规则第 3 版（en）')"
    )
    assert page.locator('#lint-items tr[data-present="true"]').count() == 16
    assert "/console/inventory/lint" in page.url  # htmx: no navigation away
    page.click("#lint-item-security_measures a.id >> text=CSL-42.2")
    page.wait_for_url(re.compile(r"/console/rules/CSL-42\.2$"))

    # The public page, in a fresh context with no login: the current version and its diff to v2.
    public = open_page(base_url, viewport={"width": 1360, "height": 900})
    public.goto("/rules/privacy")
    assert "/login" not in public.url
    text = public.locator("#rules-text").inner_text()
    assert "第 3 版" in text and "示例呼叫中心有限公司" in text and "1年" in text
    assert "complaint_handling" in public.locator(".rules-page p.muted").first.inner_text()
    diff = public.locator("#rules-diff")
    assert "v2" in (public.locator("#rules-diff-title").inner_text()) and "v3" in diff.inner_text()
    assert diff.locator(".diff_add, .diff_chg").count() > 0
    assert "示例呼叫中心有限公司" in diff.inner_text()
    public.screenshot(path=str(screenshot_path(f"inventory-public-rules-{backend}.png")), full_page=True)
    # History: version 1 opens, in English too.
    public.goto("/rules/privacy/versions/1?lang=en")
    assert "Version 1" in public.locator("#rules-text").inner_text()
