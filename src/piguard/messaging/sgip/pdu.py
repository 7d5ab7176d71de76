"""SGIP 1.2 packets (中国联通 "SGIP 短消息网关接口协议" V1.2), encode and decode.

Every packet: Message Length (4), Command ID (4), Sequence Number (12: the source node id, the time
MMDDHHMMSS as a number, a sequence; three 32-bit big-endian numbers), then the body; no packet is
longer than 2 K octets (spec 4.1). Body layouts follow the specification's field tables (4.2):

* Bind: Login Type 1 (1: SP to SMG, 2: SMG to SP), Login Name 16, Login Password 16, Reserve 8.
* Unbind: no body. Every response (Bind_Resp, Unbind_Resp has none, Submit_Resp, Deliver_Resp,
  Report_Resp): Result 1, Reserve 8.
* Submit: SPNumber 21, ChargeNumber 21, UserCount 1, UserNumber 21 x n, CorpId 5, ServiceType 10,
  FeeType 1, FeeValue 6, GivenValue 6, AgentFlag 1, MorelatetoMTFlag 1, Priority 1, ExpireTime 16,
  ScheduleTime 16, ReportFlag 1, TP_pid 1, TP_udhi 1, MessageCoding 1, MessageType 1,
  MessageLength 4, MessageContent, Reserve 8.
* Deliver (MO): UserNumber 21, SPNumber 21, TP_pid 1, TP_udhi 1, MessageCoding 1, MessageLength 4,
  MessageContent, Reserve 8.
* Report: SubmitSequenceNumber 12 (the Submit's own sequence: SGIP has no message id), ReportType 1,
  UserNumber 21, State 1 (0 delivered, 1 waiting, 2 failed), ErrorCode 1, Reserve 8.

Decoding never raises anything but :class:`SgipError` (which carries the Result to answer).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from piguard.messaging.ismg import codec

HEADER_LEN = 20
#: spec 4.1: 系统中每个消息包最大不超过2K字节
MAX_PACKET = 2048
MAX_USERS = 100
RESP_BIT = 0x80000000


class Cmd(IntEnum):
    BIND = 0x1
    BIND_RESP = 0x80000001
    UNBIND = 0x2
    UNBIND_RESP = 0x80000002
    SUBMIT = 0x3
    SUBMIT_RESP = 0x80000003
    DELIVER = 0x4
    DELIVER_RESP = 0x80000004
    REPORT = 0x5
    REPORT_RESP = 0x80000005


#: SGIP 1.2 defines commands 0x1-0x11 (SP and route management beyond Report) and Trace 0x1000
KNOWN_COMMANDS = frozenset([*range(1, 0x12), 0x1000, *(RESP_BIT | i for i in [*range(1, 0x12), 0x1000])])


class Result(IntEnum):
    """Result / ErrorCode values used here (spec 4.3)."""

    OK = 0
    ILLEGAL_LOGIN = 1  # 非法登录
    REPEATED_LOGIN = 2
    TOO_MANY_CONNECTIONS = 3
    LOGIN_TYPE = 4
    PARAMETER_FORMAT = 5  # 参数格式错
    ILLEGAL_NUMBER = 6  # 非法手机号码
    MESSAGE_ID = 7
    LENGTH = 8  # 信息长度错
    ILLEGAL_SEQUENCE = 9
    NODE_BUSY = 11  # 节点忙
    SYSTEM_FAILURE = 32


class LoginType(IntEnum):
    SP_TO_SMG = 1
    SMG_TO_SP = 2


class SgipError(Exception):
    """A packet that cannot be read; ``result`` is the Result to answer with."""

    def __init__(self, result: int, message: str) -> None:
        super().__init__(message)
        self.result = result


#: (node id, time MMDDHHMMSS, sequence)
Sequence = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    command_id: int
    sequence: Sequence


def _format(message: str) -> SgipError:
    return SgipError(Result.PARAMETER_FORMAT, message)


def _length(message: str) -> SgipError:
    return SgipError(Result.LENGTH, message)


def parse_header(data: bytes) -> Header:
    if len(data) < HEADER_LEN:
        raise _length("header shorter than 20 octets")
    length, cid, node, when, seq = struct.unpack(">IIIII", data[:HEADER_LEN])
    return Header(length, cid, (node, when, seq))


def length_ok(h: Header) -> bool:
    """Message Length below the header or above 2 K: the framing is lost."""
    return HEADER_LEN <= h.length <= MAX_PACKET


def pack_sequence(seq: Sequence) -> bytes:
    return struct.pack(">III", *(v & 0xFFFFFFFF for v in seq))


def frame(command_id: int, sequence: Sequence, body: bytes = b"") -> bytes:
    return struct.pack(">II", HEADER_LEN + len(body), command_id) + pack_sequence(sequence) + body


def split_packet(data: bytes) -> tuple[Header, bytes]:
    h = parse_header(data)
    if not length_ok(h) or h.length != len(data):
        raise _length("Message Length does not match the packet")
    return h, data[HEADER_LEN:]


def sequence_of(node_id: int, when: datetime, n: int) -> Sequence:
    """A Sequence Number (spec 4.1): the node id, MMDDHHMMSS of ``when``, a 32-bit sequence."""
    return (node_id & 0xFFFFFFFF, int(when.strftime("%m%d%H%M%S")), n & 0xFFFFFFFF)


def sequence_hex(seq: Sequence) -> str:
    """The 24 hex digits of a Sequence Number (how piguard keeps it for the report)."""
    return pack_sequence(seq).hex()


def sequence_from_hex(s: str) -> Sequence:
    node, when, n = struct.unpack(">III", bytes.fromhex(s))
    return (node, when, n)


class _Reader(codec.Reader):
    def __init__(self, data: bytes) -> None:
        super().__init__(data, _format, _length, _format)


def _octets(value: str, n: int) -> bytes:
    return codec.octets(value, n, _format)


def _resp_tail(r: _Reader) -> None:
    r.take(8)  # Reserve
    r.end()


# ------------------------------------------------------------------------------------ bind


@dataclass(frozen=True, slots=True)
class Bind:
    login_type: int
    login_name: str
    login_password: str


def encode_bind(b: Bind) -> bytes:
    return bytes([b.login_type & 0xFF]) + _octets(b.login_name, 16) + _octets(b.login_password, 16) + bytes(8)


def decode_bind(body: bytes) -> Bind:
    r = _Reader(body)
    b = Bind(r.u8(), r.text(16), r.text(16))
    _resp_tail(r)
    return b


def encode_resp(result: int) -> bytes:
    """Bind_Resp, Submit_Resp, Deliver_Resp, Report_Resp: Result 1, Reserve 8."""
    return bytes([result & 0xFF]) + bytes(8)


def decode_resp(body: bytes) -> int:
    r = _Reader(body)
    result = r.u8()
    _resp_tail(r)
    return result


def decode_empty(body: bytes) -> None:
    """Unbind and Unbind_Resp have no body."""
    if body:
        raise _length("this packet has no body")


# ------------------------------------------------------------------------------------ submit


@dataclass(frozen=True, slots=True)
class Submit:
    sp_number: str = ""
    charge_number: str = ""
    user_numbers: tuple[str, ...] = ()
    corp_id: str = ""
    service_type: str = ""
    fee_type: int = 0
    fee_value: str = "0"
    given_value: str = "0"
    agent_flag: int = 0
    morelateto_mt_flag: int = 2
    priority: int = 0
    expire_time: str = ""
    schedule_time: str = ""
    report_flag: int = 0
    tp_pid: int = 0
    tp_udhi: int = 0
    message_coding: int = 15
    message_type: int = 0
    content: bytes = b""


def encode_submit(s: Submit) -> bytes:
    if not 1 <= len(s.user_numbers) <= MAX_USERS:
        raise SgipError(Result.ILLEGAL_NUMBER, f"1-{MAX_USERS} user numbers")
    return (
        _octets(s.sp_number, 21)
        + _octets(s.charge_number, 21)
        + bytes([len(s.user_numbers)])
        + b"".join(_octets(u, 21) for u in s.user_numbers)
        + _octets(s.corp_id, 5)
        + _octets(s.service_type, 10)
        + bytes([s.fee_type])
        + _octets(s.fee_value, 6)
        + _octets(s.given_value, 6)
        + bytes([s.agent_flag, s.morelateto_mt_flag, s.priority])
        + _octets(s.expire_time, 16)
        + _octets(s.schedule_time, 16)
        + bytes([s.report_flag, s.tp_pid, s.tp_udhi, s.message_coding, s.message_type])
        + struct.pack(">I", len(s.content))
        + s.content
        + bytes(8)
    )


def decode_submit(body: bytes) -> Submit:
    r = _Reader(body)
    sp, charge = r.text(21), r.text(21)
    count = r.u8()
    if not 1 <= count <= MAX_USERS:
        raise SgipError(Result.ILLEGAL_NUMBER, "UserCount out of 1-100")
    users = tuple(r.text(21) for _ in range(count))
    corp, service, fee_type, fee, given = r.text(5), r.text(10), r.u8(), r.text(6), r.text(6)
    agent, morelateto, priority = r.u8(), r.u8(), r.u8()
    expire, schedule = r.text(16), r.text(16)
    report, pid, udhi, coding, mtype = r.u8(), r.u8(), r.u8(), r.u8(), r.u8()
    content = r.take(r.u32())
    _resp_tail(r)
    return Submit(
        sp, charge, users, corp, service, fee_type, fee, given, agent, morelateto, priority, expire, schedule,
        report, pid, udhi, coding, mtype, content,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ deliver


@dataclass(frozen=True, slots=True)
class Deliver:
    user_number: str
    sp_number: str
    tp_pid: int = 0
    tp_udhi: int = 0
    message_coding: int = 15
    content: bytes = b""


def encode_deliver(d: Deliver) -> bytes:
    return (
        _octets(d.user_number, 21)
        + _octets(d.sp_number, 21)
        + bytes([d.tp_pid, d.tp_udhi, d.message_coding])
        + struct.pack(">I", len(d.content))
        + d.content
        + bytes(8)
    )


def decode_deliver(body: bytes) -> Deliver:
    r = _Reader(body)
    user, sp, pid, udhi, coding = r.text(21), r.text(21), r.u8(), r.u8(), r.u8()
    content = r.take(r.u32())
    _resp_tail(r)
    return Deliver(user, sp, pid, udhi, coding, content)


# ------------------------------------------------------------------------------------ report

STATE_DELIVERED, STATE_WAITING, STATE_FAILED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Report:
    submit_sequence: Sequence
    user_number: str
    state: int
    error_code: int = 0
    report_type: int = 0  # 0: the report of an earlier Submit


def encode_report(rp: Report) -> bytes:
    return (
        pack_sequence(rp.submit_sequence)
        + bytes([rp.report_type])
        + _octets(rp.user_number, 21)
        + bytes([rp.state, rp.error_code])
        + bytes(8)
    )


def decode_report(body: bytes) -> Report:
    r = _Reader(body)
    seq = (r.u32(), r.u32(), r.u32())
    rtype, user, state, err = r.u8(), r.text(21), r.u8(), r.u8()
    _resp_tail(r)
    return Report(seq, user, state, err, rtype)
