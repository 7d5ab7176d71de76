"""piguard as an SMPP 3.4 client (ESME) towards the upstream SMS centre, on asyncio.

:class:`UpstreamClient` binds as a transceiver, keeps the link (enquire_link, reconnect with
back-off), sends submit_sm within a window and reads submit_sm_resp, and hands every deliver_sm
(delivery receipts and MO messages) to a callback after acknowledging it.

:class:`UpstreamTransport` (``SmppTransport``) is the gateway's ``Transport``
(``piguard.messaging.records.service.Transport``) over any :class:`Upstream` client: this SMPP one or
the CMPP, SMGP and SGIP clients towards a carrier's ISMG (``messaging.ismg.client``). ``send(messages)``
is called from a worker thread (``drain_outbox``), encodes each message the client's way (GSM 7-bit
or UCS2 for Chinese over SMPP; ASCII or UCS2 over the Chinese protocols; concatenated with a UDH
when long), submits the parts on the client's loop and returns the centre's id of the first part
(None when the centre refused the message); the part ids are kept (``msg_smpp_upstream_parts``, by
link) so each receipt finds its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from piguard.core.db import unit_of_work, utcnow
from piguard.core.logging import get_logger
from piguard.messaging.ismg.transport import TokenBucket
from piguard.messaging.records.service import OutboundMessage, SendOutcome
from piguard.messaging.smpp import pdu, service
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.smpp.pdu import Bind, Cmd, PduError, ShortMessage, Status
from piguard.messaging.smpp.text import Encoded, encode_for_sms
from piguard.regulations.markers import carries

log = get_logger("piguard.smpp.client")


class UpstreamError(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"SMS centre answered 0x{status:08X}")
        self.status = status


class BindRefusedUpstream(UpstreamError):
    """The SMS centre refused piguard's bind (``status`` its command_status)."""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """One part's answer: the protocol's status (0 is success in SMPP, CMPP, SMGP and SGIP alike)
    and the centre's id of the part, as a string (SMPP's message_id; CMPP's Msg_Id as 16 hex digits,
    SMGP's MsgID as its 20 BCD digits, SGIP's Submit sequence as 24 hex digits: how the server side
    of each protocol writes them too)."""

    status: int
    message_id: str


class Upstream(Protocol):
    """What the transport and the gateway need of a client towards an SMS centre or ISMG."""

    #: the links-file protocol (``smpp``, ``cmpp2``, ``cmpp3``, ``smgp``, ``sgip``)
    protocol: str
    loop: asyncio.AbstractEventLoop | None
    #: statuses of a part's answer that mean "not now" (the message is retried after a back-off)
    transient: frozenset[int]

    @property
    def link(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def bound(self) -> bool: ...
    @property
    def window(self) -> int: ...
    @property
    def response_timeout(self) -> float: ...
    @property
    def max_rate(self) -> int: ...

    def encode(self, text: str) -> Encoded: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def wait_bound(self, timeout: float) -> None: ...
    async def submit_encoded(
        self, sender: str, recipient: str, enc: Encoded, *, priority: int = 0
    ) -> list[SubmitResult]: ...


class LinkClient:
    """What a client of any protocol shares (SMPP here, CMPP/SMGP/SGIP in ``ismg.client``): the link
    kept up (:meth:`login`, then :meth:`keepalive` every ``keepalive`` seconds; after any loss a
    reconnect with a growing, jittered back-off), requests matched to their responses by sequence
    within ``response_timeout``, a window of submits and the link's ``max_rate`` (a token bucket;
    ``clock`` and ``sleep`` injectable for tests). A protocol gives :meth:`login`, :meth:`keepalive`,
    :meth:`goodbye`, :meth:`_read` and the address it connects to."""

    protocol = "smpp"
    #: errors that take the link down besides a lost connection (logged, then reconnect)
    link_errors: tuple[type[BaseException], ...] = ()
    #: errors of a refused login (logged as such; the back-off grows)
    refused_errors: tuple[type[BaseException], ...] = ()

    def __init__(
        self,
        *,
        host: str,
        port: int,
        window: int,
        max_rate: int,
        keepalive: float,
        response_timeout: float,
        connect_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._host, self._port, self._keepalive = host, port, keepalive
        self._response_timeout, self._connect_timeout = response_timeout, connect_timeout
        self._window = asyncio.Semaphore(window)
        self._window_size, self._max_rate = window, max_rate
        self._bucket = TokenBucket(max_rate, clock)
        self._sleep = sleep
        self._seq = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        #: logins refused since the last good one
        self.refusals = 0

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def window(self) -> int:
        return self._window_size

    @property
    def response_timeout(self) -> float:
        return self._response_timeout

    @property
    def max_rate(self) -> int:
        return self._max_rate

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._task = asyncio.ensure_future(self._run())

    async def wait_bound(self, timeout: float) -> None:
        await asyncio.wait_for(self._bound.wait(), timeout)

    async def stop(self) -> None:
        self._stopping = True
        if self._writer is not None and self.bound:
            with contextlib.suppress(TimeoutError, UpstreamError, ConnectionError, asyncio.CancelledError):
                await asyncio.wait_for(self.goodbye(), 2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._close()

    # ------------------------------------------------------------------ per protocol
    async def login(self) -> None:  # pragma: no cover - abstract
        """Log in (bind / connect); raises one of :attr:`refused_errors` when refused."""
        raise NotImplementedError

    async def keepalive(self) -> None:
        """The protocol's link test (none by default)."""

    async def goodbye(self) -> None:
        """The protocol's unbind / terminate / exit."""

    async def _read(self, reader: asyncio.StreamReader) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ the link
    def _close(self) -> None:
        self._bound.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError(f"link to the {self.protocol} centre lost"))
        self._pending.clear()

    async def _run(self) -> None:
        delay, p = 0.5, self.protocol
        down: tuple[type[BaseException], ...] = (
            ConnectionError, OSError, TimeoutError, EOFError, UpstreamError, *self.link_errors,
        )  # fmt: skip
        while not self._stopping:
            try:
                await self._session()
                delay = 0.5
            except self.refused_errors as exc:
                self.refusals += 1
                status = getattr(exc, "status", None)
                log.warning(f"{p}.upstream_login_refused", link=self.address, status=status, why=str(exc))
            except down as exc:
                # EOFError: asyncio.IncompleteReadError, the centre closed the link mid-packet or
                # between packets; without it the client stopped reconnecting after an outage
                log.warning(f"{p}.upstream_down", link=self.address, error=type(exc).__name__)
            except Exception as exc:  # never stop reconnecting
                log.error(f"{p}.upstream_error", link=self.address, error=type(exc).__name__)
            self._close()
            if self._stopping:
                return
            await asyncio.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 30.0)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self._host, self._port), self._connect_timeout
        )
        self._writer = writer
        reader_task = asyncio.ensure_future(self._read(reader))
        try:
            await self.login()
            self.refusals = 0
            self._bound.set()
            log.info(f"{self.protocol}.upstream_bound", link=self.address)
            while True:
                done, _ = await asyncio.wait({reader_task}, timeout=self._keepalive)
                if done:
                    reader_task.result()
                    raise ConnectionError("the centre closed the link")
                await self.keepalive()
        finally:
            reader_task.cancel()

    async def _call(self, seq: Any, send: Awaitable[None]) -> Any:
        """Send (``send``) a request of sequence ``seq`` and wait for what its response resolves;
        the response timeout is a timer on the future (cheaper than a wait_for task per request,
        which counts with a window of outstanding submits)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[seq] = fut
        timer = fut.get_loop().call_later(self._response_timeout, _expire, fut)
        try:
            await send
            return await fut
        finally:
            timer.cancel()
            self._pending.pop(seq, None)


class UpstreamClient(LinkClient):
    """One transceiver bind to the SMS centre. ``on_deliver(sm)`` is called (in the loop) for every
    deliver_sm after it has been acknowledged with ESME_ROK. ``upstream_max_rate`` submit_sm a
    second at most."""

    protocol = "smpp"
    link_errors = (PduError,)
    refused_errors = (BindRefusedUpstream,)

    def __init__(
        self,
        settings: SmppSettings,
        on_deliver: Callable[[ShortMessage], None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            host=settings.upstream_host,
            port=settings.upstream_port,
            window=settings.upstream_window,
            max_rate=settings.upstream_max_rate,
            keepalive=settings.upstream_enquire_link,
            response_timeout=settings.upstream_response_timeout,
            clock=clock,
            sleep=sleep,
        )
        self.settings = settings
        self.on_deliver = on_deliver
        self.transient = TRANSIENT_STATUSES
        self._out: list[bytes] = []
        self._flush_pending = False

    @property
    def link(self) -> str:
        """The name of this link, kept with every part sent on it (receipts are matched per link)."""
        cfg = self.settings
        return f"{cfg.upstream_system_id}@{cfg.upstream_host}:{cfg.upstream_port}"[:64]

    def encode(self, text: str) -> Encoded:
        return encode_for_sms(text, random.randrange(256))

    def _close(self) -> None:
        self._out.clear()
        super()._close()

    async def login(self) -> None:
        cfg = self.settings
        body = pdu.encode_bind(
            Bind(cfg.upstream_system_id, cfg.upstream_password, cfg.upstream_system_type, 0x34, 0, 0, "")
        )
        status, _ = await self._request(Cmd.BIND_TRANSCEIVER, body)
        if status != Status.ESME_ROK:
            raise BindRefusedUpstream(status, f"bind refused by the SMS centre (0x{status:08X})")

    async def keepalive(self) -> None:
        await self._request(Cmd.ENQUIRE_LINK, b"")

    async def goodbye(self) -> None:
        await self._request(Cmd.UNBIND, b"")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            head = await reader.readexactly(pdu.HEADER_LEN)
            h = pdu.parse_header(head)
            pdu.check_length(h)
            body = await reader.readexactly(h.length - pdu.HEADER_LEN)
            if h.command_id & pdu.RESP_BIT:
                fut = self._pending.get(h.sequence)
                if fut is not None and not fut.done():
                    fut.set_result((h.status, body))
                continue
            if h.command_id == Cmd.DELIVER_SM:
                try:
                    sm = pdu.parse_short_message(body)
                except PduError as err:
                    await self._send(Cmd.DELIVER_SM_RESP, h.sequence, b"", err.status)
                    continue
                await self._send(Cmd.DELIVER_SM_RESP, h.sequence, pdu.message_id_body(""))
                if self.on_deliver is not None:
                    try:
                        self.on_deliver(sm)
                    except Exception:
                        log.exception("smpp.upstream_deliver_handler")
            elif h.command_id == Cmd.ENQUIRE_LINK:
                await self._send(Cmd.ENQUIRE_LINK_RESP, h.sequence)
            elif h.command_id == Cmd.UNBIND:
                await self._send(Cmd.UNBIND_RESP, h.sequence)
                raise ConnectionError("SMS centre unbound")
            else:
                await self._send(Cmd.GENERIC_NACK, h.sequence, b"", Status.ESME_RINVCMDID)

    async def _send(self, cid: int, seq: int, body: bytes = b"", status: int = 0) -> None:
        """Queue a PDU; the PDUs queued in one loop iteration leave in one write (with a window of
        outstanding submit_sm, one system call for several instead of one each), in order."""
        writer = self._writer
        if writer is None:
            raise ConnectionError("not connected")
        self._out.append(pdu.frame(cid, seq, body, status))
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)
        transport = writer.transport
        # drain (two coroutine frames) only when it can wait or raise: a closing link, or a write
        # buffer building up towards the pause; with a window of submits answered at once, never
        if transport.is_closing() or transport.get_write_buffer_size() >= _DRAIN_ABOVE:
            await writer.drain()

    def _flush(self) -> None:
        self._flush_pending = False
        if self._writer is not None and self._out:
            self._writer.write(b"".join(self._out))
        self._out.clear()

    async def _request(self, cid: int, body: bytes) -> tuple[int, bytes]:
        seq = next(self._seq) & 0x7FFFFFFF
        status, body = await self._call(seq, self._send(cid, seq, body))
        return status, body

    async def submit(self, sm: ShortMessage) -> SubmitResult:
        """Submit one PDU within the window; raises ConnectionError when not bound."""
        return await self._submit_body(pdu.encode_short_message(sm))

    async def _submit_body(self, body: bytes) -> SubmitResult:
        """One submit_sm of ``body`` within the window (and the link's max_rate): its response, or
        ConnectionError when not bound, TimeoutError past the response timeout."""
        if not self.bound:
            raise ConnectionError("not bound to the SMS centre")
        async with self._window:
            if self._max_rate > 0:
                await self._bucket.acquire(self._sleep)
            seq = next(self._seq) & 0x7FFFFFFF
            status, resp = await self._call(seq, self._send(Cmd.SUBMIT_SM, seq, body))
        return SubmitResult(status, pdu.parse_message_id(resp) if status == Status.ESME_ROK else "")

    @carries("O31-11")
    async def submit_text(
        self, sender: str, recipient: str, text: str, *, priority: int = 0
    ) -> list[SubmitResult]:
        """Encode, split and submit a message; stops at the first refused part."""
        return await self.submit_encoded(
            sender, recipient, encode_for_sms(text, random.randrange(256)), priority=priority
        )

    async def submit_encoded(
        self, sender: str, recipient: str, enc: Encoded, *, priority: int = 0
    ) -> list[SubmitResult]:
        """Submit the parts of an encoded message in order; stops at the first refused part. The
        body before each part's octets is the same for every part: built once
        (:func:`pdu.submit_head`, what :func:`pdu.encode_short_message` writes for these fields)."""
        cfg = self.settings
        head = pdu.submit_head(
            sender,
            recipient.lstrip("+"),
            source_addr_ton=cfg.upstream_source_ton,
            source_addr_npi=cfg.upstream_source_npi,
            dest_addr_ton=cfg.upstream_dest_ton,
            dest_addr_npi=cfg.upstream_dest_npi,
            esm_class=enc.esm_class,
            priority_flag=priority,
            registered_delivery=1,
            data_coding=enc.data_coding,
        )
        out: list[SubmitResult] = []
        for part in enc.parts:
            if len(part) > 254:
                raise ValueError("short_message longer than 254 octets: use message_payload")
            res = await self._submit_body(head + bytes([len(part)]) + part)
            out.append(res)
            if res.status != Status.ESME_ROK:
                break
        return out


#: seconds the recording thread waits, after a window's first outcome, for the rest of the window
COALESCE_SECONDS = 0.002

#: octets waiting in a link's write buffer above which a PDU queued waits for the buffer to drain
#: (below asyncio's default high-water mark of 64 KiB, at which the transport pauses writing)
_DRAIN_ABOVE = 16 * 1024


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("the SMS centre did not answer in time"))


#: command_status values of a submit_sm_resp that mean "not now" rather than "never": the message is
#: submitted again after a back-off, within its validity (ESME_RX_T_APPN 0x64 is the temporary
#: application error of SMPP 3.4 section 5.1.3)
TRANSIENT_STATUSES = frozenset(
    {int(Status.ESME_RTHROTTLED), int(Status.ESME_RMSGQFUL), int(Status.ESME_RSYSERR), 0x64}
)


def _outcome(
    m: OutboundMessage,
    res: list[SubmitResult] | BaseException,
    total: int,
    transient: frozenset[int] = TRANSIENT_STATUSES,
    protocol: str = "smpp",
) -> SendOutcome:
    """A message's outcome from its parts' results: every part accepted -> sent; a transient status
    (the protocol's), a timeout or a lost link -> retry; any other refusal -> failed. The error is
    the status: ``0x…`` for SMPP, ``cmpp3:8`` (protocol and result) for the others."""
    if isinstance(res, TimeoutError):
        return SendOutcome(m.ref, "retry", error="timeout")
    if isinstance(res, (ConnectionError, OSError, UpstreamError)):
        return SendOutcome(m.ref, "retry", error="link_lost")
    if isinstance(res, BaseException):  # the message could not be encoded or submitted at all
        return SendOutcome(m.ref, "failed", error=type(res).__name__[:32])
    ok = [r for r in res if r.status == Status.ESME_ROK]
    if ok and len(ok) == total:
        return SendOutcome(m.ref, "sent", transport_ref=ok[0].message_id)
    status = res[-1].status if res else 0
    error = f"0x{status:08X}" if protocol == "smpp" else f"{protocol}:{status}"
    return SendOutcome(m.ref, "retry" if status in transient else "failed", error=error)


class UpstreamTransport:
    """The gateway ``Transport`` over an :class:`Upstream` client (called from worker threads):
    :class:`UpstreamClient` (SMPP) or a CMPP, SMGP or SGIP client (``messaging.ismg.client``).

    ``send`` submits the whole batch on the client's loop: every message's parts go out in order,
    the messages side by side, at most the link's window of submits outstanding (responses matched
    by sequence number). Each message's outcome is **recorded as it comes back**: the calling thread
    commits whatever outcomes have arrived (one transaction for all of them, with the SMS centre's
    part ids, :func:`service.record_outcomes`), and a message is only submitted once fewer than
    ``upstream_window`` messages are submitted but unrecorded. A dispatcher killed at any moment
    thus leaves at most ``upstream_window`` messages whose fate it does not know (they are sent
    again when the claim's lease ends: at most that many twice per crash); everything else it
    submitted is recorded ``sent`` (or ``failed``/back to ``queued``).

    Throttling (ESME_RTHROTTLED and the other :data:`TRANSIENT_STATUSES`; CMPP's flow control,
    SMGP's busy, SGIP's node busy: each client's ``transient``), a response timeout and a
    lost link are transient: the message goes back to the queue with a back-off; only a permanent
    refusal fails it; a message the centre accepted is recorded sent."""

    #: an SMS centre's link: it is never handed an e-mail (``records.transport_channels``)
    channels = ("sms",)

    def __init__(self, client: Upstream, *, timeout: float = 30.0) -> None:
        self.client = client
        self.timeout = timeout
        self.name = client.protocol

    async def _all(
        self,
        messages: Sequence[OutboundMessage],
        encoded: Sequence[Encoded],
        done: queue.SimpleQueue[tuple[int, list[SubmitResult] | BaseException]],
        unrecorded: asyncio.Semaphore,
    ) -> None:
        """Submit the batch in order: as many submitters as the window, each taking the next
        message once a slot is free (a task per message cost a task's creation and wake-ups for
        each of a round's 500 messages)."""
        todo = iter(range(len(messages)))
        client = self.client

        async def submitter() -> None:
            while True:
                # the slot is released by the recording thread once this message's outcome is
                # committed
                await unrecorded.acquire()
                i = next(todo, None)
                if i is None:
                    unrecorded.release()
                    return
                m = messages[i]
                try:
                    res: list[SubmitResult] | BaseException = await client.submit_encoded(
                        m.sender, m.recipient, encoded[i], priority=1 if m.emergency else 0
                    )
                except Exception as exc:  # every message gets an outcome, whatever happened to it
                    res = exc
                done.put((i, res))

        await asyncio.gather(*(submitter() for _ in range(min(client.window, len(messages)))))

    @staticmethod
    def _gather(
        got: list[tuple[int, list[SubmitResult] | BaseException]],
        done: queue.SimpleQueue[tuple[int, list[SubmitResult] | BaseException]],
        full: int,
    ) -> None:
        """After the first outcome, the others that are back, and those of the rest of the window
        (``full`` messages are out at most) for up to :data:`COALESCE_SECONDS`: an SMS centre that
        answers at once answers a window together, and one transaction for it costs a fraction of
        one for each of the first few to arrive (the thread woke at the first)."""
        until = 0.0
        while len(got) < full:
            try:
                got.append(done.get_nowait())
                continue
            except queue.Empty:
                pass
            now = time.monotonic()
            until = until or now + COALESCE_SECONDS
            if now >= until:
                return
            try:
                got.append(done.get(timeout=until - now))
            except queue.Empty:
                return
        with contextlib.suppress(queue.Empty):
            while True:
                got.append(done.get_nowait())

    @staticmethod
    def _release(sem: asyncio.Semaphore, n: int) -> None:
        for _ in range(n):
            sem.release()

    def send(self, messages: Sequence[OutboundMessage]) -> list[str | SendOutcome | None]:
        loop = self.client.loop
        if loop is None:
            raise RuntimeError("the upstream client is not started")
        if not messages:
            return []
        client = self.client
        encoded = [client.encode(m.text) for m in messages]
        done: queue.SimpleQueue[tuple[int, list[SubmitResult] | BaseException]] = queue.SimpleQueue()
        # a slot per message submitted but not yet recorded; released once its outcome is committed
        unrecorded = asyncio.Semaphore(client.window)
        fut = asyncio.run_coroutine_threadsafe(self._all(messages, encoded, done, unrecorded), loop)
        # every submit_sm is bounded on the loop; this bound only guards the thread: the parts go out
        # a window at a time, each answered within the response timeout
        parts = sum(len(e.parts) for e in encoded)
        rounds = -(-parts // client.window)
        paced = parts / client.max_rate if client.max_rate > 0 else 0.0  # the link's max_rate
        deadline = time.monotonic() + self.timeout + rounds * client.response_timeout + paced
        outcomes: dict[int, SendOutcome] = {}
        while len(outcomes) < len(messages):
            try:
                got = [done.get(timeout=min(0.5, max(0.01, deadline - time.monotonic())))]
            except queue.Empty:
                if fut.done() or time.monotonic() >= deadline:
                    break
                continue
            self._gather(got, done, min(client.window, len(messages) - len(outcomes)))
            batch = {
                i: _outcome(messages[i], res, len(encoded[i].parts), client.transient, self.name)
                for i, res in got
            }
            self._record(
                [messages[i] for i in batch],
                [encoded[i] for i in batch],
                [r for _, r in got],
                list(batch.values()),
            )
            outcomes.update(batch)
            loop.call_soon_threadsafe(self._release, unrecorded, len(got))
        if len(outcomes) < len(messages):
            fut.cancel()
            log.warning(f"{self.name}.upstream_submit_timeout", messages=len(messages) - len(outcomes))
        return [
            outcomes.get(i) or SendOutcome(m.ref, "retry", error="timeout") for i, m in enumerate(messages)
        ]

    def _record(
        self,
        messages: Sequence[OutboundMessage],
        encoded: Sequence[Encoded],
        results: Sequence[list[SubmitResult] | BaseException],
        outcomes: Sequence[SendOutcome],
    ) -> None:
        """Commit the outcomes that came back, with the part ids of the accepted parts: one
        transaction; on failure, the part ids message by message (the outcomes are then written by
        the dispatcher at the end of the batch)."""
        now, link = utcnow(), self.client.link
        groups: list[list[dict[str, object]]] = []
        for m, enc, res, o in zip(messages, encoded, results, outcomes, strict=True):
            if isinstance(res, BaseException) or o.status == "retry":
                if o.status != "sent":
                    log.warning(f"{self.name}.upstream_submit_retry", ref=m.ref, error=o.error)
                continue
            ok = [r for r in res if r.status == Status.ESME_ROK]
            if o.status == "failed":
                log.warning(f"{self.name}.upstream_refused", ref=m.ref, status=o.error)
            if ok:
                groups.append(
                    [
                        {
                            "link": link,
                            "smsc_id": r.message_id[:65],
                            "record_ref": m.ref,
                            "part": i,
                            "total": len(enc.parts),
                            "state": "ENROUTE",
                            "error": "",
                            "at": now,
                        }
                        for i, r in enumerate(ok, start=1)
                    ]
                )
        by_claim: dict[str, list[SendOutcome]] = {}
        for m, o in zip(messages, outcomes, strict=True):
            if m.claim:
                by_claim.setdefault(m.claim, []).append(o)
        try:
            with unit_of_work() as session:
                service.record_outcomes(session, [row for g in groups for row in g], by_claim)
            return
        except SQLAlchemyError as exc:
            log.warning("smpp.upstream_outcomes_batch_failed", error=type(exc).__name__)
        _record_parts(groups)


def _record_parts(groups: list[list[dict[str, object]]]) -> None:
    """The part ids of a batch in one transaction; on failure message by message, skipping (and
    logging) a message whose rows cannot be written."""
    if not groups:
        return
    try:
        with unit_of_work() as session:
            service.record_parts(session, [row for g in groups for row in g])
        return
    except SQLAlchemyError as exc:
        log.warning("smpp.upstream_parts_batch_failed", error=type(exc).__name__)
    for g in groups:
        try:
            with unit_of_work() as session:
                service.record_parts(session, g)
        except SQLAlchemyError as exc:
            log.error("smpp.upstream_parts_not_recorded", ref=g[0]["record_ref"], error=type(exc).__name__)


#: the name earlier callers use (the transport was SMPP's alone)
SmppTransport = UpstreamTransport
