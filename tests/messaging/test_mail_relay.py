"""The e-mail transport against a real SMTP server (aiosmtpd on loopback): allowed e-mail reaches the
relay with its headers (the one-click unsubscribe on commercial mail, NPC-7), a 5xx refusal fails
the message, a 4xx or a relay that is down puts it back in the queue, and SMS stays for the SMS centre."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app as root_cli
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.mail.transport import SmtpTransport, subject_of
from piguard.messaging.models import OutboxMessage
from piguard.messaging.records import service as records
from piguard.messaging.registry import service as registry

from .gw_setup import AD, COMMERCIAL_PORT, USER, at_noon, build_registry, give_consent

pytestmark = pytest.mark.obligation("NPC-7", "O31-11")

MAIL_FROM = "news@youpin.example"
SERVICE_FROM = "service@youpin.example"
MAIL = "优品商城 会员专享：全场春装5折起\n满299减50。如不想再收到此类邮件，回复TD退订。"
NOTICE = "【优品商城】您的订单已发货，快递单号SF1234567，请注意查收。"
OK, REFUSED, LATER = "li.lei@example.com", "refused@example.com", "later@example.com"


class Relay:
    """A mail relay that answers 550 for refused@ and 451 for later@ and keeps what it accepts."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("refused@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def relay() -> Iterator[tuple[Relay, int]]:
    handler, port = Relay(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture()
def queued(session: Session) -> dict[str, str]:
    """Three commercial e-mails (to a good, a refused and a later address), one service e-mail and
    one SMS, all allowed and queued. Returns the record ref by recipient."""
    reg = build_registry(session)
    registry.create_port(
        session, channel="email", code=MAIL_FROM, port_type="commercial", content_provider="youpin"
    )
    registry.create_port(
        session, channel="email", code=SERVICE_FROM, port_type="business_service", content_provider="youpin"
    )
    for to in (OK, REFUSED, LATER):
        give_consent(session, reg, recipient=to, channel="email")
    give_consent(session, reg)
    session.commit()
    reqs = [
        GatewayRequest("email", MAIL_FROM, to, MAIL, message_type="promotions") for to in (OK, REFUSED, LATER)
    ]
    reqs += [
        GatewayRequest("email", SERVICE_FROM, OK, NOTICE),
        GatewayRequest("sms", COMMERCIAL_PORT + "07", USER, AD, message_type="promotions"),
    ]
    results = submit(session, reqs, now=at_noon())
    session.commit()
    assert [r.outcome for r in results] == ["allow"] * 5, [r.to_dict() for r in results]
    return {
        "ok": results[0].ref,
        "refused": results[1].ref,
        "later": results[2].ref,
        "notice": results[3].ref,
        "sms": results[4].ref,
    }  # type: ignore[dict-item]


def _status(session: Session) -> dict[str, tuple[str, str | None]]:
    session.expire_all()
    return {r.message_ref: (r.status, r.transport_ref) for r in session.scalars(select(OutboxMessage))}


def test_email_reaches_the_relay_with_its_headers_and_the_relays_answers_are_kept(
    session: Session, relay: tuple[Relay, int], queued: dict[str, str]
) -> None:
    handler, port = relay
    smtp = SmtpTransport("127.0.0.1", port, security="none")
    assert records.drain_outbox(session, smtp) == 2  # the commercial mail to OK and the notice
    session.commit()
    status = _status(session)
    assert status[queued["ok"]][0] == "sent" and status[queued["ok"]][1].startswith("<")  # its Message-ID
    assert status[queued["notice"]][0] == "sent"
    assert status[queued["refused"]] == ("failed", None)  # 550: refused for good
    assert status[queued["later"]][0] == "queued"  # 451: back in the queue with a back-off
    assert status[queued["sms"]][0] == "queued"  # SMS waits for the SMS centre

    by_ref = {}
    for mail_from, rcpt, content in handler.received:
        msg = message_from_bytes(content, policy=default_policy)
        by_ref[msg["X-Piguard-Ref"]] = (mail_from, rcpt, msg)
    assert set(by_ref) == {queued["ok"], queued["notice"]}
    mail_from, rcpt, ad = by_ref[queued["ok"]]
    assert mail_from == MAIL_FROM and rcpt == [OK] and ad["To"] == OK
    assert ad["Subject"] == "优品商城 会员专享：全场春装5折起"  # the first line
    assert ad.get_content().replace("\r\n", "\n").strip() == MAIL  # SMTP lines end in CRLF
    assert ad["List-Unsubscribe"].startswith("<http") and "/unsubscribe/" in ad["List-Unsubscribe"]
    assert ad["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ad["Message-ID"].strip() == status[queued["ok"]][1] == f"<{queued['ok']}@youpin.example>"
    notice = by_ref[queued["notice"]][2]
    assert notice["List-Unsubscribe"] is None  # a service notice carries no unsubscribe link


def test_a_relay_that_is_down_puts_everything_back_in_the_queue(
    session: Session, queued: dict[str, str]
) -> None:
    down = SmtpTransport("127.0.0.1", _free_port(), security="none", timeout=2)
    assert records.drain_outbox(session, down) == 0
    session.commit()
    status = _status(session)
    assert {status[queued[k]][0] for k in ("ok", "refused", "later", "notice")} == {"queued"}
    session.expire_all()
    retried = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    assert all(r.next_attempt_at is not None and r.attempts == 1 for r in retried)


def test_the_cli_drains_once_and_refuses_bad_options(
    db_engine: Any, session: Session, relay: tuple[Relay, int], queued: dict[str, str]
) -> None:
    handler, port = relay
    runner = CliRunner()
    r = runner.invoke(
        root_cli,
        ["sms", "mail-relay", "--host", "127.0.0.1", "--port", str(port), "--security", "none", "--once"],
    )
    assert r.exit_code == 0, r.output
    assert '"sent": 2' in r.output and OK not in r.output
    assert len(handler.received) == 2
    r = runner.invoke(root_cli, ["sms", "mail-relay", "--host", "127.0.0.1", "--security", "ssl3", "--once"])
    assert r.exit_code == 2 and "starttls" in r.output
    r = runner.invoke(root_cli, ["sms", "mail-relay", "--host", "127.0.0.1", "--user", "u", "--once"])
    assert r.exit_code == 2 and "PIGUARD_SMTP_PASSWORD" in r.output


def test_subject_is_the_first_line_cut_to_a_header_line() -> None:
    assert subject_of("\n\n  第一行  \n第二行") == "第一行"
    assert len(subject_of("长" * 200)) == 78 and subject_of("长" * 200).endswith("…")
    assert subject_of("") == ""
