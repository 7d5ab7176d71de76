"""Scanners: where does personal information sit? (O24-4, O24-5, O24-13.3)

- text files and logs: findings with line and column (never the value);
- JSONL: ``{"id", "text"}`` records (the ``piguard scan --jsonl`` contract), or any JSON lines;
- CSV/TSV/Excel columns, JSON documents (by path) and SQL tables (by column): a *column verdict*
  from a uniform sample of cells (bottom-k sampling by a hash of the row key while streaming, so memory stays bounded
  whatever the table size) with the share of cells holding each category and a confidence.

Progress is reported through a plain callback so the library does not depend on a terminal; the
CLI draws it with Rich.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import itertools
import json
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.discovery import textio
from piguard.discovery.engine import detect_batch
from piguard.discovery.masked import masked_category
from piguard.regulations.markers import carries

Progress = Callable[[int], None]  # advance by n units
TEXT_SUFFIXES = {".txt", ".log", ".md", ".sql", ".xml", ".html", ".htm", ".yaml", ".yml", ".ini", ".conf", ""}
TABLE_SUFFIXES = {".csv", ".tsv", ".xlsx", ".xlsm"}
BATCH_CHARS = 2_000_000  # characters scanned at once from a text file


@dataclass(frozen=True)
class LocatedFinding:
    source: str
    line: int  # 1-based
    start: int  # character offsets in that line (or in the record's text)
    end: int
    category: str
    confidence: float
    record_id: Any = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "source": self.source,
            "line": self.line,
            "start": self.start,
            "end": self.end,
            "category": self.category,
            "confidence": self.confidence,
        }
        if self.record_id is not None:
            d["id"] = self.record_id
        return d


@dataclass
class CategoryShare:
    category: str
    share: float  # of sampled non-empty cells
    confidence: float
    cells: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "share": self.share,
            "confidence": self.confidence,
            "cells": self.cells,
        }


@dataclass
class ColumnVerdict:
    source: str  # file, or database URL without password
    table: str  # sheet, table, or "" for a CSV
    column: str  # header, or JSON path
    rows_seen: int
    sampled: int
    categories: list[CategoryShare] = field(default_factory=list)  # PI in clear
    masked: list[CategoryShare] = field(default_factory=list)  # masked values (138****5678)

    @property
    def holds_pi(self) -> bool:
        """PI in clear: a column of masked values alone does not hold it."""
        return bool(self.categories)

    @property
    def status(self) -> str:
        """``clear`` (PI in clear), ``masked`` (only masked values), ``partly_masked`` (both), or
        ``none``."""
        if self.categories:
            return "partly_masked" if self.masked else "clear"
        return "masked" if self.masked else "none"

    @property
    def top(self) -> CategoryShare | None:
        """The column's category: the commonest clear one, else the commonest masked one."""
        shares = self.categories or self.masked
        return shares[0] if shares else None

    def to_dict(self) -> dict[str, Any]:
        top = self.top
        return {
            "source": self.source,
            "table": self.table,
            "column": self.column,
            "rows_seen": self.rows_seen,
            "sampled": self.sampled,
            "status": self.status,
            "category": top.category if top else None,
            "share": top.share if top else 0.0,
            "confidence": top.confidence if top else 0.0,
            "categories": [c.to_dict() for c in self.categories],
            "masked": [c.to_dict() for c in self.masked],
        }


@dataclass
class ScanReport:
    findings: list[LocatedFinding] = field(default_factory=list)
    columns: list[ColumnVerdict] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # what was skipped, and why
    warnings: list[dict[str, Any]] = field(default_factory=list)  # read, with a remark

    def error(self, source: str, en: str, zh: str, skipped: str = "file", **where: Any) -> None:
        """Something was not scanned: ``skipped`` says what (file, table, rows, line)."""
        self.errors.append({"source": source, **where, "error": en, "error_zh": zh, "skipped": skipped})

    def warn(self, source: str, en: str, zh: str, **where: Any) -> None:
        self.warnings.append({"source": source, **where, "warning": en, "warning_zh": zh})

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for f in self.findings:
            counts[f.category] += 1
        for c in self.columns:
            for s in c.categories:
                counts[s.category] += s.cells
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "summary": self.summary(),
            "columns": [c.to_dict() for c in self.columns],
            "findings": [f.to_dict() for f in self.findings],
            "errors": self.errors,
            "warnings": self.warnings,
        }


# ---------------------------------------------------------------- columns

_HEADER_HINTS = [
    (("password", "passwd", "pwd", "密码", "口令"), "密码：", "password"),
    (("id_card", "idcard", "id_no", "idno", "id_number", "身份证", "证件"), "身份证号：", "id_card"),
    (("passport", "护照"), "护照号码：", "passport"),
    (("bank", "card", "卡号", "银行"), "卡号：", "bank_card"),
    (("mobile", "phone", "=tel", "msisdn", "手机", "电话"), "电话：", "phone_mobile"),
    (("email", "mail", "邮箱"), "邮箱：", "email"),
    (("wechat", "weixin", "微信"), "微信：", "wechat"),
    (("qq",), "QQ：", "qq"),
    (("birth", "dob", "生日", "出生"), "出生日期：", "birth_date"),
    (("addr", "地址", "住址"), "地址：", "address"),
    (("plate", "车牌"), "车牌号：", "license_plate"),
    (("name", "姓名", "名字", "联系人", "收件人", "recipient", "consignee", "receiver"), "姓名：", "name"),
    (("account", "user", "login", "账号", "帐号", "用户名"), "账号：", "account"),
    (("=ip", "=ipaddr", "=ipaddress", "=ipv4", "=ipv6"), "IP：", "ip_address"),
    (("=lat", "lng", "=lon", "gps", "latitude", "longitude", "经纬", "坐标"), "坐标：", "gps"),
]
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _hint(header: str) -> tuple[str, str | None]:
    """Words starting with ``=`` must be a whole word of the name (``client_ip``, ``clientIp``,
    ``lat``), so ``recipient``, ``hotel`` and ``translate`` imply nothing."""
    h = header.lower()
    words = set(re.split(r"[^a-z0-9]+", _CAMEL.sub("_", header).lower()))
    for names, prefix, category in _HEADER_HINTS:
        if any(w[1:] in words if w[0] == "=" else w in h for w in names):
            return prefix, category
    return "", None


def header_context(header: str) -> str:
    """The words a column's name implies, put before each sampled cell so that values which need
    context (names, passwords, QQ numbers) are read as they would be in ``姓名：张伟``."""
    return _hint(header)[0]


def header_category(header: str) -> str | None:
    """The category a column's name suggests (``mobile`` -> phone_mobile), if any."""
    return _hint(header)[1]


_M64 = (1 << 64) - 1


def row_priority(key: Any) -> int:
    """A row's rank in every column's sample: a 64-bit hash of its key (a file's row number, a
    table's primary key), the same in every process. Each column keeps the cells of the rows with
    the lowest ranks (bottom-k sampling), so samples taken over parts of a table, on other
    machines, merge into exactly the sample of the whole (:func:`merge_parts`)."""
    if isinstance(key, int) and not isinstance(key, bool):  # splitmix64: a bijection on 64 bits
        z = (key * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)
    data = repr(key).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class ColumnSampler:
    """Uniform sample of one column's non-empty cells with bounded memory: the ``size`` cells whose
    rows rank lowest (:func:`row_priority`; ``size`` 0 keeps every cell)."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.seen = 0
        self._heap: list[tuple[int, str]] = []  # (-rank, cell): the highest rank kept on top

    def add(self, value: Any, rank: int | None = None) -> None:
        """One cell; ``rank`` is its row's :func:`row_priority` (default: from its ordinal)."""
        if value is None:
            return
        text = value if isinstance(value, str) else str(value)
        if not text.strip():
            return
        if len(text) > 4000:
            text = text[:4000]
        self.seen += 1
        if rank is None:
            rank = row_priority(self.seen)
        heap = self._heap
        if self.size <= 0:
            heap.append((-rank, text))
        elif len(heap) < self.size:
            heapq.heappush(heap, (-rank, text))
        elif -rank > heap[0][0]:
            heapq.heapreplace(heap, (-rank, text))

    def entries(self) -> list[tuple[int, str]]:
        """``(rank, cell)`` of the sample, lowest rank first."""
        return sorted((-r, t) for r, t in self._heap)

    @property
    def cells(self) -> list[str]:
        return [t for _, t in self.entries()]


# One sampled cell as read: (rank, its clear categories with their best confidence, masked
# (category, confidence) or None). Plain tuples: they travel between the machines of a cluster.
CellResult = tuple[int, tuple[tuple[str, float], ...], tuple[str, float] | None]


@dataclass
class ColumnPart:
    """A column's sample read over some of its rows; parts of one column merge (:func:`merge_parts`)."""

    name: str
    rows: int  # rows seen (the extra column: cells seen)
    size: int  # the sample size asked for (0 = every cell)
    cells: list[CellResult]


def _shares(hits: dict[str, list[float]], n: int, min_share: float) -> list[CategoryShare]:
    shares = []
    for cat, confs in hits.items():
        share = len(confs) / n if n else 0.0
        if share >= min_share:
            mean = sum(confs) / len(confs)
            shares.append(
                CategoryShare(cat, round(share, 3), round(mean * min(1.0, share / 0.5), 3), len(confs))
            )
    shares.sort(key=lambda s: -s.share)
    return shares


def read_sample(sampler: ColumnSampler, rows: int, categories: Any = None) -> ColumnPart:
    """Detect in a column's sampled cells, each read with the context its column's name lends:
    a cell's clear categories, or when it has none, the category its masked shape (or the
    column's name) tells (0.9 when the shape alone tells it, 0.7 when only the name does)."""
    prefix, hint = _hint(sampler.name)
    entries = sampler.entries()
    found = detect_batch([prefix + c for _, c in entries], categories)
    out: list[CellResult] = []
    for (rank, cell), cell_findings in zip(entries, found, strict=True):
        best: dict[str, float] = {}
        for f in cell_findings:
            if f.start >= len(prefix):
                best[f.category] = max(best.get(f.category, 0.0), f.confidence)
        masked = None
        if not best:
            mcat = masked_category(cell, hint)
            if mcat is not None and (categories is None or mcat in categories):
                masked = (mcat, 0.9 if masked_category(cell) == mcat else 0.7)
        out.append((rank, tuple(best.items()), masked))
    return ColumnPart(sampler.name, rows, sampler.size, out)


def merge_parts(parts: list[ColumnPart]) -> ColumnPart:
    """One column's parts (read over disjoint rows) as the part of all its rows: the same cells,
    in the same order, as one sampler over every row would have kept."""
    first = parts[0]
    cells = heapq.merge(*(p.cells for p in parts), key=lambda c: c[0])
    kept = list(itertools.islice(cells, first.size) if first.size > 0 else cells)
    return ColumnPart(first.name, sum(p.rows for p in parts), first.size, kept)


def part_verdict(source: str, table: str, part: ColumnPart, min_share: float = 0.1) -> ColumnVerdict:
    """Per column: the categories of PI in clear, and of masked values (a cell such as
    ``138****5678`` with no clear finding), each with its share of the sampled cells, the number of
    cells and a confidence (mean finding confidence, scaled down below a share of one half)."""
    hits: dict[str, list[float]] = defaultdict(list)
    masked: dict[str, list[float]] = defaultdict(list)
    for _, best, mask in part.cells:
        for cat, conf in best:
            hits[cat].append(conf)
        if mask is not None:
            masked[mask[0]].append(mask[1])
    n = len(part.cells)
    return ColumnVerdict(
        source, table, part.name, part.rows, n, _shares(hits, n, min_share), _shares(masked, n, min_share)
    )


@carries("O24-4", "O24-5", "O24-10")
def column_verdict(
    source: str,
    table: str,
    sampler: ColumnSampler,
    rows_seen: int,
    min_share: float = 0.1,
    categories: Any = None,
) -> ColumnVerdict:
    """A column's verdict from its sample (:func:`read_sample`, :func:`part_verdict`)."""
    return part_verdict(source, table, read_sample(sampler, rows_seen, categories), min_share)


EXTRA_COLUMN = "(cells beyond the header)"


@dataclass
class RowStats:
    long: int = 0  # rows with more cells than the header (the extra cells are still scanned)
    short: int = 0  # rows with fewer cells
    bad: int = 0  # rows the CSV parser could not read (skipped)


def sample_rows(
    header: list[str],
    rows: Iterable[Iterable[Any]],
    sample: int,
    progress: Progress | None = None,
    categories: Any = None,
    stats: RowStats | None = None,
    key_of: Callable[[Any], Any] | None = None,
) -> list[ColumnPart]:
    """Stream the rows once into one sample per column and read the samples. A row's rank comes
    from ``key_of(row)`` (a table's primary key), else from its row number. Ragged rows lose
    nothing: cells beyond the header are sampled as one more column (``EXTRA_COLUMN``), and
    ``stats`` counts them."""
    samplers = [ColumnSampler(h or f"column_{i + 1}", sample) for i, h in enumerate(header)]
    extra = ColumnSampler(EXTRA_COLUMN, sample)
    width = len(samplers)
    n = 0
    for row in rows:
        n += 1
        rank = row_priority(n if key_of is None else key_of(row))
        cells = row if isinstance(row, list | tuple) else list(row)
        for s, value in zip(samplers, cells, strict=False):
            s.add(value, rank)
        if len(cells) != width and stats is not None:
            if len(cells) > width:
                stats.long += 1
            else:
                stats.short += 1
        if len(cells) > width:
            extra.add(" ".join(str(c) for c in cells[width:] if c is not None), rank)
        if progress is not None and n % 1000 == 0:
            progress(1000)
    if progress is not None and n % 1000:
        progress(n % 1000)
    out = [read_sample(s, n, categories) for s in samplers]
    if extra.seen:
        out.append(read_sample(extra, extra.seen, categories))
    return out


def profile_rows(
    source: str, table: str, header: list[str], rows: Iterable[Iterable[Any]], sample: int, **kw: Any
) -> list[ColumnVerdict]:
    """Column verdicts of streamed rows (:func:`sample_rows`; ``progress``, ``categories``,
    ``stats`` as there)."""
    return [part_verdict(source, table, p) for p in sample_rows(header, rows, sample, **kw)]


def _csv_rows(reader: Iterator[list[str]], stats: RowStats) -> Iterator[list[str]]:
    """Rows of a CSV reader; a row the parser refuses (a field over the size limit, a NUL) is
    counted and skipped, and reading goes on with the next one."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            stats.bad += 1
            continue
        yield row


# ---------------------------------------------------------------- files


def iter_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if not p.exists():
            raise validation_error(
                [FieldError("path", f"{p} does not exist")], "Path not found.", "路径不存在。"
            )
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )
            )
        else:
            out.append(p)
    return out


def _read_text(path: Path) -> Iterator[str]:
    """Whole lines of a text file in any of the encodings :mod:`textio` reads; raises
    :class:`textio.BinaryFile` (a ``ValueError``) for binary files."""
    return textio.read_lines(path)


def scan_lines(
    source: str,
    lines: Iterable[str],
    report: ScanReport,
    progress: Progress | None = None,
    categories: Any = None,
    batch: int = 2000,
) -> None:
    scan_pieces(source, ((n, 0, t) for n, t in enumerate(lines, 1)), report, progress, categories, batch)


def scan_pieces(
    source: str,
    pieces: Iterable[tuple[int, int, str]],
    report: ScanReport,
    progress: Progress | None = None,
    categories: Any = None,
    batch: int = 2000,
) -> None:
    """Scan ``(line, column, text)`` pieces in batches (bounded memory: at most ``batch`` pieces and
    about :data:`BATCH_CHARS` characters at a time); findings keep their line and column."""
    buf: list[str] = []
    where: list[tuple[int, int]] = []

    def flush() -> None:
        for (line, col), fs in zip(where, detect_batch(buf, categories), strict=True):
            for f in fs:
                report.findings.append(
                    LocatedFinding(source, line, col + f.start, col + f.end, f.category, f.confidence)
                )
        if progress is not None:
            progress(sum(len(b.encode("utf-8", "surrogatepass")) + 1 for b in buf))

    chars = 0
    for line, col, text in pieces:
        buf.append(text)
        where.append((line, col))
        chars += len(text)
        if len(buf) >= batch or chars >= BATCH_CHARS:
            flush()
            buf, where, chars = [], [], 0
    if buf:
        flush()


MAX_JSON_DOCUMENT = 64 * 2**20  # bytes: a larger .json file is scanned as text, streamed


def _json_leaves(doc: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(doc, dict):
        for k, val in doc.items():
            yield from _json_leaves(val, f"{path}.{k}")
    elif isinstance(doc, list):
        for val in doc:
            yield from _json_leaves(val, f"{path}[*]")
    elif doc is not None and not isinstance(doc, bool):
        yield path, doc


class JsonColumns:
    """One verdict per JSON path (array items folded into ``[*]``), fed document by document."""

    def __init__(self, sample: int) -> None:
        self.sample = sample
        self.samplers: dict[str, ColumnSampler] = {}
        self.rows: dict[str, int] = defaultdict(int)

    def add(self, doc: Any) -> None:
        for path, value in _json_leaves(doc):
            s = self.samplers.get(path)
            if s is None:
                name = path.rsplit(".", 1)[-1].replace("[*]", "")
                s = self.samplers[path] = ColumnSampler(name, self.sample)
            s.add(value)
            self.rows[path] += 1

    def verdicts(self, source: str, categories: Any = None) -> list[ColumnVerdict]:
        out = []
        for path, s in self.samplers.items():
            v = column_verdict(source, "", s, self.rows[path], categories=categories)
            v.column = path
            if v.categories or v.masked:
                out.append(v)
        return out


def scan_json_document(
    source: str, doc: Any, report: ScanReport, sample: int, categories: Any = None
) -> None:
    """A JSON document: one verdict per path (array items folded into ``[*]``)."""
    cols = JsonColumns(sample)
    cols.add(doc)
    report.columns.extend(cols.verdicts(source, categories))


def _note_reading(source: str, notes: textio.ReadNotes, report: ScanReport) -> None:
    if notes.replaced:
        report.warn(
            source,
            f"{notes.replaced} byte(s) could not be decoded ({notes.encoding}) and were read as U+FFFD",
            f"{notes.replaced} 个字节无法按 {notes.encoding} 解码，已替换为 U+FFFD",
        )
    if notes.other_lines or notes.gb18030_runs:
        main, other = ("GB18030", "UTF-8") if notes.encoding == "gb18030" else ("UTF-8", "GB18030/GBK")
        en, zh = [], []
        if notes.other_lines:
            en.append(f"{notes.other_lines} line(s) of this {main} file were {other} and were read as such")
            zh.append(f"此 {main} 文件中有 {notes.other_lines} 行为 {other} 编码，已按其读取")
        if notes.gb18030_runs:
            en.append(
                f"{notes.gb18030_runs} character(s) among bytes that are no {main} were read as GB18030"
            )
            zh.append(f"{notes.gb18030_runs} 个非 {main} 的字符已按 GB18030 读取")
        report.warn(source, "; ".join(en), "；".join(zh))
    if notes.long_lines:
        report.warn(
            source,
            f"{notes.long_lines} line(s) longer than {textio.PIECE:,} characters were read in pieces "
            "(a value cut at a piece boundary may be missed)",
            f"{notes.long_lines} 行超过 {textio.PIECE:,} 个字符，已分段读取（跨段的值可能漏检）",
        )


def _note_rows(source: str, stats: RowStats, report: ScanReport, table: str = "") -> None:
    where = {"table": table} if table else {}
    if stats.long:
        report.warn(
            source,
            f"{stats.long} row(s) have more cells than the header: the extra cells were scanned "
            f"as the column {EXTRA_COLUMN!r}",
            f"{stats.long} 行的单元格多于表头：多出的单元格已作为 {EXTRA_COLUMN!r} 列扫描",
            **where,
        )
    if stats.short:
        report.warn(
            source,
            f"{stats.short} row(s) have fewer cells than the header (the cells there were scanned)",
            f"{stats.short} 行的单元格少于表头（已有的单元格均已扫描）",
            **where,
        )
    if stats.bad:
        report.error(
            source,
            f"{stats.bad} row(s) could not be parsed as CSV and were skipped",
            f"{stats.bad} 行无法按 CSV 解析，已跳过",
            skipped="rows",
            rows=stats.bad,
            **where,
        )


def scan_csv(
    path: Path, report: ScanReport, sample: int, progress: Progress | None = None, categories: Any = None
) -> None:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    notes = textio.ReadNotes()
    stats = RowStats()
    reader = _csv_rows(csv.reader(textio.open_text(path, notes), delimiter=delimiter), stats)
    header = next(reader, None)
    if header is None:
        _note_reading(str(path), notes, report)
        return
    report.columns.extend(
        profile_rows(
            str(path), "", header, reader, sample, progress=progress, categories=categories, stats=stats
        )
    )
    _note_reading(str(path), notes, report)
    _note_rows(str(path), stats, report)


def scan_excel(
    path: Path, report: ScanReport, sample: int, progress: Progress | None = None, categories: Any = None
) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            try:
                header = [str(h) if h is not None else "" for h in next(rows)]
            except StopIteration:
                continue
            stats = RowStats()
            report.columns.extend(
                profile_rows(
                    str(path),
                    ws.title,
                    header,
                    rows,
                    sample,
                    progress=progress,
                    categories=categories,
                    stats=stats,
                )
            )
            stats.short = 0  # read-only sheets pad nothing: short rows are the sheet's blank cells
            _note_rows(str(path), stats, report, ws.title)
    finally:
        wb.close()


def scan_jsonl_file(
    path: Path,
    report: ScanReport,
    progress: Progress | None = None,
    categories: Any = None,
    sample: int = 1000,
    batch: int = 2000,
) -> None:
    """JSON lines: records with a ``text`` field are scanned as text; others by field path.
    Streamed: texts in batches, other records into per-path samples."""
    notes = textio.ReadNotes()
    texts: list[tuple[int, Any, str]] = []
    cols = JsonColumns(sample)
    bad = 0

    def flush() -> None:
        found = detect_batch([t for _, _, t in texts], categories)
        for (n, rid, _), fs in zip(texts, found, strict=True):
            for f in fs:
                report.findings.append(
                    LocatedFinding(str(path), n, f.start, f.end, f.category, f.confidence, rid)
                )

    for n, line in enumerate(textio.read_lines(path, notes), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            bad += 1
            if bad <= 100:  # the first hundred by line; the count says the rest
                msg = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
                report.error(
                    str(path), f"invalid JSON: {msg}", f"不是有效的 JSON：{msg}", skipped="line", line=n
                )
            continue
        if isinstance(rec, dict) and isinstance(rec.get("text"), str):
            texts.append((n, rec.get("id"), _no_surrogates(rec["text"])))
            if len(texts) >= batch:
                flush()
                texts = []
        else:
            cols.add(rec)
    if texts:
        flush()
    report.columns.extend(cols.verdicts(str(path), categories))
    if bad > 100:
        report.error(
            str(path),
            f"{bad} lines in all were not valid JSON and were skipped",
            f"共 {bad} 行不是有效的 JSON，已跳过",
            skipped="lines",
            lines=bad,
        )
    _note_reading(str(path), notes, report)
    if progress is not None:
        progress(path.stat().st_size)


def _scan_json_file(
    path: Path, report: ScanReport, sample: int, advance: Progress | None, categories: Any
) -> None:
    size = path.stat().st_size
    if size > MAX_JSON_DOCUMENT:
        report.warn(
            str(path),
            f"JSON document of {size / 2**20:.0f} MiB: scanned as text, streamed (no per-path verdicts)",
            f"JSON 文档 {size / 2**20:.0f} MiB：已按文本流式扫描（无按路径的字段结论）",
        )
        notes = textio.ReadNotes()
        scan_pieces(str(path), textio.read_pieces(path, notes), report, advance, categories)
        _note_reading(str(path), notes, report)
        return
    text = "".join(textio.read_lines(path))
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        report.error(
            str(path), f"invalid JSON: {e.msg}", f"不是有效的 JSON：{e.msg}", skipped="file", line=e.lineno
        )
        return
    except RecursionError:
        report.error(str(path), "invalid JSON: nested too deeply", "不是有效的 JSON：嵌套过深")
        return
    scan_json_document(str(path), doc, report, sample, categories)
    if advance:
        advance(size)


@carries("O24-4", "O24-5", "O24-13.3")
def scan_paths(
    paths: Iterable[Path],
    sample: int = 1000,
    progress: Callable[[str, int | None], Progress] | None = None,
    categories: Any = None,
) -> ScanReport:
    """Scan files and folders. ``progress(description, total)`` returns an ``advance`` callback.
    A file that cannot be read is reported in ``errors`` (bilingual, with what was skipped) and the
    others go on; remarks on what was read (decoding, ragged rows, long lines) go to ``warnings``."""
    report = ScanReport()
    for path in iter_files(paths):
        source = str(path)
        report.sources.append(source)
        suffix = path.suffix.lower()
        try:
            size = path.stat().st_size
            advance = (
                progress(path.name, size if suffix not in TABLE_SUFFIXES else None) if progress else None
            )
            if suffix in (".csv", ".tsv"):
                scan_csv(path, report, sample, advance, categories)
            elif suffix in (".xlsx", ".xlsm"):
                scan_excel(path, report, sample, advance, categories)
            elif suffix == ".jsonl" or suffix == ".ndjson":
                scan_jsonl_file(path, report, advance, categories, sample)
            elif suffix == ".json":
                _scan_json_file(path, report, sample, advance, categories)
            else:
                notes = textio.ReadNotes()
                scan_pieces(source, textio.read_pieces(path, notes), report, advance, categories)
                _note_reading(source, notes, report)
        except textio.BinaryFile as e:
            report.error(
                source,
                f"binary file ({e.why_en}): not scanned",
                f"二进制文件（{e.why_zh}）：未扫描",
            )
        except OSError as e:
            report.error(
                source,
                f"cannot read the file ({e.strerror or type(e).__name__})",
                f"无法读取文件（{e.strerror or type(e).__name__}）",
            )
        except Exception as e:  # a corrupt workbook must not stop the other files
            report.error(
                source,
                f"cannot read the file ({type(e).__name__}): not scanned",
                f"无法读取文件（{type(e).__name__}）：未扫描",
            )
    return report


# ---------------------------------------------------------------- the --jsonl contract


@dataclass(frozen=True)
class RecordError:
    line: int
    message: str


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogates(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


@carries("O24-13.3")
def scan_jsonl_records(
    lines: Iterable[str], categories: Any = None, batch: int = 2000
) -> Iterator[dict[str, Any] | RecordError]:
    """``{"id", "text"}`` per line in; one ``{"id", "start", "end", "category", "confidence"}``
    per finding out (offsets in characters into ``text``); a bad line yields a :class:`RecordError`
    and the rest go on."""
    buf: list[tuple[Any, str]] = []

    def flush() -> Iterator[dict[str, Any]]:
        for (rid, _), fs in zip(buf, detect_batch([t for _, t in buf], categories), strict=True):
            for f in fs:
                yield {"id": rid, **f.to_dict()}

    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            yield RecordError(n, f"invalid JSON ({e.msg} at column {e.colno})")
            continue
        except RecursionError:
            yield RecordError(n, "invalid JSON (nested too deeply)")
            continue
        if not isinstance(rec, dict) or "text" not in rec or "id" not in rec:
            yield RecordError(n, 'expected an object with "id" and "text"')
            continue
        if not isinstance(rec["text"], str):
            yield RecordError(n, '"text" must be a string')
            continue
        rid = rec["id"]
        if not isinstance(rid, str | int) or isinstance(rid, bool):
            yield RecordError(n, '"id" must be a string or an integer')
            continue
        # A lone surrogate (JSON "\ud800") is no character: one U+FFFD in its place keeps offsets.
        buf.append((_no_surrogates(rid) if isinstance(rid, str) else rid, _no_surrogates(rec["text"])))
        if len(buf) >= batch:
            yield from flush()
            buf = []
    if buf:
        yield from flush()


# ---------------------------------------------------------------- databases


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def setup_error(code: str, field_name: str, en: str, zh: str, why: str) -> PiguardError:
    """What a scan needs before it starts (a database, a cluster) is not there: exit 2."""
    return PiguardError(code, en, zh, http_status=400, exit_code=2, fields=[FieldError(field_name, why)])


def _unreachable(en: str, zh: str) -> PiguardError:
    return setup_error(
        "database_unreachable", "db", f"Cannot open the database: {en}.", f"无法打开数据库：{zh}。", en
    )


def _db_reason(e: BaseException) -> tuple[str, str]:
    """Why a database refused, without the URL, the password or any row (driver messages can
    carry them): the kind of failure only."""
    text = str(getattr(e, "orig", e)).lower()
    if "refused" in text:
        return "the connection was refused", "连接被拒绝"
    if "password" in text or "authentication" in text:
        return "authentication failed", "认证失败"
    if "does not exist" in text or "unknown database" in text:
        return "no such database", "数据库不存在"
    if "timeout" in text or "timed out" in text:
        return "the connection timed out", "连接超时"
    if "permission denied" in text or "access denied" in text:
        return "permission denied", "权限不足"
    return type(e).__name__, type(e).__name__


def open_database(url: str) -> tuple[Any, list[str]]:
    """An engine on ``url`` and its table names. A database that cannot be opened is a
    ``database_unreachable`` error (bilingual, no URL or password in it); a SQLite file that does
    not exist is refused, not created."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from piguard.core.db import make_engine

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise _unreachable("not a database URL", "不是数据库 URL") from None
    if parsed.get_backend_name() == "sqlite":
        db_file = parsed.database or ""
        if db_file and db_file != ":memory:" and not db_file.startswith("file:"):
            if not Path(db_file).is_file():
                raise _unreachable("no such SQLite file", "SQLite 文件不存在")
            with Path(db_file).open("rb") as fh:
                if fh.read(16) not in (b"SQLite format 3\x00", b""):
                    raise _unreachable("not a SQLite database file", "不是 SQLite 数据库文件")
    try:
        engine = make_engine(url)
        names = inspect(engine).get_table_names()
    except (ArgumentError, NoSuchModuleError) as e:
        raise _unreachable(type(e).__name__, type(e).__name__) from None
    except SQLAlchemyError as e:
        raise _unreachable(*_db_reason(e)) from None
    return engine, names


def chosen_tables(names: list[str], tables: list[str] | None) -> list[str]:
    if not tables:
        return names
    unknown = sorted(set(tables) - set(names))
    if unknown:
        raise validation_error([FieldError("table", f"no table {t!r}") for t in unknown])
    return [n for n in names if n in tables]


# A part of a table by its primary key: rows with lo <= key < hi (None: no bound on that side).
KeyRange = tuple[Any, Any]


def table_part(
    conn: Any,
    name: str,
    sample: int,
    categories: Any = None,
    key_range: KeyRange | None = None,
    progress: Callable[[str, int | None], Progress] | None = None,
) -> list[ColumnPart]:
    """Stream a table's rows (or those in ``key_range`` of its one-column primary key) into one
    sample per column. A row ranks by its primary key, so parts read anywhere merge into the
    table's sample; a table without a primary key ranks its rows by their order and is read whole."""
    from sqlalchemy import MetaData, Table, func, select

    table = Table(name, MetaData(), autoload_with=conn)
    cols = list(table.columns)
    pk = [cols.index(c) for c in table.primary_key.columns]
    query = select(*cols)
    if key_range is not None:
        (key,) = table.primary_key.columns
        lo, hi = key_range
        if lo is not None:
            query = query.where(key >= lo)
        if hi is not None:
            query = query.where(key < hi)
    advance = None
    if progress is not None:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        advance = progress(name, int(total))
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
    if len(pk) == 1:
        key_of: Callable[[Any], Any] | None = operator.itemgetter(pk[0])
    elif pk:
        key_of = operator.itemgetter(*pk)
    else:
        key_of = None
    return sample_rows([c.name for c in cols], result, sample, advance, categories, key_of=key_of)


def table_failed(report: ScanReport, source: str, name: str, en: str, zh: str) -> None:
    report.error(source, f"table not scanned: {en}", f"表未扫描：{zh}", skipped="table", table=name)


@carries("O24-4", "O24-5", "O24-13.3")
def scan_database(
    url: str,
    sample: int = 1000,
    tables: list[str] | None = None,
    progress: Callable[[str, int | None], Progress] | None = None,
    categories: Any = None,
) -> ScanReport:
    """Sample every column of every table (streamed, bottom-k sampled) and report its categories.

    A database that cannot be opened is a ``database_unreachable`` error (:func:`open_database`).
    A table that fails during the scan (permissions, a dropped connection) is reported in
    ``errors`` and the other tables go on: the report says which tables were skipped."""
    from sqlalchemy.exc import SQLAlchemyError

    engine, names = open_database(url)
    report = ScanReport()
    source = _safe_url(url)
    report.sources.append(source)
    try:
        for name in chosen_tables(names, tables):
            try:
                with engine.connect() as conn:
                    parts = table_part(conn, name, sample, categories, progress=progress)
            except SQLAlchemyError as e:
                table_failed(report, source, name, *_db_reason(e))
                continue
            report.columns.extend(part_verdict(source, name, p) for p in parts)
    finally:
        engine.dispose()
    return report


def read_table_file(path: Path) -> tuple[list[str], Iterator[list[Any]]]:
    """Header and rows of a CSV/TSV/Excel file (first sheet), streamed."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = [str(h) if h is not None else "" for h in next(rows, ())]

        def gen() -> Iterator[list[Any]]:
            try:
                for r in rows:
                    yield list(r)
            finally:
                wb.close()

        return header, gen()
    if suffix not in (".csv", ".tsv"):
        raise validation_error(
            [FieldError("path", "expected .csv, .tsv or .xlsx")], "Not a table file.", "不是表格文件。"
        )
    reader = csv.reader(_read_text(path), delimiter="\t" if suffix == ".tsv" else ",")
    header = next(reader, [])
    return header, (list(r) for r in reader)


def rows_as_dicts(header: list[str], rows: Iterable[list[Any]]) -> Iterator[dict[str, Any]]:
    for r in rows:
        yield dict(zip(header, r, strict=False))


def to_csv_line(values: list[Any], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow(values)
    return buf.getvalue()
