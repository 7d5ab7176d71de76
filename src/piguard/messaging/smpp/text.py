"""Message text over SMPP: data_coding, UDH concatenation, SAR parameters, splitting, receipts.

* ``data_coding`` 0 (SMSC default alphabet): GSM 03.38 unpacked, one septet per octet, with the
  0x1B extension table (``alphabet="gsm7"``, the default), or plain ASCII / Latin-1 for ESMEs that
  send those in 0 (``alphabet="ascii"|"latin1"``); 1: IA5/ASCII; 3: Latin-1; 8: UCS2 (UTF-16BE;
  surrogate pairs accepted, lone surrogates refused); 15: GBK, as Chinese gateways use it. Other
  codings (binary 2/4, Japanese, Korean …) cannot be reviewed and are refused.
* Concatenation: a UDH (esm_class bit 0x40) with IE 0x00 (8-bit reference) or 0x08 (16-bit
  reference), or the SAR optional parameters. Parts are joined as octets before decoding, so a
  UCS2 surrogate pair or a GSM escape split across two parts decodes correctly.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime

from piguard.messaging.smpp.pdu import ESM_UDHI, MESSAGE_STATES, PduError, ShortMessage, Status, Tag

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXT = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_GSM_ENC = {ch: bytes([i]) for i, ch in enumerate(GSM_BASIC) if i != 0x1B}
_GSM_ENC.update({ch: bytes([0x1B, code]) for code, ch in GSM_EXT.items()})
#: a character outside the alphabet (a Chinese text is told at its first such character, in C)
_NOT_GSM = re.compile("[^" + "".join(re.escape(ch) for ch in _GSM_ENC) + "]")

DC_DEFAULT, DC_IA5, DC_LATIN1, DC_UCS2, DC_GBK = 0, 1, 3, 8, 15
SUPPORTED_CODINGS = (DC_DEFAULT, DC_IA5, DC_LATIN1, DC_UCS2, DC_GBK)
#: characters per single message and per concatenated part (GSM 7-bit septets / UCS2 units)
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def _bad_text(msg: str) -> PduError:
    return PduError(Status.PG_UNSUPPORTED_CODING, msg)


def gsm_decode(raw: bytes) -> str:
    out: list[str] = []
    esc = False
    for b in raw:
        if b > 0x7F:
            raise _bad_text("octet above 0x7F in the GSM default alphabet")
        if esc:
            out.append(GSM_EXT.get(b, " "))
            esc = False
        elif b == 0x1B:
            esc = True
        else:
            out.append(GSM_BASIC[b])
    return "".join(out)


def gsm_encode(text: str) -> bytes | None:
    """Unpacked GSM 03.38 octets, or None when a character is not in the alphabet."""
    if _NOT_GSM.search(text) is not None:
        return None
    try:
        return b"".join(_GSM_ENC[ch] for ch in text)
    except KeyError:
        return None


def decode_text(raw: bytes, data_coding: int, alphabet: str = "gsm7") -> str:
    """The text of a (reassembled) message; a :class:`PduError` for codings that cannot be read."""
    try:
        if data_coding == DC_DEFAULT:
            if alphabet == "ascii":
                return raw.decode("ascii")
            if alphabet == "latin1":
                return raw.decode("latin-1")
            return gsm_decode(raw)
        if data_coding == DC_IA5:
            return raw.decode("ascii")
        if data_coding == DC_LATIN1:
            return raw.decode("latin-1")
        if data_coding == DC_UCS2:
            if len(raw) % 2:
                raise _bad_text("UCS2 text of an odd number of octets")
            return raw.decode("utf-16-be")
        if data_coding == DC_GBK:
            return raw.decode("gbk")
    except UnicodeDecodeError as exc:
        raise _bad_text(f"text does not decode as data_coding {data_coding}") from exc
    raise _bad_text(f"data_coding {data_coding} is not supported")


@dataclass(frozen=True, slots=True)
class Segment:
    """Where a submit_sm sits in a concatenated message: ``ref`` shared by the parts, ``total`` parts,
    this one's ``seq`` (1-based). ``None`` for a single message."""

    ref: int
    total: int
    seq: int


def split_udh(m: ShortMessage) -> tuple[bytes, Segment | None]:
    """The payload octets and the concatenation info (UDH, or SAR parameters, or none)."""
    payload = m.tlvs.get(Tag.MESSAGE_PAYLOAD)
    if payload is not None and m.short_message:
        raise PduError(Status.ESME_RINVPARLEN, "both short_message and message_payload")
    raw = payload if payload is not None else m.short_message
    seg: Segment | None = None
    if m.esm_class & ESM_UDHI:
        if not raw:
            raise PduError(Status.ESME_RINVESMCLASS, "UDHI set on an empty message")
        udhl = raw[0]
        if udhl + 1 > len(raw):
            raise PduError(Status.ESME_RINVESMCLASS, "UDH longer than the message")
        udh, raw = raw[1 : 1 + udhl], raw[1 + udhl :]
        i = 0
        while i + 2 <= len(udh):
            iei, iel = udh[i], udh[i + 1]
            val = udh[i + 2 : i + 2 + iel]
            if len(val) != iel:
                raise PduError(Status.ESME_RINVESMCLASS, "truncated UDH element")
            if iei == 0x00 and iel == 3:
                seg = Segment(val[0], val[1], val[2])
            elif iei == 0x08 and iel == 4:
                seg = Segment(struct.unpack(">H", val[:2])[0], val[2], val[3])
            i += 2 + iel
    else:
        ref, total, seq = (
            m.tlvs.get(t) for t in (Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM)
        )
        if ref is not None and total is not None and seq is not None:
            if len(ref) != 2 or len(total) != 1 or len(seq) != 1:
                raise PduError(Status.ESME_RINVOPTPARAMVAL, "bad SAR parameter length")
            seg = Segment(struct.unpack(">H", ref)[0], total[0], seq[0])
    if seg is not None:
        if seg.total == 1 and seg.seq == 1:
            return raw, None
        if seg.total < 1 or not 1 <= seg.seq <= seg.total:
            raise PduError(Status.ESME_RINVESMCLASS, "concatenation part number out of range")
    return raw, seg


@dataclass(frozen=True, slots=True)
class Encoded:
    data_coding: int
    parts: tuple[bytes, ...]  # each with its UDH when there is more than one
    esm_class: int


def encode_for_sms(text: str, ref: int) -> Encoded:
    """GSM 7-bit when every character is in the alphabet, UCS2 otherwise (Chinese); split into
    concatenated parts with an 8-bit reference UDH, never inside an escape or a surrogate pair."""
    gsm = gsm_encode(text)
    if gsm is not None:
        if len(gsm) <= GSM_SINGLE:
            return Encoded(DC_DEFAULT, (gsm,), 0)
        chunks = _split_units([_GSM_ENC[ch] for ch in text], GSM_PART)
        dc = DC_DEFAULT
    else:
        data = text.encode("utf-16-be")
        if len(data) <= UCS2_SINGLE * 2:
            return Encoded(DC_UCS2, (data,), 0)
        chunks = split_ucs2(data, UCS2_PART * 2)
        dc = DC_UCS2
    if len(chunks) > 255:
        raise ValueError("message too long for 255 parts")
    ref &= 0xFF
    parts = tuple(bytes([5, 0, 3, ref, len(chunks), i]) + c for i, c in enumerate(chunks, start=1))
    return Encoded(dc, parts, ESM_UDHI)


def split_ucs2(data: bytes, limit: int) -> list[bytes]:
    """UTF-16-BE octets in parts of at most ``limit`` (even) octets, never between the two halves
    of a surrogate pair (the same parts as :func:`_split_units` over the characters)."""
    out: list[bytes] = []
    i, n = 0, len(data)
    while i < n:
        end = min(i + limit, n)
        if end < n and 0xD8 <= data[end - 2] <= 0xDB:  # a high surrogate would end the part
            end -= 2
        out.append(data[i:end])
        i = end
    return out


def _split_units(units: list[bytes], limit: int) -> list[bytes]:
    """Greedy split keeping each character's octets together; ``limit`` in octets."""
    out: list[bytes] = []
    cur = bytearray()
    for u in units:
        if len(cur) + len(u) > limit:
            out.append(bytes(cur))
            cur = bytearray()
        cur += u
    if cur:
        out.append(bytes(cur))
    return out


# ------------------------------------------------------------------------------------ receipts

_RECEIPT = re.compile(
    r"id:(?P<id>\S+)(?:.*?\bstat:(?P<stat>[A-Z]{5,8}))?(?:.*?\berr:(?P<err>\w+))?", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    state: str  # DELIVRD, UNDELIV, EXPIRED, REJECTD, ...
    error: str = ""


def parse_receipt(m: ShortMessage) -> Receipt | None:
    """A delivery receipt's message id and final state, from the TLVs or the de-facto text format
    (``id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:000 text:…``)."""
    mid_tlv = m.tlvs.get(Tag.RECEIPTED_MESSAGE_ID)
    text = m.short_message or m.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    match = _RECEIPT.search(text.decode("latin-1"))
    mid = mid_tlv.rstrip(b"\x00").decode("latin-1") if mid_tlv else (match.group("id") if match else "")
    if not mid:
        return None
    state = (match.group("stat") or "").upper() if match else ""
    if not state:
        st = m.tlvs.get(Tag.MESSAGE_STATE)
        names = {v: k for k, v in MESSAGE_STATES.items()}
        state = names.get(st[0], "UNKNOWN") if st else "UNKNOWN"
    return Receipt(mid, state, (match.group("err") or "") if match else "")


def format_receipt(
    message_id: str, state: str, submitted: datetime, done: datetime, error: str = "000"
) -> bytes:
    """The de-facto receipt text (SMPP 3.4 Appendix B), without the message text (no content in it)."""
    dlvrd = "001" if state == "DELIVRD" else "000"
    return (
        f"id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{submitted:%y%m%d%H%M} "
        f"done date:{done:%y%m%d%H%M} stat:{state} err:{error[:3]:0>3} text:"
    ).encode("ascii")
