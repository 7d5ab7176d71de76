"""``piguard rules``: the obligations, their article texts, the dated parameters and the matrix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from piguard.core.cli_render import render_error
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.regulations import parameters as params
from piguard.regulations import service
from piguard.regulations.schemas import MatrixOut, ObligationDetail, ParameterOut

app = typer.Typer(
    help="Obligations, article texts, dated parameters and the rules matrix. / 义务、条文、法定参数与对照矩阵。",
    no_args_is_help=True,
)


class Format(StrEnum):
    table = "table"
    json = "json"


FORMAT_OPTION = typer.Option(Format.table, "--format", "-f", help="table or json / 输出格式")


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@contextmanager
def _errors(fmt: Format) -> Iterator[None]:
    """Turn a PiguardError into the one error shape on stderr and its exit code (no traceback)."""
    try:
        yield
    except PiguardError as err:
        render_error(err, fmt is Format.json)
        raise typer.Exit(err.exit_code) from None


def _parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise validation_error(
            [FieldError("--on", f"{text!r} is not a date (YYYY-MM-DD) / 不是有效日期（YYYY-MM-DD）")],
            "The date is not valid.",
            "日期无效。",
        ) from None


def _fmt_value(p: ParameterOut) -> str:
    if p.value is None:
        return "—"
    return f"{p.value:,}" if p.unit == "yuan" else str(p.value)


# --- list ------------------------------------------------------------------------------------


@app.command("list")
def list_rules(
    source: str | None = typer.Option(None, "--source", help="O24, O31, CSL, CRL, NPC or GC / 法规来源"),
    section: str | None = typer.Option(None, "--section", help="REQUIREMENTS.md section A..G / 章节"),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List the obligations (ids of REQUIREMENTS.md). / 列出全部义务。"""
    with _errors(fmt):
        found = service.obligations(source=source, section=section)
        if fmt is Format.json:
            _emit_json([service.summary(ob).model_dump(mode="json") for ob in found])
            return
        table = Table(title=f"Obligations / 义务 ({len(found)})", show_lines=False)
        for col in ("id", "§", "title / 标题", "penalty / 罚则"):
            table.add_column(col, overflow="fold")
        for ob in found:
            table.add_row(
                ob.id,
                ",".join(ob.sections),
                f"{escape(ob.title_zh)}\n{escape(ob.title_en)}",
                ob.penalty.id if ob.penalty else "",
            )
        _console().print(table)


# --- show ------------------------------------------------------------------------------------


def _print_detail(d: ObligationDetail) -> None:
    c = _console()
    where = f"Article {d.article}" + (f", paragraph {d.paragraph}" if d.paragraph else "")
    c.print(f"[bold]{d.id}[/]  {escape(d.title_zh)}")
    c.print(f"      {escape(d.title_en)}")
    c.print(f"[dim]{escape(d.source.name_zh)}[/]")
    c.print(f"[dim]{escape(d.source.name_en)} — {where} ({escape(d.source.file)})[/]")
    c.print(f"Sections / 章节: {', '.join(d.sections)}")
    c.print("\n[bold]Article text / 条文[/]")
    for line in (d.text_zh or d.text_en or "").splitlines():
        c.print(f"  {escape(line)}")
    c.print("\n[bold]Requirement / 要求[/]")
    for r in d.requirements:
        c.print(f"  [{r.section}] {escape(r.obligation)}")
        c.print(f"      → {escape(r.capability)}")
    c.print("\n[bold]What piguard does / piguard 的做法[/]")
    c.print(f"  {escape(d.piguard_does.en)}")
    c.print(f"  {escape(d.piguard_does.zh)}")
    c.print("\n[bold]Parameters / 参数[/]")
    if not d.parameters:
        c.print("  (none cite this obligation / 无)")
    for p in d.parameters:
        since = f" since {p.effective}" if p.effective else " (not in force)"
        c.print(f"  {p.name} = {_fmt_value(p)} {p.unit_label.en} / {p.unit_label.zh}{since}")
    c.print("\n[bold]Penalty / 罚则[/]")
    pen = d.penalty
    if pen is None:
        c.print("  (the sources here name no penalty article for it / 所收录法规未规定对应罚则)")
        return
    scope = (
        f" (paragraph {', '.join(map(str, pen.applies_to_paragraphs))} only)"
        if pen.applies_to_paragraphs
        else ""
    )
    c.print(f"  {pen.id}{scope}: {escape(pen.measures.en)}")
    c.print(f"  {escape(pen.measures.zh)}")
    if pen.fine_max_yuan is not None:
        names = ", ".join(pen.fine_parameters)
        if pen.fine_min_yuan is not None:
            c.print(f"  fine / 罚款: {pen.fine_min_yuan:,} – {pen.fine_max_yuan:,} yuan / 元  ({names})")
        else:
            c.print(f"  fine / 罚款: up to / 最高 {pen.fine_max_yuan:,} yuan / 元  ({names})")


@app.command("show")
def show(
    obligation_id: str = typer.Argument(
        ..., metavar="ID", help="Obligation id, e.g. O31-18.2 / 义务编号，如 O31-18.2"
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Show one obligation: article text, titles, what piguard does, parameters, penalty. / 显示一项义务。"""
    with _errors(fmt):
        detail = service.obligation_detail(obligation_id)
        if fmt is Format.json:
            _emit_json(detail.model_dump(mode="json"))
        else:
            _print_detail(detail)


# --- matrix ----------------------------------------------------------------------------------


def _print_matrix(m: MatrixOut) -> None:
    c = _console()
    colour = {"built": "green", "partial": "yellow", "not yet": "red"}
    table = Table(title="Rules matrix / 对照矩阵")
    for col in ("id", "status / 状态", "missing / 缺少", "code / 代码", "tests / 测试", "title / 标题"):
        table.add_column(col, overflow="fold")
    for r in m.rows:
        code = "\n".join(loc.location for loc in r.code[:3]) + (
            f"\n… +{len(r.code) - 3}" if len(r.code) > 3 else ""
        )
        tests = "?" if r.tests is None else str(len(r.tests))
        missing = "\n".join(f"{p.zh} / {p.en} ({', '.join(p.under)})" for p in r.missing)
        table.add_row(
            r.id,
            f"[{colour[r.status]}]{r.status}[/]",
            escape(missing),
            escape(code),
            tests,
            escape(r.title_zh),
        )
    c.print(table)
    n = m.counts
    c.print(
        f"built / 已实现 {n.built} · partial / 部分 {n.partial} · not yet / 未实现 {n.not_yet} (of {n.total})"
    )
    for note in m.notes:
        c.print(f"[yellow]note:[/] {escape(note)}")


@app.command("matrix")
def matrix(
    status: str | None = typer.Option(None, "--status", help='"built", "partial" or "not yet" / 按状态过滤'),
    src: Path | None = typer.Option(
        None,
        "--src",
        help="package directory to scan (default: piguard itself) / 要扫描的包目录（默认 piguard 本身）",
    ),
    tests: Path | None = typer.Option(
        None,
        "--tests",
        help="tests directory to scan (default: the checkout's tests/) / 要扫描的测试目录（默认检出目录的 tests/）",
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Obligation -> capability, code and tests, from @carries and pytest.mark.obligation markers. / 义务与能力、代码、测试的对照。

    Built only when every part of the capability REQUIREMENTS.md names exists (code under its
    package carries the id) and is tested; otherwise partial with the missing parts. /
    仅当能力所需的每一部分都已实现并经测试时才为 built，否则为 partial 并列出缺少的部分。

    Exits 1 when a marker names an unknown obligation id. / 标记引用了未知义务编号时退出码为 1。
    """
    with _errors(fmt):
        m = service.matrix(status=status, src_root=src, tests_root=tests)
        if fmt is Format.json:
            _emit_json(m.model_dump(mode="json"))
        else:
            _print_matrix(m)
        if m.errors:
            err = Console(stderr=True, highlight=False, soft_wrap=True)
            for e in m.errors:
                hint = f" (did you mean {e.suggestion}?)" if e.suggestion else ""
                err.print(f"[bold red]error[/] {escape(e.path)}:{e.line}: {escape(e.message)}{escape(hint)}")
            raise typer.Exit(1)


# --- params ----------------------------------------------------------------------------------


@app.command("params")
def params_command(
    name: str | None = typer.Argument(
        None, help="one parameter, with all its dated values / 单个参数及其各期数值"
    ),
    on: str | None = typer.Option(None, "--on", help="date YYYY-MM-DD (default: today in China) / 日期"),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """The dated regulatory parameters and the value in force. / 法定参数及其现行取值。"""
    with _errors(fmt):
        day = _parse_day(on)
        chosen = [params.parameter(name)] if name else params.all_parameters()
        out = [service.parameter_out(p, day) for p in chosen]
        if fmt is Format.json:
            data = [p.model_dump(mode="json") for p in out]
            _emit_json(data[0] if name else data)
            return
        c = _console()
        when = out[0].on.isoformat() if out else (day or params.today()).isoformat()
        table = Table(title=f"Parameters on {when} / {when} 的参数")
        for col in ("name / 名称", "value / 取值", "unit / 单位", "reference / 依据", "effective / 施行"):
            table.add_column(col, overflow="fold")
        for p in out:
            table.add_row(
                p.name,
                _fmt_value(p),
                f"{p.unit_label.en} / {p.unit_label.zh}",
                f"{p.reference.id}\n{escape(p.reference.article_zh)}",
                p.effective.isoformat() if p.effective else "not in force / 未施行",
            )
        c.print(table)
        if name:
            p = out[0]
            c.print(f"{escape(p.description.en)}\n{escape(p.description.zh)}")
            for v in p.values:
                c.print(f"  from {v.effective.isoformat()}: {v.value:,}")
