"""piguard as a content provider (SP) of China Mobile's ISMG over CMPP 2.0 or 3.0, on the CMPP codec
(``cmpp.pdu``) and the shared client loop (``ismg.client``).

CMPP_CONNECT with the MD5 AuthenticatorSource over the shared secret and the Timestamp (Asia/Shanghai);
the ISMG's AuthenticatorISMG is checked (an ISMG that cannot prove the secret is refused). Each part
is a CMPP_SUBMIT with Pk_total/Pk_number, TP_udhi 1 for a long message, Msg_Fmt 0 (ASCII) or 8
(UCS2, Chinese) and Registered_Delivery 1; its CMPP_SUBMIT_RESP Msg_Id is kept as 16 hex digits
(how ``cmpp.bridge`` writes the ids it gives). A CMPP_DELIVER with Registered_Delivery 1 is a status
report (its Msg_Id is the part's), else an MO message. CMPP_ACTIVE_TEST keeps the link; Result 8
(flow control) is transient: the message is retried after a back-off."""

from __future__ import annotations

from typing import Any

from piguard.core.logging import get_logger
from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.pdu import V20, V30, Cmd, CmppError, SubmitResult
from piguard.messaging.cmpp.server import FRAMING
from piguard.messaging.ismg.client import ClientConfig, IsmgClient, LoginFailed
from piguard.messaging.smpp.client import SubmitResult as PartResult
from piguard.messaging.smpp.client import UpstreamError
from piguard.messaging.smpp.text import Encoded
from piguard.regulations.markers import carries

log = get_logger("piguard.cmpp.client")

#: CMPP_SUBMIT_RESP Result values that mean "not now": 8 流量控制错
TRANSIENT = frozenset({int(SubmitResult.FLOW_CONTROL)})


def msg_id_str(msg_id: int) -> str:
    """A Msg_Id as piguard keeps it: 16 hex digits (``cmpp.bridge`` writes its own ids so too)."""
    return f"{msg_id:016x}"


class CmppClient(IsmgClient[pdu.Header]):
    framing = FRAMING
    transient = TRANSIENT

    def __init__(self, cfg: ClientConfig, version: int = V30, **kw: Any) -> None:
        super().__init__(cfg, **kw)
        self.version = V30 if version >= V30 else V20
        self.protocol = "cmpp3" if self.version == V30 else "cmpp2"

    @carries("O31-12")
    async def login(self) -> None:
        cfg, v = self.cfg, self.version
        ts = pdu.timestamp_of(self.now())
        auth = pdu.authenticator_source(cfg.login, cfg.password, ts)
        body = await self.request(Cmd.CONNECT, pdu.encode_connect(pdu.Connect(cfg.login, auth, v, ts)))
        try:
            resp = pdu.decode_connect_resp(body, v)
        except CmppError as exc:
            raise LoginFailed(-1, "CMPP_CONNECT_RESP does not read") from exc
        if resp.status != 0:
            raise LoginFailed(resp.status, f"CMPP_CONNECT refused (Status {resp.status})")
        if resp.authenticator != pdu.authenticator_ismg(0, auth, cfg.password, v):
            raise LoginFailed(-2, "AuthenticatorISMG does not match the shared secret")

    async def keepalive(self) -> None:
        await self.request(Cmd.ACTIVE_TEST, b"")

    async def goodbye(self) -> None:
        await self.request(Cmd.TERMINATE, b"")

    async def on_request(self, h: pdu.Header, body: bytes) -> None:
        cid = h.command_id
        if cid == Cmd.ACTIVE_TEST:
            await self.send(Cmd.ACTIVE_TEST_RESP, h.sequence, pdu.encode_active_test_resp())
        elif cid == Cmd.TERMINATE:
            await self.send(Cmd.TERMINATE_RESP, h.sequence)
            raise ConnectionError("the ISMG terminated the link")
        elif cid == Cmd.DELIVER:
            await self._deliver(h, body)
        elif cid in pdu.KNOWN_COMMANDS:
            log.info(
                f"{self.protocol}.upstream_unsupported_command", link=self.address, command_id=f"0x{cid:08X}"
            )
        else:  # CMPP has no generic negative answer: recorded and ignored, the link stays
            log.info(
                f"{self.protocol}.upstream_unknown_command", link=self.address, command_id=f"0x{cid:08X}"
            )

    @carries("O31-11", "O31-20")
    async def _deliver(self, h: pdu.Header, body: bytes) -> None:
        v = self.version
        try:
            d = pdu.decode_deliver(body, v)
        except CmppError as err:
            msg_id = int.from_bytes(body[:8], "big") if len(body) >= 8 else 0
            log.info(f"{self.protocol}.upstream_deliver_unreadable", link=self.address, result=err.result)
            await self.send(
                Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(msg_id, err.result), v)
            )
            return
        await self.send(Cmd.DELIVER_RESP, h.sequence, pdu.encode_msg_resp(pdu.MsgResp(d.msg_id, 0), v))
        if d.registered_delivery == 1:
            rp = pdu.decode_report(d.content, v)  # read by decode_deliver already
            self.receipt(msg_id_str(rp.msg_id), rp.stat)
            return
        self.mo_content(d.src_terminal_id, d.dest_id, d.content, d.tp_udhi, d.msg_fmt)

    async def submit_part(
        self, sender: str, dest: str, enc: Encoded, n: int, part: bytes, priority: int
    ) -> PartResult:
        cfg, v = self.cfg, self.version
        s = pdu.Submit(
            pk_total=len(enc.parts),
            pk_number=n,
            registered_delivery=1,
            msg_level=min(max(priority, 0), 9),
            service_id=cfg.service_id,
            tp_udhi=1 if len(enc.parts) > 1 else 0,
            msg_fmt=enc.data_coding,
            msg_src=cfg.login,
            src_id=sender,
            dest_terminal_ids=(dest,),
            content=part,
        )
        body = await self.request(Cmd.SUBMIT, pdu.encode_submit(s, v))
        try:
            r = pdu.decode_msg_resp(body, v)
        except CmppError as exc:
            raise UpstreamError(exc.result, "CMPP_SUBMIT_RESP does not read") from exc
        return PartResult(r.result, msg_id_str(r.msg_id) if r.result == 0 else "")
