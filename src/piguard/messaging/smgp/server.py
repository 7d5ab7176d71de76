"""piguard as an SMGP 3.0 gateway (SMGW) towards content providers, on the shared transport base
(``ismg.transport``).

A content provider logs in (Login: ClientID, the MD5 AuthenticatorClient over its shared secret and
a TimeStamp, LoginMode send / receive / transmit); each Submit is decoded (MsgFormat 0/8/15;
TP_udhi long messages, with PkTotal/PkNumber TLVs, reassembled first) and decided by the injected
decider, which is the SMPP bridge's decision (``smgp.bridge``): one decision path. The answer is a
Submit_Resp with the MsgID piguard generated (SMGW code, MMDDHHmm, sequence, in BCD) and the Status
(``smgp.statuses``). Status reports and MO replies go as Deliver to receive/transmit logins.

Bad input never stops the server: a packet whose fields do not read gets the response of its
command with Status 10 (structure), a PacketLength out of range closes the connection (the framing
is lost), an unknown RequestID is recorded and ignored (SMGP has no generic negative answer), any
packet before Login closes the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from piguard.core.logging import get_logger
from piguard.messaging.ismg import text as mtext
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
from piguard.messaging.smgp import pdu
from piguard.messaging.smgp.config import SmgpSettings
from piguard.messaging.smgp.pdu import Cmd, LoginMode, SmgpError, St
from piguard.messaging.smgp.statuses import PG_REFUSED, smgp_status
from piguard.regulations.markers import carries

log = get_logger("piguard.smgp.server")
NO_ID = bytes(10)


FRAMING = SimpleFraming("smgp", pdu.HEADER_LEN, pdu.parse_header, pdu.length_ok, pdu.frame)
#: Login -> Login (account, secret), or raises LoginRefused; sync (worker thread)
Authenticator = Callable[[pdu.Login], Login]


class SmgpSession(Session[pdu.Header]):
    """One content provider's connection."""

    server: SmgpServer

    def __init__(
        self, server: SmgpServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(server, reader, writer)
        self.mode: int | None = None
        cfg = server.settings
        self.partials: Reassembler[bytes] = Reassembler(
            cfg.reassembly_timeout, cfg.max_partials, server.msg_ids.next
        )

    @property
    def logged_in(self) -> bool:
        return self.mode is not None

    @property
    def can_receive(self) -> bool:
        return self.mode in (LoginMode.RECEIVE, LoginMode.TRANSMIT) and not self.closed

    async def goodbye(self) -> None:
        await self.send(Cmd.EXIT, 0x7FFFFFFF)

    async def dispatch(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid not in pdu.KNOWN_COMMANDS:
            log.info("smgp.unknown_command", session=self.id, command_id=f"0x{cid:08X}")
            return
        if cid & pdu.RESP_BIT:
            self.resolve(h.sequence, body)
            return
        if cid == Cmd.LOGIN:
            await self.on_login(h, body)
            return
        if self.mode is None:
            log.info("smgp.not_logged_in", session=self.id, command_id=f"0x{cid:08X}")
            self.closed = True  # spec: Login first
            return
        if cid == Cmd.ACTIVE_TEST:
            await self.send(Cmd.ACTIVE_TEST_RESP, h.sequence)
        elif cid == Cmd.EXIT:
            await self.send(Cmd.EXIT_RESP, h.sequence)
            self.closed = True
        elif cid == Cmd.SUBMIT:
            await self.on_submit(h, body)
        else:  # Forward, Query, routing: not offered by this gateway
            log.info("smgp.unsupported_command", session=self.id, command_id=f"0x{cid:08X}")

    @carries("O31-10", "O31-12")
    async def on_login(self, h: pdu.Header, body: bytes) -> None:
        """A Login names one registered content provider's account (O31-12), whose ports alone it
        may send from (O31-10, checked by the decision)."""
        if self.mode is not None:
            return  # already logged in: a second Login is ignored
        try:
            req = pdu.decode_login(body)
        except SmgpError:
            await self._login_resp(h.sequence, St.STRUCTURE)
            self.closed = True
            return
        if req.version != pdu.VERSION or req.login_mode not in tuple(LoginMode):
            status = St.VERSION if req.version != pdu.VERSION else St.STRUCTURE
            await self._login_resp(h.sequence, status)
            self.closed = True
            return
        try:
            login = await self.server.run_sync(self.server.authenticate, req)
        except LoginRefused as refused:
            log.info("smgp.login_refused", session=self.id, status=refused.status, why=refused.why)
            await self._login_resp(h.sequence, refused.status)
            self.closed = True
            return
        except Exception:
            log.exception("smgp.login_error")
            await self._login_resp(h.sequence, St.BUSY)
            self.closed = True
            return
        self.mode = req.login_mode
        self.login(login.account)
        await self._login_resp(
            h.sequence, St.OK, pdu.authenticator_server(0, req.authenticator, login.secret)
        )
        log.info("smgp.logged_in", client_id=login.account.system_id, mode=req.login_mode, session=self.id)

    async def _login_resp(self, seq: int, status: int, auth: bytes = NO_ID + bytes(6)) -> None:
        await self.send(Cmd.LOGIN_RESP, seq, pdu.encode_login_resp(pdu.LoginResp(status, auth)))

    async def on_submit(self, h: pdu.Header, body: bytes) -> None:
        assert self.account is not None
        if self.mode == LoginMode.RECEIVE:
            await self._submit_resp(h.sequence, NO_ID, St.COMMAND)
            return
        try:
            sub = pdu.decode_submit(body)
            content = mtext.split_udh(sub.content, sub.tp_udhi, sub.pk_total, sub.pk_number)
        except SmgpError as err:
            await self._submit_resp(h.sequence, NO_ID, err.status)
            return
        except mtext.TextError:
            await self._submit_resp(h.sequence, NO_ID, St.STRUCTURE)
            return
        if not self.admit():
            await self._submit_resp(h.sequence, NO_ID, St.BUSY)
            return
        self.spawn(self._submit(h.sequence, sub, content))

    async def _submit_resp(self, seq: int, msg_id: bytes, status: int) -> None:
        await self.send(Cmd.SUBMIT_RESP, seq, pdu.encode_msg_resp(pdu.MsgResp(msg_id, status)))

    async def _submit(self, seq: int, sub: pdu.Submit, content: mtext.Content) -> None:
        try:
            msg_id, status = await self._decide(sub, content)
        except Exception:
            log.exception("smgp.submit_error", session=self.id)
            msg_id, status = NO_ID, PG_REFUSED
        finally:
            self.done()
        await self._submit_resp(seq, msg_id, status)

    async def _decide(self, sub: pdu.Submit, content: mtext.Content) -> tuple[bytes, int]:
        if len(sub.dest_term_ids) != 1:
            return NO_ID, St.DEST_TERM  # one recipient per Submit: each is its own decision
        if sub.msg_type not in (6, 7):
            return NO_ID, St.MSG_TYPE
        if sub.priority > 3:
            return NO_ID, St.PRIORITY
        if sub.msg_format not in mtext.TEXT_FORMATS:
            return NO_ID, St.MSG_FORMAT
        dest = sub.dest_term_ids[0]
        raw, part_ids = content.raw, list[bytes]()
        if content.segment is not None:
            seg = content.segment
            key = (sub.src_term_id, dest, seg.ref, seg.total)
            if self.partials.full_for(key):
                return NO_ID, St.BUSY  # too many long messages half-sent at once
            whole = self.partials.add(key, seg.seq, raw)
            if isinstance(whole, bytes):  # more parts to come: accepted for reassembly
                return whole, St.OK
            raw, part_ids = whole
        try:
            text = mtext.decode_text(raw, sub.msg_format)
        except mtext.TextError:
            return NO_ID, St.MSG_FORMAT
        s = self.submission(
            src=sub.src_term_id,
            dest=dest,
            text=text,
            registered_delivery=sub.need_report,
            part_ids=[pdu.msg_id_str(i) for i in part_ids],
        )
        out: SubmitOutcome = await self.server.decide_async(s)
        status = smgp_status(out.status)
        if status != St.OK:
            if part_ids and sub.need_report == 1:
                # the earlier parts were answered Status 0 before the whole could be decided: their
                # MsgIDs get a REJECTD report, after this answer
                self.spawn(self._reject_parts(part_ids, sub.src_term_id, dest))
            return NO_ID, status
        msg_id = self.server.msg_ids.next()
        if sub.need_report == 1 and out.record_ref and self.server.on_accepted is not None:
            ids = [pdu.msg_id_str(i) for i in [*part_ids, msg_id]]
            await self.server.keep_async(self.server.on_accepted, s, out.record_ref, ids, dest)
        return msg_id, status

    async def _reject_parts(self, part_ids: list[bytes], src: str, dest: str) -> None:
        await asyncio.sleep(0)  # the Submit_Resp goes first
        now = shanghai_now().strftime("%y%m%d%H%M")
        for mid in part_ids:
            if not await self.report(pdu.Report(mid, "REJECTD", now, now, err="999"), src, dest):
                return

    async def report(self, rp: pdu.Report, port: str, user: str) -> bool:
        """A status report (Deliver, IsReport 1) to this session; True when answered Status 0."""
        d = pdu.Deliver(
            msg_id=self.server.msg_ids.next(),
            is_report=1,
            msg_format=mtext.FMT_ASCII,
            recv_time=shanghai_now().strftime("%Y%m%d%H%M%S"),
            src_term_id=user,
            dest_term_id=port,
            content=pdu.encode_report(rp),
        )
        return await self._deliver(d)

    async def mo(self, user: str, port: str, text: str) -> bool:
        """An MO reply (Deliver, IsReport 0) to this session; True when answered Status 0."""
        fmt, raw = mtext.encode_text(text, 252)
        d = pdu.Deliver(
            msg_id=self.server.msg_ids.next(),
            msg_format=fmt,
            recv_time=shanghai_now().strftime("%Y%m%d%H%M%S"),
            src_term_id=user,
            dest_term_id=port,
            content=raw,
        )
        return await self._deliver(d)

    async def _deliver(self, d: pdu.Deliver) -> bool:
        if not self.can_receive:
            return False
        try:
            resp = pdu.decode_msg_resp(await self.request(Cmd.DELIVER, pdu.encode_deliver(d)))
        except (TimeoutError, asyncio.CancelledError, ConnectionError, SmgpError):
            return False
        return resp.status == St.OK


class SmgpServer(BaseServer[SmgpSession]):
    """The listening SMGW. ``authenticate`` and ``decide`` are sync callables run in worker threads;
    ``on_accepted(submission, record_ref, msg_ids, dest)`` keeps a message for its status report."""

    session_class = SmgpSession
    settings: SmgpSettings

    def __init__(
        self,
        *,
        authenticate: Authenticator,
        decide: Decider,
        settings: SmgpSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        on_accepted: Callable[[Submission, str, list[str], str], object] | None = None,
    ) -> None:
        cfg = settings or SmgpSettings()
        super().__init__(FRAMING, cfg, "smgp-decide")
        self.authenticate = authenticate
        self.decide = decide
        self.on_accepted = on_accepted
        self.msg_ids: MsgIds[bytes] = MsgIds(pdu.make_msg_id, cfg.gateway_code, clock or shanghai_now)
