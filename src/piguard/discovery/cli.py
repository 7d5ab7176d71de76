"""`piguard scan`: find personal information in files, folders, JSONL records and databases."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from piguard.core.errors import FieldError, validation_error
from piguard.discovery import ner as ner_tier
from piguard.discovery import report as rep
from piguard.discovery.categories import check_categories
from piguard.discovery.scanners import RecordError, ScanReport, scan_database, scan_jsonl_records, scan_paths
from piguard.regulations.markers import carries

app = typer.Typer(
    help="Find personal information (PI) in files, JSONL and databases. / 发现个人信息。",
    no_args_is_help=False,
)


def _progress(console: Console) -> tuple[Progress, Callable[[str, int | None], Callable[[int], None]]]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )

    def start(description: str, total: int | None) -> Callable[[int], None]:
        task = progress.add_task(description[:40], total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)

        return advance

    return progress, start


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")


@carries("O24-4", "O24-5", "O24-13.3")
def command(
    paths: list[Path] = typer.Argument(None, help="Files or folders to scan / 要扫描的文件或目录"),
    jsonl: str = typer.Option(
        None,
        "--jsonl",
        help='JSONL records {"id","text"} ("-" = stdin); one JSON line out per finding / 输入 JSONL 记录',
    ),
    db: str = typer.Option(
        None, "--db", help="SQLAlchemy database URL to sample, e.g. sqlite:///app.db / 要抽样扫描的数据库 URL"
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="json | jsonl | table | html / 输出格式"),
    output: Path = typer.Option(
        None, "--output", "-o", help="Write the report here instead of stdout / 报告写入此文件而非标准输出"
    ),
    categories: str = typer.Option(
        None, "--categories", "-c", help="Only these categories (comma-separated) / 仅这些类别（逗号分隔）"
    ),
    sample: int = typer.Option(
        1000, "--sample", help="Cells sampled per column (0 = every row) / 每列抽样单元格数（0 为全部行）"
    ),
    table: list[str] = typer.Option(
        None, "--table", help="With --db: only these tables / 与 --db 合用：仅扫描这些表"
    ),
    fail_on_found: bool = typer.Option(
        False,
        "--fail-on-found",
        help="Exit 1 when any PI is found (DLP gate) / 发现个人信息即以退出码 1 结束（防泄漏闸门）",
    ),
    ner: bool = typer.Option(
        False,
        "--ner",
        help="Also run the NER tier for names and places in free text (slower; needs piguard[ner]) "
        "/ 同时运行命名实体识别层",
    ),
    executor: str = typer.Option(
        None,
        "--executor",
        help="dask://HOST:PORT: fan the scan out over a dask.distributed cluster (needs piguard[dask]) "
        "/ 在 dask 集群上分布式扫描",
    ),
    executor_timeout: float = typer.Option(
        10.0,
        "--executor-timeout",
        help="Seconds to wait for the dask scheduler to answer / 等待 dask 调度器响应的秒数",
    ),
    chunk_rows: int = typer.Option(
        100_000,
        "--chunk-rows",
        help="With --executor --db: rows of a table per task (split by key ranges) / 每个任务处理的表行数",
    ),
) -> None:
    """Scan PATH... (files or folders), --jsonl FILE, or --db URL for personal information. / 扫描文件、JSONL 或数据库中的个人信息。

    Reports never contain the values found: only where they are, their category and confidence.
    / 报告从不包含所发现的值：只有其位置、类别与置信度。
    """
    cats = check_categories(categories) if categories else None
    if fmt not in rep.FORMATS:
        raise validation_error([FieldError("format", f"one of {', '.join(rep.FORMATS)}")])
    modes = sum(bool(x) for x in (paths, jsonl, db))
    if modes != 1:
        raise validation_error(
            [FieldError("paths", "give PATH..., --jsonl FILE or --db URL (exactly one)")],
            "Nothing to scan.",
            "未指定扫描对象。",
        )
    if sample < 0:
        raise validation_error([FieldError("sample", "must be >= 0")])
    if executor and jsonl:
        raise validation_error([FieldError("executor", "--executor works with PATH... or --db, not --jsonl")])
    if chunk_rows < 1:
        raise validation_error([FieldError("chunk_rows", "must be >= 1")])
    err = Console(stderr=True)
    # the NER tier is loaded here, before any work, so a missing extra is one clear error
    with ner_tier.enabled() if ner else nullcontext():
        if jsonl:
            raise typer.Exit(_jsonl_mode(jsonl, cats, output, err, fail_on_found=fail_on_found))
        progress, start = _progress(err)
        if executor:
            from piguard.discovery import cluster

            with cluster.connect(executor, executor_timeout) as client, progress:
                if db:
                    report = cluster.scan_database(
                        client, db, sample, table or None, start, cats, chunk_rows=chunk_rows
                    )
                else:
                    report = cluster.scan_paths(client, paths, sample, start, cats)
        else:
            with progress:
                if db:
                    report = scan_database(
                        db, sample=sample, tables=table or None, progress=start, categories=cats
                    )
                else:
                    report = scan_paths(paths, sample=sample, progress=start, categories=cats)
    _render(report, fmt, output)
    if report.errors:
        raise typer.Exit(1)
    if fail_on_found and report.summary():
        raise typer.Exit(1)


def _render(report: ScanReport, fmt: str, output: Path | None) -> None:
    if fmt == "json":
        _emit(rep.to_json(report) + "\n", output)
    elif fmt == "jsonl":
        _emit(rep.to_jsonl(report), output)
    elif fmt == "html":
        _emit(rep.to_html(report), output)
    elif output is not None:
        with output.open("w", encoding="utf-8") as fh:
            rep.print_table(report, Console(file=fh, width=140))
    else:
        rep.print_table(report, Console())


def _jsonl_mode(
    source: str,
    cats: frozenset[str] | None,
    output: Path | None,
    err: Console,
    *,
    fail_on_found: bool = False,
) -> int:
    import json

    if source == "-":
        lines = (line.rstrip("\n") for line in sys.stdin)
    else:
        path = Path(source)
        if not path.is_file():
            raise validation_error(
                [FieldError("jsonl", f"{source} is not a file")], "File not found.", "文件不存在。"
            )
        fh = path.open(encoding="utf-8-sig", errors="replace")
        lines = (line.rstrip("\n") for line in fh)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    bad = found = 0
    try:
        for item in scan_jsonl_records(lines, cats):
            if isinstance(item, RecordError):
                bad += 1
                err.print(f"line {item.line}: {item.message} / 第 {item.line} 行无效", highlight=False)
                continue
            found += 1
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    finally:
        if output:
            out.close()
    if bad:
        err.print(f"{bad} malformed line(s) skipped / 跳过 {bad} 行无效记录", highlight=False)
    # the DLP gate gates: findings fail the run when asked, as in the file and database modes
    return 1 if bad or (fail_on_found and found) else 0


app.command(name="scan")(command)
