"""Gateway answers in the result codes of CMPP, SMGP and SGIP (the tables in docs/sms-cmpp.md and
docs/sms-china.md).

The decision and its precedence are the SMPP bridge's (``smpp.statuses``: who may send, then what,
then to whom); each protocol only translates that status. The specifications' own codes cover the
input errors (a bad port, number, length, structure, flow control); piguard's own refusals are the
SMPP vendor statuses 0x400 + n written as ``base + n`` in the protocol's range (CMPP and SGIP: 64 + n,
a one-octet result; SMGP: 0x400 + n, the very SMPP number, since SMGP's own codes run up to 76), so
that a content provider reading any protocol learns the same reason. Every reason, with its
obligation ids, stays in piguard's records.
"""

from __future__ import annotations

from collections.abc import Mapping

#: piguard's refusals by n (the SMPP vendor status 0x400 + n): (English, 中文)
PG_ROWS: dict[int, tuple[str, str]] = {
    0: ("refused (no more specific reason)", "拒绝（无更具体原因）"),
    1: ("prohibited content", "内容违禁"),
    2: ("signature missing, unapproved or mismatched", "签名缺失、未报备或不符"),
    3: ("opt-out wording missing or obstructive", "缺少退订方式或退订设障"),
    4: ("personal information in content", "内容含个人信息"),
    5: ("no valid consent of the recipient", "无有效用户同意"),
    6: ("consent frequency exceeded", "超出同意的发送频次"),
    7: ("similar content already refused", "相似内容已被拒绝"),
    8: ("port type does not fit the message", "端口类型与消息不符"),
    9: ("content provider or port suspended", "内容提供者或端口已暂停"),
    10: ("content provider not qualified (identity unverified, provider inactive)", "内容提供者资质未核验"),
    11: ("campaign missing", "缺少营销活动"),
    12: ("held (only when accept_held is off)", "已暂扣（仅当 accept_held 关闭）"),
}
#: the SMPP vendor statuses piguard answers (0x400 .. 0x40F)
_VENDOR = range(0x400, 0x410)


def translate(smpp_status: int, spec: Mapping[int, int], base: int) -> int:
    """The protocol's code for the status the shared bridge decided: the specification's where
    ``spec`` has it, else ``base + n`` for piguard's vendor status 0x400 + n, else ``base``."""
    if smpp_status in spec:
        return int(spec[smpp_status])
    if smpp_status in _VENDOR:
        return base + (smpp_status - 0x400)
    return base


def table(spec_rows: Mapping[int, tuple[str, str]], base: int) -> dict[int, tuple[str, str]]:
    """The documented table: the specification's rows, then piguard's at ``base + n``."""
    return {**spec_rows, **{base + n: row for n, row in PG_ROWS.items()}}
