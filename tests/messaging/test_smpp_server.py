"""piguard's SMPP server against an independent ESME (smpplib), with the real gateway, on loopback.

smpplib is the content provider's system: it binds to piguard, submits allowed and refused
messages and reads the command_status piguard answers (the table in docs/sms-smpp.md).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.models import ContentProvider, MessageRecord, OutboxMessage
from piguard.messaging.records.service import LoopbackTransport
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.smpp.models import SmppMessage
from piguard.messaging.smpp.pdu import Status

from .smpp_harness import (
    AD,
    CP_CODE,
    NOTICE,
    PASSWORD,
    PORT,
    SYSTEM_ID,
    USER,
    LoopThread,
    build,
    esme,
    give_consent,
)
from .smpp_harness import loop_thread as loop_thread  # the fixture

pytestmark = pytest.mark.timeout(60)


@pytest.fixture()
def gateway(
    session: Session, loop_thread: LoopThread
) -> Iterator[tuple[SmppGateway, int, LoopbackTransport]]:
    build(session)
    transport = LoopbackTransport()
    gw = SmppGateway(
        SmppSettings(inactivity_timeout=2.0, session_init_timeout=2.0, workers=2, dispatch_interval=0.2),
        transport=transport,
    )
    _host, port = loop_thread.run(gw.start("127.0.0.1", 0))
    yield gw, port, transport
    loop_thread.run(gw.stop())


def _submit(
    client: smpplib.client.Client, text: str, *, sender: str = PORT + "07", dest: str = USER, **kw: object
) -> tuple[int, str]:
    parts, coding, esm = smpplib.gsm.make_parts(text)
    status, mid = 0, ""
    for part in parts:
        client.send_message(
            source_addr_ton=0,
            source_addr=sender,
            dest_addr_ton=1,
            destination_addr=dest,
            short_message=part,
            data_coding=coding,
            esm_class=esm,
            registered_delivery=1,
            **kw,
        )
        resp = client.read_pdu()
        assert resp.command == "submit_sm_resp"
        status = int(resp.status)
        mid = (
            (resp.message_id or b"").decode()
            if isinstance(resp.message_id, bytes)
            else str(resp.message_id or "")
        )
    return status, mid


@pytest.mark.obligation("O31-10", "O31-16", "O31-18.1", "O31-20", "O31-11")
def test_submit_statuses_per_decision(
    session: Session, gateway: tuple[SmppGateway, int, LoopbackTransport]
) -> None:
    _gw, port, _transport = gateway
    give_consent(session)
    with esme(port) as client:
        # a notification from the business port: allowed, a message id, recorded and queued
        status, mid = _submit(client, NOTICE, sender=PORT[:-1] + "2")
        assert status == 0 and len(mid) == 26  # the record ref (core.refs), within SMPP's 65 octets
        # a commercial message with live consent (UCS2, two concatenated parts): allowed once reassembled
        status, mid2 = _submit(client, AD + "，" + "春季新品上市，" * 8)
        assert status == 0 and mid2 != mid
        # unknown sender (O31-10)
        assert _submit(client, NOTICE, sender="10699999")[0] == Status.ESME_RINVSRCADR
        # prohibited content (O31-16)
        assert (
            _submit(client, "【优品商城】百家乐真人荷官，首存送彩金，回T退订")[0]
            == Status.PG_PROHIBITED_CONTENT
        )
        # commercial without opt-out wording (O31-20)
        assert (
            _submit(client, "【优品商城】全场5折起，限时抢购，详询4008123456")[0] == Status.PG_OPTOUT_WORDING
        )
        # commercial to someone who never consented (O31-18.1)
        assert _submit(client, AD, dest="8613900001111")[0] == Status.PG_NO_CONSENT
        # a bad destination
        assert _submit(client, NOTICE, sender=PORT[:-1] + "2", dest="12")[0] == Status.ESME_RINVDSTADR
        client.unbind()
    session.expire_all()
    recs = {r.ref: r for r in session.scalars(select(MessageRecord))}
    assert recs[mid].outcome == "allow" and recs[mid2].kind == "commercial"
    assert "春季新品上市" in recs[mid2].content  # decided on the whole reassembled text
    refused = [r for r in recs.values() if r.outcome == "refuse"]
    assert {c for r in refused for c in r.reason_codes} >= {
        "sender_unregistered",
        "prohibited_content",
        "optout_missing",
        "consent_missing",
    }
    smpp = session.scalar(select(SmppMessage).where(SmppMessage.record_ref == mid2))
    assert smpp is not None and smpp.system_id == SYSTEM_ID and len(smpp.esme_ids) == 2
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == mid)) is not None


@pytest.mark.obligation("O31-10", "O31-13")
def test_sender_port_of_another_content_provider_is_refused(
    session: Session, gateway: tuple[SmppGateway, int, LoopbackTransport]
) -> None:
    """The gateway itself refuses it (the bound content provider goes with the request) and the
    refusal is recorded under the bound content provider with its reason and ids."""
    _gw, port, _t = gateway
    with esme(port) as client:
        assert (
            _submit(client, "【市应急管理局】台风红色预警，请转移避险。", sender="12110")[0]
            == Status.ESME_RINVSRCADR
        )
    session.expire_all()
    rec = session.scalars(select(MessageRecord).order_by(MessageRecord.id.desc())).first()
    assert rec is not None and rec.outcome == "refuse" and rec.reason_codes[0] == "sender_not_this_provider"
    assert rec.reasons[0] == {"code": "sender_not_this_provider", "obligations": ["O31-13", "O31-10"]}
    cp = session.scalar(select(ContentProvider).where(ContentProvider.code == CP_CODE))
    assert cp is not None and rec.content_provider_id == cp.id


@pytest.mark.obligation("O31-12")
def test_wrong_password_and_unknown_system_id_fail_to_bind(
    gateway: tuple[SmppGateway, int, LoopbackTransport],
) -> None:
    _gw, port, _t = gateway
    for sid, pw in ((SYSTEM_ID, "wrong!!1"), ("nobody", PASSWORD)):
        client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
        client.connect()
        with pytest.raises(smpplib.exceptions.PDUError) as exc:
            client.bind_transceiver(system_id=sid, password=pw)
        assert exc.value.args[1] == Status.ESME_RINVPASWD
        client.disconnect()
    # a bind type the account may not use
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    with pytest.raises(smpplib.exceptions.PDUError) as exc:
        client.bind_receiver(system_id="txonly", password=PASSWORD)
    assert exc.value.args[1] == Status.ESME_RBINDFAIL
    client.disconnect()


def _raw(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def _read_pdu(s: socket.socket) -> tuple[int, int, int, bytes]:
    head = b""
    while len(head) < 16:
        chunk = s.recv(16 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    length, cid, status, seq = struct.unpack(">IIII", head)
    body = b""
    while len(body) < length - 16:
        body += s.recv(length - 16 - len(body))
    return cid, status, seq, body


def _bind_raw(s: socket.socket) -> None:
    body = SYSTEM_ID.encode() + b"\0" + PASSWORD.encode() + b"\0" + b"\0" + bytes([0x34, 0, 0]) + b"\0"
    s.sendall(struct.pack(">IIII", 16 + len(body), 0x09, 0, 1) + body)
    cid, status, _seq, _ = _read_pdu(s)
    assert cid == 0x80000009 and status == 0


@pytest.mark.obligation("O31-11")
def test_bad_pdus_get_generic_nack_and_the_server_survives(
    gateway: tuple[SmppGateway, int, LoopbackTransport],
) -> None:
    _gw, port, _t = gateway
    s = _raw(port)
    _bind_raw(s)
    # unknown command id: generic_nack ESME_RINVCMDID, the session goes on
    s.sendall(struct.pack(">IIII", 16, 0x00000077, 0, 5))
    assert _read_pdu(s)[:3] == (0x80000000, Status.ESME_RINVCMDID, 5)
    # a submit_sm whose body is cut short (command_length matches the bytes sent)
    cut = b"\x00\x00\x00" + b"106"
    s.sendall(struct.pack(">IIII", 16 + len(cut), 0x04, 0, 6) + cut)
    assert _read_pdu(s)[:3] == (0x80000000, Status.ESME_RINVCMDLEN, 6)
    # issue 14.8: a response to nothing, and the id 0xFFFFFFFF, get generic_nack too
    s.sendall(struct.pack(">IIII", 16, 0x80000004, 0, 31))
    assert _read_pdu(s)[:3] == (0x80000000, Status.ESME_RINVCMDID, 31)
    s.sendall(struct.pack(">IIII", 16, 0xFFFFFFFF, 0, 32))
    assert _read_pdu(s)[:3] == (0x80000000, Status.ESME_RINVCMDID, 32)
    # … but a generic_nack from the ESME is never answered with one (no loop): next is enquire_link's
    s.sendall(struct.pack(">IIII", 16, 0x80000000, 0, 33))
    # still alive: enquire_link answered
    s.sendall(struct.pack(">IIII", 16, 0x15, 0, 7))
    assert _read_pdu(s)[:3] == (0x80000015, 0, 7)
    # a command_length below the header size: generic_nack, and the connection is closed
    s.sendall(struct.pack(">IIII", 8, 0x15, 0, 8))
    assert _read_pdu(s)[:3] == (0x80000000, Status.ESME_RINVCMDLEN, 8)
    with pytest.raises((ConnectionError, OSError)):
        _read_pdu(s)
    s.close()
    # a PDU announcing more bytes than it sends: cut at the inactivity timeout, no crash
    s = _raw(port)
    _bind_raw(s)
    s.sendall(struct.pack(">IIII", 200, 0x04, 0, 9) + b"\0\0")
    cid, status, _, _ = _read_pdu(s)
    assert (cid, status) == (0x80000000, Status.ESME_RINVCMDLEN)
    s.close()
    # a huge command_length
    s = _raw(port)
    s.sendall(struct.pack(">IIII", 0x7FFFFFFF, 0x04, 0, 10))
    assert _read_pdu(s)[:2] == (0x80000000, Status.ESME_RINVCMDLEN)
    s.close()
    # the server still binds and decides
    with esme(port) as client:
        assert _submit(client, NOTICE, sender=PORT[:-1] + "2")[0] == 0


def test_submit_before_bind_and_enquire_link(gateway: tuple[SmppGateway, int, LoopbackTransport]) -> None:
    _gw, port, _t = gateway
    s = _raw(port)
    body = (
        b"\0"
        + bytes([0, 0])
        + b"10690002\0"
        + bytes([1, 1])
        + USER.encode()
        + b"\0"
        + bytes(3)
        + b"\0\0"
        + bytes(4)
        + b"\x02hi"
    )
    s.sendall(struct.pack(">IIII", 16 + len(body), 0x04, 0, 3) + body)
    assert _read_pdu(s)[:3] == (0x80000004, Status.ESME_RINVBNDSTS, 3)
    s.close()


@pytest.mark.obligation("O31-11")
def test_window_throttles(session: Session, gateway: tuple[SmppGateway, int, LoopbackTransport]) -> None:
    """More unanswered submit_sm than the account's window: ESME_RTHROTTLED for the excess."""
    _gw, port, _t = gateway
    s = _raw(port)
    body = b"thrtl\0" + PASSWORD.encode() + b"\0\0" + bytes([0x34, 0, 0]) + b"\0"
    s.sendall(struct.pack(">IIII", 16 + len(body), 0x02, 0, 1) + body)
    assert _read_pdu(s)[1] == 0
    one = _notice_submit(USER)
    burst = b"".join(struct.pack(">IIII", 16 + len(one), 0x04, 0, 100 + i) + one for i in range(6))
    s.sendall(burst)
    statuses = [_read_pdu(s)[1] for _ in range(6)]
    assert statuses.count(Status.ESME_RTHROTTLED) >= 1 and statuses.count(0) >= 1
    s.close()


def _notice_submit(dest: str) -> bytes:
    """A submit_sm body: the notice from the business port, UCS2, to ``dest``."""
    sm = NOTICE.encode("utf-16-be")
    return (
        b"\0"
        + bytes([0, 0])
        + b"10690002\0"
        + bytes([1, 1])
        + dest.encode()
        + b"\0"
        + bytes(3)
        + b"\0\0"
        + bytes([0, 0, 8, 0, len(sm)])
        + sm
    )


@pytest.mark.obligation("O31-10", "O31-11")
def test_submits_arriving_together_are_decided_in_one_batch(
    session: Session, gateway: tuple[SmppGateway, int, LoopbackTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window of submit_sm in one write: decided by the gateway's batch path (one context, one
    transaction) rather than one unit of work each, every message answered and recorded."""
    from piguard.messaging.smpp import service as smpp_service

    _gw, port, _t = gateway
    batches: list[int] = []
    real = smpp_service.decide_many

    def spy(session: Session, subs: list[object], **kw: object) -> object:
        batches.append(len(subs))
        return real(session, subs, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(smpp_service, "decide_many", spy)
    s = _raw(port)
    body = SYSTEM_ID.encode() + b"\0" + PASSWORD.encode() + b"\0\0" + bytes([0x34, 0, 0]) + b"\0"
    s.sendall(struct.pack(">IIII", 16 + len(body), 0x02, 0, 1) + body)
    assert _read_pdu(s)[1] == 0
    dests = [f"86138123450{i:02d}" for i in range(8)]
    burst = b"".join(
        struct.pack(">IIII", 16 + len(one), 0x04, 0, 100 + i) + one
        for i, one in enumerate(_notice_submit(d) for d in dests)
    )
    s.sendall(burst)
    answers = [_read_pdu(s) for _ in dests]
    s.close()
    assert sorted(a[2] for a in answers) == list(range(100, 108)) and all(a[1] == 0 for a in answers)
    refs = {a[3].rstrip(b"\0").decode() for a in answers}
    session.expire_all()
    recorded = set(session.scalars(select(MessageRecord.ref).where(MessageRecord.ref.in_(refs))))
    assert len(refs) == 8 and recorded == refs
    assert sum(batches) == 8 and len(batches) < 8


def test_cp_code_is_the_bound_provider() -> None:
    assert CP_CODE == "youpin"
    assert smpplib.consts.SMPP_ESME_RINVPASWD == Status.ESME_RINVPASWD


@pytest.mark.obligation("O31-16")
def test_concatenated_refusal_answers_the_last_part_and_rejects_the_earlier_ones(
    gateway: tuple[SmppGateway, int, LoopbackTransport],
) -> None:
    """Parts are reassembled before the decision: the earlier parts were answered ESME_ROK, the last
    part carries the refusal, and the earlier parts' ids get a REJECTD receipt."""
    _gw, port, _t = gateway
    text = "【优品商城】百家乐真人荷官，首存送彩金，" + "天天返水，" * 20 + "回T退订"
    parts, coding, esm = smpplib.gsm.make_parts(text)
    assert len(parts) == 2
    with esme(port) as client:
        statuses, ids = [], []
        for part in parts:
            client.send_message(
                source_addr=PORT + "07", dest_addr_ton=1, destination_addr=USER,
                short_message=part, data_coding=coding, esm_class=esm, registered_delivery=1,
            )  # fmt: skip
            resp = client.read_pdu()
            statuses.append(int(resp.status))
            ids.append(resp.message_id)
        assert statuses == [0, Status.PG_PROHIBITED_CONTENT]
        first_id = ids[0].decode() if isinstance(ids[0], bytes) else str(ids[0])
        got: list[object] = []
        client.set_message_received_handler(lambda pdu: got.append(pdu))
        while not got:
            client.read_once()
        receipt = got[0].short_message.decode()  # type: ignore[attr-defined]
        assert f"id:{first_id}" in receipt and "stat:REJECTD" in receipt


@pytest.mark.obligation("O31-22", "O31-18.1", "O31-11")
def test_held_message_is_accepted_and_delivered_when_released(
    session: Session, gateway: tuple[SmppGateway, int, LoopbackTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default ``accept_held``: a message held for quiet hours gets ESME_ROK and a message_id; the
    worker's release after the quiet hours queues it, the dispatcher sends it, and its receipt
    reaches the ESME under that id."""
    from datetime import timedelta

    from piguard.core.db import utcnow
    from piguard.messaging.gateway import release
    from piguard.messaging.settings import reset_messaging_settings

    from .smpp_harness import wait_for

    gw, port, transport = gateway
    give_consent(session)
    session.commit()
    monkeypatch.setenv("PIGUARD_SMS_QUIET_HOURS", "00:00-23:59")
    reset_messaging_settings()
    try:
        with esme(port) as client:
            status, mid = _submit(client, AD)
            assert status == Status.ESME_ROK and mid
            session.expire_all()
            rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == mid))
            assert rec is not None and rec.outcome == "hold" and rec.status == "held"
            assert "quiet_hours" in rec.reason_codes and not transport.sent
            # still inside the quiet hours: the worker leaves it held
            assert release.release_held(session, utcnow())["considered"] == 0
            monkeypatch.setenv("PIGUARD_SMS_QUIET_HOURS", "")
            reset_messaging_settings()
            out = release.release_held(session, utcnow() + timedelta(seconds=1))
            session.commit()
            assert out["allow"] == 1
            gw.loop.call_soon_threadsafe(gw.kick)  # type: ignore[union-attr]
            wait_for(lambda: [m for m in transport.sent if m.ref == mid])

            def status() -> str | None:
                session.rollback()  # a fresh snapshot each poll
                return session.scalar(select(MessageRecord.status).where(MessageRecord.ref == mid))

            wait_for(lambda: status() == "sent")
            session.expire_all()
            rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == mid))
            assert rec is not None and rec.outcome == "allow" and rec.status == "sent"
            assert "released_from_hold" in rec.reason_codes and "consent_live" in rec.reason_codes
    finally:
        monkeypatch.delenv("PIGUARD_SMS_QUIET_HOURS", raising=False)
        reset_messaging_settings()


@pytest.mark.obligation("O31-22", "O31-18.1")
def test_held_message_gets_the_hold_status_when_not_accepted(
    session: Session, loop_thread: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    from piguard.messaging.settings import reset_messaging_settings

    build(session)
    give_consent(session)
    session.commit()
    gw = SmppGateway(
        SmppSettings(inactivity_timeout=2.0, session_init_timeout=2.0, workers=2, accept_held=False),
        transport=LoopbackTransport(),
    )
    _host, port = loop_thread.run(gw.start("127.0.0.1", 0))
    monkeypatch.setenv("PIGUARD_SMS_QUIET_HOURS", "00:00-23:59")
    reset_messaging_settings()
    try:
        with esme(port) as client:
            status, mid = _submit(client, AD)
        assert status == Status.PG_HELD and mid == ""
        session.expire_all()
        rec = session.scalars(select(MessageRecord).order_by(MessageRecord.id.desc())).first()
        assert rec is not None and rec.outcome == "hold" and "quiet_hours" in rec.reason_codes
    finally:
        loop_thread.run(gw.stop())
        monkeypatch.delenv("PIGUARD_SMS_QUIET_HOURS")
        reset_messaging_settings()
