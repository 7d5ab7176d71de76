"""`piguard policy lint FILE|DIR`: is each required disclosure present in a privacy policy?"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from piguard.core.cli_render import render_error
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.inventory.lint import FORMATS, ITEMS, LintReport, lint_file
from piguard.regulations.markers import carries

app = typer.Typer(
    help="Privacy-policy checks (MIIT Order 24 Art. 8, 9, 12; CSL 41-43). / 隐私政策检查。",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Privacy-policy checks (MIIT Order 24 Art. 8, 9, 12; CSL 41-43). / 隐私政策检查。"""
    # A callback keeps `policy` a group (`piguard policy lint FILE`), not a collapsed single command.


POLICY_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".html", ".htm", ".xhtml")
OUTPUTS = ("table", "json")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in POLICY_SUFFIXES)
    if path.is_file():
        return [path]
    raise PiguardError(
        "not_found",
        f"No such file or folder: {path}.",
        f"文件或目录不存在：{path}。",
        fields=[FieldError("path", "does not exist")],
        http_status=404,
        exit_code=2,
    )


def _excerpt(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _table(report: LintReport, title: str) -> Table:
    table = Table(title=escape(title), expand=False)
    table.add_column("item / 项目", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("ids / 依据")
    table.add_column("evidence / 原文 (offsets)")
    for r in report.items:
        mark = "[green]yes 有[/]" if r.present else "[red]no 无[/]"
        ev = r.evidence[0] if r.evidence else None
        table.add_row(
            f"{r.item.id}\n[dim]{escape(r.item.title_zh)}[/]",
            mark,
            escape(" ".join(r.item.articles)),
            f"[dim]{ev.start}-{ev.end}[/] {escape(_excerpt(ev.text))}" if ev else "",
        )
    return table


@app.command("lint")
@carries("O24-8", "O24-9.2", "O24-12", "CSL-41.1")
def lint(
    path: Path = typer.Argument(
        ..., help="A policy file (text, HTML, Markdown) or a folder of them / 政策文件或目录"
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json / 输出格式"),
    input_format: str = typer.Option(
        "auto", "--input-format", help="auto | text | html | markdown / 输入格式"
    ),
    fail_on_absent: bool = typer.Option(
        False,
        "--fail-on-absent",
        help="Exit 1 when any required disclosure is absent (CI gate) / 缺少任一必须告知的内容即以退出码 1 结束（CI 闸门）",
    ),
) -> None:
    """Check a privacy policy (or every policy in a folder) for each required disclosure. /
    检查隐私政策（或文件夹中的每份政策）是否包含各项必须告知的内容。

    For each of the sixteen items: present or absent, the evidence span (offsets are Python string
    indices into the file's decoded text) and the obligation ids. / 对十六项中的每一项：
    是否具备、证据片段（偏移量为解码后文本的 Python 字符串下标）及义务编号。
    """
    if fmt not in OUTPUTS:
        raise validation_error([FieldError("format", f"one of {', '.join(OUTPUTS)}")])
    try:
        _lint(path, fmt, input_format, fail_on_absent)
    except PiguardError as err:  # rendered here so that --format json gets a JSON error on stderr
        render_error(err, as_json=fmt == "json")
        raise typer.Exit(err.exit_code) from None


def _lint(path: Path, fmt: str, input_format: str, fail_on_absent: bool) -> None:
    if input_format not in FORMATS:
        raise validation_error([FieldError("input-format", f"one of {', '.join(FORMATS)}")])
    batch = path.is_dir()
    files = _files(path)
    if not batch:
        report = lint_file(files[0], input_format)
        if fmt == "json":
            sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        else:
            out = Console(highlight=False)
            out.print(_table(report, f"{files[0]} ({report.input_format})"))
            present = len(report.items) - len(report.missing)
            out.print(f"{present}/{len(report.items)} present / 已告知")
        if fail_on_absent and report.missing:
            raise typer.Exit(1)
        return
    _batch(path, files, fmt, input_format, fail_on_absent)


def _batch(root: Path, files: list[Path], fmt: str, input_format: str, fail_on_absent: bool) -> None:
    err = Console(stderr=True, highlight=False)
    present: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    errors = 0
    complete = 0
    progress = Progress(
        TextColumn("lint / 检查"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    with progress:
        task = progress.add_task("lint", total=len(files))
        for f in files:
            name = str(f.relative_to(root))
            try:
                report = lint_file(f, input_format)
            except PiguardError as exc:
                errors += 1
                rows.append({"file": name, **exc.to_dict()})
            else:
                for r in report.items:
                    if r.present:
                        present[r.item.id] += 1
                complete += 0 if report.missing else 1
                rows.append({"file": name, "missing": list(report.missing), **report.to_dict()})
            progress.advance(task)
    linted = len(files) - errors
    summary = {
        "files": len(files),
        "linted": linted,
        "errors": errors,
        "complete": complete,
        "present": {i.id: present[i.id] for i in ITEMS},
    }
    if fmt == "json":
        sys.stdout.write(json.dumps({"files": rows, "summary": summary}, ensure_ascii=False, indent=2) + "\n")
    else:
        out = Console(highlight=False)
        table = Table(title=escape(f"{root}: {linted} policies / 份政策"))
        table.add_column("item / 项目")
        table.add_column("ids / 依据")
        table.add_column("present / 已告知", justify="right")
        table.add_column("absent / 未告知", justify="right")
        for i in ITEMS:
            table.add_row(
                f"{i.id} [dim]{escape(i.title_zh)}[/]",
                escape(", ".join(i.articles)),
                str(present[i.id]),
                str(linted - present[i.id]),
            )
        out.print(table)
        for row in rows:
            if "error" in row:
                e = row["error"]
                out.print(
                    f"[red]error[/] {escape(row['file'])}: {escape(e['code'])}: "
                    f"{escape(e['message']['en'])} / {escape(e['message']['zh'])}"
                )
        out.print(
            f"{complete}/{linted} complete (every item present) / 全部告知; {errors} unreadable / 无法读取"
        )
    if fail_on_absent and (complete < len(files)):
        raise typer.Exit(1)
