"""`piguard incidents …`: open an incident, scan what leaked, record remedial actions, assess its
severity, generate the report to the authority, notify the people affected, and carry out (and lift)
a suspension the authority ordered (O24-14, CSL-42.2, NPC-4).

Recipients are read from a file (one phone number or ``kind:value`` a line) or ``-`` (stdin), so
they stay out of the shell history; only their keyed hash and masked form are kept. Every change
is audited with the local operating-system user as the actor.
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

from piguard.audit.service import Actor
from piguard.core import db

app = typer.Typer(
    help="Incidents: leak, damage, loss or risk of it; report, notices, suspension (O24-14, CSL-42.2). "
    "/ 个人信息安全事件：补救、报告、告知、暂停。",
    no_args_is_help=True,
)

Fmt = Annotated[str, typer.Option("--format", "-f", help="table or json / 输出格式")]
Key = Annotated[str, typer.Argument(help="Incident id or reference / 事件编号")]


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return Actor.system(f"cli:{user}"[:100])


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _summary(d: dict[str, Any]) -> None:
    c = Console(highlight=False)
    sev = d["severity"]
    c.print(
        f"[bold]{escape(d['ref'])}[/] #{d['id']} {escape(d['incident_kind'])} · {d['status']} · {escape(d['title'])}"
    )
    c.print(f"discovered / 发现: {d['discovered_at']}  contained / 控制: {d['contained_at'] or '-'}")
    c.print(
        f"systems / 系统: {', '.join(d['systems']) or '-'}  categories / 类别: {', '.join(d['categories']) or '-'}"
    )
    flag = "SERIOUS: report without delay / 严重：应立即报告" if sev["serious"] else "not serious / 非严重"
    c.print(
        f"people / 人数: {d['people']} ({sev['people_basis']})  severity / 严重程度: {flag} {sev['obligations']}"
    )
    for r in sev["reasons"]:
        c.print(f"  - {escape(r['message']['zh'])} / {escape(r['message']['en'])}")
    for a in d.get("actions", []):
        c.print(
            f"action #{a['id']} [{'x' if a['done'] else ' '}] {escape(a['title'])} ({escape(a['owner'])})"
        )
    n = d["notices"]
    c.print(f"notices / 告知: {n['sent']} sent, {n['failed']} failed")
    for o in d["suspensions"]:
        c.print(f"suspension #{o['id']} {escape(o['order_ref'])}: {o['status']}")


@app.command("open")
def open_(
    kind: Annotated[
        str, typer.Option("--kind", help="leak, damage, loss or risk / 泄露、毁损、丢失或其风险")
    ],
    discovered: Annotated[
        str, typer.Option("--discovered", help="ISO date-time with offset / 发现时间（ISO 格式，含时区）")
    ],
    occurred: Annotated[
        str | None, typer.Option("--occurred", help="When it happened, if known (ISO) / 发生时间（如已知）")
    ] = None,
    contained: Annotated[
        str | None,
        typer.Option("--contained", help="When it was contained, if it is (ISO) / 控制时间（如已控制）"),
    ] = None,
    systems: Annotated[
        list[str] | None,
        typer.Option(
            "--systems", help="inventory system ids (comma or repeat) / 清单中的系统编号（逗号分隔或重复）"
        ),
    ] = None,
    categories: Annotated[
        list[str] | None,
        typer.Option("--categories", help="category codes (comma or repeat) / 类别代码（逗号分隔或重复）"),
    ] = None,
    people: Annotated[
        int | None,
        typer.Option("--people", help="people affected (count or estimate) / 受影响人数（实际或估计）"),
    ] = None,
    title: Annotated[str, typer.Option("--title", help="A short title / 简短标题")] = "",
    text: Annotated[str, typer.Option("--text", help="What happened / 事件经过")] = "",
    authority: Annotated[
        str, typer.Option("--authority", help="the telecom authority reported to / 所报告的电信管理机构")
    ] = "",
    owner: Annotated[
        str | None, typer.Option("--owner", help="Who handles it (username) / 承办人（用户名）")
    ] = None,
    fmt: Fmt = "table",
) -> None:
    """Open an incident case. / 登记个人信息安全事件。"""
    from piguard.cases import incidents

    with db.unit_of_work() as session:
        case = incidents.open_incident(
            session,
            kind=kind,
            discovered=discovered,
            occurred=occurred,
            contained=contained,
            systems=_split(systems),
            categories=_split(categories),
            people=people,
            title=title,
            text=text,
            authority=authority,
            owner=owner,
            actor=_actor(),
        )
        out = incidents.to_dict(session, *incidents.get(session, case.id), full=False)
    _echo(out) if fmt == "json" else _summary(out)


@app.command()
def show(key: Key, fmt: Fmt = "table") -> None:
    """An incident: timeline, actions, scans, severity, report, notices. / 查看事件。"""
    from piguard.cases import incidents

    with db.unit_of_work() as session:
        out = incidents.to_dict(session, *incidents.get(session, key))
    if fmt == "json":
        _echo(out)
        return
    _summary(out)
    c = Console(highlight=False)
    for e in out["timeline"]:
        c.print(f"  {e['at'][:19]} {e['kind']:<8} {escape(e['summary'])} {e['obligations']}")


@app.command()
def scan(
    key: Key,
    file: Annotated[
        Path | None, typer.Argument(help="the leaked file (csv, xlsx, json, jsonl, text) / 泄露的文件")
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(
            "--text", help="pasted text instead of a file ('-': stdin) / 粘贴的文本（'-' 为标准输入）"
        ),
    ] = None,
    fmt: Fmt = "table",
) -> None:
    """Scan what leaked: categories and counts, never the values. / 扫描泄露内容（仅保存类别与数量）。"""
    from piguard.cases import incidents

    if text == "-":
        text = sys.stdin.read()
    with db.unit_of_work() as session:
        case, _ = incidents.get(session, key)
        row = incidents.scan(session, case, path=file, text=text, actor=_actor())
        out = incidents.scan_dict(row)
    if fmt == "json":
        _echo(out)
        return
    c = Console(highlight=False)
    c.print(f"scan #{out['id']} of {escape(out['name'])} (sha256 {out['sha256'][:16]}…)")
    for cat, n in out["counts"].items():
        c.print(f"  {cat}: {n}")
    if not out["counts"]:
        c.print("  no personal information found / 未发现个人信息")


@app.command()
def action(
    key: Key,
    title: Annotated[str | None, typer.Option("--title", help="a new remedial action / 新的补救措施")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Who handles it (username) / 承办人（用户名）")
    ] = None,
    due: Annotated[str | None, typer.Option("--due", help="YYYY-MM-DD / 完成期限")] = None,
    done: Annotated[
        int | None, typer.Option("--done", help="id of an action now done / 已完成的措施编号")
    ] = None,
    contains: Annotated[
        bool, typer.Option("--contains", help="doing it contained the incident / 该措施已控制事件")
    ] = False,
    fmt: Fmt = "table",
) -> None:
    """Add a remedial action, or record one done. / 登记补救措施或记录完成。"""
    from piguard.cases import incidents
    from piguard.core.errors import invalid_field

    with db.unit_of_work() as session:
        case, _ = incidents.get(session, key)
        if done is not None:
            row = incidents.complete_action(session, case, done, contains=contains, actor=_actor())
        elif title is not None:
            row = incidents.add_action(
                session, case, title=title, owner=owner or "", due=due, contains=contains, actor=_actor()
            )
        else:
            raise invalid_field(
                "action",
                "give --title (and --owner) or --done ID",
                "须提供 --title（及 --owner）或 --done ID",
            )
        out = incidents.action_dict(row)
    if fmt == "json":
        _echo(out)
    else:
        Console(highlight=False).print(
            f"action #{out['id']} {'done / 已完成' if out['done'] else 'open / 进行中'}: {escape(out['title'])}"
        )


@app.command()
def severity(
    key: Key,
    serious: Annotated[
        bool,
        typer.Option("--serious", help="judge it serious beyond the thresholds / 认定为重大事件（不论阈值）"),
    ] = False,
    note: Annotated[
        str, typer.Option("--note", help="why (required with --serious) / 原因（与 --serious 合用时必填）")
    ] = "",
    people: Annotated[
        int | None, typer.Option("--people", help="update the people affected / 更新受影响人数")
    ] = None,
    fmt: Fmt = "table",
) -> None:
    """Assess the severity by the dated parameters. / 按法定参数评估严重程度。"""
    from piguard.cases import incidents

    with db.unit_of_work() as session:
        case, _ = incidents.get(session, key)
        out = incidents.assess(
            session, case, raise_serious=serious, note=note, people=people, actor=_actor()
        ).to_dict()
    if fmt == "json":
        _echo(out)
        return
    c = Console(highlight=False)
    c.print("SERIOUS: report without delay / 严重：应立即报告" if out["serious"] else "not serious / 非严重")
    for r in out["reasons"]:
        c.print(f"  - {escape(r['message']['zh'])} / {escape(r['message']['en'])} {r['obligations']}")


@app.command()
def report(
    key: Key,
    lang: Annotated[
        str,
        typer.Option(
            "--lang", help="zh or en (what is printed; both are stored) / 输出语言（两种语言均保存）"
        ),
    ] = "zh",
    template_dir: Annotated[
        Path | None, typer.Option("--template-dir", help="the operator's templates / 运营方的报告模板")
    ] = None,
    sent: Annotated[
        bool, typer.Option("--sent", help="record that the report was sent now / 记录报告已于此时发送")
    ] = False,
    fmt: Fmt = "table",
) -> None:
    """Generate the report to the telecom authority (zh and en). / 生成向电信管理机构的报告。"""
    from piguard.cases import incidents

    with db.unit_of_work() as session:
        case, inc = incidents.get(session, key)
        if sent:
            incidents.mark_report_sent(session, case, actor=_actor())
            out = incidents.report_dict(inc)
        else:
            out = incidents.generate_report(session, case, template_dir=template_dir, actor=_actor())
    if fmt == "json":
        _echo(out)
    else:
        typer.echo(out["en" if lang == "en" else "zh"] or "")


@app.command()
def notify(
    key: Key,
    sender: Annotated[
        str, typer.Option("--sender", help="a registered business/service port / 已登记的业务端口")
    ],
    recipients: Annotated[
        Path,
        typer.Option(
            "--recipients",
            help="file: one phone number a line ('-': stdin) / 文件：每行一个手机号码（'-' 为标准输入）",
        ),
    ],
    text: Annotated[
        str | None,
        typer.Option("--text", help="the notice text (default: the template) / 告知内容（默认使用模板）"),
    ] = None,
    again: Annotated[
        bool, typer.Option("--again", help="notify people already notified again / 再次告知已告知的用户")
    ] = False,
    fmt: Fmt = "table",
) -> None:
    """Notify the people affected through the gateway (service notices). / 通过网关告知受影响用户。"""
    from piguard.cases import incidents
    from piguard.core.errors import invalid_field

    try:
        raw = sys.stdin.read() if str(recipients) == "-" else recipients.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeError) as exc:
        raise invalid_field(
            "recipients", f"cannot read the file ({type(exc).__name__})", "无法读取文件"
        ) from None
    who = [line.strip() for line in raw.splitlines() if line.strip() and not line.startswith("#")]
    with db.unit_of_work() as session:
        case, _ = incidents.get(session, key)
        out = incidents.notify(
            session, case, who, sender=sender, text=text, again=again, actor=_actor()
        ).to_dict()
    if fmt == "json":
        _echo(out)
    else:
        c = Console(highlight=False)
        c.print(
            f"sent / 成功: {out['sent']}  failed / 失败: {out['failed']}  skipped / 已告知: {out['skipped_already_notified']}"
        )
        for n in out["notices"]:
            if n["failed"]:
                why = ", ".join(
                    r["code"] for r in n["reasons"] if r["code"] not in ("sender_registered", "message_kind")
                )
                c.print(f"  FAILED {escape(n['to'])}: {escape(why or (n['error'] or {}).get('code', ''))}")
    if out["failed"]:
        raise typer.Exit(1)


@app.command()
def suspend(
    key: Key,
    order_ref: Annotated[
        str,
        typer.Option(
            "--order-ref", help="the authority's order reference (required) / 主管部门的指令文号（必填）"
        ),
    ] = "",
    authority: Annotated[
        str, typer.Option("--authority", help="The authority that ordered it / 下达指令的主管部门")
    ] = "",
    ordered_at: Annotated[
        str | None, typer.Option("--ordered-at", help="When the order was given (ISO) / 指令下达时间")
    ] = None,
    content_provider: Annotated[
        list[str] | None, typer.Option("--content-provider", help="code (repeat) / 内容提供者代码（可重复）")
    ] = None,
    port: Annotated[
        list[int] | None, typer.Option("--port", help="port id (repeat) / 端口编号（可重复）")
    ] = None,
    purpose: Annotated[
        list[str] | None,
        typer.Option("--purpose", help="consent purpose or * (repeat) / 同意目的或 *（可重复）"),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Remark / 备注")] = "",
    fmt: Fmt = "table",
) -> None:
    """Carry out the authority's suspension order (O24-14.2). / 执行主管部门的暂停指令。"""
    from piguard.cases import incidents

    with db.unit_of_work() as session:
        case, _ = incidents.get(session, key)
        order = incidents.suspend(
            session,
            case,
            order_ref=order_ref,
            authority=authority,
            ordered_at=ordered_at,
            content_providers=_split(content_provider),
            ports=port or [],
            purposes=_split(purpose),
            note=note,
            actor=_actor(),
        )
        out = incidents.order_dict(order)
    if fmt == "json":
        _echo(out)
    else:
        Console(highlight=False).print(
            f"suspension #{out['id']} {escape(out['order_ref'])} in force / 已执行: {out['scope']}"
        )


@app.command()
def lift(
    key: Key,
    order: Annotated[
        int, typer.Option("--order", help="the suspension id from `show` / 暂停编号（见 `show`）")
    ],
    lift_ref: Annotated[
        str, typer.Option("--lift-ref", help="the authority's lifting reference / 主管部门的解除文号")
    ] = "",
    fmt: Fmt = "table",
) -> None:
    """Lift a suspension the authority lifted. / 解除已由主管部门解除的暂停。"""
    from piguard.cases import incidents

    with db.unit_of_work() as session:
        case, _ = incidents.get(session, key)
        out = incidents.order_dict(incidents.lift(session, case, order, lift_ref=lift_ref, actor=_actor()))
    if fmt == "json":
        _echo(out)
    else:
        kept = out["effect"].get("kept_after_lift") or []
        Console(highlight=False).print(
            f"suspension #{out['id']} lifted / 已解除"
            + (f"; still suspended / 仍暂停: {', '.join(kept)}" if kept else "")
        )
