"""Message content shared by CMPP, SMGP and SGIP: the user data header of long messages (TP_udhi)
and the text formats (Msg_Fmt / MsgFormat / MessageCoding 0 ASCII, 8 UCS2, 15 GBK).

Errors are :class:`TextError`; each protocol answers it with its own structure-error code."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from piguard.messaging.smpp.pdu import ESM_UDHI
from piguard.messaging.smpp.text import Encoded, split_ucs2

FMT_ASCII = 0
FMT_UCS2 = 8
FMT_GBK = 15
TEXT_FORMATS = (FMT_ASCII, FMT_UCS2, FMT_GBK)


class TextError(ValueError):
    """Content that does not read (a UDH, a part number, a text format)."""


@dataclass(frozen=True, slots=True)
class Segment:
    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class Content:
    raw: bytes
    segment: Segment | None = field(default=None)


def split_udh(content: bytes, udhi: int, pk_total: int = 1, pk_number: int = 1) -> Content:
    """The content octets without the UDH (TP_udhi 1: IE 00 (8-bit ref) or 08 (16-bit ref)), and
    the concatenation info; a part number > total and a UDH that does not read are errors."""
    if not 1 <= pk_number <= max(1, pk_total):
        raise TextError("part number is outside 1..total")
    raw = content
    seg: Segment | None = None
    if udhi & 1:
        if not raw or raw[0] + 1 > len(raw):
            raise TextError("UDH longer than the message")
        udh, raw = raw[1 : 1 + raw[0]], raw[1 + raw[0] :]
        i = 0
        while i + 2 <= len(udh):
            iei, iel = udh[i], udh[i + 1]
            val = udh[i + 2 : i + 2 + iel]
            if len(val) != iel:
                raise TextError("truncated UDH element")
            if iei == 0x00 and iel == 3:
                seg = Segment(val[0], val[1], val[2])
            elif iei == 0x08 and iel == 4:
                seg = Segment(struct.unpack(">H", val[:2])[0], val[2], val[3])
            i += 2 + iel
        if seg is not None and (seg.total < 1 or not 1 <= seg.seq <= seg.total):
            raise TextError("concatenation part number out of range")
        if seg is not None and seg.total == 1:
            seg = None
    return Content(raw, seg)


def decode_text(raw: bytes, fmt: int) -> str:
    """0 ASCII, 8 UCS2 (big-endian), 15 GBK (GB18030 read, a superset); other formats refused."""
    try:
        if fmt == FMT_ASCII:
            return raw.decode("ascii")
        if fmt == FMT_UCS2:
            if len(raw) % 2:
                raise TextError("UCS2 content of odd length")
            return raw.decode("utf-16-be")
        if fmt == FMT_GBK:
            return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise TextError(f"content does not decode as format {fmt}") from exc
    raise TextError(f"format {fmt} is not supported")


def encode_text(text: str, limit: int = 140) -> tuple[int, bytes]:
    """(format, octets) for a text sent to a content provider: ASCII when it is, else UCS2; cut to
    ``limit`` octets (a whole UCS2 character)."""
    try:
        return FMT_ASCII, text.encode("ascii")[:limit]
    except UnicodeEncodeError:
        return FMT_UCS2, text.encode("utf-16-be")[: limit - limit % 2]


#: octets of a message in one part, and of each part of a long one after its 6-octet UDH
SINGLE_OCTETS, PART_OCTETS = 140, 134


def encode_for_ismg(text: str, ref: int) -> Encoded:
    """A message towards a carrier's ISMG: Msg_Fmt 0 (ASCII) when every character is ASCII, else 8
    (UCS2, Chinese); longer than 140 octets, parts of at most 134 octets each with a UDH (IE 00,
    8-bit reference ``ref``; TP_udhi 1, Pk_total/Pk_number), never between the halves of a
    surrogate pair. ``esm_class`` is SMPP's UDHI bit when the parts carry a UDH."""
    try:
        data, fmt = text.encode("ascii"), FMT_ASCII
    except UnicodeEncodeError:
        data, fmt = text.encode("utf-16-be"), FMT_UCS2
    if len(data) <= SINGLE_OCTETS:
        return Encoded(fmt, (data,), 0)
    if fmt == FMT_UCS2:
        chunks = split_ucs2(data, PART_OCTETS)
    else:
        chunks = [data[i : i + PART_OCTETS] for i in range(0, len(data), PART_OCTETS)]
    if len(chunks) > 255:
        raise TextError("message too long for 255 parts")
    ref &= 0xFF
    parts = tuple(bytes([5, 0, 3, ref, len(chunks), n]) + c for n, c in enumerate(chunks, start=1))
    return Encoded(fmt, parts, ESM_UDHI)
