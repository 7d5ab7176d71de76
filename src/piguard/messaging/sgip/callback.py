"""piguard's connection to a content provider's own SGIP server (spec 3.2: the SMG binds to the SP
with Login Type 2 to send Deliver and Report), used when the account has a ``callback`` address.

One link per delivery round: connect, Bind (the account's own Login Name and Password, as SPs
configure their receiving side), the requests one at a time, each waiting for its response, then
Unbind. Anything that goes wrong (refused Bind, timeout, closed connection, a packet that does not
read) ends the round as undelivered; the reports stay queued and are tried again next round."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType

from piguard.core.logging import get_logger
from piguard.messaging.ismg import text as mtext
from piguard.messaging.sgip import pdu
from piguard.messaging.sgip.pdu import Cmd, LoginType, Result, SgipError

log = get_logger("piguard.sgip.callback")


class CallbackLink:
    def __init__(
        self,
        host: str,
        port: int,
        login: str,
        password: str,
        next_sequence: Callable[[], pdu.Sequence],
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.login, self.password = host, port, login, password
        self.next_sequence = next_sequence
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.bound = False

    async def __aenter__(self) -> CallbackLink:
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
            self.bound = await self._call(
                Cmd.BIND, pdu.encode_bind(pdu.Bind(LoginType.SMG_TO_SP, self.login, self.password))
            )
        except (OSError, TimeoutError, asyncio.IncompleteReadError, SgipError):
            self.bound = False
        if not self.bound:
            log.info("sgip.callback_unavailable", login_name=self.login)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.writer is None:
            return
        if self.bound:
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError, SgipError):
                await self._call(Cmd.UNBIND, b"")
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)

    async def _call(self, cid: int, body: bytes) -> bool:
        assert self.reader is not None and self.writer is not None
        seq = self.next_sequence()
        self.writer.write(pdu.frame(cid, seq, body))
        await self.writer.drain()
        while True:
            h = pdu.parse_header(
                await asyncio.wait_for(self.reader.readexactly(pdu.HEADER_LEN), self.timeout)
            )
            if not pdu.length_ok(h):
                raise SgipError(Result.LENGTH, "the content provider's server lost the framing")
            resp = await asyncio.wait_for(self.reader.readexactly(h.length - pdu.HEADER_LEN), self.timeout)
            if h.command_id == (cid | pdu.RESP_BIT) and h.sequence == seq:
                return cid == Cmd.UNBIND or pdu.decode_resp(resp) == Result.OK
            # anything else from the content provider's server is not an answer to this request

    async def request(self, cid: int, body: bytes) -> bool:
        if not self.bound:
            return False
        try:
            return await self._call(cid, body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, SgipError):
            self.bound = False
            log.info("sgip.callback_lost", login_name=self.login)
            return False

    async def report(self, rp: pdu.Report) -> bool:
        return await self.request(Cmd.REPORT, pdu.encode_report(rp))

    async def mo(self, user: str, port: str, text: str) -> bool:
        coding, raw = mtext.encode_text(text, 252)
        return await self.request(Cmd.DELIVER, pdu.encode_deliver(pdu.Deliver(user, port, 0, 0, coding, raw)))
