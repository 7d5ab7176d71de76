"""piguard's SMGP 3.0 gateway over real TCP with a content provider written here (on ``smgp.pdu``,
whose bytes test_smgp_codec.py checks against others'): Login with good and bad authenticators,
the same decisions and reasons as SMPP, long messages, flow control, Active_Test, Exit, malformed
packets; and end to end through piguard's SMPP link to a test SMS centre: a submit allowed and sent,
its receipt turned into an SMGP status report, the user's MO 退订 passed to the content provider as
a Deliver and ending the consent, so that the next advert is refused."""

from __future__ import annotations

import random
import struct
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.ismg.accounts import create_account
from piguard.messaging.ismg.models import IsmgMessage
from piguard.messaging.ismg.transport import shanghai_now
from piguard.messaging.models import MessageRecord
from piguard.messaging.smgp import pdu
from piguard.messaging.smgp.accounts import RULES
from piguard.messaging.smgp.bridge import SmgpGateway
from piguard.messaging.smgp.config import SmgpSettings
from piguard.messaging.smgp.pdu import Cmd, LoginMode, St, Tag
from piguard.messaging.smgp.statuses import STATUSES, smgp_status
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

CLIENT_ID = "33001001"
SECRET = "Sh4red-Secret"
GATEWAY_CODE = 10061


@pytest.fixture()
def smgp(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> Iterator[tuple[SmppGateway, int, SmsCentre, int]]:
    """The SMPP harness's stack (registry, SMS centre, piguard's SMPP gateway bound to it) with an
    SMGP account for the same content provider and piguard's SMGP gateway taking MO replies."""
    smpp_gw, smpp_port, smsc = stack
    create_account(session, RULES, login=CLIENT_ID, secret=SECRET, content_provider=CP_CODE,
                   default_message_type="promotions")  # fmt: skip
    create_account(session, RULES, login="33009009", secret="W1ndow-1", content_provider=CP_CODE, window=1)
    session.commit()
    gw = SmgpGateway(
        SmgpSettings(gateway_code=GATEWAY_CODE, inactivity_timeout=10.0, session_init_timeout=5.0, workers=2,
                     report_interval=0.2)
    )  # fmt: skip
    port = start_beside_smpp(loop_thread, smpp_gw, gw)
    yield smpp_gw, smpp_port, smsc, port
    loop_thread.run(gw.stop())


class Sp(BlockingPeer):
    """A content provider's SMGP client: one request at a time."""

    def __init__(self, port: int) -> None:
        super().__init__(port, pdu.HEADER_LEN, pdu.parse_header)
        self.seq = 0

    def send(self, cid: int, body: bytes = b"") -> int:
        self.seq += 1
        self.sock.sendall(pdu.frame(cid, self.seq, body))
        return self.seq

    def login(
        self, client_id: str = CLIENT_ID, secret: str = SECRET, *, ts: int | None = None, mode: int = 2,
        version: int = pdu.VERSION,
    ) -> pdu.LoginResp:  # fmt: skip
        ts = pdu.timestamp_of(shanghai_now()) if ts is None else ts
        self.auth = pdu.authenticator_client(client_id, secret, ts)
        seq = self.send(Cmd.LOGIN, pdu.encode_login(pdu.Login(client_id, self.auth, mode, ts, version)))
        h, body = self.read()
        assert (h.command_id, h.sequence) == (Cmd.LOGIN_RESP, seq)
        return pdu.decode_login_resp(body)

    def submit_raw(self, s: pdu.Submit) -> pdu.MsgResp:
        seq = self.send(Cmd.SUBMIT, pdu.encode_submit(s))
        h, body = self.read()
        assert (h.command_id, h.sequence) == (Cmd.SUBMIT_RESP, seq)
        return pdu.decode_msg_resp(body)

    def submit(
        self, text: str, *, src: str = PORT + "07", dest: str = USER[2:], ref: int = 0x37
    ) -> list[pdu.MsgResp]:
        raw = text.encode("utf-16-be")
        if len(raw) <= 140:
            return [self.submit_raw(_submit(raw, src, dest))]
        return [
            self.submit_raw(_submit(c, src, dest, udhi=1, total=t, number=n))
            for c, t, n in ucs2_parts(text, ref)
        ]

    def answer(self, h: pdu.Header, msg_id: bytes, status: int = 0) -> None:
        self.sock.sendall(
            pdu.frame(Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(msg_id, status)))
        )


def _submit(raw: bytes, src: str, dest: str, *, udhi: int = 0, total: int = 1, number: int = 1) -> pdu.Submit:
    tlvs = {Tag.TP_UDHI: bytes([udhi]), Tag.PK_TOTAL: bytes([total]), Tag.PK_NUMBER: bytes([number])}
    return pdu.Submit(
        need_report=1, msg_format=8, src_term_id=src, dest_term_ids=(dest,), content=raw, tlvs=tlvs
    )


@pytest.mark.obligation("O31-12")
def test_login_good_and_bad(smgp: tuple[SmppGateway, int, SmsCentre, int]) -> None:
    port = smgp[3]
    sp = Sp(port)
    resp = sp.login()
    assert resp.status == 0 and resp.version == pdu.VERSION
    assert resp.authenticator == pdu.authenticator_server(0, sp.auth, SECRET)
    sp.close()
    for kwargs, status in (
        ({"secret": "wrong-secret"}, St.AUTH),
        ({"client_id": "99999999"}, St.AUTH),
        ({"ts": pdu.timestamp_of(shanghai_now()) - 10_000}, St.AUTH),  # an hour off
        ({"ts": 1399999999}, St.AUTH),  # no such date
        ({"version": 0x20}, St.VERSION),
        ({"mode": 7}, St.STRUCTURE),
    ):
        sp = Sp(port)
        resp = sp.login(**kwargs)  # type: ignore[arg-type]
        assert resp.status == status and resp.authenticator == bytes(16)
        with pytest.raises((ConnectionError, OSError)):  # piguard closes after a refused login
            sp.read()
        sp.close()


@pytest.mark.obligation("O31-12", "O31-23")
def test_disabled_account_is_refused(session: Session, smgp: tuple[SmppGateway, int, SmsCentre, int]) -> None:
    from piguard.messaging.ismg.accounts import set_active

    set_active(session, RULES, CLIENT_ID, False)
    session.commit()
    sp = Sp(smgp[3])
    assert sp.login().status == 76
    sp.close()


@pytest.mark.obligation("O31-10", "O31-13", "O31-16", "O31-18.1")
def test_same_decisions_and_reasons_as_smpp(
    session: Session, smgp: tuple[SmppGateway, int, SmsCentre, int]
) -> None:
    _gw, smpp_port, _smsc, port = smgp
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
            rec = last_out(session)
            via_smpp.append((smgp_status(status), rec.outcome, rec.reason_codes, rec.obligations, rec.sender))
    sp = Sp(port)
    assert sp.login().status == 0
    via_smgp = []
    for text, src in cases:
        resp = sp.submit(text, src=src)[-1]
        rec = last_out(session)
        via_smgp.append((resp.status, rec.outcome, rec.reason_codes, rec.obligations, rec.sender))
        if resp.status == 0:  # MsgID per spec: piguard's SMGW code, today's MMDDhhmm
            parts = pdu.split_msg_id(resp.msg_id)
            assert int(parts.gateway) == GATEWAY_CODE and parts.time[:4] == shanghai_now().strftime("%m%d")
        else:
            assert resp.msg_id == bytes(10)
    assert via_smgp == via_smpp
    assert [r[0] for r in via_smgp] == [0, 0x401, 0x405, 46, 0]
    assert all(r[0] in STATUSES for r in via_smgp)
    assert "O31-16" in via_smgp[1][3] and "O31-18.1" in via_smgp[2][3]
    rec = last_out(session)  # the long message was reassembled (TP_udhi) and decided whole
    assert rec.outcome == "allow" and rec.content.startswith("【优品商城】您的订单已发货。物流")
    sp.send(Cmd.EXIT)
    h, body = sp.read()
    assert h.command_id == Cmd.EXIT_RESP and body == b""
    sp.close()


def test_active_test_exit_and_bad_packets(smgp: tuple[SmppGateway, int, SmsCentre, int]) -> None:
    port = smgp[3]
    sp = Sp(port)
    assert sp.login().status == 0
    seq = sp.send(Cmd.ACTIVE_TEST)
    h, body = sp.read()
    assert (h.command_id, h.sequence, body) == (Cmd.ACTIVE_TEST_RESP, seq, b"")
    sp.send(0x00000099, b"junk")  # an unknown RequestID: recorded and ignored
    sp.send(Cmd.SUBMIT, b"\x00" * 20)  # fields that do not read: Status 10, the connection survives
    h, body = sp.read()
    assert h.command_id == Cmd.SUBMIT_RESP and pdu.decode_msg_resp(body).status == St.STRUCTURE
    dest = USER[2:]
    bad = [
        (_submit(b"\x00A", PORT + "07", dest, total=1, number=2), St.STRUCTURE),  # PkNumber > PkTotal
        (pdu.Submit(msg_format=4, src_term_id=PORT + "07", dest_term_ids=(dest,), content=b"\x01"), St.MSG_FORMAT),
        (pdu.Submit(msg_format=0, src_term_id=PORT + "07", dest_term_ids=(dest, "13300000000"), content=b"hi"),
         St.DEST_TERM),
        (pdu.Submit(msg_type=0, msg_format=0, src_term_id=PORT + "07", dest_term_ids=(dest,), content=b"hi"),
         St.MSG_TYPE),
        (pdu.Submit(msg_format=15, src_term_id=PORT + "07", dest_term_ids=(dest,), content=b"\xff\xff"), St.MSG_FORMAT),
        (pdu.Submit(msg_format=0, src_term_id=PORT + "07", dest_term_ids=(dest,), content=b"hi",
                    tlvs={Tag.PK_TOTAL: b"\x00\x02"}), St.STRUCTURE),
    ]  # fmt: skip
    assert [sp.submit_raw(s).status for s, _ in bad] == [st for _, st in bad]
    seq = sp.send(Cmd.ACTIVE_TEST)
    assert sp.read()[0].sequence == seq
    # PacketLength beyond the limit: the framing is lost, the connection is closed
    sp.sock.sendall(struct.pack(">III", pdu.MAX_PACKET + 1, Cmd.SUBMIT, 99))
    with pytest.raises((ConnectionError, OSError)):
        sp.read()
    sp.close()
    sp = Sp(port)  # a Submit before Login: closed
    sp.send(Cmd.SUBMIT, pdu.encode_submit(_submit(b"\x00A", PORT + "07", dest)))
    with pytest.raises((ConnectionError, OSError)):
        sp.read()
    sp.close()
    sp = Sp(port)  # a receive-only login may not submit (Status 11)
    assert sp.login(mode=LoginMode.RECEIVE).status == 0
    assert sp.submit(NOTICE, src=BUSINESS_PORT)[0].status == St.COMMAND
    sp.close()


def test_fuzzed_packets_get_answers_and_never_hang_the_connection(
    smgp: tuple[SmppGateway, int, SmsCentre, int],
) -> None:
    """Mutated and truncated Submit bodies (seeded, reproducible) on one connection, each answered
    with a Submit_Resp whose Status is in the documented table; then the connection still answers
    Active_Test; random RequestIDs and lengths within the limit never take it down either."""
    rng = random.Random(1313)
    sp = Sp(smgp[3])
    assert sp.login().status == 0
    good = pdu.encode_submit(
        _submit("【优品商城】您的订单已发货".encode("utf-16-be"), BUSINESS_PORT, USER[2:])
    )
    for i in range(150):
        body = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        if i % 3 == 0:
            body = body[: rng.randrange(len(body))]
        seq = sp.send(Cmd.SUBMIT, bytes(body))
        h, resp = sp.read()
        assert (h.command_id, h.sequence) == (Cmd.SUBMIT_RESP, seq)
        assert pdu.decode_msg_resp(resp).status in STATUSES
    for _ in range(30):  # unknown or unoffered requests with random bodies: ignored
        sp.send(rng.choice([0x5, 0x7, 0x11, 0x99, 0x7FFFFFFF]), rng.randbytes(rng.randrange(40)))
    seq = sp.send(Cmd.ACTIVE_TEST)
    h, _ = sp.read()
    assert (h.command_id, h.sequence) == (Cmd.ACTIVE_TEST_RESP, seq)
    sp.close()


def test_window_is_flow_controlled(session: Session, loop_thread: LoopThread) -> None:
    """Window 1: a Submit sent while the first is being decided gets Status 1 (flow control)."""
    build(session)
    create_account(session, RULES, login="33009009", secret="W1ndow-1", content_provider=CP_CODE, window=1)
    session.commit()
    release = threading.Event()

    def slow(_sub: Submission) -> SubmitOutcome:
        release.wait(10)
        return SubmitOutcome(0, "r1", "r1", "allow")

    gw = SmgpGateway(SmgpSettings(session_init_timeout=5.0, workers=1), decide=slow)
    _h, port = loop_thread.run(gw.start("127.0.0.1", 0))
    try:
        sp = Sp(port)
        assert sp.login("33009009", "W1ndow-1").status == 0
        body = pdu.encode_submit(_submit(b"\x00A", BUSINESS_PORT, USER[2:]))
        s1, s2 = sp.send(Cmd.SUBMIT, body), sp.send(Cmd.SUBMIT, body)
        h, b = sp.read()
        assert h.sequence == s2 and pdu.decode_msg_resp(b).status == St.BUSY
        release.set()
        h, b = sp.read()
        assert h.sequence == s1 and pdu.decode_msg_resp(b).status == 0
        sp.close()
    finally:
        release.set()
        loop_thread.run(gw.stop())


@pytest.mark.obligation("O31-11", "O31-18.1", "O31-20")
def test_submit_report_and_mo_optout_end_to_end(
    session: Session, loop_thread: LoopThread, smgp: tuple[SmppGateway, int, SmsCentre, int]
) -> None:
    _gw, _smpp_port, smsc, port = smgp
    give_consent(session)
    sp = Sp(port)
    assert sp.login().status == 0
    [resp] = sp.submit(AD)  # consent given: allowed, queued, sent through the SMS centre
    assert resp.status == 0
    mid = last_out(session).ref
    sent = wait_for(lambda: smsc.received, 10)
    assert [(r.destination_addr, r.source_addr) for r in sent] == [(USER, PORT + "07")]
    kept = session.scalar(select(IsmgMessage).where(IsmgMessage.protocol == "smgp"))
    assert kept is not None and kept.msg_ids == [resp.msg_id.hex()] and USER[2:] not in kept.dest_enc
    # the centre's receipt: the record is delivered, and the content provider gets a status report
    receipt = f"id:{sent[0].message_id} sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:DELIVRD err:000 text:"
    assert loop_thread.run(smsc.deliver(USER, PORT + "07", receipt.encode(), esm_class=0x04))
    h, body = sp.read()
    d = pdu.decode_deliver(body)
    assert h.command_id == Cmd.DELIVER and d.is_report == 1
    assert d.src_term_id == USER[2:] and d.dest_term_id == PORT + "07"
    rp = pdu.decode_report(d.content)
    assert rp.msg_id == resp.msg_id and rp.stat == "DELIVRD" and rp.err == "000"
    sp.answer(h, d.msg_id)
    session.expire_all()
    assert wait_for(
        lambda: session.scalar(select(IsmgMessage.receipt_sent).where(IsmgMessage.id == kept.id)), 10
    )
    assert session.scalar(select(MessageRecord.status).where(MessageRecord.ref == mid)) == "delivered"
    # the user answers 退订 through the centre: the content provider gets the MO as a Deliver ...
    assert loop_thread.run(smsc.deliver(USER, PORT + "07", "退订".encode("utf-16-be"), data_coding=8))
    h, body = sp.read()
    d = pdu.decode_deliver(body)
    assert h.command_id == Cmd.DELIVER and d.is_report == 0 and d.msg_format == 8
    assert d.content.decode("utf-16-be") == "退订" and d.dest_term_id == PORT + "07"
    sp.answer(h, d.msg_id)

    assert wait_for(lambda: consents_ended(session), 10)  # ... and the consent has ended (O31-20)
    [again] = sp.submit(AD)  # the next advert to that user is refused for want of consent
    assert again.status == 0x405
    last = last_out(session)
    assert last.outcome == "refuse" and "O31-18.1" in last.obligations
    sp.close()


@pytest.mark.obligation("O31-16")
def test_long_message_refused_whole_rejects_its_earlier_parts(
    smgp: tuple[SmppGateway, int, SmsCentre, int],
) -> None:
    sp = Sp(smgp[3])
    assert sp.login().status == 0
    text = "【优品商城】百家乐真人荷官，首存送彩金，" + "注册即送888元体验金，" * 5 + "回T退订"
    answers = sp.submit(text, ref=0x21)
    assert [a.status for a in answers[:-1]] == [0] * (len(answers) - 1) and answers[-1].status == 0x401
    rejected = []
    for _ in answers[:-1]:
        h, body = sp.read()
        d = pdu.decode_deliver(body)
        rp = pdu.decode_report(d.content)
        assert d.is_report == 1 and rp.stat == "REJECTD"
        rejected.append(rp.msg_id)
        sp.answer(h, d.msg_id)
    assert rejected == [a.msg_id for a in answers[:-1]]
    sp.close()
