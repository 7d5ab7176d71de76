"""The second-person flows of access reviews (O24-13.5) and storage media (O24-13.4) in a real
headless Chromium. An officer opens a campaign. The crm owner revokes an operator's only role from
the queue, and the operator's open console session ends at once. One officer proposes a medium's
destruction and cannot witness it herself; a second officer, in another browser context, witnesses
it and the certificate reference shows. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from piguard.audit.service import Actor
from piguard.core import db
from piguard.identity import service as identity
from piguard.inventory.demo import load_demo_inventory
from piguard.oversight import responsibilities

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.obligation("O24-13.5", "O24-13.4"),
    requires_chromium,
]
PASSWORD = "reviews-browser-2026-pw"
ACTOR = Actor.system("test")


@pytest.fixture()
def base_url(db_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo_inventory(session)
        identity.ensure_staff(session, "lena", PASSWORD, ["compliance_officer"], "Lena")
        identity.ensure_staff(session, "wang", PASSWORD, ["compliance_officer"], "Wang")
        identity.ensure_staff(session, "otto", PASSWORD, ["operator"], "Otto")
    with db.unit_of_work() as session:
        responsibilities.assign(session, kind="pi_protection", username="lena", actor=ACTOR)
        responsibilities.assign(session, kind="system", scope="crm", username="wang", actor=ACTOR)
    with serving() as url:
        yield url


def _login(page: Any, username: str, target: str) -> None:
    page.goto(target)
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def test_review_revocation_and_witnessed_destruction(base_url: str, open_page, db_engine) -> None:  # type: ignore[no-untyped-def]
    backend = db_engine.dialect.name
    otto = open_page(base_url)
    _login(otto, "otto", "/console/access-reviews")
    assert "权限复核" in otto.locator("nav.side").inner_text()

    lena = open_page(base_url, viewport={"width": 1360, "height": 1000})
    _login(lena, "lena", "/console/access-reviews")
    lena.fill("#campaign-form input[name=title]", "浏览器复核")
    lena.click("#campaign-form button[type=submit]")
    lena.wait_for_selector("#campaigns tr.campaign[data-state='open']")

    # the crm owner sees otto's crm access in the queue (never his own) and revokes it
    wang = open_page(base_url, viewport={"width": 1360, "height": 1000})
    _login(wang, "wang", "/console/access-reviews")
    assert wang.locator("#review-queue tr.review-item[data-username='wang']").count() == 0
    row = wang.locator("#review-queue tr.review-item[data-username='otto'][data-system='crm']")
    row.locator("button[value=revoke]").click()  # without a reason: refused, nothing changes
    assert "validation_error" in wang.locator(".error").get_attribute("data-code")
    row = wang.locator("#review-queue tr.review-item[data-username='otto'][data-system='crm']")
    row.locator("input[name=note]").fill("调岗，不再需要客服权限")
    row.locator("button[value=revoke]").click()
    assert wang.locator("#decided").get_attribute("data-outcome") == "refuse"
    assert "O24-13.5" in wang.locator("#decided").inner_text()
    wang.screenshot(path=str(screenshot_path(f"access-review-revoked-{backend}.png")), full_page=True)

    # at once: otto's only role is gone, his session ended; the next page asks him to log in
    otto.goto("/console/access-reviews")
    assert "/login" in otto.url

    # media: lena registers and proposes a destruction; she cannot witness it herself
    lena.goto("/console/media")
    lena.fill("#medium-form input[name=label]", "DISK-9")
    lena.select_option("#medium-form select[name=kind]", "disk")
    lena.fill("#medium-form input[name=holder]", "lena")
    lena.fill("#medium-form input[name=location]", "机房 B")
    lena.fill("#medium-form input[name=categories]", "phone_mobile")
    lena.click("#medium-form button[type=submit]")
    medium = lena.locator("#media tr.medium[data-label='DISK-9']")
    assert medium.get_attribute("data-status") == "in_custody"
    medium.locator("form.destroy select[name=method]").select_option("degauss")
    medium.locator("form.destroy button").click()
    medium = lena.locator("#media tr.medium[data-label='DISK-9']")
    assert medium.get_attribute("data-status") == "destruction_pending"
    medium.locator("form.witness button").click()
    assert lena.locator(".error").get_attribute("data-code") == "medium_self_witness"
    assert "O24-13.4" in lena.locator(".error").inner_text()
    assert (
        lena.locator("#media tr.medium[data-label='DISK-9']").get_attribute("data-status")
        == "destruction_pending"
    )

    # the second officer witnesses it: destroyed, with the certificate reference
    wang.goto("/console/media")
    wang.locator("#media tr.medium[data-label='DISK-9'] form.witness button").click()
    medium = wang.locator("#media tr.medium[data-label='DISK-9']")
    assert medium.get_attribute("data-status") == "destroyed"
    assert medium.locator("code.certificate").inner_text().startswith("MD-")
    assert "staff:lena / staff:wang" in medium.inner_text()
    wang.screenshot(path=str(screenshot_path(f"media-destroyed-{backend}.png")), full_page=True)
