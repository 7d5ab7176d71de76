"""Scans fanned out over a dask.distributed cluster (``piguard scan --executor dask://HOST:PORT``).

The same recognisers run on the workers and the report is merged on the client, so it is the report
the single-process scan gives (O24-4, O24-5, O24-13.3):

- many files: one task per file, the per-file reports concatenated in the order the single-process
  scan reads the files (findings, column verdicts, what was skipped, the notes);
- a large table: split by ranges of its one-column primary key (boundaries read with ``ORDER BY
  key OFFSET n``, so any sortable key works), each range streamed by a worker into per-column
  samples already read by the recognisers. A row's place in a sample is a hash of its key
  (:func:`scanners.row_priority`), so the merged samples are exactly those the single-process scan
  keeps, and the verdicts are equal. A table without such a key is one task.

Workers read the files and the database themselves: the paths must be the same on every worker (a
shared file system) and the database reachable from them; a file a worker cannot see is reported
as skipped, like a task that fails (its worker died, an error in it): that file or table is named in
``errors`` and the rest is merged. piguard (and ``piguard[ner]`` for ``--ner``) must be installed on
the workers; the extra ``piguard[dask]`` installs the client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from piguard.core.errors import PiguardError, invalid_field
from piguard.discovery import ner as ner_tier
from piguard.discovery import scanners as sc
from piguard.regulations.markers import carries

Start = Callable[[str, int | None], sc.Progress]
CHUNK_ROWS = 100_000  # rows of a table per task
CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler


def scheduler_address(executor: str) -> str:
    """``dask://HOST:PORT`` as the scheduler's address (``tcp://HOST:PORT``); anything else is a
    ``validation_error`` on ``executor``."""
    try:
        parts = urlsplit(executor)
        port = parts.port
    except ValueError:
        port, parts = None, None
    if parts is None or parts.scheme != "dask" or not parts.hostname or port is None or parts.path:
        raise invalid_field(
            "executor",
            f"expected dask://HOST:PORT, got {executor!r}",
            f"应为 dask://主机:端口，实际为 {executor!r}",
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"tcp://{host}:{port}"


def _unreachable(address: str, why_en: str, why_zh: str) -> PiguardError:
    return sc.setup_error(
        "executor_unreachable",
        "executor",
        f"Cannot reach the dask scheduler at {address}: {why_en}.",
        f"无法连接 dask 调度器 {address}：{why_zh}。",
        why_en,
    )


@contextmanager
def connect(executor: str, timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A ``distributed.Client`` on the scheduler ``executor`` names. Without the extra, an
    ``executor_unavailable`` error; a scheduler that does not answer within ``timeout`` seconds, or
    that no worker joins within it, an ``executor_unreachable`` error (exit 2), never a traceback."""
    address = scheduler_address(executor)
    try:
        from distributed import Client
    except ImportError:
        raise sc.setup_error(
            "executor_unavailable",
            "executor",
            "The dask executor needs dask.distributed: install piguard[dask].",
            "dask 执行器需要 dask.distributed：请安装 piguard[dask]。",
            "dask.distributed is not installed",
        ) from None
    shown = address.removeprefix("tcp://")
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        if isinstance(e, TimeoutError) or "timed out" in str(e).lower():
            raise _unreachable(shown, f"no answer within {timeout:g} s", f"{timeout:g} 秒内无应答") from None
        raise _unreachable(shown, type(e).__name__, type(e).__name__) from None
    try:
        if not client.scheduler_info().get("workers"):
            try:  # a scheduler without workers would hold the tasks for ever
                client.wait_for_workers(1, timeout=timeout)
            except (TimeoutError, OSError):
                raise _unreachable(
                    shown, f"no worker joined within {timeout:g} s", f"{timeout:g} 秒内没有工作节点加入"
                ) from None
        yield client
    finally:
        client.close()


def _tier(ner: str | None) -> AbstractContextManager[object]:
    return ner_tier.enabled(ner) if ner else nullcontext()


# ---------------------------------------------------------------- tasks (run on the workers)


def scan_file_task(path: str, sample: int, categories: Any, ner: str | None) -> sc.ScanReport:
    """One file, as :func:`scanners.scan_paths` reads it, on a worker."""
    if not Path(path).is_file():
        report = sc.ScanReport(sources=[path])
        report.error(
            path,
            "not found on the worker (the workers need the same paths): not scanned",
            "工作节点上找不到该文件（各工作节点需有相同路径）：未扫描",
        )
        return report
    with _tier(ner):
        return sc.scan_paths([Path(path)], sample=sample, categories=categories)


def table_part_task(
    url: str, name: str, sample: int, categories: Any, key_range: sc.KeyRange | None, ner: str | None
) -> list[sc.ColumnPart] | tuple[str, str]:
    """One key range of a table, on a worker: its column parts, or ``(en, zh)`` when the database
    refused (said without the URL, the password or any row)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine, _ = sc.open_database(url)
    except PiguardError as e:
        return e.message_en, e.message_zh
    try:
        with _tier(ner), engine.connect() as conn:
            return sc.table_part(conn, name, sample, categories, key_range)
    except SQLAlchemyError as e:
        return sc._db_reason(e)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the client side


def _failed(e: BaseException) -> tuple[str, str]:
    kind = type(e).__name__
    return f"its worker failed ({kind})", f"工作节点执行失败（{kind}）"


def _results(client: Any, tasks: list[tuple[Any, ...]]) -> Iterator[tuple[int, Any, BaseException | None]]:
    """Run ``(function, *args)`` tasks; yield ``(index, result, None)`` or ``(index, None, error)``
    as each one ends."""
    from distributed import as_completed

    futures = [client.submit(fn, *args, pure=False) for fn, *args in tasks]
    index = {f.key: i for i, f in enumerate(futures)}
    for fut in as_completed(futures, loop=client.loop):
        i = index[fut.key]
        try:
            yield i, fut.result(), None
        except Exception as e:  # a worker that died, an error in the task: that part is skipped
            yield i, None, e
        finally:
            fut.release()


def _renamed(report: sc.ScanReport, old: str, new: str) -> sc.ScanReport:
    """A worker's report with its absolute path shown as the path the user gave."""
    if old == new:
        return report
    report.sources = [new if s == old else s for s in report.sources]
    report.findings = [replace(f, source=new) if f.source == old else f for f in report.findings]
    for c in report.columns:
        if c.source == old:
            c.source = new
    for item in (*report.errors, *report.warnings):
        if item.get("source") == old:
            item["source"] = new
    return report


@carries("O24-4", "O24-5", "O24-13.3")
def scan_paths(
    client: Any,
    paths: Iterable[Path],
    sample: int = 1000,
    progress: Start | None = None,
    categories: Any = None,
) -> sc.ScanReport:
    """:func:`scanners.scan_paths` with one task per file on the cluster: the same report."""
    files = sc.iter_files(paths)
    ner = ner_tier.active()
    advance = progress("files", len(files)) if progress else None
    tasks = [(scan_file_task, str(f.absolute()), sample, categories, ner) for f in files]
    parts: list[sc.ScanReport] = [sc.ScanReport() for _ in files]
    for i, result, error in _results(client, tasks):
        source = str(files[i])
        if error is None:
            parts[i] = _renamed(result, str(files[i].absolute()), source)
        else:
            en, zh = _failed(error)
            parts[i].sources.append(source)
            parts[i].error(source, f"not scanned: {en}", f"未扫描：{zh}")
        if advance:
            advance(1)
    report = sc.ScanReport()
    for p in parts:
        report.sources += p.sources
        report.findings += p.findings
        report.columns += p.columns
        report.errors += p.errors
        report.warnings += p.warnings
    return report


def key_ranges(conn: Any, name: str, chunk_rows: int) -> list[sc.KeyRange] | None:
    """Ranges of a table's one-column primary key of about ``chunk_rows`` rows each (``None``: the
    table has no such key, or is small: one task reads it whole)."""
    from sqlalchemy import MetaData, Table, func, select

    table = Table(name, MetaData(), autoload_with=conn)
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        return None
    (key,) = keys
    total = conn.execute(select(func.count()).select_from(table)).scalar_one()
    n = math.ceil(total / max(chunk_rows, 1))
    if n <= 1:
        return None
    step = math.ceil(total / n)
    bounds: list[Any] = []
    for i in range(1, n):
        b = conn.execute(select(key).order_by(key).offset(i * step).limit(1)).scalar()
        if b is not None and (not bounds or b > bounds[-1]):
            bounds.append(b)
    edges = [None, *bounds, None]
    return list(pairwise(edges))


@carries("O24-4", "O24-5", "O24-13.3")
def scan_database(
    client: Any,
    url: str,
    sample: int = 1000,
    tables: list[str] | None = None,
    progress: Start | None = None,
    categories: Any = None,
    chunk_rows: int = CHUNK_ROWS,
) -> sc.ScanReport:
    """:func:`scanners.scan_database` with each table split by key ranges over the cluster: the
    same verdicts and the same skipped tables. The database is opened here first, so one that
    cannot be opened is the same ``database_unreachable`` error before any task is sent."""
    from sqlalchemy.exc import SQLAlchemyError

    engine, names = sc.open_database(url)
    source = sc._safe_url(url)
    report = sc.ScanReport(sources=[source])
    ner = ner_tier.active()
    plan: list[tuple[str, sc.KeyRange | None]] = []
    failed: dict[str, tuple[str, str]] = {}
    names = sc.chosen_tables(names, tables)
    try:
        for name in names:
            try:
                with engine.connect() as conn:
                    ranges = key_ranges(conn, name, chunk_rows)
            except SQLAlchemyError as e:
                failed[name] = sc._db_reason(e)
                continue
            plan.extend((name, r) for r in ranges) if ranges else plan.append((name, None))
    finally:
        engine.dispose()
    advance = progress("table parts", len(plan)) if progress else None
    tasks = [(table_part_task, url, name, sample, categories, r, ner) for name, r in plan]
    got: dict[str, list[list[sc.ColumnPart]]] = {name: [] for name in names}
    for i, result, error in _results(client, tasks):
        name = plan[i][0]
        if error is not None:
            failed.setdefault(name, _failed(error))
        elif isinstance(result, tuple):
            failed.setdefault(name, result)
        else:
            got[name].append(result)
        if advance:
            advance(1)
    for name in names:
        if name in failed:
            sc.table_failed(report, source, name, *failed[name])
            continue
        columns = zip(*got[name], strict=True)
        report.columns.extend(sc.part_verdict(source, name, sc.merge_parts(list(c))) for c in columns)
    return report
