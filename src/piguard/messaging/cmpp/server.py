"""piguard as a CMPP 2.0/3.0 ISMG towards content providers (SP), on the shared transport base
(``ismg.transport``: connection loop, windowing, idle timeouts, reassembly).

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
from collections.abc import Callable
from datetime import datetime

from piguard.core.logging import get_logger
from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.pdu import V20, V30, Cmd, CmppError, ConnectStatus, SubmitResult
from piguard.messaging.cmpp.statuses import PG_BASE, cmpp_result
from piguard.messaging.ismg.transport import (
    BaseServer,
    Decider,
    Login,
    LoginRefused,
    MsgIds,
    Reassembler,
    Session,
    SimpleFraming,
    Submission,
    SubmitOutcome,
    shanghai_now,
)
from piguard.regulations.markers import carries

__all__ = ["CmppServer", "ConnectRefused", "Login", "MsgIds", "SpSession", "shanghai_now"]

log = get_logger("piguard.cmpp.server")


def _length_ok(header: pdu.Header) -> bool:
    try:
        pdu.check_length(header)
    except CmppError:
        return False
    return True


FRAMING = SimpleFraming("cmpp", pdu.HEADER_LEN, pdu.parse_header, _length_ok, pdu.frame)
#: CMPP_CONNECT refused (Status, why)
ConnectRefused = LoginRefused
#: Connect -> Login, or raises ConnectRefused; sync (worker thread)
Authenticator = Callable[[pdu.Connect], Login]


class SpSession(Session[pdu.Header]):
    """One content provider's connection."""

    server: CmppServer

    def __init__(
        self, server: CmppServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(server, reader, writer)
        self.version: int | None = None
        cfg = server.settings
        self.partials: Reassembler[int] = Reassembler(
            cfg.reassembly_timeout, cfg.max_partials, server.msg_ids.next
        )

    @property
    def logged_in(self) -> bool:
        return self.version is not None

    async def goodbye(self) -> None:
        await self.send(Cmd.TERMINATE, 0x7FFFFFFF)

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid not in pdu.KNOWN_COMMANDS:
            log.info("cmpp.unknown_command", session=self.id, command_id=f"0x{cid:08X}")
            return
        if cid & pdu.RESP_BIT:
            self.resolve(h.sequence, body)
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
        self.version = family
        self.login(login.account)
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
        if not self.admit():
            await self._submit_resp(h.sequence, 0, SubmitResult.FLOW_CONTROL)
            return
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
            self.done()
        await self._submit_resp(seq, msg_id, result)

    async def _decide(self, sub: pdu.Submit, content: pdu.Content) -> tuple[int, int]:
        assert self.account is not None
        if len(sub.dest_terminal_ids) != 1:
            # one recipient per CMPP_SUBMIT in this version: each recipient is its own decision
            return 0, SubmitResult.DEST_TERMINAL
        raw, part_ids = content.raw, list[int]()
        if content.segment is not None:
            seg = content.segment
            key = (sub.src_id, sub.dest_terminal_ids[0], seg.ref, seg.total)
            if self.partials.full_for(key):
                return 0, SubmitResult.FLOW_CONTROL  # too many long messages half-sent at once
            whole = self.partials.add(key, seg.seq, raw)
            if isinstance(whole, int):  # more parts to come: accepted for reassembly
                return whole, SubmitResult.OK
            raw, part_ids = whole
        try:
            text = pdu.decode_text(raw, sub.msg_fmt)
        except CmppError as err:
            return 0, err.result
        s = self.submission(
            src=sub.src_id,
            dest=sub.dest_terminal_ids[0],
            text=text,
            registered_delivery=sub.registered_delivery,
            part_ids=[f"{i:016x}" for i in part_ids],
        )
        out: SubmitOutcome = await self.server.decide_async(s)
        result = cmpp_result(out.status)
        if result != 0:
            if part_ids and sub.registered_delivery == 1:
                # the earlier parts were answered Result 0 before the whole could be decided: their
                # Msg_Ids get a REJECTD report (as SMPP's REJECTD receipts), after this answer
                self.spawn(self._reject_parts(part_ids, sub.src_id, sub.dest_terminal_ids[0]))
            return 0, result
        msg_id = self.server.msg_ids.next()
        if sub.registered_delivery == 1 and out.record_ref and self.server.on_accepted is not None:
            await self.server.keep_async(
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


class CmppServer(BaseServer[SpSession]):
    """The listening ISMG. ``authenticate`` and ``decide`` are sync callables run in worker threads."""

    session_class = SpSession
    settings: CmppSettings

    def __init__(
        self,
        *,
        authenticate: Authenticator,
        decide: Decider,
        settings: CmppSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        on_accepted: Callable[[Submission, str, list[int], str], object] | None = None,
    ) -> None:
        cfg = settings or CmppSettings()
        super().__init__(FRAMING, cfg, "cmpp-decide")
        self.on_accepted = on_accepted
        self.authenticate = authenticate
        self.decide = decide
        self.msg_ids: MsgIds[int] = MsgIds(pdu.make_msg_id, cfg.gateway_code, clock or shanghai_now)
