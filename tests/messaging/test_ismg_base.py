"""The transport base shared by CMPP, SMGP and SGIP (``messaging.ismg``): long-message reassembly,
the TP_udhi/format helpers, the shared account rules and the MO hand-over hook of the SMPP gateway.
The connection loop itself is exercised over TCP by each protocol's server tests."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import Session

from piguard.core.errors import PiguardError
from piguard.messaging.ismg import accounts, text
from piguard.messaging.ismg.transport import Reassembler, recipient_e164
from piguard.messaging.smgp.accounts import RULES as SMGP_RULES

from .smpp_harness import CP_CODE, build


def test_reassembler_joins_parts_in_order_and_bounds_half_sent_messages() -> None:
    ids = itertools.count(100)
    r: Reassembler[int] = Reassembler(60.0, 2, lambda: next(ids))
    key = ("src", "dest", 7, 3)
    assert r.add(key, 2, b"B") == 100  # answered with its own id, more to come
    assert r.add(key, 2, b"B") == 100  # a repeated part keeps its id
    assert r.add(key, 1, b"A") == 101
    assert r.add(key, 3, b"C") == (b"ABC", [101, 100])  # whole, with the other parts' ids
    assert key not in r.partials
    r.add(("s", "d", 1, 2), 1, b"x")
    r.add(("s", "d", 2, 2), 1, b"y")
    assert r.full_for(("s", "d", 3, 2)) and not r.full_for(("s", "d", 1, 2))


def test_reassembler_drops_parts_older_than_its_ttl() -> None:
    r: Reassembler[int] = Reassembler(-1.0, 10, lambda: 1)  # every part is already too old
    r.add(("s", "d", 1, 2), 1, b"x")
    r.add(("s", "d", 2, 2), 1, b"y")
    assert list(r.partials) == [("s", "d", 2, 2)]


def test_udh_and_formats() -> None:
    c = text.split_udh(bytes([5, 0, 3, 9, 2, 1]) + b"hi", 1, 2, 1)
    assert c.raw == b"hi" and c.segment == text.Segment(9, 2, 1)
    c = text.split_udh(bytes([6, 8, 4, 1, 2, 3, 1]) + b"x", 1)
    assert c.segment == text.Segment(0x102, 3, 1)
    for bad in ((b"\x09\x00", 1, 1, 1), (bytes([5, 0, 3, 9, 2, 3]), 1, 1, 1), (b"x", 0, 1, 2)):
        with pytest.raises(text.TextError):
            text.split_udh(*bad)
    assert text.decode_text("退订".encode("gb18030"), 15) == "退订"
    assert text.decode_text("退订".encode("utf-16-be"), 8) == "退订"
    for raw, fmt in ((b"\x00", 8), (b"\xff", 0), (b"x", 4)):
        with pytest.raises(text.TextError):
            text.decode_text(raw, fmt)
    assert text.encode_text("TD") == (0, b"TD")
    assert text.encode_text("退订" * 100, 11) == (8, "退订退订退".encode("utf-16-be"))
    assert recipient_e164("13812345678") == "+8613812345678"
    assert recipient_e164("8613812345678") == "+8613812345678"


def test_shared_account_rules_give_clear_errors(session: Session) -> None:
    build(session)
    acc = accounts.create_account(
        session, SMGP_RULES, login="33001001", secret="s3cret-1", content_provider=CP_CODE
    )
    assert acc.protocol == "smgp" and acc.secret == "s3cret-1"
    cases = [
        ({"login": "123456789", "secret": "s3cret-1"}, "client_id"),
        ({"login": "33001002", "secret": "x" * 16}, "secret"),
        ({"login": "33001002", "secret": "s3cret-1", "window": 0}, "window"),
        ({"login": "33001002", "secret": "s3cret-1", "max_rate": -1}, "max_rate"),
    ]
    for kwargs, field in cases:
        with pytest.raises(PiguardError) as err:
            accounts.create_account(session, SMGP_RULES, content_provider=CP_CODE, **kwargs)  # type: ignore[arg-type]
        assert err.value.fields[0].field == field
    with pytest.raises(PiguardError) as err:
        accounts.create_account(
            session, SMGP_RULES, login="33001001", secret="s3cret-1", content_provider=CP_CODE
        )
    assert err.value.code == "conflict"
    with pytest.raises(PiguardError) as err:
        accounts.set_active(session, SMGP_RULES, "nobody", False)
    assert err.value.code == "not_found"
    accounts.set_active(session, SMGP_RULES, "33001001", False)
    assert [a.active for a in accounts.list_accounts(session, SMGP_RULES)] == [False]


@pytest.mark.parametrize("protocol", ["cmpp", "smgp", "sgip"])
def test_idle_and_half_sent_connections_are_closed(session: Session, protocol: str) -> None:
    """No login within session_init_timeout, or a packet that stops halfway: the server closes the
    connection (it never hangs on a silent peer) and still accepts the next one."""
    import socket
    import struct

    from piguard.messaging.cmpp.bridge import CmppGateway
    from piguard.messaging.cmpp.config import CmppSettings
    from piguard.messaging.sgip.bridge import SgipGateway
    from piguard.messaging.sgip.config import SgipSettings
    from piguard.messaging.smgp.bridge import SmgpGateway
    from piguard.messaging.smgp.config import SmgpSettings

    from .smpp_harness import LoopThread

    make = {
        "cmpp": lambda: CmppGateway(CmppSettings(session_init_timeout=0.3, workers=1)),
        "smgp": lambda: SmgpGateway(SmgpSettings(session_init_timeout=0.3, workers=1)),
        "sgip": lambda: SgipGateway(SgipSettings(session_init_timeout=0.3, workers=1)),
    }[protocol]
    lt = LoopThread()
    gw = make()
    try:
        _h, port = lt.run(gw.start("127.0.0.1", 0))
        for payload in (b"", struct.pack(">I", 64) + b"\x00\x00"):  # silent; a header cut short
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(payload)
                assert c.recv(100) == b""  # closed by the server, no answer
        assert not gw.server.sessions
    finally:
        lt.run(gw.stop())
        lt.close()
