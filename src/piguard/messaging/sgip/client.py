"""piguard as a content provider (SP) of China Unicom's SMG over SGIP 1.2, on the SGIP codec
(``sgip.pdu``) and the shared client loop (``ismg.client``).

SGIP has two connections (spec 3.2): the SP binds to the SMG (Login Type 1) to Submit, and the SMG
binds to the SP (Login Type 2) to send Deliver (MO) and Report. So besides its link, the client
listens (``listen_host:listen_port``, the address given to the carrier) for the SMG's connections,
and accepts a Bind with the link's own Login Name and Password. SGIP has no message id: a part is
known by the Sequence Number of its Submit (the SP's node id, MMDDHHMMSS, a sequence), kept as 24 hex
digits (how ``sgip.bridge`` writes the ones it answers), which the Report names. Report State 0 is
delivered, 2 failed (its ErrorCode goes on as the error), 1 (waiting) is not final. SGIP has no link
test: an SMG that closes an idle link is connected to again. Result 11 (node busy) and 32 (system
failure) are transient."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Any

from piguard.core.logging import get_logger
from piguard.messaging.ismg.client import ClientConfig, IsmgClient, LoginFailed
from piguard.messaging.ismg.transport import BaseServer, Session
from piguard.messaging.sgip import pdu
from piguard.messaging.sgip.pdu import Cmd, LoginType, Result, SgipError
from piguard.messaging.sgip.server import FRAMING
from piguard.messaging.smpp.client import SubmitResult, UpstreamError
from piguard.messaging.smpp.text import Encoded
from piguard.regulations.markers import carries

log = get_logger("piguard.sgip.client")

#: Submit_Resp Results that mean "not now": 11 节点忙, 32 系统失败
TRANSIENT = frozenset({int(Result.NODE_BUSY), int(Result.SYSTEM_FAILURE)})
#: ChargeNumber all zeros: the SP pays (spec 4.2.3.3)
SP_PAYS = "0" * 21


def user_number(dest: str) -> str:
    """UserNumber: a mainland number with 86 in front (spec 4.2.3.3)."""
    return "86" + dest if len(dest) == 11 and dest.startswith("1") else dest


class SgipClient(IsmgClient[pdu.Header]):
    protocol = "sgip"
    framing = FRAMING
    transient = TRANSIENT

    def __init__(self, cfg: ClientConfig, **kw: Any) -> None:
        super().__init__(cfg, **kw)
        self.listener = _SmgListener(self, cfg)
        self.listening: tuple[str, int] | None = None

    def next_sequence(self) -> pdu.Sequence:
        return pdu.sequence_of(self.cfg.node_id, self.now(), next(self._seq))

    async def start(self) -> None:
        self.listening = await self.listener.start(self.cfg.listen_host, self.cfg.listen_port)
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.listener.stop()

    @carries("O31-12")
    async def login(self) -> None:
        cfg = self.cfg
        body = await self.request(
            Cmd.BIND, pdu.encode_bind(pdu.Bind(LoginType.SP_TO_SMG, cfg.login, cfg.password))
        )
        try:
            result = pdu.decode_resp(body)
        except SgipError as exc:
            raise LoginFailed(-1, "Bind_Resp does not read") from exc
        if result != Result.OK:
            raise LoginFailed(result, f"Bind refused (Result {result})")

    async def goodbye(self) -> None:
        await self.request(Cmd.UNBIND, b"")

    async def on_request(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid == Cmd.UNBIND:
            await self.send(Cmd.UNBIND_RESP, h.sequence)
            raise ConnectionError("the SMG unbound")
        if cid in (Cmd.DELIVER, Cmd.REPORT):  # some SMGs send them on the SP's own link too
            await self.incoming(cid, h.sequence, body, self.send)
        elif cid in pdu.KNOWN_COMMANDS:
            log.info("sgip.upstream_unsupported_command", link=self.address, command_id=f"0x{cid:08X}")
        else:
            log.info("sgip.upstream_unknown_command", link=self.address, command_id=f"0x{cid:08X}")

    @carries("O31-11", "O31-20")
    async def incoming(self, cid: int, seq: pdu.Sequence, body: bytes, send: Any) -> None:
        """A Deliver or Report from the SMG (on either connection): answered, then handed on."""
        resp = Cmd.DELIVER_RESP if cid == Cmd.DELIVER else Cmd.REPORT_RESP
        try:
            if cid == Cmd.REPORT:
                rp = pdu.decode_report(body)
            else:
                d = pdu.decode_deliver(body)
        except SgipError as err:
            log.info("sgip.upstream_request_unreadable", link=self.address, result=err.result)
            await send(resp, seq, pdu.encode_resp(err.result))
            return
        await send(resp, seq, pdu.encode_resp(Result.OK))
        if cid == Cmd.REPORT:
            if rp.state == pdu.STATE_WAITING:
                return  # not final yet
            if rp.state == pdu.STATE_DELIVERED:
                self.receipt(pdu.sequence_hex(rp.submit_sequence), "DELIVRD")
            else:
                self.receipt(pdu.sequence_hex(rp.submit_sequence), "UNDELIV", f"{rp.error_code:03d}")
            return
        self.mo_content(d.user_number, d.sp_number, d.content, d.tp_udhi, d.message_coding)

    async def submit_part(
        self, sender: str, dest: str, enc: Encoded, n: int, part: bytes, priority: int
    ) -> SubmitResult:
        cfg = self.cfg
        s = pdu.Submit(
            sp_number=sender,
            charge_number=SP_PAYS,
            user_numbers=(user_number(dest),),
            corp_id=cfg.corp_id,
            service_type=cfg.service_id,
            priority=min(max(priority, 0), 9),
            report_flag=1,
            tp_udhi=1 if len(enc.parts) > 1 else 0,
            message_coding=enc.data_coding,
            content=part,
        )
        seq = self.next_sequence()
        body = await self.request(Cmd.SUBMIT, pdu.encode_submit(s), sequence=seq)
        try:
            result = pdu.decode_resp(body)
        except SgipError as exc:
            raise UpstreamError(exc.result, "Submit_Resp does not read") from exc
        return SubmitResult(result, pdu.sequence_hex(seq) if result == Result.OK else "")


@dataclass(slots=True)
class _ListenSettings:
    host: str
    port: int
    session_init_timeout: float = 30.0
    inactivity_timeout: float = 180.0
    workers: int = 1


class _SmgSession(Session[pdu.Header]):
    """The SMG's connection to piguard: Bind (Login Type 2), Deliver and Report, Unbind."""

    server: _SmgListener

    def __init__(
        self, server: _SmgListener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(server, reader, writer)
        self.bound = False

    @property
    def logged_in(self) -> bool:
        return self.bound

    def next_sequence(self) -> pdu.Sequence:
        return self.server.client.next_sequence()

    async def dispatch(self, h: pdu.Header, body: bytes) -> None:
        cid, client = h.command_id, self.server.client
        if cid not in pdu.KNOWN_COMMANDS:
            log.info("sgip.smg_unknown_command", session=self.id, command_id=f"0x{cid:08X}")
            return
        if cid & pdu.RESP_BIT:
            self.resolve(h.sequence, body)
            return
        if cid == Cmd.BIND:
            await self._bind(h, body)
            return
        if not self.bound:
            log.info("sgip.smg_not_bound", session=self.id, command_id=f"0x{cid:08X}")
            self.closed = True
            return
        if cid == Cmd.UNBIND:
            await self.send(Cmd.UNBIND_RESP, h.sequence)
            self.closed = True
        elif cid in (Cmd.DELIVER, Cmd.REPORT):
            await client.incoming(cid, h.sequence, body, self.send)
        else:
            log.info("sgip.smg_unsupported_command", session=self.id, command_id=f"0x{cid:08X}")

    async def _bind(self, h: pdu.Header, body: bytes) -> None:
        cfg = self.server.cfg
        try:
            req = pdu.decode_bind(body)
        except SgipError as err:
            await self.send(Cmd.BIND_RESP, h.sequence, pdu.encode_resp(err.result))
            self.closed = True
            return
        ok = (
            req.login_type == LoginType.SMG_TO_SP
            and hmac.compare_digest(req.login_name.encode(), cfg.login.encode())
            and hmac.compare_digest(req.login_password.encode(), cfg.password.encode())
        )
        if not ok:
            log.info("sgip.smg_bind_refused", session=self.id, login_type=req.login_type)
            await self.send(Cmd.BIND_RESP, h.sequence, pdu.encode_resp(Result.ILLEGAL_LOGIN))
            self.closed = True
            return
        self.bound = True
        await self.send(Cmd.BIND_RESP, h.sequence, pdu.encode_resp(Result.OK))


class _SmgListener(BaseServer[_SmgSession]):
    session_class = _SmgSession

    def __init__(self, client: SgipClient, cfg: ClientConfig) -> None:
        super().__init__(FRAMING, _ListenSettings(cfg.listen_host, cfg.listen_port), "sgip-smg")
        self.client = client
        self.cfg = cfg
