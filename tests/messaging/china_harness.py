"""Blocking test clients for piguard's SMGP and SGIP servers (content providers written in the test,
on the codecs whose bytes test_smgp_codec.py / test_sgip_codec.py check against others'), and the
stack they run against: the SMPP harness's registry and SMS centre, piguard's SMPP gateway bound
upstream to it, and the protocol's gateway taking MO replies from it."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.ismg.gateway import ReportingGateway
from piguard.messaging.models import Consent, MessageRecord
from piguard.messaging.smpp.bridge import SmppGateway

from .smpp_harness import LoopThread


class BlockingPeer:
    """A socket that sends framed packets and reads whole ones; ``header_len`` and ``parse`` give
    the protocol's framing (length first)."""

    def __init__(self, port: int, header_len: int, parse: Callable[[bytes], Any]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.header_len = header_len
        self.parse = parse

    def read(self) -> tuple[Any, bytes]:
        head = self._exact(self.header_len)
        h = self.parse(head)
        return h, self._exact(h.length - self.header_len)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by piguard")
            buf += chunk
        return buf

    def close(self) -> None:
        self.sock.close()


def ucs2_parts(text: str, ref: int) -> list[tuple[bytes, int, int]]:
    """(content with UDH, total, number) for a long UCS2 text, 134 octets a part."""
    raw = text.encode("utf-16-be")
    chunks = [raw[i : i + 134] for i in range(0, len(raw), 134)]
    return [(bytes([5, 0, 3, ref, len(chunks), n]) + c, len(chunks), n) for n, c in enumerate(chunks, 1)]


def last_out(session: Session) -> MessageRecord:
    """The newest outgoing record."""
    session.expire_all()
    rec = session.scalars(
        select(MessageRecord).where(MessageRecord.direction == "out").order_by(MessageRecord.id.desc())
    ).first()
    assert rec is not None
    return rec


def consents_ended(session: Session) -> bool:
    session.expire_all()
    return all(c.status == "ended" for c in session.scalars(select(Consent)))


def start_beside_smpp(loop_thread: LoopThread, smpp_gw: SmppGateway, gw: ReportingGateway) -> int:
    """Start a CMPP/SMGP/SGIP gateway in the test loop, taking MO replies from the SMPP gateway."""
    _h, port = loop_thread.run(gw.start("127.0.0.1", 0))
    smpp_gw.mo_forwarders.append(gw.forward_mo)
    return int(port)
