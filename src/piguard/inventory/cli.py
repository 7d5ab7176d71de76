"""``piguard inventory import|export|check|sharing|propose|publish|versions|rules|diff``: the inventory kept
as YAML in the operator's git, the minimisation check and the published rules (O24-5, O24-8,
O24-9.3). Audited as ``system:cli``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

from piguard.audit.service import Actor
from piguard.core.db import unit_of_work
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.inventory import rules, service
from piguard.inventory.document import decode

app = typer.Typer(
    help="Inventory of personal information and the published rules (O24-5, O24-8). 个人信息清单与收集使用规则。",
    no_args_is_help=True,
)
_CLI = Actor.system("cli")


def _emit(obj: object) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise validation_error(
            [FieldError("file", f"{path}: {exc.strerror or type(exc).__name__}")],
            f"Cannot read {path}.",
            f"无法读取 {path}。",
        ) from None
    return decode(data, path.name)


@app.command("import")
def import_(file: Path = typer.Argument(..., help="inventory YAML file / 清单 YAML 文件")) -> None:
    """Replace the inventory by FILE, all or nothing (one transaction). /
    以 FILE 整体替换个人信息清单（单一事务：全部生效或全不生效）。"""
    text = _read(file)
    with unit_of_work() as session:
        summary = service.import_yaml(session, text, file.name, _CLI)
    _emit({"imported": file.name, **summary.to_dict()})


@app.command("export")
def export(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="file to write (stdout by default) / 输出文件（默认标准输出）"
    ),
) -> None:
    """Write the inventory as YAML (the shape `import` reads). / 以 YAML 导出清单（即 `import` 读取的格式）。"""
    with unit_of_work() as session:
        text = service.export_yaml(session) if service.has_inventory(session) else None
    if text is None:
        raise service.no_inventory()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@app.command("check")
def check(
    file: Path | None = typer.Argument(
        None, help="check this file instead of the stored inventory / 检查此文件而非已存储的清单"
    ),
    fmt: str = typer.Option("table", "--format", help="table or json / 输出格式"),
) -> None:
    """Minimisation check: fields without a purpose, categories a purpose does not need, missing
    retention, optional purposes the service requires anyway. Exit 1 when there are errors. /
    最小必要检查：无目的的字段、目的不需要的类别、缺少保存期限、被强制要求的可选目的。"""
    from piguard.inventory.document import parse

    if file is not None:
        report = service.check_doc(parse(_read(file), file.name))
    else:
        with unit_of_work() as session:
            report = service.check(session)
    if fmt == "json":
        _emit(report.to_dict())
    else:
        if not report.findings:
            typer.echo("ok: no findings / 未发现问题")
        for f in report.findings:
            typer.echo(
                f"{f.detail.get('severity', ''):8} {f.code:28} {','.join(f.obligations):18} {f.message_en}  {f.message_zh}"
            )
    if report.errors:
        raise typer.Exit(1)


@app.command("sharing")
def sharing(fmt: str = typer.Option("table", "--format", help="table or json / 输出格式")) -> None:
    """The third-party sharing register (CSL-42.1): each recipient, what it receives, for which
    purposes, where it is (outside China flagged) and its contact. /
    向第三方提供个人信息登记：接收方、所提供的信息、目的、所在地（境外标出）与联系方式。"""
    if fmt not in ("table", "json"):
        raise validation_error([FieldError("format", "table or json / 须为 table 或 json")])
    with unit_of_work() as session:
        if not service.has_inventory(session):
            raise service.no_inventory()
        register = [r.to_dict() for r in service.sharing_register(session)]
    if fmt == "json":
        _emit(register)
        return
    if not register:
        typer.echo("no third parties: nothing is provided to others / 未向任何第三方提供个人信息")
    for r in register:
        where = "OUTSIDE CHINA / 境外 (cross-border)" if r["cross_border"] else "in China / 境内"
        typer.echo(f"{r['id']}  {r['name']}  [{where}]  {r['contact'] or '-'}")
        for purpose, cats in r["by_purpose"].items():
            typer.echo(f"    {purpose}: {', '.join(cats)}")
        for f in r["fields"]:
            typer.echo(f"      {f['system']}.{f['table']}.{f['column']} ({', '.join(f['purposes'])})")
        if not r["fields"]:
            typer.echo("    receives no field / 未向其提供任何字段")


@app.command("propose")
def propose(
    db: str = typer.Option(..., "--db", help="SQLAlchemy URL of the database to scan / 要扫描的数据库 URL"),
    system: str = typer.Option("proposed", "--system", help="id for the proposed system / 建议的系统编号"),
    sample: int = typer.Option(1000, min=10, max=100_000, help="cells sampled per column / 每列抽样单元格数"),
    table: list[str] = typer.Option([], "--table", help="only these tables / 仅这些表"),
) -> None:
    """Scan a database with the discovery scanner and print proposed fields and categories as
    inventory YAML; add purposes, necessity and retention, then `import`. /
    用发现扫描器扫描数据库，输出建议的字段与类别（清单 YAML 草案）。"""
    proposal, evidence = service.propose_with_evidence(
        db, system_id=system, sample=sample, tables=table or None
    )
    typer.echo("# Proposed by `piguard inventory propose`: confirm the categories, then add purposes,")
    typer.echo(
        "# necessity and retention for each field. 由扫描生成：请确认类别并补充用途、必要性和保存期限。"
    )
    if evidence:
        typer.echo("# What the scan saw (share of sampled cells, confidence) / 扫描所见（抽样占比、置信度）:")
    for e in evidence:
        note = {
            "clear": "in clear / 明文",
            "masked": "masked, not a subject key / 已脱敏，不作主体标识",
            "partly_masked": "partly masked / 部分脱敏",
        }[e["status"]]
        typer.echo(
            f"#   {e['table']}.{e['column']}: {e['category']} {e['share']:.0%} of {e['sampled']} "
            f"sampled, confidence {e['confidence']:.2f}, {note}"
        )
    typer.echo(service.to_yaml(proposal), nl=False)


@app.command("publish")
def publish(
    effective: str | None = typer.Option(
        None, "--effective", help="effective date YYYY-MM-DD (today in China) / 生效日期（默认北京时间今天）"
    ),
) -> None:
    """Publish the rules generated from the inventory as the next version. / 将由清单生成的收集使用规则发布为新版本。"""
    day = None
    if effective:
        try:
            day = date.fromisoformat(effective)
        except ValueError:
            raise validation_error([FieldError("effective", "expected a date YYYY-MM-DD")]) from None
    with unit_of_work() as session:
        v = rules.publish(session, _CLI, effective=day)
        _emit(rules.version_dict(v))


@app.command("versions")
def versions() -> None:
    """Published rules versions, newest first. / 已发布的规则版本，最新在前。"""
    with unit_of_work() as session:
        for v in rules.versions(session):
            _emit(rules.version_dict(v))


@app.command("rules")
def show_rules(
    version: int | None = typer.Option(
        None, "--version", help="version number (the current by default) / 版本号（默认当前版本）"
    ),
    lang: str = typer.Option("zh", "--lang", help="zh or en / 语言：中文或英文"),
) -> None:
    """Print the published rules text (Markdown). / 输出已发布的规则文本（Markdown）。"""
    with unit_of_work() as session:
        v = rules.get_version(session, version) if version else service.current_rules_version(session)
        if v is None:
            raise PiguardError(
                "no_rules",
                "No rules have been published yet.",
                "尚未发布规则。",
                obligations=("O24-8",),
                http_status=404,
            )
        typer.echo(rules.text_of(v, lang), nl=False)


@app.command("diff")
def diff(
    old: int, new: int, lang: str = typer.Option("zh", "--lang", help="zh or en / 语言：中文或英文")
) -> None:
    """Unified diff between two published versions. / 两个已发布版本之间的差异。"""
    with unit_of_work() as session:
        for line in rules.diff_lines(session, old, new, lang):
            typer.echo(line)
