"""The SMS centre's message ids: reused ids (a centre that restarts its counter) never stall the
dispatcher, receipts are matched by link and id within the receipt window, and a failed delivery's
error code reaches the content provider (loopback only: piguard's SMPP stack, the ``smpp34`` test
SMS centre, an ``smpplib`` ESME)."""

from __future__ import annotations

import pytest
import smpplib.client
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import MessageRecord, OutboxMessage
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.models import SmppUpstreamPart

from .smpp_harness import (
    AD,
    PASSWORD,
    PORT,
    SYSTEM_ID,
    USER,
    USER_E164,
    LoopThread,
    SmsCentre,
    build,
    esme,
    give_consent,
    wait_for,
)
from .smpp_harness import loop_thread as loop_thread  # the fixture
from .smpp_harness import stack as stack  # the fixture

pytestmark = [pytest.mark.timeout(90)]


def _queue(session: Session, text: str) -> str:
    [res] = submit(session, [GatewayRequest("sms", PORT + "07", USER_E164, text, message_type="promotions")])
    assert res.outcome == "allow" and res.ref is not None, res.reasons
    session.commit()
    return res.ref


def _outbox(session: Session, ref: str) -> OutboxMessage | None:
    session.expire_all()
    return session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == ref))


def _record_status(session: Session, ref: str) -> str | None:
    session.expire_all()
    return session.scalar(select(MessageRecord.status).where(MessageRecord.ref == ref))


def _receipt(smsc_id: str, stat: str, err: str = "000") -> bytes:
    return (
        f"id:{smsc_id} sub:001 dlvrd:000 submit date:2612021200 done date:2612021201 "
        f"stat:{stat} err:{err} text:"
    ).encode()


@pytest.mark.obligation("O31-11")
def test_reused_smsc_ids_do_not_stall_delivery_and_receipts_match_by_link_and_id(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> None:
    """Regression (O31-11, issue 10): the SMS centre restarts its id counter; the reused id used to hit
    a unique index on the part ids and fail the whole dispatcher round again and again."""
    gw, _port, smsc = stack
    give_consent(session)
    first = _queue(session, AD)
    wait_for(lambda: (o := _outbox(session, first)) is not None and o.status == "sent", 10)
    assert [r.message_id for r in smsc.received] == ["smsc000001"]

    smsc._n = 0  # the centre restarts: its next ids are smsc000001, smsc000002 again
    second = _queue(session, AD.replace("5折", "6折"))
    third = _queue(session, AD.replace("5折", "7折"))
    wait_for(lambda: len(smsc.received) == 3, 10)
    assert [r.message_id for r in smsc.received] == ["smsc000001", "smsc000001", "smsc000002"]
    for ref in (second, third):  # both recorded as sent: the round did not fail
        wait_for(lambda ref=ref: (o := _outbox(session, ref)) is not None and o.status == "sent", 10)
    session.expire_all()
    parts = session.scalars(select(SmppUpstreamPart).order_by(SmppUpstreamPart.id)).all()
    assert sorted((p.smsc_id, p.record_ref == first) for p in parts) == [
        ("smsc000001", False),
        ("smsc000001", True),
        ("smsc000002", False),
    ]
    assert {p.link for p in parts} == {f"piguard@127.0.0.1:{smsc.port}"}
    # the two were submitted side by side (the window): which one got the reused id is the centre's
    reused = next(p.record_ref for p in parts if p.smsc_id == "smsc000001" and p.record_ref != first)
    other = third if reused == second else second

    # a receipt for the reused id is the newest message's: that one is delivered, the first is not
    assert loop_thread.run(smsc.deliver(USER, PORT + "07", _receipt("smsc000001", "DELIVRD"), esm_class=0x04))
    assert wait_for(lambda: _record_status(session, reused) == "delivered", 10)
    assert _record_status(session, first) == "sent"

    # the same id on another link matches nothing (and changes nothing)
    assert gw._apply_receipt("other@198.51.100.7:2775", "smsc000002", "DELIVRD") == "retry"
    assert _record_status(session, other) == "sent"


@pytest.mark.obligation("O31-11")
def test_undelivered_receipt_passes_the_sms_centres_error_on(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> None:
    """Regression (issue 10): an UNDELIV receipt reached the content provider as err:000 (no error)."""
    _gw, port, smsc = stack
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transmitter(system_id=SYSTEM_ID, password=PASSWORD)
    text = "【优品商城】您的订单已发货，请注意查收。"
    mids = []
    for dest in (USER, "8613912345678"):
        client.send_message(
            source_addr_ton=0, source_addr="10690002", dest_addr_ton=1, destination_addr=dest,
            short_message=text.encode("utf-16-be"), data_coding=8, registered_delivery=1,
        )  # fmt: skip
        resp = client.read_pdu()
        assert int(resp.status) == 0
        mids.append(resp.message_id.decode() if isinstance(resp.message_id, bytes) else str(resp.message_id))
    client.unbind()
    client.disconnect()
    sent = wait_for(lambda: smsc.received if len(smsc.received) == 2 else None, 10)
    # the message to USER fails with the centre's code 034; the other one fails without any code
    for r in sent:
        if r.destination_addr == USER:
            body = _receipt(r.message_id, "UNDELIV", "034")
        else:
            body = f"id:{r.message_id} sub:001 dlvrd:000 stat:EXPIRED text:".encode()
        assert loop_thread.run(smsc.deliver(USER, "10690002", body, esm_class=0x04))
    for mid in mids:
        assert wait_for(lambda mid=mid: _record_status(session, mid) == "failed", 10)
    with esme(port, receiver=True) as rx:
        got: dict[str, str] = {}
        rx.set_message_received_handler(
            lambda pdu: got.update({pdu.short_message.decode().split()[0]: pdu.short_message.decode()})
        )
        while len(got) < 2:
            rx.read_once()
    first, second = got[f"id:{mids[0]}"], got[f"id:{mids[1]}"]
    assert "stat:UNDELIV" in first and "err:034" in first
    assert "stat:EXPIRED" in second and "err:000" not in second and "err:999" in second


@pytest.mark.obligation("O31-11")
def test_drain_rounds_send_everything_once_with_one_commit_per_round(session: Session) -> None:
    """The dispatcher's rounds: every queued message is handed over once, none is left ``sending``,
    and a transport that accepts nothing stops the rounds (the rest waits for the next call)."""
    from piguard.messaging.records.service import LoopbackTransport, OutboundMessage, drain_outbox_rounds

    build(session)
    reqs = [
        GatewayRequest("sms", "10690002", f"+86139{n:08d}", "【优品商城】您的订单已发货，请注意查收。")
        for n in range(30)
    ]
    assert all(r.outcome == "allow" for r in submit(session, reqs))
    session.commit()

    class Refusing:
        name = "refusing"

        def send(self, messages: list[OutboundMessage]) -> list[str | None]:
            return [None] * len(messages)

    assert drain_outbox_rounds(session, Refusing(), limit=7) == 0
    session.expire_all()
    statuses = list(session.scalars(select(OutboxMessage.status)))
    assert statuses.count("failed") == 7 and statuses.count("queued") == 23  # one round, then stop

    loop = LoopbackTransport()
    assert drain_outbox_rounds(session, loop, limit=7) == 23
    assert len({m.ref for m in loop.sent}) == len(loop.sent) == 23
    session.expire_all()
    statuses = list(session.scalars(select(OutboxMessage.status)))
    assert statuses.count("sent") == 23 and "sending" not in statuses and "queued" not in statuses
