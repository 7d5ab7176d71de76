"""Self-inspection (O24-16), findings, exposure (O24-22) and the evidence bundle (O24-17). / 自查、问题整改、风险视图与证据包。

``piguard oversight inspect`` runs the yearly (or on-demand) self-inspection and writes its report
(``--html``, ``--pdf``, ``--json``; ``--lang zh|en``); ``findings`` lists what it found, ``close``
closes one with evidence, ``update`` names an owner or moves a due date; ``exposure`` maps open gaps
to penalty articles; ``evidence --out bundle.zip`` builds the inspectors' bundle. Changes are audited
with the local operating-system user as the actor; errors come out in the one error shape.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from piguard.audit.service import Actor
from piguard.core import db
from piguard.core.errors import invalid_field

app = typer.Typer(
    help="Self-inspection (O24-16), findings, exposure (O24-22) and the evidence bundle (O24-17). / 自查、问题整改、风险视图与证据包。",
    no_args_is_help=True,
)

Fmt = Annotated[str, typer.Option("--format", help="table or json / 输出格式")]
Year = Annotated[
    str | None,
    typer.Option(
        "--year", help="The year inspected (default: this year, to date) / 自查年度（默认今年至今）"
    ),
]
Lang = Annotated[str, typer.Option("--lang", help="zh or en / 语言：中文或英文")]


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return Actor.system(f"cli:{user}"[:100])


def _fmt(fmt: str) -> str:
    if fmt not in ("table", "json"):
        raise invalid_field("format", "table or json", "须为 table 或 json")
    return fmt


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise invalid_field(str(path)[:60], f"cannot be written ({exc.strerror})", "无法写入") from None


@app.command("inspect")
def inspect_cmd(
    year: Year = None,
    lang: Lang = "zh",
    html: Annotated[
        Path | None, typer.Option(help="Write the report as HTML here / 将报告以 HTML 写入此处")
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option(help="Write the report as PDF here / 将报告以 PDF 写入此处")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON here / 将报告以 JSON 写入此处")
    ] = None,
    fmt: Fmt = "table",
) -> None:
    """Run the self-inspection: measure, raise or refresh findings, store the run. /
    执行自查：测量各项指标，提出或更新问题，并保存本次结果。"""
    from piguard.oversight import inspection, inspection_report

    _fmt(fmt)
    inspection_report.check_lang(lang)
    with db.unit_of_work() as session:
        run = inspection.inspect(session, year=year, actor=_actor())
        rep = inspection.report(session, run)
        # written before the run commits: a file that cannot be written leaves no run behind
        if html:
            _write(html, inspection_report.inspection_html(rep, lang).encode("utf-8"))
        if pdf:
            _write(pdf, inspection_report.inspection_pdf(rep, lang))
        if json_out:
            _write(json_out, json.dumps(rep, ensure_ascii=False, indent=2, default=str).encode("utf-8"))
    if fmt == "json":
        _echo_json(rep)
        return
    c = rep["matrix_counts"]
    typer.echo(
        f"self-inspection {rep['year']} (run {rep['run']}, {rep['period']['from']} – {rep['period']['to']}): "
        f"matrix {c['built']} built / {c['partial']} partial / {c['not_yet']} not yet; "
        f"{rep['findings_open']} open finding(s) ({rep['findings_opened']} new, {rep['findings_kept']} kept)"
        + ("" if rep["has_data"] else "; no data in the database / 数据库中尚无数据")
    )


@app.command("findings")
def findings_cmd(
    status: Annotated[str | None, typer.Option(help="open or closed / 状态：未关闭或已关闭")] = None,
    fmt: Fmt = "table",
) -> None:
    """Findings of the self-inspection with owner, due date and state. / 自查发现的问题及其负责人、整改期限与状态。"""
    from piguard.oversight import inspection

    _fmt(fmt)
    with db.unit_of_work() as session:
        rows = [inspection.finding_dict(f) for f in inspection.list_findings(session, status=status)]
    if fmt == "json":
        _echo_json({"findings": rows})
        return
    table = Table("id", "status", "severity", "obligations", "finding", "owner", "due")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["status"],
            r["severity"],
            ",".join(r["obligations"]),
            r["title"]["en"],
            r["owner"],
            r["due_date"] + (" (overdue)" if r["overdue"] else ""),
        )
    Console(highlight=False, width=200).print(table)


@app.command("close")
def close_cmd(
    finding: Annotated[str, typer.Argument(help="The finding's id / 问题编号")],
    evidence: Annotated[
        str, typer.Option(help="What shows the risk was removed (required) / 风险已消除的证据（必填）")
    ] = "",
    note: Annotated[str, typer.Option(help="What was done / 所采取的措施")] = "",
) -> None:
    """Close a finding with evidence (a finding closes once). / 凭证据关闭问题（每个问题只关闭一次）。"""
    from piguard.oversight import inspection

    with db.unit_of_work() as session:
        f = inspection.close_finding(session, finding, evidence=evidence, note=note, actor=_actor())
        typer.echo(f"closed finding {f.id} ({f.key})")


@app.command("update")
def update_cmd(
    finding: Annotated[str, typer.Argument(help="The finding's id / 问题编号")],
    owner: Annotated[str | None, typer.Option(help="Who removes it / 整改负责人")] = None,
    due: Annotated[str | None, typer.Option(help="New due date (ISO) / 新的整改期限")] = None,
    severity: Annotated[str | None, typer.Option(help="low, medium or high / 严重程度：低、中、高")] = None,
) -> None:
    """Name a finding's owner, move its due date or change its severity. / 指定问题负责人、调整整改期限或严重程度。"""
    from piguard.oversight import inspection

    with db.unit_of_work() as session:
        f = inspection.update_finding(
            session, finding, owner=owner, due_date=due, severity=severity, actor=_actor()
        )
        typer.echo(f"finding {f.id}: owner {f.owner}, due {f.due_date.isoformat()}, severity {f.severity}")


@app.command("exposure")
def exposure_cmd(fmt: Fmt = "table") -> None:
    """Open gaps mapped to the penalty article and its fine range (dated parameters). /
    未整改问题对应的罚则条款与罚款幅度（法定参数）。"""
    from piguard.oversight import exposure

    _fmt(fmt)
    with db.unit_of_work() as session:
        data = exposure.exposure(session)
    if fmt == "json":
        _echo_json(data)
        return
    table = Table("penalty", "fine (yuan)", "gaps", "obligations")
    for a in data["articles"]:
        lo, hi = a["fine_min_yuan"], a["fine_max_yuan"]
        fine = "—" if hi is None else (f"≤ {hi:,}" if lo is None else f"{lo:,} – {hi:,}")
        table.add_row(a["penalty"] or "(none named)", fine, str(len(a["gaps"])), ", ".join(a["obligations"]))
    Console(highlight=False, width=200).print(table)
    once = data["fines_if_each_article_applied_once"]
    typer.echo(
        f"{data['gaps']} open gap(s) on {data['on']}; if each fined article were applied once: "
        f"{once['min_yuan']:,} – {once['max_yuan']:,} yuan"
    )


@app.command("evidence")
def evidence_cmd(
    out: Annotated[Path, typer.Option("--out", help="The zip to write / 输出的 zip 文件")],
    year: Year = None,
    run: Annotated[
        str | None,
        typer.Option(
            help="Self-inspection run to include (default: latest of the year) / 包含的自查记录（默认当年最新一次）"
        ),
    ] = None,
) -> None:
    """Build the evidence bundle for inspectors (one zip, SHA-256 manifest, offline audit check). /
    为检查人员生成证据包（单个 zip、SHA-256 清单、可离线校验审计日志）。"""
    from piguard.oversight import evidence

    with db.unit_of_work() as session:
        bundle = evidence.build_evidence_bundle(session, year=year, run_id=run, actor=_actor())
        _write(out, bundle.data)  # before the export's audit entry commits
    audit = bundle.manifest["audit"]
    typer.echo(
        f"wrote {out} ({len(bundle.data):,} bytes, {len(bundle.manifest['files']) + 2} files, sha256 {bundle.sha256}); "
        f"audit seq {audit['first_seq']}-{audit['last_seq']}: check with `python3 audit/verify_audit.py`"
    )
