"""piguard's CMPP 2.0/3.0 ISMG over real TCP, beside the SMPP server on the same registry: connect
with good and bad authenticators, the same message set through SMPP and CMPP with the same
decisions and reasons, long messages, flow control, ACTIVE_TEST, TERMINATE and bad packets.

The content provider here is a minimal blocking CMPP client built on ``cmpp.pdu`` (whose bytes are
checked against gocmpp's in test_cmpp_codec.py)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.accounts import create_account
from piguard.messaging.cmpp.bridge import CmppGateway, timestamp_skew
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.pdu import V20, V30, Cmd
from piguard.messaging.cmpp.server import shanghai_now
from piguard.messaging.cmpp.statuses import RESULTS, cmpp_result
from piguard.messaging.models import MessageRecord
from piguard.messaging.records.service import LoopbackTransport
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.smpp.server import Submission, SubmitOutcome

from .smpp_harness import AD, BUSINESS_PORT, CP_CODE, NOTICE, PORT, USER, LoopThread, build, esme
from .smpp_harness import loop_thread as loop_thread  # the fixture
from .test_smpp_server import _submit as smpp_submit

pytestmark = pytest.mark.timeout(90)

SP_ID = "901234"
SECRET = "Sh4redSecret"
GATEWAY_CODE = 0x2A5


@pytest.fixture()
def stack(session: Session, loop_thread: LoopThread) -> Iterator[tuple[int, int]]:
    """The SMPP harness's registry with a CMPP account for the same content provider; piguard's SMPP
    and CMPP servers in one loop (the SMPP gateway's loopback dispatcher drains the outbox)."""
    build(session)
    create_account(session, source_addr=SP_ID, secret=SECRET, content_provider=CP_CODE,
                   default_message_type="promotions")  # fmt: skip
    create_account(session, source_addr="900009", secret="Tw0Window", content_provider=CP_CODE, window=1)
    session.commit()
    smpp = SmppGateway(
        SmppSettings(inactivity_timeout=5.0, session_init_timeout=5.0, workers=2, dispatch_interval=0.2),
        transport=LoopbackTransport(),
    )
    cmpp = CmppGateway(
        CmppSettings(
            gateway_code=GATEWAY_CODE,
            inactivity_timeout=5.0,
            session_init_timeout=5.0,
            workers=2,
            report_interval=0.2,
        )
    )
    _h, smpp_port = loop_thread.run(smpp.start("127.0.0.1", 0))
    _h, cmpp_port = loop_thread.run(cmpp.start("127.0.0.1", 0))
    yield smpp_port, cmpp_port
    loop_thread.run(cmpp.stop())
    loop_thread.run(smpp.stop())


class Sp:
    """A content provider's CMPP client: blocking socket, one request at a time."""

    def __init__(self, port: int, version: int = V30) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.version = version
        self.seq = 0

    def send(self, cid: int, body: bytes = b"") -> int:
        self.seq += 1
        self.sock.sendall(pdu.frame(cid, self.seq, body))
        return self.seq

    def read(self) -> tuple[pdu.Header, bytes]:
        head = self._exact(pdu.HEADER_LEN)
        h = pdu.parse_header(head)
        return h, self._exact(h.length - pdu.HEADER_LEN)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by piguard")
            buf += chunk
        return buf

    def connect(self, source: str = SP_ID, secret: str = SECRET, *, ts: int | None = None) -> pdu.ConnectResp:
        ts = pdu.timestamp_of(shanghai_now()) if ts is None else ts
        auth = pdu.authenticator_source(source, secret, ts)
        self.auth = auth
        seq = self.send(Cmd.CONNECT, pdu.encode_connect(pdu.Connect(source, auth, self.version, ts)))
        h, body = self.read()
        assert (h.command_id, h.sequence) == (Cmd.CONNECT_RESP, seq)
        return pdu.decode_connect_resp(body, V30 if self.version >= V30 else V20)

    def submit_parts(self, parts: list[pdu.Submit]) -> list[pdu.MsgResp]:
        out = []
        for p in parts:
            seq = self.send(Cmd.SUBMIT, pdu.encode_submit(p, self.version))
            h, body = self.read()
            assert (h.command_id, h.sequence) == (Cmd.SUBMIT_RESP, seq)
            out.append(pdu.decode_msg_resp(body, self.version))
        return out

    def submit(self, text: str, *, src: str = PORT + "07", dest: str = USER[2:]) -> pdu.MsgResp:
        raw = text.encode("utf-16-be")
        if len(raw) <= 140:
            return self.submit_parts([_part(raw, src, dest)])[0]
        chunks = [raw[i : i + 134] for i in range(0, len(raw), 134)]
        parts = [
            _part(bytes([5, 0, 3, 0x37, len(chunks), n]) + c, src, dest, udhi=1, total=len(chunks), number=n)
            for n, c in enumerate(chunks, 1)
        ]
        return self.submit_parts(parts)[-1]

    def close(self) -> None:
        self.sock.close()


def _part(raw: bytes, src: str, dest: str, *, udhi: int = 0, total: int = 1, number: int = 1) -> pdu.Submit:
    return pdu.Submit(
        pk_total=total, pk_number=number, registered_delivery=1, tp_udhi=udhi, msg_fmt=8, msg_src=SP_ID,
        src_id=src, dest_terminal_ids=(dest,), content=raw,
    )  # fmt: skip


def _last_record(session: Session) -> MessageRecord:
    session.expire_all()
    rec = session.scalars(
        select(MessageRecord).where(MessageRecord.direction == "out").order_by(MessageRecord.id.desc())
    ).first()
    assert rec is not None
    return rec


@pytest.mark.obligation("O31-12")
@pytest.mark.parametrize("version", [V20, V30])
def test_connect_good_and_bad_authenticators(stack: tuple[int, int], version: int) -> None:
    _smpp, port = stack
    sp = Sp(port, version)
    resp = sp.connect()
    assert resp.status == 0 and resp.version == version
    assert resp.authenticator == pdu.authenticator_ismg(0, sp.auth, SECRET, version)
    sp.close()
    for kwargs in (
        {"secret": "wrong-secret"},  # wrong AuthenticatorSource
        {"source": "999999"},  # no such account
        {"ts": pdu.timestamp_of(shanghai_now()) - 10_000},  # an hour off
        {"ts": 1399999999},  # no such date
    ):
        sp = Sp(port, version)
        resp = sp.connect(**kwargs)  # type: ignore[arg-type]
        assert resp.status == pdu.ConnectStatus.AUTH and resp.authenticator == bytes(16)
        with pytest.raises((ConnectionError, OSError)):  # piguard closes after a refused connect
            sp.read()
        sp.close()


def test_version_window_and_timestamp_year_rollover(session: Session, loop_thread: LoopThread) -> None:
    build(session)
    create_account(session, source_addr=SP_ID, secret=SECRET, content_provider=CP_CODE)
    session.commit()
    gw = CmppGateway(CmppSettings(version=2, session_init_timeout=5.0, workers=1))
    _h, port = loop_thread.run(gw.start("127.0.0.1", 0))
    try:
        sp = Sp(port, V30)
        assert sp.connect().status == pdu.ConnectStatus.VERSION  # a 2.0 ISMG refuses 3.0
        sp.close()
        sp = Sp(port, V20)
        assert sp.connect().status == 0
        sp.close()
    finally:
        loop_thread.run(gw.stop())
    tz = shanghai_now().tzinfo
    assert timestamp_skew(1231235959, datetime(2027, 1, 1, 0, 0, 1, tzinfo=tz)) == 2.0
    assert timestamp_skew(229000000, datetime(2027, 3, 1, tzinfo=tz)) is not None  # 29 Feb of 2028
    assert timestamp_skew(1332000000, datetime(2027, 3, 1, tzinfo=tz)) is None


@pytest.mark.obligation("O31-10", "O31-13", "O31-16", "O31-18.1")
@pytest.mark.parametrize("version", [V20, V30])
def test_same_decisions_and_reasons_as_smpp(session: Session, stack: tuple[int, int], version: int) -> None:
    smpp_port, cmpp_port = stack
    cases = [
        (NOTICE, BUSINESS_PORT),  # a notification from the business port: allowed
        ("【优品商城】百家乐真人荷官，首存送彩金，回T退订", PORT + "07"),  # prohibited (O31-16)
        (AD, PORT + "07"),  # commercial, no consent (O31-18.1)
        (NOTICE, "12110"),  # another content provider's port (O31-13, O31-10)
        ("【优品商城】您的订单已发货。" + "物流信息请在订单页面查看，感谢您的耐心等待。" * 5, BUSINESS_PORT),
    ]
    via_smpp = []
    with esme(smpp_port) as client:
        for text, src in cases:
            status, _mid = smpp_submit(client, text, sender=src)
            rec = _last_record(session)
            via_smpp.append((cmpp_result(status), rec.outcome, rec.reason_codes, rec.obligations, rec.sender))
    sp = Sp(cmpp_port, version)
    assert sp.connect().status == 0
    via_cmpp = []
    for text, src in cases:
        resp = sp.submit(text, src=src)
        rec = _last_record(session)
        via_cmpp.append((resp.result, rec.outcome, rec.reason_codes, rec.obligations, rec.sender))
        if resp.result == 0:  # Msg_Id per spec: today's time, piguard's gateway code
            parts = pdu.split_msg_id(resp.msg_id)
            assert parts.gateway == GATEWAY_CODE and parts.month == shanghai_now().month
        else:
            assert resp.msg_id == 0
    assert via_cmpp == via_smpp
    assert [r[0] for r in via_cmpp] == [0, 65, 69, 10, 0]
    assert all(r[0] in RESULTS for r in via_cmpp)
    assert "O31-16" in via_cmpp[1][3] and "O31-18.1" in via_cmpp[2][3]
    # the long message was reassembled (TP_udhi) and decided whole
    rec = _last_record(session)
    assert rec.outcome == "allow" and rec.content.startswith("【优品商城】您的订单已发货。物流")
    sp.send(Cmd.TERMINATE)
    h, body = sp.read()
    assert h.command_id == Cmd.TERMINATE_RESP and body == b""
    sp.close()


def test_active_test_terminate_and_bad_packets(stack: tuple[int, int]) -> None:
    _smpp, port = stack
    sp = Sp(port, V30)
    assert sp.connect().status == 0
    seq = sp.send(Cmd.ACTIVE_TEST)
    h, body = sp.read()
    assert (h.command_id, h.sequence, body) == (Cmd.ACTIVE_TEST_RESP, seq, b"\x00")
    # an unknown command id: recorded and ignored, the connection survives
    sp.send(0x00000099, b"junk")
    # a CMPP_SUBMIT whose fields do not read: Result 1 (structure), the connection survives
    sp.send(Cmd.SUBMIT, b"\x00" * 20)
    h, body = sp.read()
    assert h.command_id == Cmd.SUBMIT_RESP and pdu.decode_msg_resp(body, V30).result == 1
    # Pk_number > Pk_total, an unsupported Msg_Fmt, two destinations: answered, not crashed
    bad = [
        _part(b"\x00A", PORT + "07", USER[2:], total=1, number=2),
        pdu.Submit(msg_fmt=4, src_id=PORT + "07", dest_terminal_ids=(USER[2:],), content=b"\x01"),
        pdu.Submit(msg_fmt=0, src_id=PORT + "07", dest_terminal_ids=(USER[2:], "13900000000"), content=b"hi"),
    ]
    assert [r.result for r in sp.submit_parts(bad)] == [1, 1, 13]
    seq = sp.send(Cmd.ACTIVE_TEST)
    h, _ = sp.read()
    assert (h.command_id, h.sequence) == (Cmd.ACTIVE_TEST_RESP, seq)
    # Total_Length beyond the limit: the framing is lost, the connection is closed
    sp.sock.sendall(struct.pack(">III", pdu.MAX_PACKET + 1, Cmd.SUBMIT, 99))
    with pytest.raises((ConnectionError, OSError)):
        sp.read()
    sp.close()
    # a submit before connecting: closed
    sp = Sp(port, V30)
    sp.send(Cmd.SUBMIT, pdu.encode_submit(_part(b"\x00A", PORT + "07", USER[2:]), V30))
    with pytest.raises((ConnectionError, OSError)):
        sp.read()
    sp.close()
    # the server still serves
    sp = Sp(port, V20)
    assert sp.connect().status == 0
    sp.close()


def test_window_is_flow_controlled(session: Session, loop_thread: LoopThread) -> None:
    """Window 1: a CMPP_SUBMIT sent while the first is being decided gets Result 8 (flow control),
    the first its Result once decided (a decider that waits for the test, so no race)."""
    build(session)
    create_account(session, source_addr="900009", secret="Tw0Window", content_provider=CP_CODE, window=1)
    session.commit()
    release = threading.Event()

    def slow(_sub: Submission) -> SubmitOutcome:
        release.wait(10)
        return SubmitOutcome(0, "r1", "r1", "allow")

    gw = CmppGateway(CmppSettings(session_init_timeout=5.0, workers=1), decide=slow)
    _h, port = loop_thread.run(gw.start("127.0.0.1", 0))
    try:
        sp = Sp(port, V30)
        assert sp.connect("900009", "Tw0Window").status == 0
        body = pdu.encode_submit(_part(b"\x00A", BUSINESS_PORT, USER[2:]), V30)
        s1, s2 = sp.send(Cmd.SUBMIT, body), sp.send(Cmd.SUBMIT, body)
        h, b = sp.read()
        assert h.sequence == s2 and pdu.decode_msg_resp(b, V30).result == 8
        release.set()
        h, b = sp.read()
        assert h.sequence == s1 and pdu.decode_msg_resp(b, V30).result == 0
        sp.close()
    finally:
        release.set()
        loop_thread.run(gw.stop())


def test_no_secret_in_the_database_in_clear(session: Session, stack: tuple[int, int]) -> None:
    from sqlalchemy import text

    raw = session.execute(text("SELECT secret FROM msg_cmpp_accounts")).scalars().all()
    assert raw and all(SECRET not in r and "Tw0Window" not in r for r in raw)


@pytest.mark.obligation("O31-11")
@pytest.mark.parametrize("version", [V20, V30])
def test_status_report_when_the_record_is_delivered(
    session: Session, stack: tuple[int, int], version: int
) -> None:
    """Registered_Delivery 1: once the gateway records the delivery outcome, the SP gets a
    CMPP_DELIVER status report naming the Msg_Id it was given (one per part of a long message),
    and the report is kept as sent once the SP answers."""
    from piguard.messaging.cmpp.models import CmppMessage
    from piguard.messaging.records.service import deliver_report

    from .smpp_harness import wait_for

    _smpp, port = stack
    sp = Sp(port, version)
    assert sp.connect().status == 0
    long_notice = "【优品商城】您的订单已发货。" + "物流信息请在订单页面查看，感谢您的耐心等待。" * 5
    raw = long_notice.encode("utf-16-be")
    chunks = [raw[i : i + 134] for i in range(0, len(raw), 134)]
    parts = [
        _part(bytes([5, 0, 3, 0x11, len(chunks), n]) + c, BUSINESS_PORT, USER[2:], udhi=1, total=len(chunks),
              number=n)
        for n, c in enumerate(chunks, 1)
    ]  # fmt: skip
    given = [r.msg_id for r in sp.submit_parts(parts)]
    assert len(given) == len(chunks) == 2 and all(given) and len(set(given)) == 2

    def _kept() -> CmppMessage | None:
        session.expire_all()
        return session.scalar(select(CmppMessage))

    kept = wait_for(_kept, 10)
    assert sorted(int(m, 16) for m in kept.msg_ids) == sorted(given)
    assert USER[2:] not in kept.dest_enc  # the number only encrypted
    # the loopback SMS centre has taken it (sent); the centre's receipt says delivered
    wait_for(lambda: deliver_report(session, kept.record_ref, "delivered") == "delivered", 10)
    session.commit()
    reported = []
    for _ in given:
        h, body = sp.read()
        assert h.command_id == Cmd.DELIVER
        d = pdu.decode_deliver(body, version)
        assert d.registered_delivery == 1 and d.dest_id == BUSINESS_PORT and d.src_terminal_id == USER[2:]
        rp = pdu.decode_report(d.content, version)
        assert rp.stat == "DELIVRD" and rp.dest_terminal_id == USER[2:]
        reported.append(rp.msg_id)
        sp.sock.sendall(
            pdu.frame(Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(d.msg_id, 0), version))
        )
    assert sorted(reported) == sorted(given)

    def _sent() -> bool:
        session.expire_all()
        m = session.scalar(select(CmppMessage))
        return m is not None and m.receipt_sent

    assert wait_for(_sent, 10)
    sp.close()


@pytest.mark.parametrize("version", [V20, V30])
def test_fuzzed_submits_get_answers_and_never_hang_the_connection(
    stack: tuple[int, int], version: int
) -> None:
    """Mutated and truncated CMPP_SUBMIT bodies (seeded, reproducible) on one connection: each is
    answered with a CMPP_SUBMIT_RESP (Result 0 only for what still reads as a valid message), and the
    connection still answers ACTIVE_TEST afterwards."""
    import random

    rng = random.Random(1303 + version)
    _smpp, port = stack
    sp = Sp(port, version)
    assert sp.connect().status == 0
    good = pdu.encode_submit(
        _part("【优品商城】您的订单已发货".encode("utf-16-be"), BUSINESS_PORT, USER[2:]), version
    )
    answered = 0
    for i in range(150):
        body = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        if i % 3 == 0:
            body = body[: rng.randrange(len(body))]
        seq = sp.send(Cmd.SUBMIT, bytes(body))
        h, resp = sp.read()
        assert (h.command_id, h.sequence) == (Cmd.SUBMIT_RESP, seq)
        result = pdu.decode_msg_resp(resp, version).result
        assert result in RESULTS
        answered += 1
    assert answered == 150
    seq = sp.send(Cmd.ACTIVE_TEST)
    h, _ = sp.read()
    assert (h.command_id, h.sequence) == (Cmd.ACTIVE_TEST_RESP, seq)
    sp.close()


def test_half_sent_long_messages_are_bounded(session: Session, loop_thread: LoopThread) -> None:
    build(session)
    create_account(session, source_addr=SP_ID, secret=SECRET, content_provider=CP_CODE)
    session.commit()
    gw = CmppGateway(CmppSettings(max_partials=2, session_init_timeout=5.0, workers=1))
    _h, port = loop_thread.run(gw.start("127.0.0.1", 0))
    try:
        sp = Sp(port, V30)
        assert sp.connect().status == 0
        firsts = [
            _part(bytes([5, 0, 3, ref, 2, 1, 0, 0x41]), BUSINESS_PORT, USER[2:], udhi=1, total=2)
            for ref in (1, 2, 3)
        ]
        assert [r.result for r in sp.submit_parts(firsts)] == [0, 0, 8]
        # a further part of a message already begun is still taken
        second = _part(bytes([5, 0, 3, 1, 2, 2, 0, 0x42]), BUSINESS_PORT, USER[2:], udhi=1, total=2, number=2)
        assert sp.submit_parts([second])[0].result not in (8, 1)  # reassembled and decided whole
        sp.close()
    finally:
        loop_thread.run(gw.stop())


@pytest.mark.obligation("O31-16")
def test_long_message_refused_whole_rejects_its_earlier_parts(stack: tuple[int, int]) -> None:
    """The first part was answered Result 0 before the whole could be decided; when the whole is
    refused, that Msg_Id gets a REJECTD status report (Registered_Delivery 1), as SMPP does."""
    _smpp, port = stack
    sp = Sp(port, V30)
    assert sp.connect().status == 0
    text = "【优品商城】百家乐真人荷官，首存送彩金，" + "注册即送888元体验金，" * 5 + "回T退订"
    raw = text.encode("utf-16-be")
    chunks = [raw[i : i + 134] for i in range(0, len(raw), 134)]
    parts = [
        _part(bytes([5, 0, 3, 0x21, len(chunks), n]) + c, PORT + "07", USER[2:], udhi=1, total=len(chunks),
              number=n)
        for n, c in enumerate(chunks, 1)
    ]  # fmt: skip
    answers = sp.submit_parts(parts)
    assert [a.result for a in answers[:-1]] == [0] * (len(chunks) - 1) and answers[-1].result == 65
    rejected = []
    for _ in answers[:-1]:
        h, body = sp.read()
        assert h.command_id == Cmd.DELIVER
        d = pdu.decode_deliver(body, V30)
        rp = pdu.decode_report(d.content, V30)
        assert d.registered_delivery == 1 and rp.stat == "REJECTD"
        rejected.append(rp.msg_id)
        sp.sock.sendall(
            pdu.frame(Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(d.msg_id, 0), V30))
        )
    assert rejected == [a.msg_id for a in answers[:-1]]
    sp.close()
