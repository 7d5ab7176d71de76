"""CMPP 2.0 and 3.0 packets (China Mobile "CMPP 接口协议" V2.0 and V3.0), encode and decode.

Every packet: Total_Length (4), Command_Id (4), Sequence_Id (4), big-endian, then the body. The
body layouts below follow the specifications' field tables (section numbers in the comments; 2.0
and 3.0 differ in terminal id widths, 32 octets + a type octet in 3.0 for 21 in 2.0, result widths,
4 octets in 3.0 for 1 in 2.0, and the trailing LinkID/Reserve fields).

Decoding never raises anything but :class:`CmppError` (which carries the result code to answer);
lengths are checked against the packet and against :data:`MAX_PACKET` before anything is read.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from piguard.messaging.ismg import codec, text

HEADER_LEN = 12
#: the longest packet accepted: a CMPP_SUBMIT with 100 destinations of 32 octets and 255 octets of
#: content is under 3.6 kB; anything above 4 kB is a framing error
MAX_PACKET = 4096
MAX_DESTINATIONS = 100
RESP_BIT = 0x80000000

V20 = 0x20
V30 = 0x30
VERSIONS = (V20, V30)


class Cmd(IntEnum):
    CONNECT = 0x00000001
    CONNECT_RESP = 0x80000001
    TERMINATE = 0x00000002
    TERMINATE_RESP = 0x80000002
    SUBMIT = 0x00000004
    SUBMIT_RESP = 0x80000004
    DELIVER = 0x00000005
    DELIVER_RESP = 0x80000005
    QUERY = 0x00000006
    QUERY_RESP = 0x80000006
    CANCEL = 0x00000007
    CANCEL_RESP = 0x80000007
    ACTIVE_TEST = 0x00000008
    ACTIVE_TEST_RESP = 0x80000008


KNOWN_COMMANDS = frozenset(int(c) for c in Cmd)


class ConnectStatus(IntEnum):
    """CMPP_CONNECT_RESP Status (spec 7.4.2): 0 ok, 1 structure, 2 source address, 3 authenticator,
    4 version too high, 5 other."""

    OK = 0
    STRUCTURE = 1
    BAD_SOURCE = 2
    AUTH = 3
    VERSION = 4
    OTHER = 5


class SubmitResult(IntEnum):
    """CMPP_SUBMIT_RESP / CMPP_DELIVER_RESP Result (spec 7.4.3.2): 0-13 defined by the spec."""

    OK = 0
    STRUCTURE = 1
    COMMAND = 2
    SEQUENCE_REPEAT = 3
    LENGTH = 4
    FEE_CODE = 5
    TOO_LONG = 6
    SERVICE_ID = 7
    FLOW_CONTROL = 8
    NOT_SERVED = 9  # 3.0: 本网关不负责服务此计费号码
    SRC_ID = 10
    MSG_SRC = 11
    FEE_TERMINAL = 12
    DEST_TERMINAL = 13


class CmppError(Exception):
    """A packet that cannot be read; ``result`` is the code to answer with."""

    def __init__(self, result: int, message: str) -> None:
        super().__init__(message)
        self.result = result


Header = codec.Header


def _structure(message: str) -> CmppError:
    return CmppError(SubmitResult.STRUCTURE, message)


def _length(message: str) -> CmppError:
    return CmppError(SubmitResult.LENGTH, message)


_CODEC = codec.U32Codec(_structure, _length, MAX_PACKET, "Total_Length")
parse_header = _CODEC.parse_header
split_packet = _CODEC.split_packet
frame = codec.frame_u32
_Reader = codec.Reader
_new_reader = _CODEC.reader
_octets = _CODEC.octets


def check_length(h: Header) -> None:
    """Total_Length below the header or above :data:`MAX_PACKET`: the framing is lost."""
    if not _CODEC.length_ok(h):
        raise CmppError(SubmitResult.LENGTH, f"Total_Length {h.length} out of range")


# ------------------------------------------------------------------------------------ fields


def _tail(r: _Reader, version: int) -> str:
    """3.0 LinkID (20 octets, kept); 2.0 Reserve (8 octets, read and dropped)."""
    if version >= V30:
        return r.text(20)
    r.take(8)
    return ""


def term_width(version: int) -> int:
    """Width of a terminal id (Fee_terminal_Id, Dest_terminal_Id, Src_terminal_Id): 21 / 32."""
    return 32 if version >= V30 else 21


def _result_width(version: int) -> int:
    return 4 if version >= V30 else 1


def _put_result(version: int, result: int) -> bytes:
    return struct.pack(">I", result) if version >= V30 else bytes([result & 0xFF])


def _get_result(r: _Reader, version: int) -> int:
    return r.u32() if version >= V30 else r.u8()


# ------------------------------------------------------------------------------------ connect


def timestamp_of(when: datetime) -> int:
    """CMPP_CONNECT Timestamp: the decimal number MMDDHHMMSS (spec 7.4.1)."""
    return int(when.strftime("%m%d%H%M%S"))


def authenticator_source(source_addr: str, secret: str, timestamp: int) -> bytes:
    """MD5(Source_Addr + 9 zero octets + shared secret + timestamp as 10 digits) (spec 7.4.1)."""
    return hashlib.md5(  # the protocol's own authenticator
        source_addr.encode("ascii") + b"\x00" * 9 + secret.encode("utf-8") + f"{timestamp:010d}".encode()
    ).digest()


def authenticator_ismg(status: int, auth_source: bytes, secret: str, version: int) -> bytes:
    """MD5(Status + AuthenticatorSource + shared secret) (spec 7.4.2); Status 1 octet in 2.0, 4 in 3.0."""
    return hashlib.md5(_put_result(version, status) + auth_source + secret.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Connect:
    source_addr: str
    authenticator: bytes
    version: int
    timestamp: int


def encode_connect(c: Connect) -> bytes:
    if len(c.authenticator) != 16:
        raise CmppError(SubmitResult.STRUCTURE, "AuthenticatorSource is 16 octets")
    return _octets(c.source_addr, 6) + c.authenticator + bytes([c.version]) + struct.pack(">I", c.timestamp)


def decode_connect(body: bytes) -> Connect:
    r = _new_reader(body)
    c = Connect(r.text(6), r.take(16), r.u8(), r.u32())
    r.end()
    return c


@dataclass(frozen=True, slots=True)
class ConnectResp:
    status: int
    authenticator: bytes
    version: int


def encode_connect_resp(c: ConnectResp, version: int) -> bytes:
    auth = c.authenticator.ljust(16, b"\x00")[:16]
    return _put_result(version, c.status) + auth + bytes([c.version])


def decode_connect_resp(body: bytes, version: int) -> ConnectResp:
    r = _new_reader(body)
    c = ConnectResp(_get_result(r, version), r.take(16), r.u8())
    r.end()
    return c


# ------------------------------------------------------------------------------------ Msg_Id


def make_msg_id(when: datetime, gateway: int, sequence: int) -> int:
    """Msg_Id (spec 7.4.3.1): month 4 bits, day 5, hour 5, minute 6, second 6, the ISMG's gateway
    code 22 bits, a sequence 16 bits."""
    if not 0 <= gateway < 1 << 22:
        raise ValueError("gateway code is 22 bits")
    v = when.month
    for width, part in ((5, when.day), (5, when.hour), (6, when.minute), (6, when.second)):
        v = (v << width) | part
    return (v << 38) | (gateway << 16) | (sequence & 0xFFFF)


@dataclass(frozen=True, slots=True)
class MsgIdParts:
    month: int
    day: int
    hour: int
    minute: int
    second: int
    gateway: int
    sequence: int


def split_msg_id(msg_id: int) -> MsgIdParts:
    return MsgIdParts(
        (msg_id >> 60) & 0xF,
        (msg_id >> 55) & 0x1F,
        (msg_id >> 50) & 0x1F,
        (msg_id >> 44) & 0x3F,
        (msg_id >> 38) & 0x3F,
        (msg_id >> 16) & 0x3FFFFF,
        msg_id & 0xFFFF,
    )


# ------------------------------------------------------------------------------------ submit


@dataclass(frozen=True, slots=True)
class Submit:
    """CMPP_SUBMIT (2.0 spec 7.4.3.1; 3.0 spec 7.4.3.1). Terminal ids are 21 octets in 2.0, 32 in
    3.0 (with a type octet after each group); 2.0 ends with Reserve (8), 3.0 with LinkID (20)."""

    msg_id: int = 0
    pk_total: int = 1
    pk_number: int = 1
    registered_delivery: int = 0
    msg_level: int = 0
    service_id: str = ""
    fee_user_type: int = 0
    fee_terminal_id: str = ""
    fee_terminal_type: int = 0  # 3.0 only
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = 0
    msg_src: str = ""
    fee_type: str = "01"
    fee_code: str = ""
    valid_time: str = ""
    at_time: str = ""
    src_id: str = ""
    dest_terminal_ids: tuple[str, ...] = ()
    dest_terminal_type: int = 0  # 3.0 only
    content: bytes = b""
    link_id: str = ""  # 3.0 LinkID; 2.0 Reserve


def encode_submit(s: Submit, version: int) -> bytes:
    tw = term_width(version)
    if not 1 <= len(s.dest_terminal_ids) <= MAX_DESTINATIONS:
        raise CmppError(SubmitResult.DEST_TERMINAL, "DestUsr_tl is 1-100")
    if len(s.content) > 255:
        raise CmppError(SubmitResult.TOO_LONG, "Msg_Content is at most 255 octets")
    out = [
        struct.pack(">Q", s.msg_id),
        bytes([s.pk_total, s.pk_number, s.registered_delivery, s.msg_level]),
        _octets(s.service_id, 10),
        bytes([s.fee_user_type]),
        _octets(s.fee_terminal_id, tw),
    ]
    if version >= V30:
        out.append(bytes([s.fee_terminal_type]))
    out += [
        bytes([s.tp_pid, s.tp_udhi, s.msg_fmt]),
        _octets(s.msg_src, 6),
        _octets(s.fee_type, 2),
        _octets(s.fee_code, 6),
        _octets(s.valid_time, 17),
        _octets(s.at_time, 17),
        _octets(s.src_id, 21),
        bytes([len(s.dest_terminal_ids)]),
        *(_octets(d, tw) for d in s.dest_terminal_ids),
    ]
    if version >= V30:
        out.append(bytes([s.dest_terminal_type]))
    out += [bytes([len(s.content)]), s.content, _octets(s.link_id, 20 if version >= V30 else 8)]
    return b"".join(out)


def decode_submit(body: bytes, version: int) -> Submit:
    tw = term_width(version)
    r = _new_reader(body)
    msg_id, pk_total, pk_number, reg, level = r.u64(), r.u8(), r.u8(), r.u8(), r.u8()
    service_id, fee_user_type, fee_terminal = r.text(10), r.u8(), r.text(tw)
    fee_terminal_type = r.u8() if version >= V30 else 0
    tp_pid, tp_udhi, msg_fmt = r.u8(), r.u8(), r.u8()
    msg_src, fee_type, fee_code = r.text(6), r.text(2), r.text(6)
    valid, at, src = r.text(17), r.text(17), r.text(21)
    n = r.u8()
    if not 1 <= n <= MAX_DESTINATIONS:
        raise CmppError(SubmitResult.DEST_TERMINAL, "DestUsr_tl is 1-100")
    dests = tuple(r.text(tw) for _ in range(n))
    dest_type = r.u8() if version >= V30 else 0
    content = r.take(r.u8())
    link = _tail(r, version)
    r.end()
    return Submit(
        msg_id, pk_total, pk_number, reg, level, service_id, fee_user_type, fee_terminal,
        fee_terminal_type, tp_pid, tp_udhi, msg_fmt, msg_src, fee_type, fee_code, valid, at, src,
        dests, dest_type, content, link,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MsgResp:
    """CMPP_SUBMIT_RESP and CMPP_DELIVER_RESP: Msg_Id (8) + Result (1 in 2.0, 4 in 3.0)."""

    msg_id: int
    result: int


def encode_msg_resp(m: MsgResp, version: int) -> bytes:
    return struct.pack(">Q", m.msg_id) + _put_result(version, m.result)


def decode_msg_resp(body: bytes, version: int) -> MsgResp:
    r = _new_reader(body)
    m = MsgResp(r.u64(), _get_result(r, version))
    r.end()
    return m


# ------------------------------------------------------------------------------------ deliver


@dataclass(frozen=True, slots=True)
class Report:
    """The status report carried in a CMPP_DELIVER's Msg_Content when Registered_Delivery = 1
    (spec 7.4.5.1): Msg_Id 8, Stat 7, Submit_time 10 (YYMMDDHHMM), Done_time 10, Dest_terminal_Id
    21/32, SMSC_sequence 4."""

    msg_id: int
    stat: str
    submit_time: str
    done_time: str
    dest_terminal_id: str
    smsc_sequence: int = 0


def encode_report(rp: Report, version: int) -> bytes:
    return (
        struct.pack(">Q", rp.msg_id)
        + _octets(rp.stat, 7)
        + _octets(rp.submit_time, 10)
        + _octets(rp.done_time, 10)
        + _octets(rp.dest_terminal_id, term_width(version))
        + struct.pack(">I", rp.smsc_sequence)
    )


def decode_report(data: bytes, version: int) -> Report:
    r = _new_reader(data)
    rp = Report(r.u64(), r.text(7), r.text(10), r.text(10), r.text(term_width(version)), r.u32())
    r.end()
    return rp


@dataclass(frozen=True, slots=True)
class Deliver:
    """CMPP_DELIVER (spec 7.4.5.1): an MO message, or a status report (``registered_delivery`` 1,
    ``content`` an encoded :class:`Report`)."""

    msg_id: int = 0
    dest_id: str = ""
    service_id: str = ""
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = 0
    src_terminal_id: str = ""
    src_terminal_type: int = 0  # 3.0 only
    registered_delivery: int = 0
    content: bytes = b""
    link_id: str = ""  # 3.0 LinkID; 2.0 Reserved


def encode_deliver(d: Deliver, version: int) -> bytes:
    if len(d.content) > 255:
        raise CmppError(SubmitResult.TOO_LONG, "Msg_Content is at most 255 octets")
    out = [
        struct.pack(">Q", d.msg_id),
        _octets(d.dest_id, 21),
        _octets(d.service_id, 10),
        bytes([d.tp_pid, d.tp_udhi, d.msg_fmt]),
        _octets(d.src_terminal_id, term_width(version)),
    ]
    if version >= V30:
        out.append(bytes([d.src_terminal_type]))
    out += [bytes([d.registered_delivery, len(d.content)]), d.content]
    out.append(_octets(d.link_id, 20) if version >= V30 else b"\x00" * 8)
    return b"".join(out)


def decode_deliver(body: bytes, version: int) -> Deliver:
    r = _new_reader(body)
    msg_id, dest, service = r.u64(), r.text(21), r.text(10)
    tp_pid, tp_udhi, fmt = r.u8(), r.u8(), r.u8()
    src = r.text(term_width(version))
    src_type = r.u8() if version >= V30 else 0
    reg = r.u8()
    content = r.take(r.u8())
    link = _tail(r, version)
    r.end()
    d = Deliver(msg_id, dest, service, tp_pid, tp_udhi, fmt, src, src_type, reg, content, link)
    if reg == 1:
        decode_report(content, version)  # a report that does not read is a structure error
    return d


# ------------------------------------------------------------------------------------ active test


def encode_active_test_resp() -> bytes:
    return b"\x00"  # Reserved (1)


def decode_empty(body: bytes) -> None:
    """CMPP_TERMINATE, CMPP_TERMINATE_RESP and CMPP_ACTIVE_TEST have no body."""
    if body:
        raise CmppError(SubmitResult.LENGTH, "this packet has no body")


# ------------------------------------------------------------------------------------ text


FMT_ASCII, FMT_UCS2, FMT_GBK, TEXT_FORMATS = text.FMT_ASCII, text.FMT_UCS2, text.FMT_GBK, text.TEXT_FORMATS
Segment = text.Segment
Content = text.Content


def split_content(s: Submit) -> Content:
    """The content octets without the UDH (TP_udhi 1: IE 00 (8-bit ref) or 08 (16-bit ref)), and
    the concatenation info; Pk_number > Pk_total and a UDH that does not read are structure errors."""
    try:
        return text.split_udh(s.content, s.tp_udhi, s.pk_total, s.pk_number)
    except text.TextError as exc:
        raise CmppError(SubmitResult.STRUCTURE, str(exc)) from exc


def decode_text(raw: bytes, msg_fmt: int) -> str:
    """Msg_Fmt 0 ASCII, 8 UCS2 (big-endian), 15 GBK (GB18030 read, a superset); others refused."""
    try:
        return text.decode_text(raw, msg_fmt)
    except text.TextError as exc:
        raise CmppError(SubmitResult.STRUCTURE, str(exc)) from exc
