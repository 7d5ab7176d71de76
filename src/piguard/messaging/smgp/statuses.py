"""Gateway answers as SMGP Submit_Resp Status values (the table in docs/sms-china.md), by the shared
translation (``ismg.statuses``): the specification's codes for input errors, piguard's refusals as
0x400 + n (1024 + n), the SMPP vendor status itself. Every reason, with its obligation ids, stays in
piguard's records."""

from __future__ import annotations

from piguard.messaging.ismg.statuses import table, translate
from piguard.messaging.smgp.pdu import St
from piguard.messaging.smpp.pdu import Status

#: piguard's own statuses: 0x400 + n, as SMPP's vendor statuses; 0x400 is "refused, no specific reason"
PG_BASE = 0x400
PG_REFUSED = PG_BASE

_SPEC: dict[int, int] = {
    int(Status.ESME_ROK): St.OK,
    int(Status.ESME_RINVSRCADR): St.SRC_TERM,  # sender_unregistered / not this provider
    int(Status.ESME_RINVDSTADR): St.DEST_TERM,
    int(Status.ESME_RINVMSGLEN): St.MSG_LENGTH,
    int(Status.ESME_RINVOPTPARAMVAL): St.STRUCTURE,
    int(Status.ESME_RTHROTTLED): St.BUSY,
    int(Status.ESME_RSUBMITFAIL): PG_REFUSED,
    int(Status.ESME_RSYSERR): PG_REFUSED,
}


def smgp_status(smpp_status: int) -> int:
    """The SMGP Status for the status the shared bridge decided."""
    return translate(smpp_status, _SPEC, PG_BASE)


#: Login_Resp Status values piguard answers: (English, 中文)
LOGIN_STATUSES: dict[int, tuple[str, str]] = {
    0: ("logged in", "成功"),
    10: ("Login does not read", "消息结构错"),
    21: ("unknown ClientID, wrong AuthenticatorClient or TimeStamp too far off", "认证错"),
    22: ("ClientVersion other than 0x30", "版本不支持"),
    76: ("account disabled", "账号已停用"),
}

#: the documented table: Submit_Resp Status -> (English, 中文)
STATUSES: dict[int, tuple[str, str]] = table(
    {
        0: ("accepted", "成功"),
        1: (
            "flow control: window or rate exceeded, or too many long messages half-sent",
            "系统忙（流量控制）",
        ),
        10: ("structure error (bad field, TLV, UDH, PkNumber > PkTotal)", "消息结构错"),
        11: ("Submit on a receive-only login", "命令字错（接收模式登录不能提交）"),
        30: ("MsgType other than 6 (MT) or 7", "非法消息类型"),
        31: ("Priority outside 0-3", "非法优先级"),
        34: ("MsgFormat other than 0, 8, 15, or content that does not decode", "非法短消息格式"),
        36: ("message length error", "非法短消息长度"),
        46: (
            "SrcTermID not a port of this content provider / not registered",
            "非法发送号码（端口未登记或非本企业）",
        ),
        47: ("DestTermID invalid, or more than one destination", "非法接收号码"),
    },
    PG_BASE,
)
