"""`piguard mask`: de-identify text, files and tables; check k-anonymity before sharing (CSL-42.1)."""

from __future__ import annotations

import itertools
import json
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from piguard.core.errors import FieldError, validation_error
from piguard.discovery import ner as ner_tier
from piguard.discovery.categories import check_categories
from piguard.discovery.deid import Method, deidentify_cell, deidentify_text, parse_method
from piguard.discovery.kanon import check_k_anonymity
from piguard.discovery.scanners import _read_text, iter_files, read_table_file, rows_as_dicts, to_csv_line
from piguard.discovery.textio import BinaryFile
from piguard.regulations.markers import carries

app = typer.Typer(
    help="De-identify personal information; k-anonymity check. / 个人信息去标识化。", no_args_is_help=True
)

METHOD_HELP = (
    "mask (138****5678) | redact ([phone_mobile]) | pseudonymise (keyed HMAC) | generalise (year, city) "
    "/ 掩码、替换为类别标记、假名化（带密钥 HMAC）、泛化（年份、城市）"
)
NER_HELP = (
    "Also de-identify the names and places the NER tier finds in free text (slower; needs "
    "piguard[ner]) / 同时对命名实体识别层发现的姓名和地点去标识化"
)


def _ner(on: bool) -> AbstractContextManager[object]:
    """The NER tier for the block when asked: loaded here, before any output is written, so a
    missing extra is one clear error (``ner_unavailable``, exit 2) and no half-masked file."""
    return ner_tier.enabled() if on else nullcontext()


@app.command("text")
@carries("O24-10", "O24-13.3")
def mask_text(
    text: str = typer.Argument(
        ..., help='Text to de-identify ("-" = read stdin) / 要去标识化的文本（"-" 为读取标准输入）'
    ),
    method: str = typer.Option("mask", "--method", "-m", help=METHOD_HELP),
    categories: str = typer.Option(None, "--categories", "-c", help="Only these categories / 仅这些类别"),
    ner: bool = typer.Option(False, "--ner", help=NER_HELP),
) -> None:
    """De-identify a text and print it. / 对文本去标识化并输出。"""
    m = parse_method(method)
    cats = check_categories(categories) if categories else None
    with _ner(ner):
        source = sys.stdin.read() if text == "-" else text
        masked = deidentify_text(source, m, cats).text
    sys.stdout.write(masked + ("" if source.endswith("\n") else "\n"))


@app.command("file")
@carries("O24-10", "O24-13.3")
def mask_files(
    paths: list[Path] = typer.Argument(..., help="Text files or folders / 文本文件或目录"),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Output folder (created), or a file for one input / 输出目录（自动创建），单个输入时可为文件",
    ),
    method: str = typer.Option("mask", "--method", "-m", help=METHOD_HELP),
    categories: str = typer.Option(None, "--categories", "-c", help="Only these categories / 仅这些类别"),
    ner: bool = typer.Option(False, "--ner", help=NER_HELP),
) -> None:
    """De-identify text files line by line (CSV/TSV/Excel: use `piguard mask table`). /
    逐行对文本文件去标识化（表格请用 `piguard mask table`）。"""
    m = parse_method(method)
    cats = check_categories(categories) if categories else None
    pairs = _targets(paths, out)
    with _ner(ner):
        _mask_files(pairs, m, cats)


def _out_error(message_en: str, message_zh: str) -> Exception:
    return validation_error(
        [FieldError("out", f"{message_en} / {message_zh}")],
        f"Nothing was written: {message_en}.",
        f"未写入任何内容：{message_zh}。",
    )


def _targets(paths: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """Each input file with the file its de-identified copy goes to. A folder's files keep their
    place under ``out`` (two ``notes.txt`` in different folders never share one copy). Refused
    before anything is written: an output that is an input (``--out`` the input folder wrote the
    copies over the originals), an output folder inside an input folder (the next run would read
    its own output), two inputs with one output."""
    files = iter_files(paths)
    if len(files) == 1 and not paths[0].is_dir() and (out.is_file() or (not out.is_dir() and out.suffix)):
        pairs = [(files[0], out)]
    else:
        pairs = []
        for p in paths:
            if p.is_dir():
                pairs += [(f, out / f.relative_to(p)) for f in iter_files([p])]
            else:
                pairs.append((p, out / p.name))
    out_abs = out.resolve()
    for p in paths:
        if p.is_dir() and out_abs.is_relative_to(p.resolve()):
            raise _out_error(
                f"the output folder {out} is inside the input folder {p}; choose a folder outside it",
                f"输出目录 {out} 位于输入目录 {p} 之内，请另选目录",
            )
    inputs = {f.resolve(): f for f, _ in pairs}
    seen: dict[Path, Path] = {}
    for f, target in pairs:
        where = target.resolve()
        if where in inputs:
            raise _out_error(
                f"{target} would overwrite the input {inputs[where]}",
                f"{target} 会覆盖输入文件 {inputs[where]}",
            )
        if where in seen:
            raise _out_error(
                f"{seen[where]} and {f} would both be written to {target}",
                f"{seen[where]} 与 {f} 会写入同一文件 {target}",
            )
        seen[where] = f
    return pairs


def _mask_files(pairs: list[tuple[Path, Path]], m: Method, cats: frozenset[str] | None) -> None:
    n = 0
    err = Console(stderr=True)
    skipped = 0
    for f, target in pairs:
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = _read_text(f)
        try:
            first = next(lines, None)
        except BinaryFile as e:  # never write a "de-identified" copy of a file that is no text
            skipped += 1
            err.print(
                f"skipped / 已跳过 {f}: binary file ({e.why_en}) / 二进制文件（{e.why_zh}），未处理",
                highlight=False,
            )
            continue
        with target.open("w", encoding="utf-8") as fh:
            for line in [] if first is None else itertools.chain([first], lines):
                res = deidentify_text(line, m, cats)
                n += len(res.findings)
                fh.write(res.text + "\n")
    err.print(
        f"{len(pairs) - skipped} file(s), {n} value(s) de-identified ({m.value}) / 已去标识化",
        highlight=False,
    )
    if skipped:
        raise typer.Exit(1)


def _column_methods(specs: list[str]) -> dict[str, Method | None]:
    out: dict[str, Method | None] = {}
    for s in specs:
        col, sep, meth = s.partition("=")
        if not sep or not col:
            raise validation_error([FieldError("column", f"{s!r}: expected COLUMN=METHOD or COLUMN=keep")])
        out[col] = None if meth == "keep" else parse_method(meth)
    return out


@app.command("table")
@carries("O24-10", "O24-13.3", "CSL-42.1")
def mask_table(
    path: Path = typer.Argument(..., help="CSV, TSV or Excel file / CSV、TSV 或 Excel 文件"),
    out: Path = typer.Option(..., "--out", "-o", help="Output CSV/TSV file / 输出的 CSV/TSV 文件"),
    method: str = typer.Option("mask", "--method", "-m", help=METHOD_HELP),
    column: list[str] = typer.Option(
        None,
        "--column",
        help="Per-column method: COLUMN=METHOD or COLUMN=keep / 按列指定方法（keep 为保留原值）",
    ),
    categories: str = typer.Option(None, "--categories", "-c", help="Only these categories / 仅这些类别"),
    ner: bool = typer.Option(False, "--ner", help=NER_HELP),
) -> None:
    """De-identify every cell of a table (each read with its column name as context). /
    对表格的每个单元格去标识化（结合其列名判断）。"""
    if not path.is_file():
        raise validation_error(
            [FieldError("path", f"{path} is not a file")], "File not found.", "文件不存在。"
        )
    if out.resolve() == path.resolve():  # opening it for writing would empty the table first
        raise _out_error(f"{out} is the input table", f"{out} 就是输入的表格")
    default = parse_method(method)
    per_col = _column_methods(column or [])
    cats = check_categories(categories) if categories else None
    header, rows = read_table_file(path)
    unknown = sorted(set(per_col) - set(header))
    if unknown:
        raise validation_error([FieldError("column", f"no column {c!r}") for c in unknown])
    delim = "\t" if out.suffix.lower() == ".tsv" else ","
    n = 0
    with _ner(ner), out.open("w", encoding="utf-8", newline="") as fh:
        fh.write(to_csv_line(header, delim))
        for row in rows:
            cells = []
            for h, v in zip(header, row, strict=False):
                meth = per_col.get(h, default)
                cells.append(
                    v
                    if meth is None
                    else deidentify_cell(
                        v if isinstance(v, str) or v is None else str(v), h, meth, categories=cats
                    )
                )
            fh.write(to_csv_line(cells, delim))
            n += 1
    Console(stderr=True).print(f"{n} row(s) written to {out} / 已写入", highlight=False)


@app.command("kcheck")
@carries("CSL-42.1")
def kcheck(
    path: Path = typer.Argument(
        ..., help="CSV, TSV or Excel file (already de-identified) / 已去标识化的 CSV、TSV 或 Excel 文件"
    ),
    qi: str = typer.Option(
        ...,
        "--qi",
        help="Quasi-identifier columns, comma-separated (e.g. age,city,gender) / 准标识符列（逗号分隔）",
    ),
    k: int = typer.Option(..., "--k", help="Smallest allowed group size / 允许的最小组规模（k 值）"),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json / 输出格式"),
    max_rows: int = typer.Option(50, "--max-rows", help="Failing rows to list / 列出的不满足行数上限"),
) -> None:
    """k-anonymity: every combination of the quasi-identifiers must be shared by at least k rows. /
    k-匿名检查：准标识符的每种取值组合须至少由 k 行共有。

    Exit 0 when the table passes, 1 when some rows could be re-identified (they are listed).
    / 表格通过时退出码为 0；存在可被重新识别的行时为 1（并列出这些行）。
    """
    if not path.is_file():
        raise validation_error(
            [FieldError("path", f"{path} is not a file")], "File not found.", "文件不存在。"
        )
    if fmt not in ("table", "json"):
        raise validation_error([FieldError("format", "table or json")])
    header, rows = read_table_file(path)
    columns = [c.strip() for c in qi.split(",") if c.strip()]
    report = check_k_anonymity(rows_as_dicts(header, rows), columns, k)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_dict(max_rows), ensure_ascii=False, indent=2) + "\n")
    else:
        con = Console()
        verdict = "[green]PASS 通过[/]" if report.satisfied else "[red]FAIL 未通过[/]"
        con.print(f"k-anonymity (CSL-42.1) k={k} on {', '.join(columns)}: {verdict}")
        con.print(
            f"rows {report.rows}, groups {report.classes}, smallest group {report.smallest_class}, "
            f"failing rows {len(report.failing_rows)} in {report.failing_classes} groups",
            highlight=False,
        )
        if report.failing_rows:
            t = Table(title="Rows that fail (data row numbers, 1 = first row after the header) / 未通过的行")
            t.add_column("row")
            for c in columns:
                t.add_column(c)
            header2, rows2 = read_table_file(path)
            wanted = set(report.failing_rows[:max_rows])
            for i, row in enumerate(rows_as_dicts(header2, rows2)):
                if i in wanted:
                    t.add_row(str(i + 1), *[str(row.get(c, "")) for c in columns])
            con.print(t)
    if not report.satisfied:
        raise typer.Exit(1)
