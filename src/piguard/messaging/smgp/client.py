"""piguard as a content provider (SP) of China Telecom's SMGW over SMGP 3.0, on the SMGP codec
(``smgp.pdu``) and the shared client loop (``ismg.client``).

Login (LoginMode 2, transmit: submits, reports and MO on one connection) with the MD5
AuthenticatorClient over the shared secret and the TimeStamp; the SMGW's AuthenticatorServer is
checked. Each part is a Submit (NeedReport 1, MsgFormat 0 or 8, TLVs TP_udhi, PkTotal and PkNumber
for a long message); its Submit_Resp MsgID is kept as its 20 BCD digits (how ``smgp.bridge`` writes
the ids it gives). A Deliver with IsReport 1 carries the status report of a part (by MsgID), else it
is an MO message. Active_Test keeps the link; Status 1 (system busy) is transient."""

from __future__ import annotations

from piguard.core.logging import get_logger
from piguard.messaging.ismg.client import IsmgClient, LoginFailed
from piguard.messaging.smgp import pdu
from piguard.messaging.smgp.pdu import Cmd, LoginMode, SmgpError, St, Tag
from piguard.messaging.smgp.server import FRAMING
from piguard.messaging.smpp.client import SubmitResult, UpstreamError
from piguard.messaging.smpp.text import Encoded
from piguard.regulations.markers import carries

log = get_logger("piguard.smgp.client")

#: Submit_Resp Status values that mean "not now": 1 系统忙
TRANSIENT = frozenset({int(St.BUSY)})
_NO_ID = bytes(10)


class SmgpClient(IsmgClient[pdu.Header]):
    protocol = "smgp"
    framing = FRAMING
    transient = TRANSIENT

    @carries("O31-12")
    async def login(self) -> None:
        cfg = self.cfg
        ts = pdu.timestamp_of(self.now())
        auth = pdu.authenticator_client(cfg.login, cfg.password, ts)
        body = await self.request(
            Cmd.LOGIN, pdu.encode_login(pdu.Login(cfg.login, auth, LoginMode.TRANSMIT, ts))
        )
        try:
            resp = pdu.decode_login_resp(body)
        except SmgpError as exc:
            raise LoginFailed(-1, "Login_Resp does not read") from exc
        if resp.status != 0:
            raise LoginFailed(resp.status, f"Login refused (Status {resp.status})")
        if resp.authenticator != pdu.authenticator_server(0, auth, cfg.password):
            raise LoginFailed(-2, "AuthenticatorServer does not match the shared secret")

    async def keepalive(self) -> None:
        await self.request(Cmd.ACTIVE_TEST, b"")

    async def goodbye(self) -> None:
        await self.request(Cmd.EXIT, b"")

    async def on_request(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid == Cmd.ACTIVE_TEST:
            await self.send(Cmd.ACTIVE_TEST_RESP, h.sequence)
        elif cid == Cmd.EXIT:
            await self.send(Cmd.EXIT_RESP, h.sequence)
            raise ConnectionError("the SMGW ended the link")
        elif cid == Cmd.DELIVER:
            await self._deliver(h, body)
        elif cid in pdu.KNOWN_COMMANDS:
            log.info("smgp.upstream_unsupported_command", link=self.address, command_id=f"0x{cid:08X}")
        else:
            log.info("smgp.upstream_unknown_command", link=self.address, command_id=f"0x{cid:08X}")

    @carries("O31-11", "O31-20")
    async def _deliver(self, h: pdu.Header, body: bytes) -> None:
        try:
            d = pdu.decode_deliver(body)
            rp = pdu.decode_report(d.content) if d.is_report else None
            udhi = pdu.tlv_int(d.tlvs, Tag.TP_UDHI, 0)
        except SmgpError as err:
            msg_id = body[:10] if len(body) >= 10 else _NO_ID
            log.info("smgp.upstream_deliver_unreadable", link=self.address, status=err.status)
            await self.send(
                Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(msg_id, err.status))
            )
            return
        await self.send(Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(d.msg_id, 0)))
        if rp is not None:
            self.receipt(pdu.msg_id_str(rp.msg_id), rp.stat, "" if rp.stat == "DELIVRD" else rp.err)
            return
        self.mo_content(d.src_term_id, d.dest_term_id, d.content, udhi, d.msg_format)

    async def submit_part(
        self, sender: str, dest: str, enc: Encoded, n: int, part: bytes, priority: int
    ) -> SubmitResult:
        total = len(enc.parts)
        tlvs = {}
        if total > 1:
            tlvs = {Tag.TP_UDHI: b"\x01", Tag.PK_TOTAL: bytes([total]), Tag.PK_NUMBER: bytes([n])}
        s = pdu.Submit(
            need_report=1,
            priority=min(max(priority, 0), 3),
            service_id=self.cfg.service_id,
            msg_format=enc.data_coding,
            src_term_id=sender,
            dest_term_ids=(dest,),
            content=part,
            tlvs={int(k): v for k, v in tlvs.items()},
        )
        body = await self.request(Cmd.SUBMIT, pdu.encode_submit(s))
        try:
            r = pdu.decode_msg_resp(body)
        except SmgpError as exc:
            raise UpstreamError(exc.status, "Submit_Resp does not read") from exc
        return SubmitResult(r.status, pdu.msg_id_str(r.msg_id) if r.status == 0 else "")
