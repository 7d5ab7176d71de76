"""Mock carrier ISMGs for the client tests: China Mobile's over CMPP, China Telecom's over SMGP and
China Unicom's over SGIP, each a real asyncio server on 127.0.0.1 written on piguard's codecs (whose
bytes test_cmpp_codec.py / test_smgp_codec.py / test_sgip_codec.py check against others'). Each
checks piguard's login with the protocol's authenticator, answers every submit with an id, keeps
what it got, and sends a DELIVRD status report for each part (CMPP_DELIVER with Registered_Delivery
1, an SMGP Deliver with IsReport 1, an SGIP Report over the SMG's own connection to piguard). Bad
input for the fault tests: ``login_status`` (refuse the login), ``inject`` (raw bytes to every
connection), ``kill`` / ``start`` (the link down and up again on the same port)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field
from typing import Any

from piguard.messaging.cmpp import pdu as cmpp
from piguard.messaging.ismg import text as mtext
from piguard.messaging.ismg.transport import shanghai_now
from piguard.messaging.sgip import pdu as sgip
from piguard.messaging.sgip.callback import CallbackLink
from piguard.messaging.smgp import pdu as smgp

SECRET = "link-secret"


@dataclass
class Got:
    """One submitted part as the ISMG read it."""

    dest: str
    content: bytes
    fmt: int
    total: int
    number: int
    msg_id: str
    sender: str = ""


@dataclass
class MockIsmg:
    port: int
    login: str = ""
    secret: str = SECRET
    #: the answer to piguard's login (0: accepted)
    login_status: int = 0
    report: bool = True
    received: list[Got] = field(default_factory=list)
    logins: int = 0
    writers: set[Any] = field(default_factory=set)
    server: Any = None
    _n: int = 0
    _tasks: set[Any] = field(default_factory=set)

    header_len = 12
    name = "ismg"

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", self.port)

    async def kill(self) -> None:
        """The ISMG goes away: no more listening, every connection cut."""
        if self.server is not None:
            self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
        self.server = None

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await self.kill()

    async def inject(self, raw: bytes) -> None:
        for w in list(self.writers):
            w.write(raw)
            await w.drain()

    def messages(self) -> list[Got]:
        """One entry per whole message (its first part)."""
        return [g for g in self.received if g.number == 1]

    def spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ io
    def parse(self, head: bytes) -> Any:  # pragma: no cover - per protocol
        raise NotImplementedError

    def frame(self, cid: int, seq: Any, body: bytes) -> bytes:  # pragma: no cover - per protocol
        raise NotImplementedError

    async def handle(self, w: Any, h: Any, body: bytes) -> None:  # pragma: no cover - per protocol
        raise NotImplementedError

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                h = self.parse(await reader.readexactly(self.header_len))
                body = await reader.readexactly(h.length - self.header_len)
                if h.command_id & 0x80000000:
                    continue  # piguard's answers to reports
                await self.handle(writer, h, body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def send(self, w: Any, cid: int, seq: Any, body: bytes = b"") -> None:
        w.write(self.frame(cid, seq, body))
        await w.drain()

    def next_n(self) -> int:
        self._n += 1
        return self._n


class MockCmppIsmg(MockIsmg):
    name = "cmpp"
    version = cmpp.V30

    def parse(self, head: bytes) -> Any:
        return cmpp.parse_header(head)

    def frame(self, cid: int, seq: Any, body: bytes) -> bytes:
        return cmpp.frame(cid, seq, body)

    async def handle(self, w: Any, h: Any, body: bytes) -> None:
        C = cmpp.Cmd
        if h.command_id == C.CONNECT:
            req = cmpp.decode_connect(body)
            self.version = cmpp.V30 if req.version >= cmpp.V30 else cmpp.V20
            ok = req.authenticator == cmpp.authenticator_source(req.source_addr, self.secret, req.timestamp)
            status = self.login_status or (0 if ok and req.source_addr == self.login else 3)
            auth = cmpp.authenticator_ismg(status, req.authenticator, self.secret, self.version)
            resp = cmpp.ConnectResp(status, auth if status == 0 else bytes(16), self.version)
            await self.send(w, C.CONNECT_RESP, h.sequence, cmpp.encode_connect_resp(resp, self.version))
            if status == 0:
                self.logins += 1
        elif h.command_id == C.ACTIVE_TEST:
            await self.send(w, C.ACTIVE_TEST_RESP, h.sequence, b"\x00")
        elif h.command_id == C.TERMINATE:
            await self.send(w, C.TERMINATE_RESP, h.sequence)
        elif h.command_id == C.SUBMIT:
            s = cmpp.decode_submit(body, self.version)
            mid = cmpp.make_msg_id(shanghai_now(), 7, self.next_n())
            content = mtext.split_udh(s.content, s.tp_udhi, s.pk_total, s.pk_number).raw
            got = Got(
                s.dest_terminal_ids[0], content, s.msg_fmt, s.pk_total, s.pk_number, f"{mid:016x}", s.src_id
            )
            self.received.append(got)
            answer = cmpp.encode_msg_resp(cmpp.MsgResp(mid, 0), self.version)
            await self.send(w, C.SUBMIT_RESP, h.sequence, answer)
            if self.report and s.registered_delivery == 1:
                self.spawn(self._report(w, mid, s.dest_terminal_ids[0]))

    async def _report(self, w: Any, mid: int, dest: str, stat: str = "DELIVRD") -> None:
        await asyncio.sleep(0.01)
        now = shanghai_now().strftime("%y%m%d%H%M")
        rp = cmpp.encode_report(cmpp.Report(mid, stat, now, now, dest, 0), self.version)
        d = cmpp.Deliver(
            msg_id=cmpp.make_msg_id(shanghai_now(), 7, self.next_n()),
            dest_id="1065",
            src_terminal_id=dest,
            registered_delivery=1,
            content=rp,
        )
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(
                w, cmpp.Cmd.DELIVER, 0x10000 + self.next_n(), cmpp.encode_deliver(d, self.version)
            )

    async def mo(self, source: str, dest: str, text: str) -> None:
        fmt, raw = mtext.encode_text(text, 140)
        d = cmpp.Deliver(msg_id=1, dest_id=dest, msg_fmt=fmt, src_terminal_id=source, content=raw)
        for w in list(self.writers):
            await self.send(
                w, cmpp.Cmd.DELIVER, 0x20000 + self.next_n(), cmpp.encode_deliver(d, self.version)
            )


class MockSmgpIsmg(MockIsmg):
    name = "smgp"

    def parse(self, head: bytes) -> Any:
        return smgp.parse_header(head)

    def frame(self, cid: int, seq: Any, body: bytes) -> bytes:
        return smgp.frame(cid, seq, body)

    async def handle(self, w: Any, h: Any, body: bytes) -> None:
        C = smgp.Cmd
        if h.command_id == C.LOGIN:
            req = smgp.decode_login(body)
            ok = req.authenticator == smgp.authenticator_client(req.client_id, self.secret, req.timestamp)
            status = self.login_status or (0 if ok and req.client_id == self.login else 21)
            auth = (
                smgp.authenticator_server(status, req.authenticator, self.secret)
                if status == 0
                else bytes(16)
            )
            await self.send(w, C.LOGIN_RESP, h.sequence, smgp.encode_login_resp(smgp.LoginResp(status, auth)))
            if status == 0:
                self.logins += 1
        elif h.command_id == C.ACTIVE_TEST:
            await self.send(w, C.ACTIVE_TEST_RESP, h.sequence)
        elif h.command_id == C.EXIT:
            await self.send(w, C.EXIT_RESP, h.sequence)
        elif h.command_id == C.SUBMIT:
            s = smgp.decode_submit(body)
            mid = smgp.make_msg_id(shanghai_now(), 1, self.next_n())
            content = mtext.split_udh(s.content, s.tp_udhi, s.pk_total, s.pk_number).raw
            self.received.append(
                Got(
                    s.dest_term_ids[0],
                    content,
                    s.msg_format,
                    s.pk_total,
                    s.pk_number,
                    mid.hex(),
                    s.src_term_id,
                )
            )
            await self.send(w, C.SUBMIT_RESP, h.sequence, smgp.encode_msg_resp(smgp.MsgResp(mid, 0)))
            if self.report and s.need_report == 1:
                self.spawn(self._report(w, mid, s.dest_term_ids[0]))

    async def _report(self, w: Any, mid: bytes, dest: str) -> None:
        await asyncio.sleep(0.01)
        now = shanghai_now().strftime("%y%m%d%H%M")
        rp = smgp.encode_report(smgp.Report(mid, "DELIVRD", now, now))
        d = smgp.Deliver(smgp.make_msg_id(shanghai_now(), 1, self.next_n()), 1, 0, "", dest, "1065", rp)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(w, smgp.Cmd.DELIVER, 0x10000 + self.next_n(), smgp.encode_deliver(d))


class MockSgipSmg(MockIsmg):
    """China Unicom's SMG: Reports go over its own connection to piguard's listener
    (``report_port``, set once piguard listens), bound with the SP's login (Login Type 2)."""

    name = "sgip"
    header_len = sgip.HEADER_LEN
    report_port: int = 0
    password: str = SECRET

    def parse(self, head: bytes) -> Any:
        return sgip.parse_header(head)

    def frame(self, cid: int, seq: Any, body: bytes) -> bytes:
        return sgip.frame(cid, seq, body)

    def seq(self) -> sgip.Sequence:
        return sgip.sequence_of(3_000_000_099, shanghai_now(), self.next_n())

    async def handle(self, w: Any, h: Any, body: bytes) -> None:
        C = sgip.Cmd
        if h.command_id == C.BIND:
            req = sgip.decode_bind(body)
            ok = req.login_name == self.login and req.login_password == self.password and req.login_type == 1
            status = self.login_status or (0 if ok else 1)
            await self.send(w, C.BIND_RESP, h.sequence, sgip.encode_resp(status))
            if status == 0:
                self.logins += 1
        elif h.command_id == C.UNBIND:
            await self.send(w, C.UNBIND_RESP, h.sequence)
        elif h.command_id == C.SUBMIT:
            s = sgip.decode_submit(body)
            parts = mtext.split_udh(s.content, s.tp_udhi)
            seg = parts.segment
            total, number = (seg.total, seg.seq) if seg else (1, 1)
            sid = sgip.sequence_hex(h.sequence)
            self.received.append(
                Got(s.user_numbers[0], parts.raw, s.message_coding, total, number, sid, s.sp_number)
            )
            await self.send(w, C.SUBMIT_RESP, h.sequence, sgip.encode_resp(0))
            if self.report and s.report_flag in (0, 1):
                self.spawn(self._report(h.sequence, s.user_numbers[0]))

    async def _report(self, submit_seq: sgip.Sequence, user: str, state: int = 0, error: int = 0) -> None:
        await asyncio.sleep(0.01)
        async with CallbackLink("127.0.0.1", self.report_port, self.login, self.password, self.seq) as cb:
            await cb.report(sgip.Report(submit_seq, user, state, error))

    async def mo(self, source: str, dest: str, text: str) -> bool:
        async with CallbackLink("127.0.0.1", self.report_port, self.login, self.password, self.seq) as cb:
            return await cb.mo(source, dest, text)


def bad_length_header(header_len: int) -> bytes:
    """A header whose length is below the header itself: the framing is lost."""
    return struct.pack(">II", 5, 0x00000005) + bytes(header_len - 8)
