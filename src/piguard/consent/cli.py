"""`piguard consent …`: record, list and withdraw consents, and ask the use decision (``may``) and
the sharing decision (``may-share``, CSL-42.1).

The subject is ``kind:value`` (``phone:138…``, ``email:…``, ``account:…``, ``id_card:…``) or
``ref:<hash>``; ``-`` reads it from the first line of stdin so it stays out of the shell history.
Every change is audited with the local operating-system user as the actor (``system``/``cli:<user>``).
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from piguard.audit.service import Actor
from piguard.consent import service
from piguard.consent.models import CHANNELS
from piguard.core import db
from piguard.core.reasons import Decision

app = typer.Typer(
    help="Consent ledger and use decisions (O24-9.1, CSL-41). / 同意记录与使用决定。",
    no_args_is_help=True,
)

SubjectArg = Annotated[
    str, typer.Argument(help="kind:value, ref:<hash>, or - to read it from stdin / 用户标识")
]
TextOpt = Annotated[str, typer.Option("--text", help="The text the user saw / 向用户展示的文本")]
ChannelOpt = Annotated[
    str, typer.Option("--channel", help=f"How the user answered: {', '.join(CHANNELS)} / 用户作出表示的渠道")
]
TerminalOpt = Annotated[str, typer.Option("--terminal", help="Where the answer came from / 终端")]
RulesVersionOpt = Annotated[
    int | None,
    typer.Option(
        "--rules-version",
        min=1,
        help="Published rules version (default: the current) / 规则版本（默认当前版本）",
    ),
]
Fmt = Annotated[str, typer.Option("--format", help="table or json / 输出格式")]


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return Actor.system(f"cli:{user}"[:100])


def _subject(value: str) -> str:
    return sys.stdin.readline().strip() if value == "-" else value


def _evidence(channel: str, text: str, terminal: str, version: str | None = None) -> service.EvidenceIn:
    return service.EvidenceIn(channel=channel, text_shown=text, text_version=version, terminal=terminal)


def _print(data: Any, fmt: str) -> bool:
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return True
    return False


@app.command()
def grant(
    subject: SubjectArg,
    purpose: Annotated[str, typer.Argument(help="A declared purpose id / 已声明的目的编号")],
    text: TextOpt,
    channel: ChannelOpt = "counter",
    terminal: TerminalOpt = "cli",
    rules_version: RulesVersionOpt = None,
    fmt: Fmt = "table",
) -> None:
    """Record a user's consent to a purpose, with the text they saw. / 记录用户对某目的的同意。"""
    with db.unit_of_work() as session:
        e = service.grant(
            session,
            _subject(subject),
            purpose,
            _evidence(channel, text, terminal),
            actor=_actor(),
            rules_version=rules_version,
        )
        out = {"id": e.id, "event": e.event, "purpose": e.purpose_id, "rules_version": e.rules_version}
    if not _print(out, fmt):
        Console(highlight=False).print(
            f"granted / 已记录同意: {escape(purpose)} (rules version {out['rules_version']}), event {out['id']}"
        )


@app.command()
def withdraw(
    subject: SubjectArg,
    target: Annotated[
        str,
        typer.Argument(
            help="A purpose id, or an entry ref from `list` (sms:17) / 目的编号或 `list` 中的记录编号"
        ),
    ],
    text: TextOpt = "用户撤回同意 / the user withdrew consent",
    channel: ChannelOpt = "counter",
    terminal: TerminalOpt = "cli",
    fmt: Fmt = "table",
) -> None:
    """Withdraw a consent, whichever ledger holds it. / 撤回同意（目的同意或短信订阅）。"""
    with db.unit_of_work() as session:
        entries = service.withdraw(
            session, _subject(subject), target, _evidence(channel, text, terminal), actor=_actor()
        )
        out = [e.to_dict() for e in entries]
    if not _print(out, fmt):
        for e in out:
            Console(highlight=False).print(f"withdrawn / 已撤回: {escape(e['ref'])} -> {e['status']}")


@app.command("list")
def list_(subject: SubjectArg, fmt: Fmt = "table") -> None:
    """Every consent of one person: purposes and SMS subscriptions. / 列出某用户的全部同意。"""
    with db.unit_of_work() as session:
        ledger = service.list_for_subject(session, _subject(subject))
        service.record_listing(session, _actor(), ledger, via="cli")
        data = ledger.to_dict()
    if _print(data, fmt):
        return
    table = Table(title=f"{data['subject']['masked']} · rules version {data['rules_version']}")
    for col in ("ref", "status", "scope", "since", "until", "rules", "channel", "text shown"):
        table.add_column(col)
    for e in data["entries"]:
        ev = e["evidence"]
        table.add_row(
            escape(e["ref"]),
            e["status"],
            escape(e["scope"]),
            (e["since"] or "")[:16],
            (e["until"] or "")[:16],
            str(e["rules_version"] or ""),
            escape(ev["channel"] or ""),
            escape((ev["text_shown"] or "")[:60]),
        )
    Console(highlight=False).print(table)
    if not data["entries"]:
        Console(highlight=False).print("no consents recorded / 没有同意记录")


@app.command()
def may(
    subject: SubjectArg,
    purpose: Annotated[str, typer.Argument(help="The purpose of the use / 使用目的")],
    category: Annotated[
        list[str] | None,
        typer.Option("--category", "-c", help="PI category used (repeatable) / 使用的个人信息类别（可重复）"),
    ] = None,
    fmt: Fmt = "table",
) -> None:
    """May this use go ahead? Exit 0 allowed, 1 refused. / 是否允许此次使用？"""
    with db.unit_of_work() as session:
        d = service.may(session, _actor(), _subject(subject), category or [], purpose)
    if not _print(d.to_dict(), fmt):
        _print_decision(d)
    raise typer.Exit(0 if d.allowed else 1)


def _print_decision(d: Decision) -> None:
    c = Console(highlight=False)
    c.print(f"{'ALLOW / 允许' if d.allowed else 'REFUSE / 拒绝'}")
    for r in d.reasons:
        c.print(f"  {r.code} [{', '.join(r.obligations)}]: {escape(r.message_zh)} / {escape(r.message_en)}")


def _k_report(path: Path | None, qi: str | None, k: int | None) -> Any:
    """The k-anonymity check of the de-identified table FILE (discovery's, as `piguard mask kcheck`)."""
    from piguard.core.errors import FieldError, validation_error

    if path is None:
        if qi is not None or k is not None:
            raise validation_error(
                [FieldError("k_table", "--qi and --k go with --k-table / 须同时提供 --k-table")]
            )
        return None
    if qi is None or k is None:
        raise validation_error(
            [FieldError("k_table", "--k-table needs --qi and --k / 须同时提供 --qi 和 --k")]
        )
    if not path.is_file():
        raise validation_error([FieldError("k_table", f"{path} is not a file / 文件不存在")])
    from piguard.discovery.kanon import check_k_anonymity
    from piguard.discovery.scanners import read_table_file, rows_as_dicts

    header, rows = read_table_file(path)
    return check_k_anonymity(rows_as_dicts(header, rows), [c.strip() for c in qi.split(",") if c.strip()], k)


@app.command("may-share")
def may_share(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The recipient's id in the sharing register / 第三方提供登记中的接收方编号"
        ),
    ],
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose of the provision / 提供目的")],
    subject: Annotated[
        str | None,
        typer.Argument(
            help="kind:value, ref:<hash>, - for stdin; omit only for a de-identified data set / 用户标识（仅去标识化数据集可省略）"
        ),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category", "-c", help="PI category provided (repeatable) / 提供的个人信息类别（可重复）"
        ),
    ] = None,
    deidentified: Annotated[
        str | None,
        typer.Option(
            "--deidentified",
            help="The de-identification applied (redact; generalise with --k-table) / 已采用的去标识化方法",
        ),
    ] = None,
    k_table: Annotated[
        Path | None,
        typer.Option(
            "--k-table", help="The de-identified table (CSV, TSV, Excel) to check / 待检查的去标识化表格"
        ),
    ] = None,
    qi: Annotated[
        str | None,
        typer.Option("--qi", help="Its quasi-identifier columns, comma-separated / 其准标识符列（逗号分隔）"),
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", help="Smallest allowed group size / 允许的最小组规模（k 值）")
    ] = None,
    fmt: Fmt = "table",
) -> None:
    """May this information be provided to a third party (CSL-42.1)? Exit 0 allowed, 1 refused. /
    是否允许向第三方提供？"""
    report = _k_report(k_table, qi, k)
    with db.unit_of_work() as session:
        d = service.may_share(
            session,
            _subject(subject) if subject is not None else None,
            to,
            purpose,
            category or [],
            deidentified=deidentified is not None,
            method=deidentified,
            k_anonymity=report,
            actor=_actor(),
            terminal="cli",
        )
    if not _print(d.to_dict(), fmt):
        _print_decision(d)
    raise typer.Exit(0 if d.allowed else 1)


@app.command("accept-rules")
def accept_rules(
    subject: SubjectArg,
    text: TextOpt,
    channel: ChannelOpt = "counter",
    terminal: TerminalOpt = "cli",
    rules_version: RulesVersionOpt = None,
) -> None:
    """The user accepts the published rules (all required purposes). / 用户接受个人信息收集使用规则。"""
    with db.unit_of_work() as session:
        events = service.accept_rules(
            session,
            _subject(subject),
            _evidence(channel, text, terminal),
            actor=_actor(),
            rules_version=rules_version,
        )
        n = len(events) - 1
    Console(highlight=False).print(f"rules accepted / 已接受规则: {n} required purposes")


@app.command()
def purposes(fmt: Fmt = "table") -> None:
    """Declared purposes, required or optional. / 已声明的目的。"""
    with db.unit_of_work() as session:
        rows: list[dict[str, Any]] = [
            {"id": p.id, "required": p.required, "categories": sorted(p.categories or [])}
            for p in service.purposes(session).values()
        ]
    if _print(rows, fmt):
        return
    table = Table()
    for col in ("purpose", "required / 必要", "categories"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], "yes / 是" if r["required"] else "no / 否", ", ".join(r["categories"]))
    Console(highlight=False).print(table)
