"""Complaints, requests and incidents on statutory clocks (O24-12, O31-27). / 投诉、请求与事件案件及其法定期限。

``piguard cases open|list|show|assign|note|reply|close``; ``piguard cases prohibited-report`` drafts
the report of what the gateway stopped as prohibited content (CSL-47). ``--format json`` prints the API's shape;
the first keys (``id, kind, status, received, due, estimated, obligations``) are what operators'
scripts read. Every change is audited with the local operating-system user as the actor.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

from piguard.audit.service import Actor
from piguard.cases import complaints, service
from piguard.cases.models import COMPLAINT_KINDS, OPEN_STATUSES, STATUSES
from piguard.core import db
from piguard.core.errors import FieldError, validation_error

app = typer.Typer(
    help="Complaints, requests and incidents on statutory clocks (O24-12, O31-27). / 投诉、请求与事件案件及其法定期限。",
    no_args_is_help=True,
)

Fmt = Annotated[str, typer.Option("--format", help="table or json / 输出格式")]
CaseArg = Annotated[str, typer.Argument(help="case id or reference / 案件编号")]
OPEN_KINDS = (*COMPLAINT_KINDS, "incident")


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return Actor.system(f"cli:{user}"[:100])


def _out(data: Any, fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if isinstance(data, dict) and "cases" in data:
        for c in data["cases"]:
            _line(c)
        return
    _line(data)
    for ev in data.get("timeline", []) if isinstance(data, dict) else []:
        typer.echo(f"  {ev['at'][:19]}  {ev['kind']:<10} {ev['actor']:<24} {ev['summary']}")
    if isinstance(data, dict) and data.get("report"):
        typer.echo("\n" + str(data["report"]))


def _line(c: dict[str, Any]) -> None:
    flags = " ".join(f for f, on in (("OVERDUE", c.get("overdue")), ("estimated", c.get("estimated"))) if on)
    left = c.get("days_left")
    typer.echo(
        f"{c['id']:>5}  {c['kind']:<20} {c['status']:<11} due {c.get('due') or '-'}"
        f" ({'-' if left is None else str(left) + 'd'}) {flags}  {c.get('title', '')[:40]}"
    )


@app.command("open")
def open_(
    kind: Annotated[str, typer.Option("--kind", help=" | ".join(OPEN_KINDS) + " / 案件类型")],
    received: Annotated[
        str,
        typer.Option(
            "--received",
            help="ISO date-time with offset, e.g. 2026-09-28T10:00:00+08:00 / 受理时间（含时区）",
        ),
    ],
    text: Annotated[str, typer.Option("--text", help="What the complainant wrote / 投诉内容")] = "",
    transferred_at: Annotated[
        str | None,
        typer.Option(
            "--transferred-at", help="When the reporting centre transferred it / 举报中心转来的时间"
        ),
    ] = None,
    message_ref: Annotated[
        str | None, typer.Option("--message-ref", help="The message complained about / 被投诉的短信")
    ] = None,
    content_provider: Annotated[
        str | None, typer.Option("--content-provider", "-c", help="content provider code / 内容提供者代码")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="The complainant, kind:value (kept hashed and masked) / 投诉人（以哈希与掩码保存）",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="portal, staff, phone, counter, reporting_centre… / 来源渠道"),
    ] = None,
    external_ref: Annotated[
        str | None,
        typer.Option("--external-ref", help="e.g. the 12321 case number / 外部编号，如 12321 案件号"),
    ] = None,
    title: Annotated[str, typer.Option("--title", help="A short title (incidents) / 简短标题（事件）")] = "",
    fmt: Fmt = "table",
) -> None:
    """Open a complaint or an incident case on its clock. / 受理投诉或登记事件。"""
    if kind not in OPEN_KINDS:
        raise validation_error(
            [FieldError("kind", f"one of {', '.join(OPEN_KINDS)} (requests: piguard rights open)")],
            f"Invalid kind: one of {', '.join(OPEN_KINDS)}; requests are opened with `piguard rights open`.",
            f"案件类型无效：须为 {'、'.join(OPEN_KINDS)} 之一；用户请求请使用 `piguard rights open`。",
        )
    with db.unit_of_work() as session:
        if kind == "incident":
            from piguard.cases import incidents

            # The generic opener records an incident as a risk until it is assessed; the full
            # detail (systems, categories, people) comes with `piguard incidents open`.
            case = incidents.open_incident(
                session, kind="risk", discovered=received, actor=_actor(), text=text, title=title,
                source=source or "staff",
            )  # fmt: skip
        else:
            cp_id = None
            if content_provider:
                from piguard.messaging.registry import service as registry

                cp_id = registry.get_content_provider(session, content_provider).id
            case = complaints.file_complaint(
                session,
                kind=kind,
                received=received,
                text=text,
                actor=_actor(),
                source=source or ("reporting_centre" if kind == "sms_report_transfer" else "staff"),
                subject=subject,
                message_ref=message_ref,
                transferred_at=transferred_at,
                external_ref=external_ref,
                content_provider_id=cp_id,
            )
        data = service.to_dict(case)
    _out(data, fmt)


@app.command("list")
def list_(
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="filter by kind (repeatable) / 按类型筛选（可重复）")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help=f"filter by status (default open ones): {', '.join(STATUSES)} / 按状态筛选（默认未结案件）",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="At most this many cases / 最多列出的案件数")
    ] = 200,
    fmt: Fmt = "table",
) -> None:
    """The queue, the most urgent first. / 按到期日排序的案件队列。"""
    with db.unit_of_work() as session:
        rows = service.queue(session, kinds=kind or None, statuses=status or OPEN_STATUSES, limit=limit)
        data = {"cases": [service.to_dict(c) for c in rows]}
    _out(data, fmt)


def _show(session: Any, case: Any) -> dict[str, Any]:
    out = service.to_dict(case, with_text=True)
    out["timeline"] = [service.event_dict(e) for e in service.events(session, case)]
    return out


@app.command("show")
def show(key: CaseArg, fmt: Fmt = "table") -> None:
    """A case with its timeline. / 案件及其时间线。"""
    with db.unit_of_work() as session:
        data = _show(session, service.get(session, key))
    _out(data, fmt)


@app.command("assign")
def assign(
    key: CaseArg,
    owner: Annotated[str, typer.Option("--owner", help="who handles it / 承办人")],
    fmt: Fmt = "table",
) -> None:
    """Give the case an owner. / 指派承办人。"""
    with db.unit_of_work() as session:
        case = service.assign(session, service.get(session, key), owner, _actor())
        data = _show(session, case)
    _out(data, fmt)


@app.command("note")
def note(
    key: CaseArg, text: Annotated[str, typer.Option("--text", help="the note / 备注")], fmt: Fmt = "table"
) -> None:
    """Add a note to the timeline. / 添加备注。"""
    with db.unit_of_work() as session:
        case = service.get(session, key)
        service.note(session, case, text, _actor())
        data = _show(session, case)
    _out(data, fmt)


@app.command("reply")
def reply(
    key: CaseArg,
    text: Annotated[str, typer.Option("--text", help="the answer / 答复内容")],
    fmt: Fmt = "table",
) -> None:
    """Record the answer and send it to the complainant. / 记录并发送答复。"""
    with db.unit_of_work() as session:
        case = complaints.answer(session, service.get(session, key), text, _actor())
        data = _show(session, case)
    _out(data, fmt)


@app.command("close")
def close(
    key: CaseArg,
    note_text: Annotated[str, typer.Option("--note", help="why / 说明")] = "",
    fmt: Fmt = "table",
) -> None:
    """Close the case. / 结案。"""
    with db.unit_of_work() as session:
        case = service.close(session, service.get(session, key), _actor(), note=note_text)
        data = _show(session, case)
    _out(data, fmt)


@app.command("prohibited-report")
def prohibited_report(
    first: Annotated[
        str | None,
        typer.Option("--from", help="first day, China date YYYY-MM-DD (default: yesterday) / 起始日期"),
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="last day, inclusive (default: --from) / 结束日期（含）")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="text (the report in zh and en) or json / 输出格式（text 为中英文报告）"
        ),
    ] = "text",
) -> None:
    """Draft the report to the authority of what the gateway stopped as prohibited content (CSL-47). / 起草网关拦截违法信息情况的报告。

    Per content provider and category: counts, first and last time, port ids, content digests, the
    measures taken and where the records are kept; kept as a content_report case (audited).
    / 按内容提供者与类别：数量、首次与末次时间、端口编号、内容摘要、已采取的措施及记录保存位置；
    作为 content_report 案件保存（记入审计日志）。"""
    if fmt not in ("text", "table", "json"):
        raise validation_error(
            [FieldError("format", "text or json / text 或 json")],
            "Invalid --format: text or json.",
            "--format 无效：须为 text 或 json。",
        )
    from piguard.cases import content_reports

    with db.unit_of_work() as session:
        case = content_reports.prohibited_content_draft_report(
            session, first=first, last=last, actor=_actor()
        )
        data = content_reports.report_dict(case)
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _line(data["case"])
    typer.echo("\n" + str(data["report"]["zh"]) + "\n" + str(data["report"]["en"]))
