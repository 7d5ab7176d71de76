"""Scanners: where does personal information sit? (O24-4, O24-5, O24-13.3)

- text files and logs: findings with line and column (never the value);
- JSONL: ``{"id", "text"}`` records (the ``piguard scan --jsonl`` contract), or any JSON lines;
- CSV/TSV/Excel columns, JSON documents (by path) and SQL tables (by column): a *column verdict*
  from a uniform sample of cells (reservoir sampling while streaming, so memory stays bounded
  whatever the table size) with the share of cells holding each category and a confidence.

Progress is reported through a plain callback so the library does not depend on a terminal; the
CLI draws it with Rich.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.discovery.engine import detect_batch
from piguard.discovery.masked import masked_category
from piguard.regulations.markers import carries

Progress = Callable[[int], None]  # advance by n units
TEXT_SUFFIXES = {".txt", ".log", ".md", ".sql", ".xml", ".html", ".htm", ".yaml", ".yml", ".ini", ".conf", ""}
TABLE_SUFFIXES = {".csv", ".tsv", ".xlsx", ".xlsm"}
MAX_LINE = 1_000_000


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
    errors: list[dict[str, Any]] = field(default_factory=list)

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


class ColumnSampler:
    """Reservoir sample of one column's non-empty cells (bounded memory, uniform over all rows)."""

    def __init__(self, name: str, size: int, rng: random.Random) -> None:
        self.name = name
        self.size = size
        self.rng = rng
        self.seen = 0
        self.cells: list[str] = []

    def add(self, value: Any) -> None:
        if value is None:
            return
        text = value if isinstance(value, str) else str(value)
        if not text.strip():
            return
        if len(text) > 4000:
            text = text[:4000]
        self.seen += 1
        if self.size <= 0 or len(self.cells) < self.size:
            self.cells.append(text)
        else:
            j = self.rng.randrange(self.seen)
            if j < self.size:
                self.cells[j] = text


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


@carries("O24-4", "O24-5", "O24-10")
def column_verdict(
    source: str,
    table: str,
    sampler: ColumnSampler,
    rows_seen: int,
    min_share: float = 0.1,
    categories: Any = None,
) -> ColumnVerdict:
    """Per column: the categories of PI in clear, and of masked values (a cell such as
    ``138****5678`` with no clear finding), each with its share of the sampled cells, the number of
    cells and a confidence (mean finding confidence, scaled down below a share of one half)."""
    prefix, hint = _hint(sampler.name)
    texts = [prefix + c for c in sampler.cells]
    found = detect_batch(texts, categories)
    hits: dict[str, list[float]] = defaultdict(list)
    masked: dict[str, list[float]] = defaultdict(list)
    for cell, cell_findings in zip(sampler.cells, found, strict=True):
        best: dict[str, float] = {}
        for f in cell_findings:
            if f.start >= len(prefix):
                best[f.category] = max(best.get(f.category, 0.0), f.confidence)
        for cat, conf in best.items():
            hits[cat].append(conf)
        if not best:
            mcat = masked_category(cell, hint)
            if mcat is not None and (categories is None or mcat in categories):
                # the shape alone told the category (0.9), or only the column's name did (0.7)
                masked[mcat].append(0.9 if masked_category(cell) == mcat else 0.7)
    n = len(sampler.cells)
    return ColumnVerdict(
        source,
        table,
        sampler.name,
        rows_seen,
        n,
        _shares(hits, n, min_share),
        _shares(masked, n, min_share),
    )


def profile_rows(
    source: str,
    table: str,
    header: list[str],
    rows: Iterable[Iterable[Any]],
    sample: int,
    progress: Progress | None = None,
    seed: int = 0,
    categories: Any = None,
) -> list[ColumnVerdict]:
    rng = random.Random(seed)
    samplers = [ColumnSampler(h or f"column_{i + 1}", sample, rng) for i, h in enumerate(header)]
    n = 0
    for row in rows:
        n += 1
        for s, value in zip(samplers, row, strict=False):
            s.add(value)
        if progress is not None and n % 1000 == 0:
            progress(1000)
    if progress is not None and n % 1000:
        progress(n % 1000)
    return [column_verdict(source, table, s, n, categories=categories) for s in samplers]


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
    with path.open("rb") as fh:
        head = fh.read(4096)
    if b"\x00" in head:
        raise ValueError("binary file")
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        encoding = "gb18030"  # the usual non-UTF-8 encoding of Chinese text
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        for line in fh:
            yield line.rstrip("\r\n")[:MAX_LINE]


def scan_lines(
    source: str,
    lines: Iterable[str],
    report: ScanReport,
    progress: Progress | None = None,
    categories: Any = None,
    batch: int = 2000,
) -> None:
    buf: list[str] = []
    first = 1

    def flush() -> None:
        for k, fs in enumerate(detect_batch(buf, categories)):
            for f in fs:
                report.findings.append(
                    LocatedFinding(source, first + k, f.start, f.end, f.category, f.confidence)
                )
        if progress is not None:
            progress(sum(len(b.encode("utf-8")) + 1 for b in buf))

    for line in lines:
        buf.append(line)
        if len(buf) >= batch:
            flush()
            first += len(buf)
            buf = []
    if buf:
        flush()


def _json_leaves(doc: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(doc, dict):
        for k, val in doc.items():
            yield from _json_leaves(val, f"{path}.{k}")
    elif isinstance(doc, list):
        for val in doc:
            yield from _json_leaves(val, f"{path}[*]")
    elif doc is not None and not isinstance(doc, bool):
        yield path, doc


def scan_json_document(
    source: str, doc: Any, report: ScanReport, sample: int, categories: Any = None
) -> None:
    """A JSON document: one verdict per path (array items folded into ``[*]``)."""
    rng = random.Random(0)
    samplers: dict[str, ColumnSampler] = {}
    rows: dict[str, int] = defaultdict(int)
    for path, value in _json_leaves(doc):
        s = samplers.get(path)
        if s is None:
            s = samplers[path] = ColumnSampler(path.rsplit(".", 1)[-1].replace("[*]", ""), sample, rng)
        s.add(value)
        rows[path] += 1
    for path, s in samplers.items():
        v = column_verdict(source, "", s, rows[path], categories=categories)
        v.column = path
        if v.categories or v.masked:
            report.columns.append(v)


def scan_csv(
    path: Path, report: ScanReport, sample: int, progress: Progress | None = None, categories: Any = None
) -> None:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    lines = _read_text(path)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    report.columns.extend(
        profile_rows(str(path), "", header, reader, sample, progress, categories=categories)
    )


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
            report.columns.extend(
                profile_rows(str(path), ws.title, header, rows, sample, progress, categories=categories)
            )
    finally:
        wb.close()


def scan_jsonl_file(
    path: Path,
    report: ScanReport,
    progress: Progress | None = None,
    categories: Any = None,
    sample: int = 1000,
) -> None:
    """JSON lines: records with a ``text`` field are scanned as text; others by field path."""
    texts: list[tuple[int, Any, str]] = []
    docs: list[Any] = []
    for n, line in enumerate(_read_text(path), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            report.errors.append({"source": str(path), "line": n, "error": f"invalid JSON: {e.msg}"})
            continue
        if isinstance(rec, dict) and isinstance(rec.get("text"), str):
            texts.append((n, rec.get("id"), rec["text"]))
        else:
            docs.append(rec)
    found = detect_batch([t for _, _, t in texts], categories)
    for (n, rid, _), fs in zip(texts, found, strict=True):
        for f in fs:
            report.findings.append(
                LocatedFinding(str(path), n, f.start, f.end, f.category, f.confidence, rid)
            )
    if docs:
        scan_json_document(str(path), docs, report, sample, categories)
    if progress is not None:
        progress(path.stat().st_size)


@carries("O24-4", "O24-5", "O24-13.3")
def scan_paths(
    paths: Iterable[Path],
    sample: int = 1000,
    progress: Callable[[str, int | None], Progress] | None = None,
    categories: Any = None,
) -> ScanReport:
    """Scan files and folders. ``progress(description, total)`` returns an ``advance`` callback."""
    report = ScanReport()
    for path in iter_files(paths):
        report.sources.append(str(path))
        suffix = path.suffix.lower()
        size = path.stat().st_size
        advance = progress(path.name, size if suffix not in TABLE_SUFFIXES else None) if progress else None
        try:
            if suffix in (".csv", ".tsv"):
                scan_csv(path, report, sample, advance, categories)
            elif suffix in (".xlsx", ".xlsm"):
                scan_excel(path, report, sample, advance, categories)
            elif suffix == ".jsonl" or suffix == ".ndjson":
                scan_jsonl_file(path, report, advance, categories, sample)
            elif suffix == ".json":
                try:
                    doc = json.loads(path.read_text(encoding="utf-8-sig"))
                except json.JSONDecodeError as e:
                    report.errors.append(
                        {"source": str(path), "line": e.lineno, "error": f"invalid JSON: {e.msg}"}
                    )
                    continue
                scan_json_document(str(path), doc, report, sample, categories)
                if advance:
                    advance(size)
            else:
                scan_lines(str(path), _read_text(path), report, advance, categories)
        except (ValueError, OSError, UnicodeError) as e:
            report.errors.append(
                {"source": str(path), "error": str(e) if "binary" in str(e) else type(e).__name__}
            )
        except Exception as e:  # a corrupt workbook must not stop the other files
            report.errors.append({"source": str(path), "error": type(e).__name__})
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


@carries("O24-4", "O24-5", "O24-13.3")
def scan_database(
    url: str,
    sample: int = 1000,
    tables: list[str] | None = None,
    progress: Callable[[str, int | None], Progress] | None = None,
    categories: Any = None,
) -> ScanReport:
    """Sample every column of every table (streamed, reservoir-sampled) and report its categories."""
    from sqlalchemy import MetaData, Table, func, inspect, select
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from piguard.core.db import make_engine

    try:
        engine = make_engine(url)
        insp = inspect(engine)
    except (ArgumentError, NoSuchModuleError, OperationalError) as e:
        raise PiguardError(
            "database_unreachable",
            f"Cannot open the database: {type(e).__name__}.",
            f"无法打开数据库：{type(e).__name__}。",
            http_status=400,
            exit_code=2,
        ) from None
    report = ScanReport()
    source = _safe_url(url)
    report.sources.append(source)
    try:
        names = insp.get_table_names()
        if tables:
            unknown = sorted(set(tables) - set(names))
            if unknown:
                raise validation_error([FieldError("table", f"no table {t!r}") for t in unknown])
            names = [n for n in names if n in tables]
        md = MetaData()
        with engine.connect() as conn:
            for name in names:
                table = Table(name, md, autoload_with=conn)
                cols = list(table.columns)
                total = conn.execute(select(func.count()).select_from(table)).scalar_one()
                advance = progress(name, int(total)) if progress else None
                result = conn.execution_options(stream_results=True, yield_per=2000).execute(select(*cols))
                report.columns.extend(
                    profile_rows(
                        source, name, [c.name for c in cols], result, sample, advance, categories=categories
                    )
                )
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
