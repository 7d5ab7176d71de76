"""Gateway answers as SGIP Submit_Resp Result values (the table in docs/sms-china.md), by the shared
translation (``ismg.statuses``): the specification's codes for input errors, piguard's refusals as
64 + n (SMPP's vendor status 0x400 + n, as for CMPP). Every reason, with its obligation ids, stays
in piguard's records."""

from __future__ import annotations

from piguard.messaging.ismg.statuses import table, translate
from piguard.messaging.sgip.pdu import Result
from piguard.messaging.smpp.pdu import Status

PG_BASE = 64
PG_REFUSED = PG_BASE

_SPEC: dict[int, int] = {
    int(Status.ESME_ROK): Result.OK,
    # SGIP has no code of its own for a wrong SPNumber: 5, a parameter not as the protocol wants
    int(Status.ESME_RINVSRCADR): Result.PARAMETER_FORMAT,
    int(Status.ESME_RINVDSTADR): Result.ILLEGAL_NUMBER,
    int(Status.ESME_RINVMSGLEN): Result.LENGTH,
    int(Status.ESME_RINVOPTPARAMVAL): Result.PARAMETER_FORMAT,
    int(Status.ESME_RTHROTTLED): Result.NODE_BUSY,
    int(Status.ESME_RSUBMITFAIL): PG_REFUSED,
    int(Status.ESME_RSYSERR): PG_REFUSED,
}


def sgip_result(smpp_status: int) -> int:
    """The SGIP Result for the status the shared bridge decided."""
    return translate(smpp_status, _SPEC, PG_BASE)


#: Bind_Resp Result values piguard answers: (English, 中文)
BIND_RESULTS: dict[int, tuple[str, str]] = {
    0: ("bound", "成功"),
    1: ("unknown Login Name, wrong Login Password, or account disabled", "非法登录"),
    2: ("a second Bind on the same connection", "重复登录"),
    4: ("Login Type other than 1 (SP to SMG)", "登录类型错"),
    5: ("Bind does not read", "参数格式错"),
}

#: the documented table: Submit_Resp Result -> (English, 中文)
RESULTS: dict[int, tuple[str, str]] = table(
    {
        0: ("accepted", "成功"),
        5: (
            "parameter error: a field or UDH that does not read, MessageCoding other than 0/8/15, or an "
            "SPNumber that is not a registered port of this content provider",
            "参数格式错（含端口未登记或非本企业）",
        ),
        6: ("UserNumber invalid, or more than one", "非法手机号码"),
        8: ("message length error", "信息长度错"),
        11: (
            "flow control: window or rate exceeded, or too many long messages half-sent",
            "节点忙（流量控制）",
        ),
    },
    PG_BASE,
)
