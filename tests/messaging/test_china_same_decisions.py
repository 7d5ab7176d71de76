"""Issue 13's "done means": the same message set through SMPP, CMPP 2.0, CMPP 3.0, SMGP and SGIP
content-provider links, all beside one SMPP gateway, gets the same decisions, reasons and obligation
ids in the records; each protocol answers with its own code for the same reason (the documented
tables), and the numbers of piguard's refusals are the SMPP vendor statuses in every protocol."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from piguard.messaging.cmpp.accounts import create_account as create_cmpp
from piguard.messaging.cmpp.bridge import CmppGateway
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.pdu import V20, V30
from piguard.messaging.ismg.accounts import create_account
from piguard.messaging.sgip.accounts import RULES as SGIP
from piguard.messaging.sgip.bridge import SgipGateway
from piguard.messaging.sgip.config import SgipSettings
from piguard.messaging.smgp.accounts import RULES as SMGP
from piguard.messaging.smgp.bridge import SmgpGateway
from piguard.messaging.smgp.config import SmgpSettings
from piguard.messaging.smpp.bridge import SmppGateway

from . import test_cmpp_server as cmpp_t
from . import test_sgip_server as sgip_t
from . import test_smgp_server as smgp_t
from .china_harness import last_out, start_beside_smpp
from .smpp_harness import AD, BUSINESS_PORT, CP_CODE, NOTICE, PORT, LoopThread, SmsCentre, esme
from .smpp_harness import loop_thread as loop_thread  # the fixture
from .smpp_harness import stack as stack  # the fixture
from .test_smpp_server import _submit as smpp_submit

pytestmark = pytest.mark.timeout(120)

CASES = [
    (NOTICE, BUSINESS_PORT),  # allowed
    ("【优品商城】百家乐真人荷官，首存送彩金，回T退订", PORT + "07"),  # prohibited (O31-16)
    (AD, PORT + "07"),  # commercial without consent (O31-18.1)
    (NOTICE, "12110"),  # another content provider's port (O31-13, O31-10)
    ("【优品商城】会员日全场5折，详询4008123456", PORT + "07"),  # no opt-out wording (O31-20)
    (
        "【优品商城】您的订单已发货。" + "物流信息请在订单页面查看，感谢您的耐心等待。" * 5,
        BUSINESS_PORT,
    ),  # long
]


@pytest.mark.obligation("O31-10", "O31-13", "O31-16", "O31-18.1", "O31-20")
def test_same_messages_same_decisions_through_five_links(
    session: Session, loop_thread: LoopThread, stack: tuple[SmppGateway, int, SmsCentre]
) -> None:
    smpp_gw, smpp_port, _smsc = stack
    same = {"content_provider": CP_CODE, "default_message_type": "promotions"}  # as the SMPP account
    create_cmpp(session, source_addr=cmpp_t.SP_ID, secret=cmpp_t.SECRET, **same)
    create_account(session, SMGP, login=smgp_t.CLIENT_ID, secret=smgp_t.SECRET, **same)  # type: ignore[arg-type]
    create_account(session, SGIP, login=sgip_t.LOGIN, secret=sgip_t.PASSWORD, **same)  # type: ignore[arg-type]
    session.commit()
    gws = [
        CmppGateway(CmppSettings(session_init_timeout=5.0, workers=2)),
        SmgpGateway(SmgpSettings(session_init_timeout=5.0, workers=2)),
        SgipGateway(SgipSettings(session_init_timeout=5.0, workers=2)),
    ]
    cmpp_port, smgp_port, sgip_port = (start_beside_smpp(loop_thread, smpp_gw, g) for g in gws)
    try:
        records: dict[str, list[tuple[object, ...]]] = {}
        codes: dict[str, list[int]] = {}

        def keep(link: str, code: int) -> None:
            rec = last_out(session)
            records.setdefault(link, []).append((rec.outcome, rec.reason_codes, rec.obligations, rec.sender))
            codes.setdefault(link, []).append(code)

        with esme(smpp_port) as client:
            for text, src in CASES:
                keep("smpp", smpp_submit(client, text, sender=src)[0])
        for version, name in ((V20, "cmpp2"), (V30, "cmpp3")):
            sp = cmpp_t.Sp(cmpp_port, version)
            assert sp.connect().status == 0
            for text, src in CASES:
                keep(name, sp.submit(text, src=src).result)
            sp.close()
        smgp = smgp_t.Sp(smgp_port)
        assert smgp.login().status == 0
        for text, src in CASES:
            keep("smgp", smgp.submit(text, src=src)[-1].status)
        smgp.close()
        sgip = sgip_t.Sp(sgip_port)
        assert sgip.bind() == 0
        for text, src in CASES:
            keep("sgip", sgip.submit(text, src=src)[-1][1])
        sgip.close()
    finally:
        for g in gws:
            loop_thread.run(g.stop())
    assert set(records) == {"smpp", "cmpp2", "cmpp3", "smgp", "sgip"}
    for link, got in records.items():
        assert got == records["smpp"], link
    outcomes = [r[0] for r in records["smpp"]]
    assert outcomes == ["allow", "refuse", "refuse", "refuse", "refuse", "allow"]
    assert "O31-20" in records["smpp"][4][2] and "O31-16" in records["smpp"][1][2]
    assert codes["smpp"] == [0, 0x401, 0x405, 0x00A, 0x403, 0]
    assert codes["cmpp2"] == codes["cmpp3"] == [0, 65, 69, 10, 67, 0]
    assert codes["smgp"] == [0, 0x401, 0x405, 46, 0x403, 0]
    assert codes["sgip"] == [0, 65, 69, 5, 67, 0]
