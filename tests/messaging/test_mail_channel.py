"""Commercial e-mail (NPC-7): an SMS centre's link is never handed an e-mail; the one-click
unsubscribe (NPC-8, O31-20; RFC 8058): every allowed commercial e-mail gets the List-Unsubscribe
headers, and the link ends consent as 退订 does."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.core.config import reset_settings
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import Consent, OutboxMessage, SubscriptionEvent
from piguard.messaging.records import service as records
from piguard.messaging.records.service import LoopbackTransport, OutboundMessage
from piguard.messaging.registry import service as registry

from .gw_setup import AD, COMMERCIAL_PORT, USER, at_noon, build_registry, give_consent

pytestmark = pytest.mark.obligation("NPC-7", "NPC-8", "O31-20")

MAIL_FROM = "news@youpin.example"
RECIPIENT = "Li.Lei@Example.com"
MAIL = "优品商城 会员专享：全场春装5折起，满299减50。如不想再收到此类邮件，回复TD退订。"


@pytest.fixture()
def mail(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("PIGUARD_PUBLIC_URL", "https://piguard.example.cn")
    reset_settings()
    reg = build_registry(session)
    registry.create_port(
        session, channel="email", code=MAIL_FROM, port_type="commercial", content_provider="youpin"
    )
    give_consent(session, reg, recipient=RECIPIENT, channel="email")
    give_consent(session, reg)  # the same provider's SMS consent of another person stays
    session.commit()
    yield TestClient(create_app())
    monkeypatch.delenv("PIGUARD_PUBLIC_URL")
    reset_settings()


def _send(session: Session, text: str = MAIL, channel: str = "email") -> dict:  # type: ignore[type-arg]
    if channel == "email":
        req = GatewayRequest("email", MAIL_FROM, RECIPIENT, text, message_type="promotions")
    else:
        req = GatewayRequest("sms", COMMERCIAL_PORT + "07", USER, AD, message_type="promotions")
    [r] = submit(session, [req], now=at_noon())
    session.commit()
    return r.to_dict()


def _link(result: dict) -> str:  # type: ignore[type-arg]
    headers = result["mail_headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    value = headers["List-Unsubscribe"]
    assert value.startswith("<https://piguard.example.cn/unsubscribe/") and value.endswith(">")
    return urlsplit(value[1:-1]).path


def _active(session: Session, channel: str) -> int:
    session.expire_all()
    return len(
        session.scalars(select(Consent).where(Consent.channel == channel, Consent.status == "active")).all()
    )


def test_an_allowed_commercial_mail_carries_the_one_click_headers_and_nothing_else_does(
    mail: TestClient, session: Session
) -> None:
    allowed = _send(session)
    assert allowed["outcome"] == "allow", allowed
    path = _link(allowed)
    assert "li.lei" not in path.lower() and "example.com" not in path  # the address is not in the link
    assert "mail_headers" not in _send(session, channel="sms")  # SMS: 退订 replies, no headers
    refused = _send(session, text="")  # an input error gets no headers either
    assert "error" in refused and "mail_headers" not in refused


def test_a_get_only_asks_and_a_post_ends_consent_at_once(mail: TestClient, session: Session) -> None:
    path = _link(_send(session))
    page = mail.get(path)
    assert page.status_code == 200 and 'id="unsub-button"' in page.text and 'data-state="ask"' in page.text
    assert _active(session, "email") == 1, "a link scanner's GET must not unsubscribe anyone"

    # what a mail client sends for RFC 8058 one-click
    done = mail.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'data-state="done"' in done.text
    assert _active(session, "email") == 0 and _active(session, "sms") == 1
    again = _send(session)
    assert again["outcome"] == "refuse" and "consent_missing" in [r["code"] for r in again["reasons"]]
    assert "mail_headers" not in again  # a refused mail carries no link

    [event] = session.scalars(
        select(SubscriptionEvent).where(SubscriptionEvent.source == "list_unsubscribe")
    ).all()
    assert (
        event.event == "unsubscribed" and event.channel == "email" and event.relationship_ended_at is not None
    )
    [entry] = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "sms.consent.unsubscribe_link")
    ).all()
    assert entry.obligations and "NPC-7" in entry.obligations
    assert RECIPIENT.lower() not in str(entry.detail).lower() and "li.lei" not in str(entry.detail).lower()

    # a second click is harmless and says so
    twice = mail.post(path)
    assert twice.status_code == 200 and 'data-state="already"' in twice.text


@pytest.mark.parametrize("mangle", [lambda p: p[:-6], lambda p: p + "x", lambda p: "/unsubscribe/abc.def"])
def test_a_cut_or_forged_link_is_refused_and_changes_nothing(
    mail: TestClient, session: Session, mangle
) -> None:  # type: ignore[no-untyped-def]
    path = _link(_send(session))
    for r in (mail.get(mangle(path)), mail.post(mangle(path))):
        assert r.status_code == 404 and 'data-code="unsubscribe_link_invalid"' in r.text
        assert "退订" in r.text
    assert _active(session, "email") == 1


def test_a_link_signed_with_another_key_is_refused(mail: TestClient, session: Session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = _link(_send(session))
    monkeypatch.setenv("PIGUARD_SECRET_KEY", "another-installation-key-0123456789")
    reset_settings()
    assert mail.post(path).status_code == 404
    assert _active(session, "email") == 1


def test_an_sms_centres_transport_is_never_handed_an_email(mail: TestClient, session: Session) -> None:
    """Before, the outbox claim took every channel: an SMPP link submitted the e-mail address as a
    destination number. A transport that does not say what it carries is an SMS centre's."""
    assert _send(session)["outcome"] == "allow"
    assert _send(session, channel="sms")["outcome"] == "allow"

    class SmsCentre:
        name = "smsc"

        def __init__(self) -> None:
            self.sent: list[OutboundMessage] = []

        def send(self, messages):  # type: ignore[no-untyped-def]
            self.sent.extend(messages)
            return [f"smsc-{i}" for i, _ in enumerate(messages)]

    smsc = SmsCentre()
    assert records.drain_outbox_rounds(session, smsc) == 1
    assert [m.channel for m in smsc.sent] == ["sms"]
    session.expire_all()
    waiting = session.scalars(select(OutboxMessage.status).where(OutboxMessage.channel == "email")).all()
    assert waiting == ["queued"], "the e-mail waits for a transport that carries e-mail"
    relay = LoopbackTransport()  # carries both (demo, tests)
    assert records.drain_outbox(session, relay) == 1 and [m.channel for m in relay.sent] == ["email"]
