"""piguard as a content provider's client of a carrier's ISMG (CMPP 2.0/3.0, SMGP 3.0, SGIP 1.2):
the part the three clients share, on asyncio.

:class:`IsmgClient` keeps one link: connect, log in with the protocol's authenticator
(:meth:`IsmgClient.login`), keep it alive (CMPP_ACTIVE_TEST, SMGP Active_Test; SGIP has none),
reconnect with a growing, jittered back-off after any loss; submits go out within the link's window
and at most ``max_rate`` a second (a token bucket), every response matched by sequence number.
Status reports and MO messages from the ISMG are acknowledged first, then handed to ``on_receipt``
(message id, state, error) and ``on_mo`` (source, destination, text), called in the loop: the SMPP
gateway applies them as it does SMPP's (``smpp.service.apply_receipt`` by link + id, ``apply_mo``).

It implements ``smpp.client.Upstream``, so ``smpp.client.UpstreamTransport`` is its gateway
``Transport``: one outbox dispatcher, the same records of the part ids, the same retry rules.

Bad input from the ISMG never stops the link: a refused login is logged with its status and tried
again after the back-off (the messages wait in the outbox); a length out of range loses the framing,
so the connection goes and is opened again (unanswered submits are retried); an unknown command is
logged and ignored; a request whose fields do not read is answered with the protocol's error.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic

from piguard.core.logging import get_logger
from piguard.messaging.ismg import text as mtext
from piguard.messaging.ismg.text import encode_for_ismg
from piguard.messaging.ismg.transport import Framing, H, recipient_e164, shanghai_now
from piguard.messaging.smpp.client import LinkClient, SubmitResult
from piguard.messaging.smpp.text import Encoded

__all__ = ["ClientConfig", "IsmgClient", "LoginFailed", "national", "report_state"]

log = get_logger("piguard.ismg.client")

#: (message id, state, error) of a status report; (source, destination, text) of an MO message
ReceiptHandler = Callable[[str, str, str], None]
MoHandler = Callable[[str, str, str], None]

#: final states a report's Stat is passed on as is (the SMPP receipt's, ``smpp.service``)
KNOWN_STATES = frozenset(
    {"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN", "ACCEPTD", "ENROUTE"}
)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """One link towards an ISMG (``routing.links.LinkConfig`` read from the links file)."""

    host: str
    port: int
    #: CMPP Source_Addr (the SP code), SMGP ClientID, SGIP Login Name
    login: str
    #: the shared secret (CMPP, SMGP) or the login password (SGIP)
    password: str
    window: int = 16
    #: submits a second at most (0: no limit)
    max_rate: int = 0
    #: CMPP Service_Id, SMGP ServiceID, SGIP ServiceType
    service_id: str = ""
    #: SGIP: the SP's CorpId, its node id (first number of every Sequence Number it sends) and where
    #: it listens for the SMG's own connection (Deliver and Report)
    corp_id: str = ""
    node_id: int = 0
    listen_host: str = "0.0.0.0"
    listen_port: int = 0
    keepalive: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 10.0


class LoginFailed(Exception):
    """The ISMG refused the login (``status`` its answer) or did not prove who it is."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def national(recipient: str) -> str:
    """A mainland number as the ISMGs take it (11 digits, no 86); others: digits without +."""
    d = recipient.strip().lstrip("+")
    return d[2:] if d.startswith("86") and len(d) == 13 else d


def report_state(stat: str) -> tuple[str, str]:
    """(state, error) of a report's Stat: DELIVRD and SMPP's states as they are; an ISMG's own code
    (``MK:0005``, ``ID:0076``, ``MA:0054`` ...) is a failure, UNDELIV, with its last three digits."""
    stat = (stat or "").strip().upper()
    if stat in KNOWN_STATES:
        return stat, ""
    digits = "".join(ch for ch in stat if ch.isdigit())
    return "UNDELIV", digits[-3:] if digits else ""


class IsmgClient(LinkClient, Generic[H]):
    """A link to an ISMG (``smpp.client.LinkClient``: login, keep-alive, reconnect, window, rate);
    a protocol gives its framing, ``protocol`` (the links-file name), ``transient`` statuses,
    :meth:`login`, :meth:`keepalive`, :meth:`goodbye`, :meth:`on_request` and :meth:`submit_part`."""

    protocol: str = "ismg"
    framing: Framing[Any]
    transient: frozenset[int] = frozenset()
    refused_errors = (LoginFailed,)
    resp_bit = 0x80000000

    def __init__(
        self,
        cfg: ClientConfig,
        *,
        on_receipt: ReceiptHandler | None = None,
        on_mo: MoHandler | None = None,
        now: Callable[[], datetime] = shanghai_now,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            host=cfg.host,
            port=cfg.port,
            window=cfg.window,
            max_rate=cfg.max_rate,
            keepalive=cfg.keepalive,
            response_timeout=cfg.response_timeout,
            connect_timeout=cfg.connect_timeout,
            clock=clock,
            sleep=sleep,
        )
        self.cfg = cfg
        self.on_receipt = on_receipt
        self.on_mo = on_mo
        self.now = now
        #: the command each outstanding request was (its response must be that command's)
        self._expect: dict[Any, int] = {}

    @property
    def link(self) -> str:
        """The name kept with every part sent on this link (receipts are matched per link)."""
        return f"{self.cfg.login}@{self.cfg.host}:{self.cfg.port}"[:64]

    def encode(self, text: str) -> Encoded:
        return encode_for_ismg(text, random.randrange(256))

    async def submit_encoded(
        self, sender: str, recipient: str, enc: Encoded, *, priority: int = 0
    ) -> list[SubmitResult]:
        """Submit the parts of an encoded message in order, each within the window and the rate;
        stops at the first refused part. Raises ConnectionError when not logged in."""
        dest = national(recipient)
        out: list[SubmitResult] = []
        for n, part in enumerate(enc.parts, start=1):
            if not self.bound:
                raise ConnectionError(f"not logged in to the {self.protocol} ISMG")
            async with self._window:
                await self._bucket.acquire(self._sleep)
                res = await self.submit_part(sender, dest, enc, n, part, priority)
            out.append(res)
            if res.status != 0:
                break
        return out

    # ------------------------------------------------------------------ per protocol
    def next_sequence(self) -> Any:
        return next(self._seq) & 0x7FFFFFFF

    async def on_request(self, header: Any, body: bytes) -> None:  # pragma: no cover - abstract
        """A request from the ISMG (a report, an MO, a link test, a terminate)."""
        raise NotImplementedError

    async def submit_part(
        self, sender: str, dest: str, enc: Encoded, n: int, part: bytes, priority: int
    ) -> SubmitResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ the link
    async def _read(self, reader: asyncio.StreamReader) -> None:
        framing = self.framing
        while True:
            head = await reader.readexactly(framing.header_len)
            h = framing.parse_header(head)
            if not framing.length_ok(h):
                # nothing after this can be delimited: the connection goes, unanswered submits retry
                log.warning(f"{self.protocol}.upstream_bad_length", link=self.address, length=h.length)
                raise ConnectionError("framing lost")
            body = await reader.readexactly(h.length - framing.header_len)
            if h.command_id & self.resp_bit:
                fut = self._pending.get(h.sequence)
                if fut is None or self._expect.get(h.sequence, 0) | self.resp_bit != h.command_id:
                    log.info(
                        f"{self.protocol}.upstream_unexpected_response",
                        link=self.address,
                        command_id=f"0x{h.command_id:08X}",
                    )
                elif not fut.done():
                    fut.set_result(body)
                continue
            try:
                await self.on_request(h, body)
            except ConnectionError:
                raise
            except Exception:  # one request we cannot handle never takes the link down
                log.exception(f"{self.protocol}.upstream_request_error", command_id=f"0x{h.command_id:08X}")

    async def send(self, command_id: int, sequence: Any, body: bytes = b"") -> None:
        writer = self._writer
        if writer is None:
            raise ConnectionError("not connected")
        writer.write(self.framing.frame(command_id, sequence, body))
        await writer.drain()

    async def request(self, command_id: int, body: bytes, sequence: Any = None) -> bytes:
        """Send a request and wait (the response timeout) for its response's body."""
        seq = self.next_sequence() if sequence is None else sequence
        self._expect[seq] = command_id
        try:
            result: bytes = await self._call(seq, self.send(command_id, seq, body))
        finally:
            self._expect.pop(seq, None)
        return result

    # ------------------------------------------------------------------ reports and MO
    def receipt(self, message_id: str, stat: str, error: str = "") -> None:
        """A status report (already acknowledged) for the gateway."""
        state, code = report_state(stat)
        if self.on_receipt is not None:
            try:
                self.on_receipt(message_id, state, error or code)
            except Exception:
                log.exception(f"{self.protocol}.upstream_receipt_handler")

    def mo_content(self, source: str, dest: str, content: bytes, udhi: int, fmt: int) -> None:
        """An MO message's content (already acknowledged): its UDH taken off, its format read (a
        part of a long MO is handled on its own), then :meth:`mo`; content that does not read is
        logged (the format, never the text) and dropped."""
        try:
            c = mtext.split_udh(content, udhi)
            text = mtext.decode_text(c.raw, fmt)
        except mtext.TextError:
            log.info(f"{self.protocol}.upstream_mo_unreadable", link=self.address, fmt=fmt)
            return
        if c.segment is not None:
            log.info(f"{self.protocol}.upstream_mo_part", total=c.segment.total)
        self.mo(source, dest, text)

    def mo(self, source: str, dest: str, text: str) -> None:
        """An MO message (already acknowledged): the source as ``86…`` digits, as SMPP gives it."""
        if self.on_mo is not None:
            try:
                self.on_mo(recipient_e164(source).lstrip("+"), dest, text)
            except Exception:
                log.exception(f"{self.protocol}.upstream_mo_handler")
