"""End to end over SMPP, every peer independent of piguard's codec, loopback only:

content provider (smpplib ESME) -> piguard SMPP server -> gateway decision -> outbox -> piguard
SMPP client -> test SMS centre (``smpp34``, Rust-backed SMPP 3.4 server); and back: delivery
receipts (SMS centre -> records -> deliver_sm receipt to the ESME) and MO replies (退订 ends consent,
the confirmation goes out, the reply is forwarded to the content provider's ESME).
"""

from __future__ import annotations

from typing import Any

import pytest
import smpplib.client
import smpplib.gsm
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.models import Consent, MessageRecord
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.pdu import Status

from .smpp_harness import (
    AD,
    PORT,
    USER,
    USER_E164,
    LoopThread,
    SmsCentre,
    esme,
    give_consent,
    wait_for,
)
from .smpp_harness import loop_thread as loop_thread  # the fixture
from .smpp_harness import stack as stack  # the fixture

pytestmark = [pytest.mark.timeout(90)]


def _submit(
    client: smpplib.client.Client, text: str, *, sender: str = PORT + "07", dest: str = USER
) -> tuple[int, str]:
    parts, coding, esm = smpplib.gsm.make_parts(text)
    status, mid = 0, ""
    for part in parts:
        client.send_message(
            source_addr_ton=0, source_addr=sender, dest_addr_ton=1, destination_addr=dest,
            short_message=part, data_coding=coding, esm_class=esm, registered_delivery=1,
        )  # fmt: skip
        resp = client.read_pdu()
        status = int(resp.status)
        raw = resp.message_id or b""
        mid = raw.decode() if isinstance(raw, bytes) else str(raw)
    return status, mid


def _texts(received: list[Any]) -> list[tuple[str, str]]:
    """What the SMS centre got: (destination, decoded text), concatenated parts joined by UDH ref."""
    out: list[tuple[str, str]] = []
    groups: dict[tuple[str, int], dict[int, bytes]] = {}
    codings: dict[tuple[str, int], int] = {}
    for r in received:
        data = r.short_message
        if r.esm_class & 0x40:
            udhl = data[0]
            ref, total, seq = data[3], data[4], data[5]
            key = (r.destination_addr, ref)
            groups.setdefault(key, {})[seq] = data[1 + udhl :]
            codings[key] = r.data_coding
            if len(groups[key]) == total:
                joined = b"".join(groups[key][i] for i in range(1, total + 1))
                out.append(
                    (
                        r.destination_addr,
                        joined.decode("utf-16-be") if r.data_coding == 8 else joined.decode("ascii"),
                    )
                )
        else:
            out.append(
                (r.destination_addr, data.decode("utf-16-be") if r.data_coding == 8 else data.decode("ascii"))
            )
    return out


class Inbox:
    def __init__(self, client: smpplib.client.Client) -> None:
        self.client = client
        self.pdus: list[Any] = []
        client.set_message_received_handler(lambda pdu: self.pdus.append(pdu))

    def next(self) -> Any:
        n = len(self.pdus)
        while len(self.pdus) == n:
            self.client.read_once()
        return self.pdus[n]


@pytest.mark.obligation("O31-10", "O31-16", "O31-18.1", "O31-20", "O31-11")
def test_esme_to_smsc_and_back(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> None:
    _gw, port, smsc = stack
    give_consent(session)
    long_ad = AD + "。春季新品上市，欢迎选购，" * 4
    with esme(port) as client:
        inbox = Inbox(client)
        # allowed: arrives at the SMS centre, UCS2, concatenated, whole
        status, mid = _submit(client, long_ad)
        assert status == 0 and mid
        # refused: prohibited content (O31-16), never reaches the centre
        assert (
            _submit(client, "【优品商城】百家乐真人荷官，首存送彩金，回T退订")[0]
            == Status.PG_PROHIBITED_CONTENT
        )
        got = wait_for(lambda: _texts(smsc.received), 10)
        assert got == [(USER, long_ad)]
        assert all(r.data_coding == 8 and r.source_addr == PORT + "07" for r in smsc.received)
        smsc_ids = [r.message_id for r in smsc.received]

        # delivery receipts from the centre, one per part -> the record is delivered
        for sid in smsc_ids:
            receipt = f"id:{sid} sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:DELIVRD err:000 text:".encode()
            assert loop_thread.run(smsc.deliver(USER, PORT + "07", receipt, esm_class=0x04))

        def _status() -> str | None:
            session.expire_all()
            rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == mid))
            return rec.status if rec is not None and rec.status == "delivered" else None

        assert wait_for(_status, 10) == "delivered"
        # ... and the ESME gets its receipts (deliver_sm, esm_class 0x04), one per submitted part
        seen: set[str] = set()
        for _ in range(2):
            pdu = inbox.next()
            assert pdu.command == "deliver_sm" and pdu.esm_class & 0x04
            text = pdu.short_message.decode()
            assert "stat:DELIVRD" in text and USER[-4:] not in text
            seen.add(text.split()[0][3:])
        assert mid in seen and len(seen) == 2

        # the user answers 退订 through the centre (MO, UCS2): consent ends at once (O31-20, O31-18.1)
        before = len(smsc.received)
        assert loop_thread.run(smsc.deliver(USER, PORT + "07", "退订".encode("utf-16-be"), data_coding=8))
        mo = inbox.next()
        assert mo.command == "deliver_sm" and not mo.esm_class & 0x04
        assert mo.short_message.decode("utf-16-be") == "退订" and mo.destination_addr.decode() == PORT + "07"

        def _ended() -> bool:
            session.expire_all()
            return all(c.status == "ended" for c in session.scalars(select(Consent)))

        assert wait_for(_ended, 10)
        # the opt-out confirmation goes out through the centre
        confirm = wait_for(lambda: [t for d, t in _texts(smsc.received[before:]) if "退订" in t], 10)
        assert confirm and "您已成功退订" in confirm[0]

        # the next commercial message to that user is refused, citing consent (O31-18.1)
        status, _ = _submit(client, AD)
        assert status == Status.PG_NO_CONSENT
        session.expire_all()
        last = session.scalars(
            select(MessageRecord).where(MessageRecord.direction == "out").order_by(MessageRecord.id.desc())
        ).first()
        assert last is not None and last.outcome == "refuse" and "O31-18.1" in last.obligations
        inbound = session.scalar(select(MessageRecord).where(MessageRecord.direction == "in"))
        assert (
            inbound is not None and inbound.intent == "opt_out" and USER_E164 not in (inbound.content or "")
        )
        client.unbind()


@pytest.mark.obligation("O31-11")
def test_receipts_wait_for_a_receiver_to_bind(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> None:
    """A transmitter-only ESME gets its receipt when a receiver of the same account binds later."""
    _gw, port, smsc = stack
    with esme(port) as tx:
        tx.unbind()
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transmitter(system_id="youpin01", password="s3cret!A")
    status, mid = _submit(client, "【优品商城】您的订单已发货，请注意查收。", sender="10690002")
    assert status == 0
    client.unbind()
    client.disconnect()
    [sent] = wait_for(lambda: smsc.received, 10)
    assert sent.data_coding == 8
    receipt = f"id:{sent.message_id} sub:001 dlvrd:000 submit date:2611241200 done date:2611241201 stat:UNDELIV err:001 text:".encode()
    assert loop_thread.run(smsc.deliver(USER, "10690002", receipt, esm_class=0x04))

    def _failed() -> bool:
        session.expire_all()
        rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == mid))
        return rec is not None and rec.status == "failed"

    assert wait_for(_failed, 10)
    with esme(port, receiver=True) as rx:
        inbox = Inbox(rx)
        pdu = inbox.next()
        assert (
            pdu.command == "deliver_sm"
            and f"id:{mid}" in pdu.short_message.decode()
            and "stat:UNDELIV" in pdu.short_message.decode()
        )
