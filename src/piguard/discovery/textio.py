"""Reading text files whatever their encoding and size, in bounded memory (O24-4: a scan that can
read every file it is given, and says what it could not).

- The encoding: a byte-order mark (UTF-8, UTF-16, UTF-32) decides; UTF-16 without a mark is told by
  its NUL bytes in every other position; else UTF-8 when the first 64 KiB are UTF-8, GB18030 (the
  superset of GBK and GB2312) when they are not. A UTF-8 file whose later lines are GBK (logs
  concatenated from several systems) has those bytes read as GB18030, not replaced.
- Binary files (NUL bytes that are no UTF-16, or many control characters) are refused with a clear
  reason, never scanned as text.
- Lines come in pieces of at most :data:`PIECE` characters: a 2 GB file without a single line break
  costs one piece of memory, not two gigabytes. Each piece carries its line number and the column
  it starts at, so findings in a long line keep their place.
- What could not be decoded is counted (``ReadNotes``) so that the report can say so.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PIECE = 1_000_000  # characters per piece of a long line
HEAD = 65_536
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 11, 12, 13, 27))


class BinaryFile(ValueError):
    """The file is not text."""

    def __init__(self, why_en: str, why_zh: str) -> None:
        super().__init__(f"binary file ({why_en})")
        self.why_en = why_en
        self.why_zh = why_zh


@dataclass
class ReadNotes:
    encoding: str = ""
    replaced: int = 0  # bytes that decoded to nothing and became U+FFFD
    other_lines: int = 0  # lines in the other encoding (GBK lines in a UTF-8 file, or the reverse)
    gb18030_runs: int = 0  # GB18030 characters inside long UTF-8 lines read in pieces
    long_lines: int = 0  # lines longer than one piece (read in pieces)


_local = threading.local()


def _fallback(exc: UnicodeError) -> tuple[str, int]:
    """Error handler for UTF-8: bytes that are no UTF-8 are tried as one GB18030 character (two or
    four bytes), else replaced by U+FFFD; both counted."""
    assert isinstance(exc, UnicodeDecodeError)
    notes: ReadNotes | None = getattr(_local, "notes", None)
    data, i = exc.object, exc.start
    for n in (2, 4):
        chunk = bytes(data[i : i + n])
        if len(chunk) == n:
            try:
                ch = chunk.decode("gb18030")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                if notes is not None:
                    notes.gb18030_runs += 1
                return ch, i + n
    if notes is not None:
        notes.replaced += 1
    return "\ufffd", i + 1


codecs.register_error("piguard.gb18030", _fallback)


def _count_replace(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    notes: ReadNotes | None = getattr(_local, "notes", None)
    if notes is not None:
        notes.replaced += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error("piguard.replace", _count_replace)


def _utf16_without_bom(head: bytes) -> str | None:
    even, odd = head[0::2], head[1::2]
    if not odd:
        return None
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd > 0.3 and zeros_even < 0.05:
        return "utf-16-le"
    if zeros_even > 0.3 and zeros_odd < 0.05:
        return "utf-16-be"
    return None


def sniff(head: bytes) -> tuple[str, str]:
    """``(encoding, errors)`` for a file starting with ``head``; raises :class:`BinaryFile`."""
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32", "piguard.replace"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "piguard.gb18030"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", "piguard.replace"
    if b"\x00" in head:
        enc = _utf16_without_bom(head)
        if enc is None:
            raise BinaryFile("NUL bytes", "含 NUL 字节")
        text = head[: len(head) // 2 * 2].decode(enc, "replace")
        if sum(text.count(chr(c)) for c in range(32) if c not in (9, 10, 11, 12, 13)) > len(text) * 0.05:
            raise BinaryFile("NUL bytes", "含 NUL 字节")  # NULs in every other byte, but no text
        return enc, "piguard.replace"
    if head and sum(head.count(c) for c in _CONTROL) > len(head) * 0.05:
        raise BinaryFile("control characters", "含大量控制字符")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # not merely a character cut at the end of the head
            try:
                head.decode("gb18030")
                return "gb18030", "piguard.replace"
            except UnicodeDecodeError as g:
                if g.start >= len(head) - 4:
                    return "gb18030", "piguard.replace"
                # neither: UTF-8 with the odd bad byte, read as GB18030 or replaced
    return "utf-8", "piguard.gb18030"


def open_text(path: Path, notes: ReadNotes | None = None) -> Iterator[str]:
    """The file's text in pieces of at most :data:`PIECE` characters, line ends kept (for the csv
    module); a line longer than that comes in several pieces. Raises :class:`BinaryFile` before
    yielding anything."""
    with path.open("rb") as fh:
        head = fh.read(HEAD)
    encoding, errors = sniff(head)
    notes = notes if notes is not None else ReadNotes()
    notes.encoding = encoding
    return _pieces(path, encoding, errors, notes)


def _byte_pieces(path: Path, encoding: str, notes: ReadNotes) -> Iterator[str]:
    """UTF-8 and GB18030 files, read as bytes line by line: each line is decoded on its own, in the
    file's encoding or, when it is not valid there, in the other one (logs concatenated from
    systems with different encodings); only bytes valid in neither become U+FFFD. The pieces of a
    line longer than :data:`PIECE` go through one incremental decoder."""
    primary = "gb18030" if encoding == "gb18030" else "utf-8"
    other = "utf-8" if primary == "gb18030" else "gb18030"
    handler = "piguard.replace" if primary == "gb18030" else "piguard.gb18030"
    inc: codecs.IncrementalDecoder | None = None
    first = True
    with path.open("rb") as fh:
        while True:
            raw = fh.readline(PIECE)
            if not raw:
                if inc is not None:
                    tail = inc.decode(b"", final=True)
                    if tail:
                        yield tail
                return
            if first:
                first = False
                if raw.startswith(codecs.BOM_UTF8):
                    raw = raw[3:]
            complete = raw.endswith(b"\n")
            _local.notes = notes
            try:
                if inc is None and complete:
                    try:
                        yield raw.decode(primary)
                        continue
                    except UnicodeDecodeError:
                        pass
                    try:
                        text = raw.decode(other)
                        notes.other_lines += 1
                    except UnicodeDecodeError:
                        text = raw.decode(primary, handler)
                    yield text
                    continue
                if inc is None:
                    inc = codecs.getincrementaldecoder(primary)(handler)
                text = inc.decode(raw, final=complete)
                if complete:
                    inc = None
            finally:
                _local.notes = None
            yield text


def _pieces(path: Path, encoding: str, errors: str, notes: ReadNotes) -> Iterator[str]:
    if encoding in ("utf-8", "utf-8-sig", "gb18030"):
        yield from _byte_pieces(path, encoding, notes)
        return
    with path.open("r", encoding=encoding, errors=errors, newline="") as fh:
        while True:
            _local.notes = notes
            try:
                piece = fh.readline(PIECE)
            finally:
                _local.notes = None
            if not piece:
                return
            yield piece


def read_pieces(path: Path, notes: ReadNotes | None = None) -> Iterator[tuple[int, int, str]]:
    """``(line, column, text)`` for every piece of every line (1-based line, 0-based column in
    characters); line ends are stripped. Raises :class:`BinaryFile` before yielding anything."""
    notes = notes if notes is not None else ReadNotes()
    return _numbered(open_text(path, notes), notes)


def _numbered(pieces: Iterator[str], notes: ReadNotes) -> Iterator[tuple[int, int, str]]:
    line, col, counted = 1, 0, False
    for piece in pieces:
        # a line is long when a second piece continues it; a last line without a line end is not
        if col and not counted:
            notes.long_lines += 1
            counted = True
        if piece.endswith("\n") or piece.endswith("\r"):
            text = piece.rstrip("\r\n")
            if text or col == 0:
                yield line, col, text
            line, col, counted = line + 1, 0, False
        else:
            yield line, col, piece
            col += len(piece)


def read_lines(path: Path, notes: ReadNotes | None = None) -> Iterator[str]:
    """Whole lines (pieces joined): for callers that must rewrite a file line by line."""
    buf: list[str] = []
    current = 1
    for line, _col, text in read_pieces(path, notes):
        if line != current:
            yield "".join(buf)
            buf, current = [], line
        buf.append(text)
    if buf:
        yield "".join(buf)
