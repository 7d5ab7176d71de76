"""Packet pieces CMPP, SMGP and SGIP share: the length-first header of three 32-bit numbers (CMPP and
SMGP; SGIP's sequence is three numbers more), and a bounded field reader whose errors are the
protocol's own (``short``: the body ends before its fields; ``long``: octets left after them;
``text``: an address that is not ASCII)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    command_id: int
    sequence: int


def parse_u32_header(data: bytes, err: Callable[[str], Exception]) -> Header:
    if len(data) < 12:
        raise err("header shorter than 12 octets")
    length, cid, seq = struct.unpack(">III", data[:12])
    return Header(length, cid, seq)


def frame_u32(command_id: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">III", 12 + len(body), command_id, sequence & 0xFFFFFFFF) + body


@dataclass(frozen=True, slots=True)
class U32Codec:
    """The packet pieces of a protocol with the 12-octet length-first header (CMPP, SMGP), made with
    its own errors: ``structure`` (fields that do not read, text that is not ASCII), ``length``
    (lengths out of range or not matching), its longest packet and the name of its length field."""

    structure: Callable[[str], Exception]
    length: Callable[[str], Exception]
    max_packet: int
    length_field: str

    def parse_header(self, data: bytes) -> Header:
        return parse_u32_header(data, self.structure)

    def length_ok(self, h: Header) -> bool:
        """A length below the header or above the limit: the framing is lost."""
        return 12 <= h.length <= self.max_packet

    def split_packet(self, data: bytes) -> tuple[Header, bytes]:
        """A whole packet (header + body) -> (header, body); the length must match exactly."""
        h = self.parse_header(data)
        if not self.length_ok(h) or h.length != len(data):
            raise self.length(f"{self.length_field} does not match the packet")
        return h, data[12:]

    def reader(self, data: bytes) -> Reader:
        return Reader(data, self.structure, self.length, self.structure)

    def octets(self, value: str, n: int) -> bytes:
        return octets(value, n, self.structure)


class Reader:
    """Reads a body field by field; ``short``, ``long`` and ``bad_text`` make the protocol's error."""

    def __init__(
        self,
        data: bytes,
        short: Callable[[str], Exception],
        long: Callable[[str], Exception],
        bad_text: Callable[[str], Exception],
    ) -> None:
        self.data = data
        self.pos = 0
        self.short = short
        self.long = long
        self.bad_text = bad_text

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.short("packet body shorter than its fields")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def text(self, n: int) -> str:
        raw = self.take(n).split(b"\x00", 1)[0]
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise self.bad_text("address field is not ASCII") from exc

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise self.long("packet body longer than its fields")


def octets(value: str, n: int, err: Callable[[str], Exception]) -> bytes:
    """A fixed-width ASCII field, padded with zero octets; too long or not ASCII: ``err``."""
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise err("field is not ASCII") from exc
    if len(raw) > n:
        raise err(f"field longer than {n} octets")
    return raw.ljust(n, b"\x00")
