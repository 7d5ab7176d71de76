"""Commercial e-mail's unsubscribe page in a real headless Chromium at a phone's width: the user
opens the link from the mail (nothing changes yet), presses 退订, and the consent has ended
(NPC-7, NPC-8, O31-20). Screenshot in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from piguard.core import db
from piguard.core.config import reset_settings
from piguard.core.db import utcnow
from piguard.demo import load_demo
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import Consent
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions import consent

from .browser import requires_chromium, screenshot_path, serving

pytestmark = [pytest.mark.browser, pytest.mark.obligation("NPC-7", "NPC-8", "O31-20"), requires_chromium]

MAIL_FROM = "news@youpin.example"
RECIPIENT = "wang.fang@example.com"
MAIL = "优品商城 会员专享：全场春装5折起，满299减50。如不想再收到此类邮件，回复TD退订。"


def _active(session) -> int:  # type: ignore[no-untyped-def]
    return len(
        session.scalars(select(Consent).where(Consent.channel == "email", Consent.status == "active")).all()
    )


@pytest.fixture()
def link(db_engine, monkeypatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
        yp = registry.get_content_provider(session, "youpin")
        registry.create_port(
            session, channel="email", code=MAIL_FROM, port_type="commercial", content_provider="youpin"
        )
        consent.record_consent(
            session,
            channel="email",
            recipient=RECIPIENT,
            content_provider_id=yp.id,
            message_type="promotions",
            max_messages=3,
            period_unit="week",
            valid_until=utcnow() + timedelta(days=60),
            evidence={"channel": "web", "text_shown": "同意接收优品商城促销邮件，每周最多3封"},
        )
    with serving() as base_url:
        monkeypatch.setenv("PIGUARD_PUBLIC_URL", base_url)
        reset_settings()
        with db.unit_of_work() as session:
            [r] = submit(
                session, [GatewayRequest("email", MAIL_FROM, RECIPIENT, MAIL, message_type="promotions")]
            )
        assert r.outcome == "allow", r.to_dict()
        assert r.mail_headers is not None
        url = r.mail_headers["List-Unsubscribe"][1:-1]
        assert url.startswith(base_url + "/unsubscribe/")
        yield url
    monkeypatch.delenv("PIGUARD_PUBLIC_URL")
    reset_settings()


def test_the_user_unsubscribes_from_the_link_in_a_mail(link: str, open_page) -> None:  # type: ignore[no-untyped-def]
    parts = urlsplit(link)
    page = open_page(f"{parts.scheme}://{parts.netloc}", purpose=None, viewport={"width": 375, "height": 700})
    page.goto(parts.path)
    assert page.locator("#unsub-state").get_attribute("data-state") == "ask"
    assert page.locator("#unsub-sender").text_content() == "优品商城"
    with db.unit_of_work() as session:
        assert _active(session) == 1, "opening the link changes nothing"
    page.click("#unsub-button")
    page.wait_for_selector('#unsub-state[data-state="done"]')
    assert "已退订" in (page.locator("#unsub-state").text_content() or "")
    page.screenshot(path=str(screenshot_path("unsubscribe-done.png")), full_page=True)
    with db.unit_of_work() as session:
        assert _active(session) == 0
    page.goto(parts.path + "?lang=en")
    assert page.locator("#unsub-button").count() == 1  # the page still offers it (a GET reads nothing)
    page.click("#unsub-button")
    page.wait_for_selector('#unsub-state[data-state="already"]')
    assert "already unsubscribed" in (page.locator("#unsub-state").text_content() or "")
