"""piguard as an SGIP 1.2 SMG towards content providers, on the shared transport base
(``ismg.transport``).

A content provider binds (Bind: Login Type 1, Login Name, Login Password); each Submit is decoded
(MessageCoding 0/8/15; TP_udhi long messages reassembled first) and decided by the injected decider,
the SMPP bridge's decision (``sgip.bridge``): one decision path. The answer is a Submit_Resp with the
Result (``sgip.statuses``); SGIP has no message id, so a message is known by the Sequence Number of
its Submit, which its Report names. Reports and MO replies (Deliver) are sent on the content
provider's own connection, with piguard's Sequence Numbers (node id, MMDDHHMMSS, sequence).

Bad input never stops the server: a packet whose fields do not read gets the response of its
command with Result 5 (parameter format), a Message Length out of range closes the connection (the
framing is lost), an unknown Command ID is recorded and ignored, any packet before Bind closes it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime

from piguard.core.logging import get_logger
from piguard.messaging.ismg import text as mtext
from piguard.messaging.ismg.transport import (
    BaseServer,
    Decider,
    Login,
    LoginRefused,
    Reassembler,
    Session,
    SimpleFraming,
    Submission,
    SubmitOutcome,
    shanghai_now,
)
from piguard.messaging.sgip import pdu
from piguard.messaging.sgip.config import SgipSettings
from piguard.messaging.sgip.pdu import Cmd, LoginType, Result, SgipError
from piguard.messaging.sgip.statuses import PG_REFUSED, sgip_result
from piguard.regulations.markers import carries

log = get_logger("piguard.sgip.server")

FRAMING = SimpleFraming("sgip", pdu.HEADER_LEN, pdu.parse_header, pdu.length_ok, pdu.frame)
#: Bind -> Login (account, password), or raises LoginRefused; sync (worker thread)
Authenticator = Callable[[pdu.Bind], Login]


class SgipSession(Session[pdu.Header]):
    """One content provider's connection."""

    server: SgipServer

    def __init__(
        self, server: SgipServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(server, reader, writer)
        self.bound = False
        cfg = server.settings
        self.partials: Reassembler[str] = Reassembler(cfg.reassembly_timeout, cfg.max_partials, lambda: "")

    @property
    def logged_in(self) -> bool:
        return self.bound

    def next_sequence(self) -> pdu.Sequence:
        return self.server.next_sequence()

    async def goodbye(self) -> None:
        await self.send(Cmd.UNBIND, self.next_sequence())

    async def dispatch(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid not in pdu.KNOWN_COMMANDS:
            log.info("sgip.unknown_command", session=self.id, command_id=f"0x{cid:08X}")
            return
        if cid & pdu.RESP_BIT:
            self.resolve(h.sequence, body)
            return
        if cid == Cmd.BIND:
            await self.on_bind(h, body)
            return
        if not self.bound:
            log.info("sgip.not_bound", session=self.id, command_id=f"0x{cid:08X}")
            self.closed = True  # spec: Bind first
            return
        if cid == Cmd.UNBIND:
            await self.send(Cmd.UNBIND_RESP, h.sequence)
            self.closed = True
        elif cid == Cmd.SUBMIT:
            await self.on_submit(h, body)
        else:  # Deliver/Report from an SP, SP and route management: not offered by this SMG
            log.info("sgip.unsupported_command", session=self.id, command_id=f"0x{cid:08X}")

    @carries("O31-10", "O31-12")
    async def on_bind(self, h: pdu.Header, body: bytes) -> None:
        """A Bind names one registered content provider's account (O31-12), whose ports alone it
        may send from (O31-10, checked by the decision)."""
        if self.bound:
            await self.send(Cmd.BIND_RESP, h.sequence, pdu.encode_resp(Result.REPEATED_LOGIN))
            return
        try:
            req = pdu.decode_bind(body)
        except SgipError as err:
            await self._refuse(h.sequence, err.result)
            return
        if req.login_type != LoginType.SP_TO_SMG:
            await self._refuse(h.sequence, Result.LOGIN_TYPE)
            return
        try:
            login = await self.server.run_sync(self.server.authenticate, req)
        except LoginRefused as refused:
            log.info("sgip.bind_refused", session=self.id, result=refused.status, why=refused.why)
            await self._refuse(h.sequence, refused.status)
            return
        except Exception:
            log.exception("sgip.bind_error")
            await self._refuse(h.sequence, Result.SYSTEM_FAILURE)
            return
        self.bound = True
        self.login(login.account)
        await self.send(Cmd.BIND_RESP, h.sequence, pdu.encode_resp(Result.OK))
        log.info("sgip.bound", login_name=login.account.system_id, session=self.id)

    async def _refuse(self, seq: pdu.Sequence, result: int) -> None:
        await self.send(Cmd.BIND_RESP, seq, pdu.encode_resp(result))
        self.closed = True

    async def on_submit(self, h: pdu.Header, body: bytes) -> None:
        try:
            sub = pdu.decode_submit(body)
            content = mtext.split_udh(sub.content, sub.tp_udhi)
        except SgipError as err:
            await self._submit_resp(h.sequence, err.result)
            return
        except mtext.TextError:
            await self._submit_resp(h.sequence, Result.PARAMETER_FORMAT)
            return
        if not self.admit():
            await self._submit_resp(h.sequence, Result.NODE_BUSY)
            return
        self.spawn(self._submit(h.sequence, sub, content))

    async def _submit_resp(self, seq: pdu.Sequence, result: int) -> None:
        await self.send(Cmd.SUBMIT_RESP, seq, pdu.encode_resp(result))

    async def _submit(self, seq: pdu.Sequence, sub: pdu.Submit, content: mtext.Content) -> None:
        try:
            result = await self._decide(seq, sub, content)
        except Exception:
            log.exception("sgip.submit_error", session=self.id)
            result = PG_REFUSED
        finally:
            self.done()
        await self._submit_resp(seq, result)

    async def _decide(self, seq: pdu.Sequence, sub: pdu.Submit, content: mtext.Content) -> int:
        if len(sub.user_numbers) != 1:
            return Result.ILLEGAL_NUMBER  # one recipient per Submit: each is its own decision
        if sub.message_coding not in mtext.TEXT_FORMATS:
            return Result.PARAMETER_FORMAT
        user, own = sub.user_numbers[0], pdu.sequence_hex(seq)
        raw, part_ids = content.raw, list[str]()
        if content.segment is not None:
            seg = content.segment
            key = (sub.sp_number, user, seg.ref, seg.total)
            if self.partials.full_for(key):
                return Result.NODE_BUSY  # too many long messages half-sent at once
            whole = self.partials.add(key, seg.seq, raw, own)
            if isinstance(whole, str):  # more parts to come: accepted for reassembly
                return Result.OK
            raw, part_ids = whole
        try:
            text = mtext.decode_text(raw, sub.message_coding)
        except mtext.TextError:
            return Result.PARAMETER_FORMAT
        # ReportFlag 0: report on failure, 1: always, 2: never, 3: charging only (not reported here)
        wants = sub.report_flag in (0, 1)
        s = self.submission(src=sub.sp_number, dest=user, text=text, registered_delivery=int(wants),
                            part_ids=part_ids)  # fmt: skip
        out: SubmitOutcome = await self.server.decide_async(s)
        result = sgip_result(out.status)
        if result != Result.OK:
            if part_ids and wants:
                # the earlier parts were answered Result 0 before the whole could be decided: they
                # get a failed Report with the refusal's Result as ErrorCode, after this answer
                self.spawn(self._reject_parts(part_ids, user, result))
            return result
        if wants and out.record_ref and self.server.on_accepted is not None:
            ids = [*part_ids, own]
            await self.server.keep_async(
                self.server.on_accepted, s, out.record_ref, ids, user, sub.report_flag
            )
        return result

    async def _reject_parts(self, part_ids: list[str], user: str, result: int) -> None:
        await asyncio.sleep(0)  # the Submit_Resp goes first
        for sid in part_ids:
            rp = pdu.Report(pdu.sequence_from_hex(sid), user, pdu.STATE_FAILED, result & 0xFF)
            if not await self.report(rp):
                return

    async def report(self, rp: pdu.Report) -> bool:
        """A Report to this session; True when answered Result 0."""
        return await self._request(Cmd.REPORT, pdu.encode_report(rp))

    async def mo(self, user: str, port: str, text: str) -> bool:
        """An MO reply (Deliver) to this session; True when answered Result 0."""
        coding, raw = mtext.encode_text(text, 252)
        return await self._request(
            Cmd.DELIVER, pdu.encode_deliver(pdu.Deliver(user, port, 0, 0, coding, raw))
        )

    async def _request(self, cid: int, body: bytes) -> bool:
        try:
            return pdu.decode_resp(await self.request(cid, body)) == Result.OK
        except (TimeoutError, asyncio.CancelledError, ConnectionError, SgipError):
            return False


class SgipServer(BaseServer[SgipSession]):
    """The listening SMG. ``authenticate`` and ``decide`` are sync callables run in worker threads;
    ``on_accepted(submission, record_ref, sequence ids, user, report_flag)`` keeps a message for
    its Report."""

    session_class = SgipSession
    settings: SgipSettings

    def __init__(
        self,
        *,
        authenticate: Authenticator,
        decide: Decider,
        settings: SgipSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        on_accepted: Callable[[Submission, str, list[str], str, int], object] | None = None,
    ) -> None:
        cfg = settings or SgipSettings()
        super().__init__(FRAMING, cfg, "sgip-decide")
        self.authenticate = authenticate
        self.decide = decide
        self.on_accepted = on_accepted
        self.clock = clock or shanghai_now
        self._seq = itertools.count(1)

    def next_sequence(self) -> pdu.Sequence:
        return pdu.sequence_of(self.settings.node_id, self.clock(), next(self._seq))
