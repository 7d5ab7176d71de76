"""piguard as an SMPP 3.4 server (the SMSC role towards content providers' ESMEs), on asyncio.

Content providers bind (``bind_transmitter`` / ``bind_receiver`` / ``bind_transceiver``) with a
system_id/password that names one registered content provider. Each ``submit_sm`` is decoded
(data_coding, message_payload, UDH or SAR concatenation reassembled first), turned into a gateway
request and decided in-process by the injected :data:`Decider` (run in a worker thread: it does
database work); the decision's status goes back in ``submit_sm_resp``. ``deliver_sm`` carries
delivery receipts and MO replies back to bound receivers/transceivers (:meth:`SmppServer.deliver`).

Bad input never stops the server: an unparseable PDU gets ``generic_nack`` (and the connection is
closed only when the framing itself is lost: a command_length out of range), unknown commands get
``generic_nack``/ESME_RINVCMDID, a peer that stops mid-PDU is cut at the inactivity timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from piguard.core.logging import get_logger
from piguard.messaging.ismg.transport import (
    Account,
    BaseServer,
    SimpleFraming,
    Submission,
    SubmitOutcome,
    TokenBucket,
)
from piguard.messaging.smpp import pdu
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.smpp.pdu import BIND_COMMANDS, Cmd, PduError, ShortMessage, Status, Tag
from piguard.messaging.smpp.text import Segment, decode_text, split_udh
from piguard.regulations.markers import carries

__all__ = [
    "Account",
    "BindRefused",
    "EsmeSession",
    "SmppServer",
    "Submission",
    "SubmitOutcome",
    "TokenBucket",
]

log = get_logger("piguard.smpp.server")


class BindRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused (0x{status:08X})")
        self.status = status


#: (system_id, password, bind type "tx"|"rx"|"trx") -> Account, or raises BindRefused; sync.
Authenticator = Callable[[str, str, str], Account]
#: Submission -> SubmitOutcome; sync (runs in a worker thread).
Decider = Callable[[Submission], SubmitOutcome]


@dataclass(slots=True)
class _Partial:
    parts: dict[int, bytes]
    ids: dict[int, str]
    first: ShortMessage
    started: float


class EsmeSession:
    """One ESME connection."""

    _ids = itertools.count(1)

    def __init__(
        self, server: SmppServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.id = next(self._ids)
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        self.bind_type: str | None = None
        self.account: Account | None = None
        self.inflight = 0
        self.bucket = TokenBucket(0)
        self.seq = itertools.count(1)
        self.pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self.partials: dict[tuple[str, str, int, int], _Partial] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    @property
    def logged_in(self) -> bool:
        return self.bind_type is not None

    async def goodbye(self) -> None:
        """unbind to a bound ESME when the server stops (bounded: it may not answer)."""
        with contextlib.suppress(TimeoutError, asyncio.CancelledError, ConnectionError):
            await asyncio.wait_for(self.request(Cmd.UNBIND, b"", 1.0), 1.5)

    @property
    def can_receive(self) -> bool:
        return self.bind_type in ("rx", "trx") and not self.closed

    # ------------------------------------------------------------------ io
    async def send(self, command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> None:
        if self.closed:
            return
        try:
            self.writer.write(pdu.frame(command_id, sequence, body, status))
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.closed = True

    async def nack(self, sequence: int, status: int) -> None:
        await self.send(Cmd.GENERIC_NACK, sequence, b"", status)

    async def request(self, command_id: int, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
        """Send a request to the ESME and wait for its response: (status, body)."""
        seq = next(self.seq) & 0x7FFFFFFF
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self.pending[seq] = fut
        try:
            await self.send(command_id, seq, body)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(seq, None)

    async def run(self) -> None:
        cfg = self.server.settings
        try:
            while not self.closed:
                timeout = cfg.inactivity_timeout if self.bind_type else cfg.session_init_timeout
                try:
                    head = await asyncio.wait_for(self.reader.readexactly(pdu.HEADER_LEN), timeout)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        await self.nack(0, Status.ESME_RINVCMDLEN)
                    break
                header = pdu.parse_header(head)
                try:
                    pdu.check_length(header)
                except PduError as err:
                    # the framing is lost: nothing after this can be delimited
                    await self.nack(header.sequence, err.status)
                    break
                try:
                    body = await asyncio.wait_for(
                        self.reader.readexactly(header.length - pdu.HEADER_LEN), timeout
                    )
                except (asyncio.IncompleteReadError, TimeoutError):
                    # the peer sent less than command_length announced
                    await self.nack(header.sequence, Status.ESME_RINVCMDLEN)
                    break
                await self.dispatch(header, body)
        except (TimeoutError, ConnectionError):
            pass
        except Exception:  # a bug must not take the server down; the connection goes
            log.exception("smpp.session_error", session=self.id)
        finally:
            await self.close()

    async def close(self) -> None:
        if self.closed and not self.tasks and self.writer.is_closing():
            return
        self.closed = True
        for fut in self.pending.values():
            if not fut.done():
                fut.cancel()
        self.server.sessions.discard(self)
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (ConnectionError, TimeoutError, RuntimeError):
            pass
        if self.account is not None:
            log.info("smpp.unbound", system_id=self.account.system_id, session=self.id)

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid & pdu.RESP_BIT:
            fut = self.pending.get(h.sequence)
            if fut is not None and not fut.done():
                fut.set_result((h.status, body))
            elif cid != Cmd.GENERIC_NACK:  # never answer a nack with a nack (no loops)
                # a response to nothing we asked, or an id no one defines (0xFFFFFFFF): the docs
                # promise generic_nack / ESME_RINVCMDID, as for any unknown command
                await self.nack(h.sequence, Status.ESME_RINVCMDID)
            return
        if cid in BIND_COMMANDS:
            await self.on_bind(h, body, BIND_COMMANDS[Cmd(cid)])
        elif cid == Cmd.ENQUIRE_LINK:
            await self.send(Cmd.ENQUIRE_LINK_RESP, h.sequence)
        elif cid == Cmd.UNBIND:
            await self.send(Cmd.UNBIND_RESP, h.sequence)
            self.closed = True
        elif cid == Cmd.SUBMIT_SM:
            await self.on_submit(h, body)
        else:
            await self.nack(h.sequence, Status.ESME_RINVCMDID)

    @carries("O31-10", "O31-12")
    async def on_bind(self, h: pdu.Header, body: bytes, bind_type: str) -> None:
        resp = Cmd(h.command_id | pdu.RESP_BIT)
        if self.bind_type is not None:
            await self.send(resp, h.sequence, b"", Status.ESME_RALYBND)
            return
        try:
            req = pdu.parse_bind(body)
        except PduError as err:
            await self.nack(h.sequence, err.status)
            return
        try:
            account = await self.server.run_sync(
                self.server.authenticate, req.system_id, req.password, bind_type
            )
        except BindRefused as refused:
            log.info(
                "smpp.bind_refused", system_id=req.system_id, status=refused.status, peer_session=self.id
            )
            await self.send(resp, h.sequence, b"", refused.status)
            return
        except Exception:
            log.exception("smpp.bind_error")
            await self.send(resp, h.sequence, b"", Status.ESME_RBINDFAIL)
            return
        self.account, self.bind_type = account, bind_type
        self.bucket = TokenBucket(account.max_rate)
        await self.send(resp, h.sequence, pdu.bind_resp_body(self.server.settings.system_id))
        log.info("smpp.bound", system_id=account.system_id, bind_type=bind_type, session=self.id)
        if self.can_receive and self.server.on_receiver_bound is not None:
            self.spawn(self.server.on_receiver_bound(account))

    def spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def on_submit(self, h: pdu.Header, body: bytes) -> None:
        if self.bind_type not in ("tx", "trx") or self.account is None:
            await self.send(Cmd.SUBMIT_SM_RESP, h.sequence, b"", Status.ESME_RINVBNDSTS)
            return
        try:
            sm = pdu.parse_short_message(body)
        except PduError as err:
            await self.nack(h.sequence, err.status)
            return
        if self.inflight >= max(1, self.account.window) or not self.bucket.take():
            await self.send(Cmd.SUBMIT_SM_RESP, h.sequence, b"", Status.ESME_RTHROTTLED)
            return
        self.inflight += 1
        self.spawn(self._submit(h.sequence, sm))

    async def _submit(self, seq: int, sm: ShortMessage) -> None:
        decided: tuple[Submission, SubmitOutcome] | None = None
        try:
            status, mid, decided = await self._decide(sm)
        except Exception:
            log.exception("smpp.submit_error", session=self.id)
            status, mid = Status.ESME_RSYSERR, ""
        finally:
            self.inflight -= 1
        await self.send(Cmd.SUBMIT_SM_RESP, seq, pdu.message_id_body(mid) if status == 0 else b"", status)
        if decided is not None and self.server.on_decided is not None:
            self.server.on_decided(*decided)

    async def _decide(self, sm: ShortMessage) -> tuple[int, str, tuple[Submission, SubmitOutcome] | None]:
        assert self.account is not None
        cfg = self.server.settings
        try:
            raw, seg = split_udh(sm)
        except PduError as err:
            return err.status, "", None
        part_ids: list[str] = []
        if seg is not None:
            whole = self._reassemble(sm, raw, seg)
            if whole is None:  # more parts to come: accepted for reassembly
                return Status.ESME_ROK, self.partials[self._key(sm, seg)].ids[seg.seq], None
            raw, part_ids = whole
        try:
            text = decode_text(raw, sm.data_coding, cfg.default_alphabet)
        except PduError as err:
            return err.status, "", None
        sub = Submission(
            account=self.account,
            peer=self.peer,
            source_addr=sm.source_addr,
            source_addr_ton=sm.source_addr_ton,
            destination_addr=sm.destination_addr,
            dest_addr_ton=sm.dest_addr_ton,
            text=text,
            registered_delivery=sm.registered_delivery,
            message_type=_tlv_text(sm, Tag.PG_MESSAGE_TYPE) or self.account.default_message_type,
            kind=_tlv_text(sm, Tag.PG_KIND),
            campaign_id=_tlv_int(sm, Tag.PG_CAMPAIGN_ID),
            part_ids=part_ids,
            client_ref=_tlv_text(sm, Tag.PG_CLIENT_REF),
        )
        out = await self.server.decide_async(sub)  # batched with the submits waiting beside it
        return out.status, out.message_id, (sub, out)

    def _key(self, sm: ShortMessage, seg: Segment) -> tuple[str, str, int, int]:
        return (sm.source_addr, sm.destination_addr, seg.ref, seg.total)

    def _reassemble(self, sm: ShortMessage, raw: bytes, seg: Segment) -> tuple[bytes, list[str]] | None:
        now = time.monotonic()
        ttl = self.server.settings.reassembly_timeout
        for k in [k for k, p in self.partials.items() if now - p.started > ttl]:
            log.info("smpp.reassembly_expired", session=self.id, parts=len(self.partials[k].parts))
            del self.partials[k]
        key = self._key(sm, seg)
        part = self.partials.get(key)
        if part is None:
            part = self.partials[key] = _Partial({}, {}, sm, now)
        part.parts[seg.seq] = raw
        part.ids.setdefault(seg.seq, uuid.uuid4().hex)
        if len(part.parts) < seg.total:
            return None
        del self.partials[key]
        ids = [part.ids[i] for i in range(1, seg.total + 1) if i != seg.seq]
        return b"".join(part.parts[i] for i in range(1, seg.total + 1)), ids


def _tlv_text(sm: ShortMessage, tag: int) -> str | None:
    v = sm.tlvs.get(tag)
    if not v:
        return None
    return v.rstrip(b"\x00").decode("utf-8", "replace").strip() or None


def _tlv_int(sm: ShortMessage, tag: int) -> int | None:
    s = _tlv_text(sm, tag)
    return int(s) if s and s.isdigit() else None


def _smpp_length_ok(header: pdu.Header) -> bool:
    try:
        pdu.check_length(header)
    except PduError:
        return False
    return True


_FRAMING = SimpleFraming(
    "smpp",
    pdu.HEADER_LEN,
    pdu.parse_header,
    _smpp_length_ok,
    lambda cid, seq, body: pdu.frame(cid, seq, body),
)


class SmppServer(BaseServer[EsmeSession]):  # type: ignore[type-var]
    """The listening server (on the base shared with CMPP/SMGP/SGIP: worker threads, listening,
    stopping). ``authenticate`` and ``decide`` are sync callables run in worker
    threads; ``on_decided`` (sync, in the loop) is told of every decided message once its
    submit_sm_resp is sent;
    ``on_receiver_bound`` (async) runs when a receiver/transceiver binds (pending receipts)."""

    session_class = EsmeSession
    settings: SmppSettings

    def __init__(
        self,
        *,
        authenticate: Authenticator,
        decide: Decider,
        settings: SmppSettings | None = None,
        on_decided: Callable[[Submission, SubmitOutcome], None] | None = None,
        on_receiver_bound: Callable[[Account], Awaitable[None]] | None = None,
    ) -> None:
        cfg = settings or SmppSettings()
        super().__init__(_FRAMING, cfg, "smpp-decide")
        self.authenticate = authenticate
        self.decide = decide
        self.on_decided = on_decided
        self.on_receiver_bound = on_receiver_bound
        self._conn_tasks: set[asyncio.Task[Any]] = set()

    def receivers(
        self, *, system_id: str | None = None, content_provider_id: int | None = None
    ) -> list[EsmeSession]:
        return [
            s
            for s in self.sessions
            if s.can_receive
            and s.account is not None
            and (system_id is None or s.account.system_id == system_id)
            and (content_provider_id is None or s.account.content_provider_id == content_provider_id)
        ]

    async def deliver(
        self, message: ShortMessage, *, system_id: str | None = None, content_provider_id: int | None = None
    ) -> bool:
        """Send a deliver_sm to a bound receiver/transceiver of that account (or content provider);
        True when one acknowledged it with ESME_ROK."""
        body = pdu.encode_short_message(message)
        for s in self.receivers(system_id=system_id, content_provider_id=content_provider_id):
            try:
                status, _ = await s.request(Cmd.DELIVER_SM, body)
            except (TimeoutError, asyncio.CancelledError, ConnectionError):
                continue
            if status == Status.ESME_ROK:
                return True
        return False
