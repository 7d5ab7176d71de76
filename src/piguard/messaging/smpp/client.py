"""piguard as an SMPP 3.4 client (ESME) towards the upstream SMS centre, on asyncio.

:class:`UpstreamClient` binds as a transceiver, keeps the link (enquire_link, reconnect with
back-off), sends submit_sm within a window and reads submit_sm_resp, and hands every deliver_sm
(delivery receipts and MO messages) to a callback after acknowledging it.

:class:`SmppTransport` is the gateway's ``Transport`` (``piguard.messaging.records.service.Transport``):
``send(messages)`` is called from a worker thread (``drain_outbox``), encodes each message (GSM 7-bit
or UCS2 for Chinese, concatenated with a UDH when long), submits the parts on the client's loop and
returns the SMS centre's id of the first part (None when the centre refused the message); the part
ids are kept (``msg_smpp_upstream_parts``) so each receipt finds its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from piguard.core.db import unit_of_work, utcnow
from piguard.core.logging import get_logger
from piguard.messaging.records.service import OutboundMessage
from piguard.messaging.smpp import pdu
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.smpp.models import SmppUpstreamPart
from piguard.messaging.smpp.pdu import Bind, Cmd, PduError, ShortMessage, Status
from piguard.messaging.smpp.text import Encoded, encode_for_sms
from piguard.regulations.markers import carries

log = get_logger("piguard.smpp.client")


class UpstreamError(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"SMS centre answered 0x{status:08X}")
        self.status = status


@dataclass(frozen=True, slots=True)
class SubmitResult:
    status: int
    message_id: str


class UpstreamClient:
    """One transceiver bind to the SMS centre. ``on_deliver(sm)`` is called (in the loop) for every
    deliver_sm after it has been acknowledged with ESME_ROK."""

    def __init__(
        self, settings: SmppSettings, on_deliver: Callable[[ShortMessage], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_deliver = on_deliver
        self._seq = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._stopping = False
        self._window = asyncio.Semaphore(settings.upstream_window)
        self._out: list[bytes] = []
        self._flush_pending = False
        self._task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def link(self) -> str:
        """The name of this link, kept with every part sent on it (receipts are matched per link)."""
        cfg = self.settings
        return f"{cfg.upstream_system_id}@{cfg.upstream_host}:{cfg.upstream_port}"[:64]

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
                await asyncio.wait_for(self._request(Cmd.UNBIND, b""), 2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._close()

    def _close(self) -> None:
        self._bound.clear()
        self._out.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("link to the SMS centre lost"))
        self._pending.clear()

    async def _run(self) -> None:
        delay = 0.5
        while not self._stopping:
            try:
                await self._session()
                delay = 0.5
            except (ConnectionError, OSError, TimeoutError, PduError, UpstreamError) as exc:
                log.warning("smpp.upstream_down", error=type(exc).__name__)
            self._close()
            if self._stopping:
                return
            await asyncio.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 30.0)

    async def _session(self) -> None:
        cfg = self.settings
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cfg.upstream_host, cfg.upstream_port), 10
        )
        self._writer = writer
        reader_task = asyncio.ensure_future(self._read(reader))
        try:
            body = pdu.encode_bind(
                Bind(cfg.upstream_system_id, cfg.upstream_password, cfg.upstream_system_type, 0x34, 0, 0, "")
            )
            status, _ = await self._request(Cmd.BIND_TRANSCEIVER, body)
            if status != Status.ESME_ROK:
                raise UpstreamError(status, f"bind refused by the SMS centre (0x{status:08X})")
            self._bound.set()
            log.info("smpp.upstream_bound")
            while True:
                done, _ = await asyncio.wait({reader_task}, timeout=cfg.upstream_enquire_link)
                if done:
                    reader_task.result()
                    raise ConnectionError("SMS centre closed the link")
                status, _ = await self._request(Cmd.ENQUIRE_LINK, b"")
        finally:
            reader_task.cancel()

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
        await writer.drain()

    def _flush(self) -> None:
        self._flush_pending = False
        if self._writer is not None and self._out:
            self._writer.write(b"".join(self._out))
        self._out.clear()

    async def _request(self, cid: int, body: bytes) -> tuple[int, bytes]:
        seq = next(self._seq) & 0x7FFFFFFF
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[seq] = fut
        # the response timeout as a timer on the future (cheaper than a wait_for task per PDU, which
        # counts with a window of outstanding submit_sm)
        timer = fut.get_loop().call_later(self.settings.upstream_response_timeout, _expire, fut)
        try:
            await self._send(cid, seq, body)
            status, body = await fut
        finally:
            timer.cancel()
            self._pending.pop(seq, None)
        return status, body

    async def submit(self, sm: ShortMessage) -> SubmitResult:
        """Submit one PDU within the window; raises ConnectionError when not bound."""
        if not self.bound:
            raise ConnectionError("not bound to the SMS centre")
        async with self._window:
            status, body = await self._request(Cmd.SUBMIT_SM, pdu.encode_short_message(sm))
        return SubmitResult(status, pdu.parse_message_id(body) if status == Status.ESME_ROK else "")

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
        """Submit the parts of an encoded message in order; stops at the first refused part."""
        cfg = self.settings
        dest = recipient.lstrip("+")
        out: list[SubmitResult] = []
        for part in enc.parts:
            res = await self.submit(
                ShortMessage(
                    source_addr=sender,
                    destination_addr=dest,
                    short_message=part,
                    source_addr_ton=cfg.upstream_source_ton,
                    source_addr_npi=cfg.upstream_source_npi,
                    dest_addr_ton=cfg.upstream_dest_ton,
                    dest_addr_npi=cfg.upstream_dest_npi,
                    esm_class=enc.esm_class,
                    priority_flag=priority,
                    registered_delivery=1,
                    data_coding=enc.data_coding,
                )
            )
            out.append(res)
            if res.status != Status.ESME_ROK:
                break
        return out


def _expire(fut: asyncio.Future[tuple[int, bytes]]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("the SMS centre did not answer in time"))


class SmppTransport:
    """The gateway ``Transport`` over :class:`UpstreamClient` (called from worker threads).

    ``send`` submits the whole batch at once on the client's loop: every message's parts go out in
    order, the messages side by side, at most ``upstream_window`` submit_sm outstanding (responses
    matched by sequence number). The SMS centre's part ids are then written in one transaction for
    the batch; should that fail, message by message, so one bad row never stops the others (the
    message was sent either way and counts as sent)."""

    name = "smpp"

    def __init__(self, client: UpstreamClient, *, timeout: float = 30.0) -> None:
        self.client = client
        self.timeout = timeout

    async def _one(self, m: OutboundMessage, enc: Encoded) -> list[SubmitResult] | BaseException:
        # each submit_sm is bounded by upstream_response_timeout (and fails when the link drops)
        try:
            return await self.client.submit_encoded(
                m.sender, m.recipient, enc, priority=1 if m.emergency else 0
            )
        except (ConnectionError, UpstreamError, TimeoutError, OSError) as exc:
            return exc

    async def _all(
        self, messages: Sequence[OutboundMessage], encoded: Sequence[Encoded]
    ) -> list[list[SubmitResult] | BaseException]:
        return list(await asyncio.gather(*(self._one(m, e) for m, e in zip(messages, encoded, strict=True))))

    def send(self, messages: Sequence[OutboundMessage]) -> list[str | None]:
        loop = self.client.loop
        if loop is None:
            raise RuntimeError("the upstream client is not started")
        if not messages:
            return []
        encoded = [encode_for_sms(m.text, random.randrange(256)) for m in messages]
        fut = asyncio.run_coroutine_threadsafe(self._all(messages, encoded), loop)
        # every submit_sm is bounded on the loop; this bound only guards the thread: the parts go out
        # ``upstream_window`` at a time, each answered within the response timeout
        rounds = -(-sum(len(e.parts) for e in encoded) // self.client.settings.upstream_window)
        try:
            results = fut.result(self.timeout + rounds * self.client.settings.upstream_response_timeout)
        except (FutureTimeout, ConnectionError, TimeoutError) as exc:
            fut.cancel()
            log.warning("smpp.upstream_submit_failed", messages=len(messages), error=type(exc).__name__)
            return [None] * len(messages)
        out: list[str | None] = []
        parts: list[list[dict[str, object]]] = []
        now, link = utcnow(), self.client.link
        for m, enc, res in zip(messages, encoded, results, strict=True):
            if isinstance(res, BaseException):
                log.warning("smpp.upstream_submit_failed", ref=m.ref, error=type(res).__name__)
                out.append(None)
                continue
            ok = [r for r in res if r.status == Status.ESME_ROK]
            total = len(enc.parts)
            if ok:
                parts.append(
                    [
                        {
                            "link": link,
                            "smsc_id": r.message_id[:65],
                            "record_ref": m.ref,
                            "part": i,
                            "total": total,
                            "state": "ENROUTE",
                            "error": "",
                            "at": now,
                        }
                        for i, r in enumerate(ok, start=1)
                    ]
                )
            if len(ok) != total:
                log.warning("smpp.upstream_refused", ref=m.ref, status=res[-1].status if res else None)
                out.append(None)
            else:
                out.append(ok[0].message_id)
        _record_parts(parts)
        return out


def _record_parts(groups: list[list[dict[str, object]]]) -> None:
    """The part ids of a batch in one transaction; on failure message by message, skipping (and
    logging) a message whose rows cannot be written."""
    if not groups:
        return
    try:
        with unit_of_work() as session:
            session.execute(insert(SmppUpstreamPart), [row for g in groups for row in g])
        return
    except SQLAlchemyError as exc:
        log.warning("smpp.upstream_parts_batch_failed", error=type(exc).__name__)
    for g in groups:
        try:
            with unit_of_work() as session:
                session.execute(insert(SmppUpstreamPart), g)
        except SQLAlchemyError as exc:
            log.error("smpp.upstream_parts_not_recorded", ref=g[0]["record_ref"], error=type(exc).__name__)
