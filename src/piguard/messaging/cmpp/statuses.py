"""Gateway answers as CMPP_SUBMIT_RESP Result values (the table in docs/sms-cmpp.md).

The decision and its precedence are the SMPP bridge's (``smpp.statuses``: who may send, then what,
then to whom); this module only translates that status to CMPP (``ismg.statuses``). Results 0-13
are the specification's; piguard's own refusals use 64-76, each the SMPP vendor status 0x400 + n as
64 + n, so that a content provider reading either protocol learns the same reason. Every reason,
with its obligation ids, stays in piguard's records.
"""

from __future__ import annotations

from piguard.messaging.cmpp.pdu import SubmitResult
from piguard.messaging.ismg.statuses import table, translate
from piguard.messaging.smpp.pdu import Status

#: piguard's own results: 64 + (SMPP vendor status - 0x400); 64 is "refused, no specific reason"
PG_BASE = 64
PG_REFUSED = PG_BASE

_SPEC: dict[int, int] = {
    int(Status.ESME_ROK): SubmitResult.OK,
    int(Status.ESME_RINVSRCADR): SubmitResult.SRC_ID,  # sender_unregistered / not this provider
    int(Status.ESME_RINVDSTADR): SubmitResult.DEST_TERMINAL,
    int(Status.ESME_RINVMSGLEN): SubmitResult.LENGTH,
    int(Status.ESME_RINVOPTPARAMVAL): SubmitResult.STRUCTURE,
    int(Status.ESME_RTHROTTLED): SubmitResult.FLOW_CONTROL,
    int(Status.ESME_RSUBMITFAIL): PG_REFUSED,
    int(Status.ESME_RSYSERR): PG_REFUSED,
}


def cmpp_result(smpp_status: int) -> int:
    """The CMPP Result for the status the shared bridge decided."""
    return translate(smpp_status, _SPEC, PG_BASE)


#: the documented table: Result -> (English, 中文)
RESULTS: dict[int, tuple[str, str]] = table(
    {
        0: ("accepted", "正确"),
        1: ("structure error (bad field, UDH, Msg_Fmt, Pk_number > Pk_total)", "消息结构错"),
        4: ("message length error", "消息长度错"),
        8: ("flow control: window or rate exceeded", "流量控制错"),
        10: (
            "Src_Id not a port of this content provider / not registered",
            "Src_Id 错误（端口未登记或非本企业）",
        ),
        13: ("Dest_terminal_Id invalid, or more than one destination", "Dest_terminal_Id 错误"),
    },
    PG_BASE,
)
