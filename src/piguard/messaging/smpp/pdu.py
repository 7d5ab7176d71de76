"""SMPP 3.4 PDUs: header framing, the bodies piguard reads and writes, optional parameters (TLVs).

Only what an SMSC facing content providers and an ESME facing an SMS centre need: binds, unbind,
enquire_link, submit_sm, deliver_sm, generic_nack and their responses. Anything else is framed
(its header is read and its body skipped) and answered with ``generic_nack``.

Every parse error is a :class:`PduError` carrying the SMPP ``command_status`` to answer with; no
parse error ever escapes as anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

HEADER = struct.Struct(">IIII")
HEADER_LEN = HEADER.size
#: Largest PDU accepted (a submit_sm with a full message_payload is well under this).
MAX_PDU_LEN = 70_000


class Cmd(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


BIND_COMMANDS = {Cmd.BIND_RECEIVER: "rx", Cmd.BIND_TRANSMITTER: "tx", Cmd.BIND_TRANSCEIVER: "trx"}
RESP_BIT = 0x80000000


class Status(IntEnum):
    """SMPP 3.4 ``command_status`` values used here (5.1.3), plus piguard's vendor-specific range."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RMSGQFUL = 0x14
    ESME_RINVESMCLASS = 0x43
    ESME_RSUBMITFAIL = 0x45
    ESME_RTHROTTLED = 0x58
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_RINVPARLEN = 0xC2
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RUNKNOWNERR = 0xFF
    # piguard (vendor-specific range 0x400-0x4FF, SMPP 3.4 section 5.1.3)
    PG_PROHIBITED_CONTENT = 0x401
    PG_SIGNATURE = 0x402
    PG_OPTOUT_WORDING = 0x403
    PG_PI_IN_CONTENT = 0x404
    PG_NO_CONSENT = 0x405
    PG_FREQUENCY_EXCEEDED = 0x406
    PG_SIMILAR_REFUSED = 0x407
    PG_PORT_TYPE = 0x408
    PG_SUSPENDED = 0x409
    PG_PROVIDER_NOT_QUALIFIED = 0x40A
    PG_CAMPAIGN = 0x40B
    PG_HELD = 0x40C
    PG_UNSUPPORTED_CODING = 0x40D
    PG_REASSEMBLY = 0x40E


class Tag(IntEnum):
    """Optional parameter tags used here (SMPP 3.4 section 5.3.2)."""

    RECEIPTED_MESSAGE_ID = 0x001E
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427
    #: piguard vendor TLVs (0x1400-0x3FFF): the consent type of a commercial message, the declared
    #: message kind, a public-welfare campaign id (ASCII).
    PG_MESSAGE_TYPE = 0x1401
    PG_KIND = 0x1402
    PG_CAMPAIGN_ID = 0x1403
    #: the ESME's own reference of a message (UTF-8): a resubmission with the same one, from the same
    #: system_id within PIGUARD_SMS_IDEMPOTENCY_HOURS, gets the first message_id and sends nothing
    PG_CLIENT_REF = 0x1404


#: esm_class bits
ESM_UDHI = 0x40
ESM_DELIVERY_RECEIPT = 0x04
ESM_TYPE_MASK = 0x3C

#: message_state values (5.2.28)
MESSAGE_STATES = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}


class PduError(Exception):
    """A PDU that cannot be read; ``status`` is what to answer (generic_nack or the response)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = int(status)


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    command_id: int
    status: int
    sequence: int


def parse_header(data: bytes) -> Header:
    if len(data) < HEADER_LEN:
        raise PduError(Status.ESME_RINVCMDLEN, "short header")
    length, cid, status, seq = HEADER.unpack_from(data)
    return Header(length, cid, status, seq)


def check_length(h: Header, max_len: int = MAX_PDU_LEN) -> None:
    if h.length < HEADER_LEN or h.length > max_len:
        raise PduError(Status.ESME_RINVCMDLEN, f"command_length {h.length} out of range")


def frame(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(HEADER_LEN + len(body), command_id, status, sequence) + body


class Reader:
    """A cursor over a PDU body."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise PduError(Status.ESME_RINVCMDLEN, "body truncated")
        v = self.data[self.pos]
        self.pos += 1
        return v

    def cstr(self, max_len: int, name: str) -> str:
        """A C-octet string of at most ``max_len`` octets including the NUL."""
        end = self.data.find(b"\x00", self.pos, self.pos + max_len)
        if end < 0:
            if len(self.data) - self.pos < max_len:
                raise PduError(Status.ESME_RINVCMDLEN, f"{name}: body truncated")
            raise PduError(Status.ESME_RINVPARLEN, f"{name}: longer than {max_len - 1} octets")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        return raw.decode("latin-1")

    def octets(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise PduError(Status.ESME_RINVCMDLEN, "body truncated")
        v = self.data[self.pos : self.pos + n]
        self.pos += n
        return v

    def tlvs(self) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        while self.pos < len(self.data):
            if self.pos + 4 > len(self.data):
                raise PduError(Status.ESME_RINVOPTPARSTREAM, "truncated optional parameter")
            tag, length = struct.unpack_from(">HH", self.data, self.pos)
            self.pos += 4
            if self.pos + length > len(self.data):
                raise PduError(Status.ESME_RINVOPTPARSTREAM, "optional parameter longer than the PDU")
            out[tag] = self.data[self.pos : self.pos + length]
            self.pos += length
        return out


def _cstr(value: str, max_len: int) -> bytes:
    raw = value.encode("latin-1", "replace")[: max_len - 1]
    return raw + b"\x00"


def encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    return b"".join(struct.pack(">HH", tag, len(v)) + v for tag, v in tlvs.items())


# ------------------------------------------------------------------------------------ bind


@dataclass(frozen=True, slots=True)
class Bind:
    system_id: str
    password: str
    system_type: str
    interface_version: int
    addr_ton: int
    addr_npi: int
    address_range: str


def parse_bind(body: bytes) -> Bind:
    r = Reader(body)
    return Bind(
        system_id=r.cstr(16, "system_id"),
        password=r.cstr(9, "password"),
        system_type=r.cstr(13, "system_type"),
        interface_version=r.u8(),
        addr_ton=r.u8(),
        addr_npi=r.u8(),
        address_range=r.cstr(41, "address_range"),
    )


def encode_bind(b: Bind) -> bytes:
    return (
        _cstr(b.system_id, 16)
        + _cstr(b.password, 9)
        + _cstr(b.system_type, 13)
        + bytes([b.interface_version, b.addr_ton, b.addr_npi])
        + _cstr(b.address_range, 41)
    )


def bind_resp_body(system_id: str) -> bytes:
    return _cstr(system_id, 16) + encode_tlvs({Tag.SC_INTERFACE_VERSION: b"\x34"})


# ------------------------------------------------------------------------------------ submit / deliver


@dataclass(slots=True)
class ShortMessage:
    """The body shared by submit_sm and deliver_sm (4.4.1, 4.6.1)."""

    source_addr: str
    destination_addr: str
    short_message: bytes = b""
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)


def parse_short_message(body: bytes) -> ShortMessage:
    r = Reader(body)
    service_type = r.cstr(6, "service_type")
    s_ton, s_npi = r.u8(), r.u8()
    source = r.cstr(21, "source_addr")
    d_ton, d_npi = r.u8(), r.u8()
    dest = r.cstr(21, "destination_addr")
    esm, pid, prio = r.u8(), r.u8(), r.u8()
    sched = r.cstr(17, "schedule_delivery_time")
    validity = r.cstr(17, "validity_period")
    reg, rep, dc, dflt = r.u8(), r.u8(), r.u8(), r.u8()
    sm_len = r.u8()
    sm = r.octets(sm_len)
    tlvs = r.tlvs()
    return ShortMessage(
        source_addr=source,
        destination_addr=dest,
        short_message=sm,
        service_type=service_type,
        source_addr_ton=s_ton,
        source_addr_npi=s_npi,
        dest_addr_ton=d_ton,
        dest_addr_npi=d_npi,
        esm_class=esm,
        protocol_id=pid,
        priority_flag=prio,
        schedule_delivery_time=sched,
        validity_period=validity,
        registered_delivery=reg,
        replace_if_present_flag=rep,
        data_coding=dc,
        sm_default_msg_id=dflt,
        tlvs=tlvs,
    )


def encode_short_message(m: ShortMessage) -> bytes:
    if len(m.short_message) > 254:
        raise ValueError("short_message longer than 254 octets: use message_payload")
    return (
        _cstr(m.service_type, 6)
        + bytes([m.source_addr_ton, m.source_addr_npi])
        + _cstr(m.source_addr, 21)
        + bytes([m.dest_addr_ton, m.dest_addr_npi])
        + _cstr(m.destination_addr, 21)
        + bytes([m.esm_class, m.protocol_id, m.priority_flag])
        + _cstr(m.schedule_delivery_time, 17)
        + _cstr(m.validity_period, 17)
        + bytes([m.registered_delivery, m.replace_if_present_flag, m.data_coding, m.sm_default_msg_id])
        + bytes([len(m.short_message)])
        + m.short_message
        + encode_tlvs(m.tlvs)
    )


def submit_head(
    source_addr: str,
    destination_addr: str,
    *,
    service_type: str = "",
    source_addr_ton: int = 0,
    source_addr_npi: int = 0,
    dest_addr_ton: int = 0,
    dest_addr_npi: int = 0,
    esm_class: int = 0,
    priority_flag: int = 0,
    registered_delivery: int = 0,
    data_coding: int = 0,
) -> bytes:
    """What precedes sm_length in the submit_sm body of every part of one message (no schedule,
    no validity, protocol_id 0): ``submit_head(...) + bytes([len(part)]) + part`` is
    :func:`encode_short_message` of the part's :class:`ShortMessage` without TLVs, built once per
    message instead of once per part."""
    return (
        _cstr(service_type, 6)
        + bytes([source_addr_ton, source_addr_npi])
        + _cstr(source_addr, 21)
        + bytes([dest_addr_ton, dest_addr_npi])
        + _cstr(destination_addr, 21)
        + bytes([esm_class, 0, priority_flag])
        + b"\x00\x00"  # schedule_delivery_time, validity_period: none
        + bytes([registered_delivery, 0, data_coding, 0])
    )


def message_id_body(message_id: str) -> bytes:
    """submit_sm_resp / deliver_sm_resp body: message_id (C-octet string, at most 65 octets)."""
    return _cstr(message_id, 65)


def parse_message_id(body: bytes) -> str:
    if not body:
        return ""
    return Reader(body).cstr(65, "message_id")
