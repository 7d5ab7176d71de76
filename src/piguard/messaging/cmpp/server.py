"""piguard as a CMPP 2.0/3.0 ISMG towards content providers (SP), on asyncio.

A content provider connects (CMPP_CONNECT: Source_Addr, the MD5 AuthenticatorSource over its shared
secret and a Timestamp); each CMPP_SUBMIT is decoded (Msg_Fmt 0/8/15; TP_udhi long messages
reassembled first) and decided by the injected decider, which is the SMPP bridge's decision
(``cmpp.bridge``): one decision path for both protocols. The answer is a CMPP_SUBMIT_RESP with the
Msg_Id piguard generated (month, day, hour, minute, second, gateway code, sequence) and the Result
(``cmpp.statuses``).

Bad input never stops the server: a packet whose fields do not read gets the response of its
command with Result 1 (structure), a Total_Length out of range closes the connection (the framing
is lost), an unknown command id is recorded and ignored (CMPP has no generic negative answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piguard.core.calendar import SHANGHAI
from piguard.core.db import utcnow
from piguard.core.logging import get_logger
from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.pdu import V20, V30, Cmd, CmppError, ConnectStatus, SubmitResult
from piguard.messaging.cmpp.statuses import PG_BASE, cmpp_result
from piguard.messaging.smpp.server import Account, Submission, SubmitOutcome, TokenBucket
from piguard.regulations.markers import carries

log = get_logger("piguard.cmpp.server")


class ConnectRefused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


@dataclass(frozen=True, slots=True)
class Login:
    """A content provider's account and the shared secret (for AuthenticatorISMG)."""

    account: Account
    secret: str


#: (Connect, session version) -> Login, or raises ConnectRefused; sync (worker thread)
Authenticator = Callable[[pdu.Connect], Login]
#: Submission -> SubmitOutcome (the shared bridge); sync (worker thread)
Decider = Callable[[Submission], SubmitOutcome]


@dataclass(slots=True)
class _Partial:
    parts: dict[int, bytes]
    ids: dict[int, int]
    started: float


class MsgIds:
    """Msg_Id per spec 7.4.3.1: the time (to the second), the gateway code, a 16-bit sequence."""

    def __init__(self, gateway: int, clock: Callable[[], datetime]) -> None:
        self.gateway = gateway
        self.clock = clock
        self.seq = itertools.count(1)

    def next(self) -> int:
        return pdu.make_msg_id(self.clock(), self.gateway, next(self.seq))


class SpSession:
    """One content provider's connection."""

    _ids = itertools.count(1)

    def __init__(
        self, server: CmppServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.id = next(self._ids)
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        self.version: int | None = None
        self.account: Account | None = None
        self.inflight = 0
        self.bucket = TokenBucket(0)
        self.partials: dict[tuple[str, str, int, int], _Partial] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.seq = itertools.count(1)
        self.closed = False

    async def request(self, command_id: int, body: bytes, timeout: float = 10.0) -> bytes:
        """Send a request to the SP (CMPP_DELIVER) and wait for its response body."""
        seq = next(self.seq) & 0x7FFFFFFF
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[seq] = fut
        try:
            await self.send(command_id, seq, body)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(seq, None)

    async def send(self, command_id: int, sequence: int, body: bytes = b"") -> None:
        if self.closed:
            return
        try:
            self.writer.write(pdu.frame(command_id, sequence, body))
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.closed = True

    async def run(self) -> None:
        cfg = self.server.settings
        try:
            while not self.closed:
                timeout = cfg.inactivity_timeout if self.version else cfg.session_init_timeout
                try:
                    head = await asyncio.wait_for(self.reader.readexactly(pdu.HEADER_LEN), timeout)
                except asyncio.IncompleteReadError:
                    break
                header = pdu.parse_header(head)
                try:
                    pdu.check_length(header)
                except CmppError as err:
                    log.info("cmpp.bad_length", session=self.id, length=header.length, result=err.result)
                    break  # the framing is lost: nothing after this can be delimited
                try:
                    body = await asyncio.wait_for(
                        self.reader.readexactly(header.length - pdu.HEADER_LEN), timeout
                    )
                except (asyncio.IncompleteReadError, TimeoutError):
                    break
                await self.dispatch(header, body)
        except (TimeoutError, ConnectionError):
            pass
        except Exception:  # a bug must not take the server down; the connection goes
            log.exception("cmpp.session_error", session=self.id)
        finally:
            await self.close()

    async def close(self) -> None:
        if self.closed and self.writer.is_closing():
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

    def spawn(self, coro: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid not in pdu.KNOWN_COMMANDS:
            log.info("cmpp.unknown_command", session=self.id, command_id=f"0x{cid:08X}")
            return
        if cid & pdu.RESP_BIT:
            fut = self.pending.get(h.sequence)
            if fut is not None and not fut.done():
                fut.set_result(body)
            return
        if cid == Cmd.CONNECT:
            await self.on_connect(h, body)
            return
        if self.version is None:
            log.info("cmpp.not_connected", session=self.id, command_id=f"0x{cid:08X}")
            self.closed = True  # spec: CMPP_CONNECT first
            return
        if cid == Cmd.ACTIVE_TEST:
            await self.send(Cmd.ACTIVE_TEST_RESP, h.sequence, pdu.encode_active_test_resp())
        elif cid == Cmd.TERMINATE:
            await self.send(Cmd.TERMINATE_RESP, h.sequence)
            self.closed = True
        elif cid == Cmd.SUBMIT:
            await self.on_submit(h, body)
        else:  # QUERY, CANCEL, DELIVER from an SP: not offered by this ISMG
            log.info("cmpp.unsupported_command", session=self.id, command_id=f"0x{cid:08X}")

    @carries("O31-10", "O31-12")
    async def on_connect(self, h: pdu.Header, body: bytes) -> None:
        cfg = self.server.settings
        if self.version is not None:
            return  # already connected: a second CMPP_CONNECT is ignored
        try:
            req = pdu.decode_connect(body)
        except CmppError:
            await self._connect_resp(h.sequence, ConnectStatus.STRUCTURE, b"", "", V20)
            self.closed = True
            return
        family = V30 if req.version >= V30 else V20
        if req.version > V30 or (family == V30 and cfg.version < 3) or req.version < V20:
            await self._connect_resp(h.sequence, ConnectStatus.VERSION, b"", "", min(family, V30))
            self.closed = True
            return
        try:
            login = await self.server.run_sync(self.server.authenticate, req)
        except ConnectRefused as refused:
            log.info("cmpp.connect_refused", session=self.id, status=refused.status, why=refused.why)
            await self._connect_resp(h.sequence, refused.status, b"", "", family)
            self.closed = True
            return
        except Exception:
            log.exception("cmpp.connect_error")
            await self._connect_resp(h.sequence, ConnectStatus.OTHER, b"", "", family)
            self.closed = True
            return
        self.version, self.account = family, login.account
        self.bucket = TokenBucket(login.account.max_rate)
        await self._connect_resp(h.sequence, ConnectStatus.OK, req.authenticator, login.secret, family)
        log.info(
            "cmpp.connected", source_addr=login.account.system_id, version=f"0x{family:02X}", session=self.id
        )

    async def _connect_resp(self, seq: int, status: int, auth_src: bytes, secret: str, version: int) -> None:
        ismg = pdu.authenticator_ismg(status, auth_src, secret, version) if status == 0 else bytes(16)
        body = pdu.encode_connect_resp(pdu.ConnectResp(status, ismg, version), version)
        await self.send(Cmd.CONNECT_RESP, seq, body)

    async def on_submit(self, h: pdu.Header, body: bytes) -> None:
        assert self.version is not None and self.account is not None
        try:
            sub = pdu.decode_submit(body, self.version)
            content = pdu.split_content(sub)
        except CmppError as err:
            await self._submit_resp(h.sequence, 0, err.result)
            return
        if self.inflight >= max(1, self.account.window) or not self.bucket.take():
            await self._submit_resp(h.sequence, 0, SubmitResult.FLOW_CONTROL)
            return
        self.inflight += 1
        self.spawn(self._submit(h.sequence, sub, content))

    async def _submit_resp(self, seq: int, msg_id: int, result: int) -> None:
        assert self.version is not None
        await self.send(Cmd.SUBMIT_RESP, seq, pdu.encode_msg_resp(pdu.MsgResp(msg_id, result), self.version))

    async def _submit(self, seq: int, sub: pdu.Submit, content: pdu.Content) -> None:
        try:
            msg_id, result = await self._decide(sub, content)
        except Exception:
            log.exception("cmpp.submit_error", session=self.id)
            msg_id, result = 0, PG_BASE
        finally:
            self.inflight -= 1
        await self._submit_resp(seq, msg_id, result)

    async def _decide(self, sub: pdu.Submit, content: pdu.Content) -> tuple[int, int]:
        assert self.account is not None
        if len(sub.dest_terminal_ids) != 1:
            # one recipient per CMPP_SUBMIT in this version: each recipient is its own decision
            return 0, SubmitResult.DEST_TERMINAL
        raw, part_ids = content.raw, list[int]()
        if content.segment is not None:
            cap = self.server.settings.max_partials
            if self._key(sub, content.segment) not in self.partials and len(self.partials) >= cap:
                return 0, SubmitResult.FLOW_CONTROL  # too many long messages half-sent at once
            whole = self._reassemble(sub, content.segment, raw)
            if whole is None:  # more parts to come: accepted for reassembly
                key = self._key(sub, content.segment)
                return self.partials[key].ids[content.segment.seq], SubmitResult.OK
            raw, part_ids = whole
        try:
            text = pdu.decode_text(raw, sub.msg_fmt)
        except CmppError as err:
            return 0, err.result
        s = Submission(
            account=self.account,
            peer=self.peer,
            source_addr=sub.src_id,
            source_addr_ton=0,
            destination_addr=_recipient(sub.dest_terminal_ids[0]),
            dest_addr_ton=1,
            text=text,
            registered_delivery=sub.registered_delivery,
            message_type=self.account.default_message_type,
            kind=None,
            campaign_id=None,
            part_ids=[f"{i:016x}" for i in part_ids],
        )
        out: SubmitOutcome = await self.server.run_sync(self.server.decide, s)
        result = cmpp_result(out.status)
        if result != 0:
            if part_ids and sub.registered_delivery == 1:
                # the earlier parts were answered Result 0 before the whole could be decided: their
                # Msg_Ids get a REJECTD report (as SMPP's REJECTD receipts), after this answer
                self.spawn(self._reject_parts(part_ids, sub.src_id, sub.dest_terminal_ids[0]))
            return 0, result
        msg_id = self.server.msg_ids.next()
        if sub.registered_delivery == 1 and out.record_ref and self.server.on_accepted is not None:
            await self.server.run_sync(
                self.server.on_accepted, s, out.record_ref, [*part_ids, msg_id], sub.dest_terminal_ids[0]
            )
        return msg_id, result

    async def _reject_parts(self, part_ids: list[int], src_id: str, dest: str) -> None:
        assert self.version is not None
        await asyncio.sleep(0)  # the CMPP_SUBMIT_RESP goes first
        now = shanghai_now().strftime("%y%m%d%H%M")
        for mid in part_ids:
            report = pdu.Report(mid, "REJECTD", now, now, dest, 0)
            deliver = pdu.Deliver(
                msg_id=self.server.msg_ids.next(),
                dest_id=src_id,
                src_terminal_id=dest,
                registered_delivery=1,
                content=pdu.encode_report(report, self.version),
            )
            try:
                await self.request(Cmd.DELIVER, pdu.encode_deliver(deliver, self.version))
            except (TimeoutError, asyncio.CancelledError, ConnectionError):
                return

    def _key(self, sub: pdu.Submit, seg: pdu.Segment) -> tuple[str, str, int, int]:
        return (sub.src_id, sub.dest_terminal_ids[0], seg.ref, seg.total)

    def _reassemble(self, sub: pdu.Submit, seg: pdu.Segment, raw: bytes) -> tuple[bytes, list[int]] | None:
        now = time.monotonic()
        ttl = self.server.settings.reassembly_timeout
        for k in [k for k, p in self.partials.items() if now - p.started > ttl]:
            log.info("cmpp.reassembly_expired", session=self.id, parts=len(self.partials[k].parts))
            del self.partials[k]
        key = self._key(sub, seg)
        part = self.partials.setdefault(key, _Partial({}, {}, now))
        part.parts[seg.seq] = raw
        part.ids.setdefault(seg.seq, self.server.msg_ids.next())
        if len(part.parts) < seg.total:
            return None
        del self.partials[key]
        ids = [part.ids[i] for i in range(1, seg.total + 1) if i != seg.seq]
        return b"".join(part.parts[i] for i in range(1, seg.total + 1)), ids


def shanghai_now() -> datetime:
    """CMPP's clock (Msg_Id, Timestamp): China's local time."""
    return utcnow().astimezone(SHANGHAI)


def _recipient(dest: str) -> str:
    """A CMPP terminal id is a national number, optionally with 86: the gateway's E.164 form."""
    d = dest.strip()
    if d.startswith("+"):
        return d
    if len(d) == 11 and d.startswith("1"):
        return "+86" + d
    if d.startswith("86"):
        return "+" + d
    return d


class CmppServer:
    """The listening ISMG. ``authenticate`` and ``decide`` are sync callables run in worker threads."""

    def __init__(
        self,
        *,
        authenticate: Authenticator,
        decide: Decider,
        settings: CmppSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        on_accepted: Callable[[Submission, str, list[int], str], None] | None = None,
    ) -> None:
        self.on_accepted = on_accepted
        self.authenticate = authenticate
        self.decide = decide
        self.settings = settings or CmppSettings()
        self.msg_ids = MsgIds(self.settings.gateway_code, clock or shanghai_now)
        self.sessions: set[SpSession] = set()
        self._server: asyncio.Server | None = None
        self._executor = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="cmpp-decide")

    async def run_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._accept, host or self.settings.host, self.settings.port if port is None else port
        )
        sock = self._server.sockets[0].getsockname()
        log.info("cmpp.listening", port=sock[1])
        return sock[0], sock[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = SpSession(self, reader, writer)
        self.sessions.add(s)
        await s.run()

    def connected(self, source_addr: str) -> list[SpSession]:
        return [
            s
            for s in self.sessions
            if s.version is not None and not s.closed and s.account and s.account.system_id == source_addr
        ]

    async def stop(self) -> None:
        """Stop listening, send CMPP_TERMINATE to connected SPs, let running decisions finish."""
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            if s.version is not None and not s.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await s.send(Cmd.TERMINATE, 0x7FFFFFFF)
        tasks = [t for s in list(self.sessions) for t in s.tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for s in list(self.sessions):
            await s.close()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
