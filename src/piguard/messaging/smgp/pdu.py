"""SMGP 3.0 packets (中国电信 "SMGP 短消息网关协议" V3.0), encode and decode.

Every packet: PacketLength (4), RequestID (4), SequenceID (4), big-endian, then the body (spec
section 5). Body layouts follow the specification's field tables (6.2.x):

* Login: ClientID 8, AuthenticatorClient 16, LoginMode 1 (0 send, 1 receive, 2 transmit),
  TimeStamp 4 (MMDDHHMMSS as an integer), ClientVersion 1 (0x30). Login_Resp: Status 4,
  AuthenticatorServer 16, ServerVersion 1.
* Submit: MsgType 1, NeedReport 1, Priority 1, ServiceID 10, FeeType 2, FeeCode 6, FixedFee 6,
  MsgFormat 1, ValidTime 17, AtTime 17, SrcTermID 21, ChargeTermID 21, DestTermIDCount 1,
  DestTermID 21 x n, MsgLength 1, MsgContent, Reserve 8, then TLVs. Submit_Resp: MsgID 10, Status 4.
* Deliver: MsgID 10, IsReport 1, MsgFormat 1, RecvTime 14, SrcTermID 21, DestTermID 21, MsgLength 1,
  MsgContent, Reserve 8, TLVs. Deliver_Resp: MsgID 10, Status 4.
* Active_Test, Exit and their responses: no body.
* TLVs (6.3): Tag 2, Length 2, Value; TP_udhi 0x0002, PkTotal 0x0009, PkNumber 0x000A ...
* MsgID (6.2.3): 10 octets BCD: the SMGW code (6 digits), MMDDHHmm, a 6-digit sequence.
* A status report is the MsgContent of a Deliver with IsReport 1 (appendix): ``id:`` + the 10-octet
  MsgID + `` sub:001 dlvrd:001 Submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000
  Text:`` + 20 octets, 122 octets in all; read by position, as gateways differ in the labels.

Decoding never raises anything but :class:`SmgpError` (which carries the Status to answer).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from piguard.messaging.ismg import codec

HEADER_LEN = 12
#: the longest packet accepted: a Submit with 100 destinations and 255 octets of content is
#: under 3 kB; anything above 4 kB is a framing error
MAX_PACKET = 4096
MAX_DESTINATIONS = 100
RESP_BIT = 0x80000000
VERSION = 0x30


class Cmd(IntEnum):
    LOGIN = 0x00000001
    LOGIN_RESP = 0x80000001
    SUBMIT = 0x00000002
    SUBMIT_RESP = 0x80000002
    DELIVER = 0x00000003
    DELIVER_RESP = 0x80000003
    ACTIVE_TEST = 0x00000004
    ACTIVE_TEST_RESP = 0x80000004
    FORWARD = 0x00000005
    FORWARD_RESP = 0x80000005
    EXIT = 0x00000006
    EXIT_RESP = 0x80000006
    QUERY = 0x00000007
    QUERY_RESP = 0x80000007


#: SMGP 3.0 defines RequestIDs 0x1-0x12 (routing and payment commands beyond Query)
KNOWN_COMMANDS = frozenset([*range(1, 0x13), *(RESP_BIT | i for i in range(1, 0x13))])


class LoginMode(IntEnum):
    SEND = 0
    RECEIVE = 1
    TRANSMIT = 2


class St(IntEnum):
    """Status values used here (spec 6.4 error codes)."""

    OK = 0
    BUSY = 1  # 系统忙 (answered for flow control)
    MAX_CONNECTIONS = 2
    STRUCTURE = 10
    COMMAND = 11
    SEQUENCE_REPEAT = 12
    IP = 20
    AUTH = 21
    VERSION = 22
    MSG_TYPE = 30
    PRIORITY = 31
    MSG_FORMAT = 34
    MSG_LENGTH = 36
    SRC_TERM = 46
    DEST_TERM = 47


class Tag(IntEnum):
    TP_PID = 0x0001
    TP_UDHI = 0x0002
    LINK_ID = 0x0003
    CHARGE_USER_TYPE = 0x0004
    CHARGE_TERM_TYPE = 0x0005
    CHARGE_TERM_PSEUDO = 0x0006
    DEST_TERM_TYPE = 0x0007
    DEST_TERM_PSEUDO = 0x0008
    PK_TOTAL = 0x0009
    PK_NUMBER = 0x000A
    SUBMIT_MSG_TYPE = 0x000B
    SP_DEAL_RESULT = 0x000C
    SRC_TERM_TYPE = 0x000D
    SRC_TERM_PSEUDO = 0x000E
    NODES_COUNT = 0x000F
    MSG_SRC = 0x0010
    SRC_TYPE = 0x0011
    M_SERVICE_ID = 0x0012


class SmgpError(Exception):
    """A packet that cannot be read; ``status`` is the Status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Header = codec.Header


def _structure(message: str) -> SmgpError:
    return SmgpError(St.STRUCTURE, message)


def _length(message: str) -> SmgpError:
    return SmgpError(St.MSG_LENGTH, message)


_CODEC = codec.U32Codec(_structure, _length, MAX_PACKET, "PacketLength")
parse_header = _CODEC.parse_header
#: PacketLength below the header or above :data:`MAX_PACKET`: the framing is lost
length_ok = _CODEC.length_ok
split_packet = _CODEC.split_packet
frame = codec.frame_u32
_new_reader = _CODEC.reader
_octets = _CODEC.octets


# ------------------------------------------------------------------------------------ fields


def encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    out = b""
    for tag, value in sorted(tlvs.items()):
        if len(value) > 0xFFFF:
            raise SmgpError(St.STRUCTURE, "TLV value too long")
        out += struct.pack(">HH", tag, len(value)) + value
    return out


def decode_tlvs(data: bytes) -> dict[int, bytes]:
    r = _new_reader(data)
    out: dict[int, bytes] = {}
    while r.pos < len(data):
        tag, length = r.u16(), r.u16()
        out[tag] = r.take(length)
    return out


def tlv_int(tlvs: dict[int, bytes], tag: int, default: int) -> int:
    """A one-octet integer TLV (TP_udhi, PkTotal, PkNumber); another width is a structure error."""
    value = tlvs.get(tag)
    if value is None:
        return default
    if len(value) != 1:
        raise SmgpError(St.STRUCTURE, f"TLV 0x{tag:04X} is one octet")
    return value[0]


# ------------------------------------------------------------------------------------ login


def timestamp_of(when: datetime) -> int:
    """Login TimeStamp: the decimal number MMDDHHMMSS (spec 6.2.1; 3 Mar 00:00:00 is 0301000000)."""
    return int(when.strftime("%m%d%H%M%S"))


def authenticator_client(client_id: str, secret: str, timestamp: int) -> bytes:
    """MD5(ClientID + 7 zero octets + shared secret + TimeStamp as 10 digits) (spec 6.2.1)."""
    return hashlib.md5(  # the protocol's own authenticator
        client_id.encode("ascii") + b"\x00" * 7 + secret.encode("utf-8") + f"{timestamp:010d}".encode()
    ).digest()


def authenticator_server(status: int, auth_client: bytes, secret: str) -> bytes:
    """MD5(Status (4 octets) + AuthenticatorClient + shared secret) (spec 6.2.2)."""
    return hashlib.md5(struct.pack(">I", status) + auth_client + secret.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Login:
    client_id: str
    authenticator: bytes
    login_mode: int
    timestamp: int
    version: int = VERSION


def encode_login(m: Login) -> bytes:
    if len(m.authenticator) != 16:
        raise SmgpError(St.STRUCTURE, "AuthenticatorClient is 16 octets")
    return (
        _octets(m.client_id, 8)
        + m.authenticator
        + bytes([m.login_mode & 0xFF])
        + struct.pack(">I", m.timestamp & 0xFFFFFFFF)
        + bytes([m.version & 0xFF])
    )


def decode_login(body: bytes) -> Login:
    r = _new_reader(body)
    m = Login(r.text(8), r.take(16), r.u8(), r.u32(), r.u8())
    r.end()
    return m


@dataclass(frozen=True, slots=True)
class LoginResp:
    status: int
    authenticator: bytes
    version: int = VERSION


def encode_login_resp(m: LoginResp) -> bytes:
    return struct.pack(">I", m.status) + m.authenticator.ljust(16, b"\x00")[:16] + bytes([m.version])


def decode_login_resp(body: bytes) -> LoginResp:
    r = _new_reader(body)
    m = LoginResp(r.u32(), r.take(16), r.u8())
    r.end()
    return m


# ------------------------------------------------------------------------------------ MsgID


def _bcd(digits: str) -> bytes:
    return bytes(int(digits[i]) << 4 | int(digits[i + 1]) for i in range(0, len(digits), 2))


def make_msg_id(when: datetime, gateway: int, sequence: int) -> bytes:
    """MsgID (spec 6.2.3): BCD of the SMGW code (6 digits), MMDDHHmm, a sequence (6 digits)."""
    if not 0 <= gateway <= 999_999:
        raise ValueError("the SMGW code is 6 digits")
    return _bcd(f"{gateway:06d}{when:%m%d%H%M}{sequence % 1_000_000:06d}")


def msg_id_str(msg_id: bytes) -> str:
    """The 20 hex digits of a MsgID (its BCD read as digits)."""
    return msg_id.hex()


@dataclass(frozen=True, slots=True)
class MsgIdParts:
    gateway: str
    time: str  # MMDDHHmm
    sequence: str


def split_msg_id(msg_id: bytes) -> MsgIdParts:
    s = msg_id_str(msg_id)
    return MsgIdParts(s[:6], s[6:14], s[14:])


# ------------------------------------------------------------------------------------ submit


@dataclass(frozen=True, slots=True)
class Submit:
    msg_type: int = 6  # MT
    need_report: int = 0
    priority: int = 0
    service_id: str = ""
    fee_type: str = "00"
    fee_code: str = "000000"
    fixed_fee: str = "000000"
    msg_format: int = 15
    valid_time: str = ""
    at_time: str = ""
    src_term_id: str = ""
    charge_term_id: str = ""
    dest_term_ids: tuple[str, ...] = ()
    content: bytes = b""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def tp_udhi(self) -> int:
        return tlv_int(self.tlvs, Tag.TP_UDHI, 0)

    @property
    def pk_total(self) -> int:
        return tlv_int(self.tlvs, Tag.PK_TOTAL, 1)

    @property
    def pk_number(self) -> int:
        return tlv_int(self.tlvs, Tag.PK_NUMBER, 1)


def encode_submit(s: Submit) -> bytes:
    if not 1 <= len(s.dest_term_ids) <= MAX_DESTINATIONS:
        raise SmgpError(St.DEST_TERM, f"1-{MAX_DESTINATIONS} destinations")
    if len(s.content) > 255:
        raise SmgpError(St.MSG_LENGTH, "MsgContent longer than 255 octets")
    return (
        bytes([s.msg_type, s.need_report, s.priority])
        + _octets(s.service_id, 10)
        + _octets(s.fee_type, 2)
        + _octets(s.fee_code, 6)
        + _octets(s.fixed_fee, 6)
        + bytes([s.msg_format])
        + _octets(s.valid_time, 17)
        + _octets(s.at_time, 17)
        + _octets(s.src_term_id, 21)
        + _octets(s.charge_term_id, 21)
        + bytes([len(s.dest_term_ids)])
        + b"".join(_octets(d, 21) for d in s.dest_term_ids)
        + bytes([len(s.content)])
        + s.content
        + bytes(8)
        + encode_tlvs(s.tlvs)
    )


def decode_submit(body: bytes) -> Submit:
    r = _new_reader(body)
    msg_type, need_report, priority = r.u8(), r.u8(), r.u8()
    service_id, fee_type, fee_code, fixed_fee = r.text(10), r.text(2), r.text(6), r.text(6)
    msg_format = r.u8()
    valid_time, at_time, src, charge = r.text(17), r.text(17), r.text(21), r.text(21)
    count = r.u8()
    if not 1 <= count <= MAX_DESTINATIONS:
        raise SmgpError(St.DEST_TERM, "DestTermIDCount out of 1-100")
    dests = tuple(r.text(21) for _ in range(count))
    content = r.take(r.u8())
    r.take(8)  # Reserve
    tlvs = decode_tlvs(r.rest())
    return Submit(
        msg_type, need_report, priority, service_id, fee_type, fee_code, fixed_fee, msg_format,
        valid_time, at_time, src, charge, dests, content, tlvs,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MsgResp:
    """Submit_Resp and Deliver_Resp."""

    msg_id: bytes
    status: int


def encode_msg_resp(m: MsgResp) -> bytes:
    if len(m.msg_id) != 10:
        raise SmgpError(St.STRUCTURE, "MsgID is 10 octets")
    return m.msg_id + struct.pack(">I", m.status)


def decode_msg_resp(body: bytes) -> MsgResp:
    r = _new_reader(body)
    m = MsgResp(r.take(10), r.u32())
    r.end()
    return m


# ------------------------------------------------------------------------------------ deliver


@dataclass(frozen=True, slots=True)
class Deliver:
    msg_id: bytes
    is_report: int = 0
    msg_format: int = 15
    recv_time: str = ""  # YYYYMMDDHHMMSS
    src_term_id: str = ""
    dest_term_id: str = ""
    content: bytes = b""
    tlvs: dict[int, bytes] = field(default_factory=dict)


def encode_deliver(d: Deliver) -> bytes:
    if len(d.msg_id) != 10:
        raise SmgpError(St.STRUCTURE, "MsgID is 10 octets")
    if len(d.content) > 255:
        raise SmgpError(St.MSG_LENGTH, "MsgContent longer than 255 octets")
    return (
        d.msg_id
        + bytes([d.is_report, d.msg_format])
        + _octets(d.recv_time, 14)
        + _octets(d.src_term_id, 21)
        + _octets(d.dest_term_id, 21)
        + bytes([len(d.content)])
        + d.content
        + bytes(8)
        + encode_tlvs(d.tlvs)
    )


def decode_deliver(body: bytes) -> Deliver:
    r = _new_reader(body)
    msg_id, is_report, msg_format = r.take(10), r.u8(), r.u8()
    recv, src, dest = r.text(14), r.text(21), r.text(21)
    content = r.take(r.u8())
    r.take(8)
    return Deliver(msg_id, is_report, msg_format, recv, src, dest, content, decode_tlvs(r.rest()))


# ------------------------------------------------------------------------------------ report

REPORT_LEN = 122
#: (offset, width) of each value in the report text, after its label
_REPORT_AT = {
    "id": (3, 10),
    "sub": (18, 3),
    "dlvrd": (28, 3),
    "submit_date": (44, 10),
    "done_date": (65, 10),
    "stat": (81, 7),
    "err": (93, 3),
    "text": (102, 20),
}


@dataclass(frozen=True, slots=True)
class Report:
    msg_id: bytes
    stat: str
    submit_date: str  # YYMMDDhhmm
    done_date: str
    err: str = "000"
    sub: str = "001"
    dlvrd: str = "001"
    text: bytes = b""


def _fixed(value: str, n: int) -> bytes:
    return _octets(value, n)[:n]


def encode_report(rp: Report) -> bytes:
    if len(rp.msg_id) != 10:
        raise SmgpError(St.STRUCTURE, "MsgID is 10 octets")
    return (
        b"id:" + rp.msg_id
        + b" sub:" + _fixed(rp.sub, 3)
        + b" dlvrd:" + _fixed(rp.dlvrd, 3)
        + b" Submit date:" + _fixed(rp.submit_date, 10)
        + b" done date:" + _fixed(rp.done_date, 10)
        + b" stat:" + _fixed(rp.stat, 7)
        + b" err:" + _fixed(rp.err, 3)
        + b" Text:" + rp.text[:20].ljust(20, b"\x00")
    )  # fmt: skip


def decode_report(data: bytes) -> Report:
    """A report read by position (gateways differ in the labels' spelling); at least the fields up
    to ``Text:``, the text itself may be shorter than 20 octets."""
    if not 102 <= len(data) <= REPORT_LEN or not data.startswith(b"id:"):
        raise SmgpError(St.STRUCTURE, "not a status report")

    def val(name: str) -> str:
        at, n = _REPORT_AT[name]
        try:
            return data[at : at + n].split(b"\x00", 1)[0].decode("ascii")
        except UnicodeDecodeError as exc:
            raise SmgpError(St.STRUCTURE, f"report {name} is not ASCII") from exc

    return Report(
        msg_id=data[3:13],
        stat=val("stat"),
        submit_date=val("submit_date"),
        done_date=val("done_date"),
        err=val("err"),
        sub=val("sub"),
        dlvrd=val("dlvrd"),
        text=data[102:],
    )


def decode_empty(body: bytes) -> None:
    """Active_Test, Exit and their responses have no body."""
    if body:
        raise SmgpError(St.MSG_LENGTH, "this packet has no body")
