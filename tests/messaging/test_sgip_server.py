"""piguard's SGIP 1.2 SMG over real TCP with a content provider written here (on ``sgip.pdu``,
whose layouts test_sgip_codec.py checks against others'): Bind good and bad, the same decisions and
reasons as SMPP, long messages, flow control, Unbind, malformed packets; and end to end through
piguard's SMPP link to a test SMS centre: a submit allowed and sent, its receipt turned into an
SGIP Report naming the Submit's Sequence Number, the user's MO 退订 passed on as a Deliver and
ending the consent, so that the next advert is refused."""

from __future__ import annotations

import random
import struct
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.ismg.accounts import create_account, set_active
from piguard.messaging.ismg.models import IsmgMessage
from piguard.messaging.ismg.transport import shanghai_now
from piguard.messaging.sgip import pdu
from piguard.messaging.sgip.accounts import RULES
from piguard.messaging.sgip.bridge import SgipGateway
from piguard.messaging.sgip.config import SgipSettings
from piguard.messaging.sgip.pdu import Cmd, Result
from piguard.messaging.sgip.statuses import RESULTS, sgip_result
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.server import Submission, SubmitOutcome

from .china_harness import BlockingPeer, consents_ended, last_out, start_beside_smpp, ucs2_parts
from .smpp_harness import (
    AD,
    BUSINESS_PORT,
    CP_CODE,
    NOTICE,
    PORT,
    USER,
    LoopThread,
    SmsCentre,
    build,
    esme,
    give_consent,
    wait_for,
)
from .smpp_harness import loop_thread as loop_thread  # the fixture
from .smpp_harness import stack as stack  # the fixture
from .test_smpp_server import _submit as smpp_submit

pytestmark = pytest.mark.timeout(90)

LOGIN = "sp901234"
PASSWORD = "Pa55-word"
NODE_ID = 3_010_000_001
SP_NODE = 3_020_012_345


@pytest.fixture()
def sgip(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> Iterator[tuple[SmppGateway, int, SmsCentre, int]]:
    smpp_gw, smpp_port, smsc = stack
    create_account(session, RULES, login=LOGIN, secret=PASSWORD, content_provider=CP_CODE,
                   default_message_type="promotions")  # fmt: skip
    session.commit()
    gw = SgipGateway(
        SgipSettings(
            node_id=NODE_ID, inactivity_timeout=10.0, session_init_timeout=5.0, workers=2, report_interval=0.2
        )
    )
    port = start_beside_smpp(loop_thread, smpp_gw, gw)
    yield smpp_gw, smpp_port, smsc, port
    loop_thread.run(gw.stop())


class Sp(BlockingPeer):
    """A content provider's SGIP client: one request at a time, its own node id in its sequences."""

    def __init__(self, port: int) -> None:
        super().__init__(port, pdu.HEADER_LEN, pdu.parse_header)
        self.n = 0

    def send(self, cid: int, body: bytes = b"") -> pdu.Sequence:
        self.n += 1
        seq = pdu.sequence_of(SP_NODE, shanghai_now(), self.n)
        self.sock.sendall(pdu.frame(cid, seq, body))
        return seq

    def bind(self, name: str = LOGIN, password: str = PASSWORD, login_type: int = 1) -> int:
        seq = self.send(Cmd.BIND, pdu.encode_bind(pdu.Bind(login_type, name, password)))
        h, body = self.read()
        assert (h.command_id, h.sequence) == (Cmd.BIND_RESP, seq)
        return pdu.decode_resp(body)

    def submit_raw(self, s: pdu.Submit) -> tuple[pdu.Sequence, int]:
        seq = self.send(Cmd.SUBMIT, pdu.encode_submit(s))
        h, body = self.read()
        assert (h.command_id, h.sequence) == (Cmd.SUBMIT_RESP, seq)
        return seq, pdu.decode_resp(body)

    def submit(self, text: str, *, src: str = PORT + "07", user: str = USER, ref: int = 0x37,
               flag: int = 1) -> list[tuple[pdu.Sequence, int]]:  # fmt: skip
        raw = text.encode("utf-16-be")
        if len(raw) <= 140:
            return [self.submit_raw(_submit(raw, src, user, flag=flag))]
        return [
            self.submit_raw(_submit(c, src, user, udhi=1, flag=flag)) for c, _t, _n in ucs2_parts(text, ref)
        ]

    def answer(self, h: pdu.Header, result: int = 0) -> None:
        self.sock.sendall(pdu.frame(h.command_id | pdu.RESP_BIT, h.sequence, pdu.encode_resp(result)))


def _submit(raw: bytes, src: str, user: str, *, udhi: int = 0, flag: int = 1) -> pdu.Submit:
    return pdu.Submit(sp_number=src, user_numbers=(user,), corp_id="12345", report_flag=flag, tp_udhi=udhi,
                      message_coding=8, content=raw)  # fmt: skip


@pytest.mark.obligation("O31-12", "O31-23")
def test_bind_good_and_bad(session: Session, sgip: tuple[SmppGateway, int, SmsCentre, int]) -> None:
    port = sgip[3]
    sp = Sp(port)
    assert sp.bind() == 0
    assert sp.bind() == Result.REPEATED_LOGIN  # a second Bind: answered, the connection stays
    sp.close()
    for kwargs, result in (
        ({"password": "wrong-pass"}, Result.ILLEGAL_LOGIN),
        ({"name": "nobody"}, Result.ILLEGAL_LOGIN),
        ({"login_type": 2}, Result.LOGIN_TYPE),
    ):
        sp = Sp(port)
        assert sp.bind(**kwargs) == result  # type: ignore[arg-type]
        with pytest.raises((ConnectionError, OSError)):  # piguard closes after a refused Bind
            sp.read()
        sp.close()
    set_active(session, RULES, LOGIN, False)
    session.commit()
    sp = Sp(port)
    assert sp.bind() == Result.ILLEGAL_LOGIN
    sp.close()


@pytest.mark.obligation("O31-10", "O31-13", "O31-16", "O31-18.1")
def test_same_decisions_and_reasons_as_smpp(
    session: Session, sgip: tuple[SmppGateway, int, SmsCentre, int]
) -> None:
    _gw, smpp_port, _smsc, port = sgip
    cases = [
        (NOTICE, BUSINESS_PORT),
        ("【优品商城】百家乐真人荷官，首存送彩金，回T退订", PORT + "07"),
        (AD, PORT + "07"),
        (NOTICE, "12110"),
        ("【优品商城】您的订单已发货。" + "物流信息请在订单页面查看，感谢您的耐心等待。" * 5, BUSINESS_PORT),
    ]
    via_smpp = []
    with esme(smpp_port) as client:
        for text, src in cases:
            status, _mid = smpp_submit(client, text, sender=src)
            rec = last_out(session)
            via_smpp.append((sgip_result(status), rec.outcome, rec.reason_codes, rec.obligations, rec.sender))
    sp = Sp(port)
    assert sp.bind() == 0
    via_sgip = []
    for text, src in cases:
        _seq, result = sp.submit(text, src=src)[-1]
        rec = last_out(session)
        via_sgip.append((result, rec.outcome, rec.reason_codes, rec.obligations, rec.sender))
    assert via_sgip == via_smpp
    assert [r[0] for r in via_sgip] == [0, 65, 69, 5, 0]
    assert all(r[0] in RESULTS for r in via_sgip)
    rec = last_out(session)
    assert rec.outcome == "allow" and rec.content.startswith("【优品商城】您的订单已发货。物流")
    seq = sp.send(Cmd.UNBIND)
    h, body = sp.read()
    assert (h.command_id, h.sequence, body) == (Cmd.UNBIND_RESP, seq, b"")
    sp.close()


def test_bad_packets_and_fuzz(sgip: tuple[SmppGateway, int, SmsCentre, int]) -> None:
    port = sgip[3]
    rng = random.Random(1312)
    sp = Sp(port)
    assert sp.bind() == 0
    sp.send(0x00000099, b"junk")  # an unknown Command ID: recorded and ignored
    bad = [
        (pdu.Submit(sp_number=PORT + "07", user_numbers=(USER, "8613300000000"), message_coding=0, content=b"hi"),
         Result.ILLEGAL_NUMBER),
        (pdu.Submit(sp_number=PORT + "07", user_numbers=(USER,), message_coding=4, content=b"\x01"),
         Result.PARAMETER_FORMAT),
        (pdu.Submit(sp_number=PORT + "07", user_numbers=(USER,), tp_udhi=1, message_coding=8, content=b"\x09\x00"),
         Result.PARAMETER_FORMAT),
        (pdu.Submit(sp_number=PORT + "07", user_numbers=(USER,), message_coding=15, content=b"\xff\xff"),
         Result.PARAMETER_FORMAT),
    ]  # fmt: skip
    assert [sp.submit_raw(s)[1] for s, _ in bad] == [r for _, r in bad]
    good = pdu.encode_submit(_submit("【优品商城】您的订单已发货".encode("utf-16-be"), BUSINESS_PORT, USER))
    for i in range(150):  # mutated and truncated Submits: each answered, the connection alive
        body = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        if i % 3 == 0:
            body = body[: rng.randrange(len(body))]
        seq = sp.send(Cmd.SUBMIT, bytes(body))
        h, resp = sp.read()
        assert (h.command_id, h.sequence) == (Cmd.SUBMIT_RESP, seq) and pdu.decode_resp(resp) in RESULTS
    for _ in range(30):  # requests not offered, with random bodies: ignored
        sp.send(rng.choice([0x4, 0x5, 0x6, 0x11, 0x1000, 0x99]), rng.randbytes(rng.randrange(40)))
    assert sp.submit(NOTICE, src=BUSINESS_PORT)[0][1] == 0  # still serving
    sp.sock.sendall(struct.pack(">IIIII", pdu.MAX_PACKET + 1, Cmd.SUBMIT, 1, 2, 3))  # framing lost: closed
    with pytest.raises((ConnectionError, OSError)):
        sp.read()
    sp.close()
    sp = Sp(port)  # a Submit before Bind: closed
    sp.send(Cmd.SUBMIT, good)
    with pytest.raises((ConnectionError, OSError)):
        sp.read()
    sp.close()


def test_window_is_flow_controlled(session: Session, loop_thread: LoopThread) -> None:
    build(session)
    create_account(session, RULES, login="window1", secret="W1ndow-1", content_provider=CP_CODE, window=1)
    session.commit()
    release = threading.Event()

    def slow(_sub: Submission) -> SubmitOutcome:
        release.wait(10)
        return SubmitOutcome(0, "r1", "r1", "allow")

    gw = SgipGateway(SgipSettings(session_init_timeout=5.0, workers=1), decide=slow)
    _h, port = loop_thread.run(gw.start("127.0.0.1", 0))
    try:
        sp = Sp(port)
        assert sp.bind("window1", "W1ndow-1") == 0
        body = pdu.encode_submit(_submit(b"\x00A", BUSINESS_PORT, USER))
        s1, s2 = sp.send(Cmd.SUBMIT, body), sp.send(Cmd.SUBMIT, body)
        h, b = sp.read()
        assert h.sequence == s2 and pdu.decode_resp(b) == Result.NODE_BUSY
        release.set()
        h, b = sp.read()
        assert h.sequence == s1 and pdu.decode_resp(b) == 0
        sp.close()
    finally:
        release.set()
        loop_thread.run(gw.stop())


@pytest.mark.obligation("O31-11", "O31-18.1", "O31-20")
def test_submit_report_and_mo_optout_end_to_end(
    session: Session, loop_thread: LoopThread, sgip: tuple[SmppGateway, int, SmsCentre, int]
) -> None:
    _gw, _smpp_port, smsc, port = sgip
    give_consent(session)
    sp = Sp(port)
    assert sp.bind() == 0
    [(seq, result)] = sp.submit(AD)
    assert result == 0
    mid = last_out(session).ref
    sent = wait_for(lambda: smsc.received, 10)
    assert [(r.destination_addr, r.source_addr) for r in sent] == [(USER, PORT + "07")]
    receipt = f"id:{sent[0].message_id} sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:DELIVRD err:000 text:"
    assert loop_thread.run(smsc.deliver(USER, PORT + "07", receipt.encode(), esm_class=0x04))
    h, body = sp.read()
    rp = pdu.decode_report(body)
    assert h.command_id == Cmd.REPORT and h.sequence[0] == NODE_ID  # piguard's own sequence
    assert rp.submit_sequence == seq and rp.state == pdu.STATE_DELIVERED and rp.user_number == USER
    sp.answer(h)

    def _sent() -> bool:
        session.expire_all()
        return bool(session.scalar(select(IsmgMessage.receipt_sent).where(IsmgMessage.record_ref == mid)))

    assert wait_for(_sent, 10)
    assert loop_thread.run(smsc.deliver(USER, PORT + "07", "退订".encode("utf-16-be"), data_coding=8))
    h, body = sp.read()
    d = pdu.decode_deliver(body)
    assert (
        h.command_id == Cmd.DELIVER and d.content.decode("utf-16-be") == "退订" and d.sp_number == PORT + "07"
    )
    sp.answer(h)

    assert wait_for(lambda: consents_ended(session), 10)
    [(_seq, again)] = sp.submit(AD)
    assert again == 69  # no valid consent (SMPP 0x405)
    assert "O31-18.1" in last_out(session).obligations
    sp.close()


@pytest.mark.obligation("O31-11")
def test_report_flag_zero_reports_failures_only(
    session: Session, loop_thread: LoopThread, sgip: tuple[SmppGateway, int, SmsCentre, int]
) -> None:
    """ReportFlag 0 (出错时返回): a delivered message is not reported, a failed one is."""
    _gw, _smpp_port, smsc, port = sgip
    sp = Sp(port)
    assert sp.bind() == 0
    [(_ok_seq, r1)] = sp.submit(NOTICE, src=BUSINESS_PORT, flag=0)
    [(bad_seq, r2)] = sp.submit("【优品商城】您的快递已到驿站，请凭取件码取件。", src=BUSINESS_PORT, flag=0)
    assert (r1, r2) == (0, 0)
    sent = wait_for(lambda: smsc.received if len(smsc.received) == 2 else None, 10)
    for r in sent:  # the centre delivers the notice and fails the other (in whatever order they came)
        stat = "DELIVRD" if r.short_message.decode("utf-16-be") == NOTICE else "UNDELIV"
        receipt = f"id:{r.message_id} sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:{stat} err:001 text:"
        assert loop_thread.run(smsc.deliver(USER, BUSINESS_PORT, receipt.encode(), esm_class=0x04))
    h, body = sp.read()
    rp = pdu.decode_report(body)
    assert (
        rp.submit_sequence == bad_seq
        and rp.state == pdu.STATE_FAILED
        and rp.error_code == 1  # the SMS centre's own err:001, passed on (not 32, system failure)
    )
    sp.answer(h)

    def _all_done() -> bool:
        session.expire_all()
        return all(session.scalars(select(IsmgMessage.receipt_sent)))

    assert wait_for(_all_done, 10)
    sp.close()


class SpReceiver:
    """The content provider's own SGIP server (spec 3.2): accepts piguard's Bind (Login Type 2),
    answers every Report and Deliver with Result 0 and keeps them, answers Unbind."""

    def __init__(self) -> None:
        import queue
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.got: queue.Queue[tuple[str, object]] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            peer = BlockingPeer.__new__(BlockingPeer)
            peer.sock, peer.header_len, peer.parse = conn, pdu.HEADER_LEN, pdu.parse_header
            try:
                while True:
                    h, body = peer.read()
                    if h.command_id == Cmd.BIND:
                        self.got.put(("bind", pdu.decode_bind(body)))
                    elif h.command_id == Cmd.REPORT:
                        self.got.put(("report", pdu.decode_report(body)))
                    elif h.command_id == Cmd.DELIVER:
                        self.got.put(("deliver", pdu.decode_deliver(body)))
                    elif h.command_id == Cmd.UNBIND:
                        conn.sendall(pdu.frame(Cmd.UNBIND_RESP, h.sequence))
                        break
                    conn.sendall(pdu.frame(h.command_id | pdu.RESP_BIT, h.sequence, pdu.encode_resp(0)))
            except (ConnectionError, OSError):
                pass
            finally:
                conn.close()

    def next(self, kind: str) -> object:
        while True:
            k, v = self.got.get(timeout=10)
            if k == kind:
                return v

    def close(self) -> None:
        self.sock.close()


@pytest.mark.obligation("O31-11", "O31-20")
def test_reports_and_mo_over_the_smg_to_sp_link(
    session: Session, loop_thread: LoopThread, sgip: tuple[SmppGateway, int, SmsCentre, int]
) -> None:
    """An account with a callback address gets its Report and the MO 退订 over piguard's own
    connection to the content provider's SGIP server (Bind Login Type 2 with its credentials), not
    on its submitting connection."""
    from piguard.core.errors import PiguardError
    from piguard.messaging.ismg.accounts import set_callback

    _gw, _smpp_port, smsc, port = sgip
    receiver = SpReceiver()
    with pytest.raises(PiguardError) as err:
        set_callback(session, RULES, LOGIN, "no-port-here")
    assert err.value.fields[0].field == "callback"
    set_callback(session, RULES, LOGIN, f"127.0.0.1:{receiver.port}")
    session.commit()
    give_consent(session)
    try:
        sp = Sp(port)
        assert sp.bind() == 0
        [(seq, result)] = sp.submit(AD)
        assert result == 0
        sent = wait_for(lambda: smsc.received, 10)
        receipt = f"id:{sent[0].message_id} sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:DELIVRD err:000 text:"
        assert loop_thread.run(smsc.deliver(USER, PORT + "07", receipt.encode(), esm_class=0x04))
        bind = receiver.next("bind")
        assert bind == pdu.Bind(pdu.LoginType.SMG_TO_SP, LOGIN, PASSWORD)
        rp = receiver.next("report")
        assert isinstance(rp, pdu.Report) and rp.submit_sequence == seq and rp.state == pdu.STATE_DELIVERED
        assert loop_thread.run(smsc.deliver(USER, PORT + "07", "退订".encode("utf-16-be"), data_coding=8))
        d = receiver.next("deliver")
        assert (
            isinstance(d, pdu.Deliver) and d.content.decode("utf-16-be") == "退订" and d.user_number == USER
        )
        assert wait_for(lambda: consents_ended(session), 10)
        sp.sock.settimeout(0.5)  # nothing came on the submitting connection
        with pytest.raises(TimeoutError):
            sp.read()
        sp.close()
    finally:
        receiver.close()


@pytest.mark.obligation("O31-11")
def test_reports_stay_queued_while_the_callback_link_is_down(
    session: Session, loop_thread: LoopThread, sgip: tuple[SmppGateway, int, SmsCentre, int]
) -> None:
    """The content provider's server is not listening: the delivered message's report is not marked
    sent, however many rounds pass; once the server listens, the report arrives."""
    import socket

    smpp_gw, _smpp_port, smsc, port = sgip
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    from piguard.messaging.ismg.accounts import set_callback

    set_callback(session, RULES, LOGIN, f"127.0.0.1:{dead}")
    session.commit()
    sp = Sp(port)
    assert sp.bind() == 0
    [(seq, result)] = sp.submit(NOTICE, src=BUSINESS_PORT)
    assert result == 0
    sent = wait_for(lambda: smsc.received, 10)
    receipt = f"id:{sent[0].message_id} sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:DELIVRD err:000 text:"
    assert loop_thread.run(smsc.deliver(USER, BUSINESS_PORT, receipt.encode(), esm_class=0x04))
    gw = next(f.__self__ for f in smpp_gw.mo_forwarders)  # the SGIP gateway of the fixture
    wait_for(lambda: last_out(session).status == "delivered", 10)
    for _ in range(3):  # rounds run by the test itself: each finds the link down
        assert loop_thread.run(gw.send_reports()) == 0
    session.expire_all()
    assert session.scalar(select(IsmgMessage.receipt_sent)) is False
    receiver = SpReceiver()
    try:
        set_callback(session, RULES, LOGIN, f"127.0.0.1:{receiver.port}")
        session.commit()
        rp = receiver.next("report")
        assert isinstance(rp, pdu.Report) and rp.submit_sequence == seq

        def _sent() -> bool:
            session.expire_all()
            return bool(session.scalar(select(IsmgMessage.receipt_sent)))

        assert wait_for(_sent, 10)
    finally:
        receiver.close()
        sp.close()
