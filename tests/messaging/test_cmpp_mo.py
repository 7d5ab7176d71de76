"""MO replies to CMPP content providers (CMPP_DELIVER, Registered_Delivery 0) through the shared MO
hand-over: the user's 退订 reaches piguard's SMPP link from the SMS centre, ends the consent, and
the SP gets it on its CMPP connection; the next advert is refused for want of consent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.accounts import create_account
from piguard.messaging.cmpp.bridge import CmppGateway
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.pdu import V20, V30, Cmd
from piguard.messaging.smpp.bridge import SmppGateway

from .china_harness import consents_ended, last_out, start_beside_smpp
from .smpp_harness import AD, CP_CODE, PORT, USER, LoopThread, SmsCentre, give_consent, wait_for
from .smpp_harness import loop_thread as loop_thread  # the fixture
from .smpp_harness import stack as stack  # the fixture
from .test_cmpp_server import SECRET, SP_ID, Sp

pytestmark = pytest.mark.timeout(90)


@pytest.fixture()
def cmpp(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> Iterator[tuple[SmsCentre, int]]:
    smpp_gw, _port, smsc = stack
    create_account(session, source_addr=SP_ID, secret=SECRET, content_provider=CP_CODE,
                   default_message_type="promotions")  # fmt: skip
    session.commit()
    gw = CmppGateway(CmppSettings(inactivity_timeout=10.0, session_init_timeout=5.0, workers=2))
    port = start_beside_smpp(loop_thread, smpp_gw, gw)
    yield smsc, port
    loop_thread.run(gw.stop())


@pytest.mark.obligation("O31-20", "O31-18.1")
@pytest.mark.parametrize("version", [V20, V30])
def test_mo_optout_reaches_the_sp_and_ends_the_consent(
    session: Session, loop_thread: LoopThread, cmpp: tuple[SmsCentre, int], version: int
) -> None:
    smsc, port = cmpp
    give_consent(session)
    sp = Sp(port, version)
    assert sp.connect().status == 0
    assert sp.submit(AD).result == 0  # consent given: allowed
    assert loop_thread.run(smsc.deliver(USER, PORT + "07", "退订".encode("utf-16-be"), data_coding=8))
    h, body = sp.read()
    d = pdu.decode_deliver(body, version)
    assert h.command_id == Cmd.DELIVER and d.registered_delivery == 0 and d.msg_fmt == 8
    assert d.content.decode("utf-16-be") == "退订" and d.dest_id == PORT + "07" and d.src_terminal_id == USER
    sp.sock.sendall(
        pdu.frame(Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(d.msg_id, 0), version))
    )
    assert wait_for(lambda: consents_ended(session), 10)
    assert sp.submit(AD).result == 69  # no valid consent (SMPP 0x405)
    assert "O31-18.1" in last_out(session).obligations
    sp.close()
