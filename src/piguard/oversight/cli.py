"""`piguard agents …` and `piguard training …`: the agent register (O24-11) and training (O24-15).

Changes are audited with the local operating-system user as the actor; errors come out in the one
error shape (code, zh/en message, obligation ids) and change nothing.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from piguard.audit.service import Actor
from piguard.core import calendar, db
from piguard.core.calendar import to_local_date
from piguard.oversight import agents as agents_service
from piguard.oversight import service
from piguard.oversight import training as training_service

agents_app = typer.Typer(
    help="Agent register: outsourced firms, contracts, scope, assessments (O24-11). / 代理商登记。",
    no_args_is_help=True,
)
training_app = typer.Typer(
    help="Staff training: courses, completions, expiry (O24-15). / 人员培训：课程、完成记录、有效期。",
    no_args_is_help=True,
)
course_app = typer.Typer(help="Training courses. / 培训课程。", no_args_is_help=True)
training_app.add_typer(course_app, name="course")

Fmt = Annotated[str, typer.Option("--format", help="table or json / 输出格式")]
ListOpt = Annotated[list[str], typer.Option(help="Repeatable, or comma-separated / 可重复或逗号分隔")]


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return Actor.system(f"cli:{user}"[:100])


def _when(name: str, raw: str | None, *, through_day: bool = False) -> datetime | None:
    """A date or time typed here, in China time (a contract end date runs through that day)."""
    if raw is None:
        return None
    return calendar.parse_local_instant(raw, name, through_day=through_day)


def _flat(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def _print(data: Any, fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False, default=str))


# ------------------------------------------------------------------------------------- agents


@agents_app.command("add")
def agents_add(
    code: Annotated[
        str, typer.Argument(help="The firm's code (what agent accounts name as --agent-org) / 代理商代码")
    ],
    name: Annotated[str, typer.Option(help="Firm name / 代理商名称")],
    contract: Annotated[str, typer.Option(help="Contract number / 合同编号")],
    start: Annotated[str, typer.Option(help="Contract start (ISO date) / 合同起始日")],
    end: Annotated[str, typer.Option(help="Contract end (ISO date) / 合同截止日")],
    category: ListOpt = [],  # noqa: B006
    purpose: ListOpt = [],  # noqa: B006
    system: ListOpt = [],  # noqa: B006
    fmt: Fmt = "table",
) -> None:
    """Register a firm with its contract and scope. / 登记代理商及其合同与委托范围。"""
    with db.unit_of_work() as session:
        firm = agents_service.register_firm(
            session,
            code=code,
            name=name,
            contract_no=contract,
            contract_start=_when("start", start),  # type: ignore[arg-type]
            contract_end=_when("end", end, through_day=True),  # type: ignore[arg-type]
            scope_categories=_flat(category),
            scope_purposes=_flat(purpose),
            scope_systems=_flat(system),
            actor=_actor(),
        )
        data = agents_service.firm_to_dict(firm)
    if fmt == "json":
        _print(data, fmt)
    else:
        typer.echo(
            f"registered {data['code']} (contract {data['contract_no']}, until {data['contract_end']})"
        )


@agents_app.command("list")
def agents_list(fmt: Fmt = "table") -> None:
    """The register: every firm, its contract, scope and whether it is current. /
    代理商登记：每家代理商的合同、委托范围及是否有效。"""
    with db.unit_of_work() as session:
        rows = [agents_service.firm_to_dict(f) for f in agents_service.list_firms(session)]
    if fmt == "json":
        _print({"agents": rows}, fmt)
        return
    table = Table("code", "name", "contract", "end", "status", "current", "purposes", "categories", "systems")
    for r in rows:
        table.add_row(
            r["code"],
            r["name"],
            r["contract_no"],
            to_local_date(datetime.fromisoformat(r["contract_end"])).isoformat(),
            r["status"],
            "yes" if r["current"] else "NO",
            ",".join(r["scope"]["purposes"]),
            ",".join(r["scope"]["categories"]),
            ",".join(r["scope"]["systems"]),
        )
    Console(highlight=False).print(table)


@agents_app.command("update")
def agents_update(
    code: str,
    end: Annotated[str | None, typer.Option(help="New contract end (ISO date) / 新的合同截止日")] = None,
    status: Annotated[
        str | None, typer.Option(help="active, suspended or terminated / 状态：有效、暂停或终止")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Replace the scope's categories / 替换委托范围的类别")
    ] = None,
    purpose: Annotated[
        list[str] | None, typer.Option(help="Replace the scope's purposes / 替换委托范围的目的")
    ] = None,
    system: Annotated[
        list[str] | None, typer.Option(help="Replace the scope's systems / 替换委托范围的系统")
    ] = None,
) -> None:
    """Change a firm's contract end, status or scope (effective on the next access decision). /
    修改代理商的合同截止日、状态或委托范围（自下一次访问决定起生效）。"""
    with db.unit_of_work() as session:
        firm = agents_service.update_firm(
            session,
            code,
            contract_end=_when("end", end, through_day=True),
            status=status,
            scope_categories=_flat(category) if category is not None else None,
            scope_purposes=_flat(purpose) if purpose is not None else None,
            scope_systems=_flat(system) if system is not None else None,
            actor=_actor(),
        )
        typer.echo(f"updated {firm.code}: status {firm.status}, until {firm.contract_end.isoformat()}")


@agents_app.command("assess")
def agents_assess(
    code: str,
    assessor: Annotated[str, typer.Option(help="Who assessed / 评估人")],
    result: Annotated[str, typer.Option(help="pass, conditional or fail / 结果：通过、有条件通过或未通过")],
    finding: Annotated[list[str], typer.Option(help="A finding (repeatable) / 评估发现（可重复）")] = [],  # noqa: B006
) -> None:
    """Record an assessment with its findings; a failed one suspends the firm. /
    记录评估及其发现；评估未通过即暂停该代理商。"""
    with db.unit_of_work() as session:
        agents_service.add_assessment(
            session, code, assessor=assessor, result=result, findings=list(finding), actor=_actor()
        )
        firm = agents_service.get_firm(session, code)
        typer.echo(f"assessed {firm.code}: {result}, {len(finding)} finding(s); status {firm.status}")


# ----------------------------------------------------------------------------------- training


@course_app.command("add")
def course_add(
    code: str,
    title_zh: Annotated[str, typer.Option("--title-zh", help="Course title in Chinese / 课程中文名称")],
    title_en: Annotated[str, typer.Option("--title-en", help="Course title in English / 课程英文名称")],
    validity_days: Annotated[
        int | None, typer.Option(help="Days a completion stays valid / 完成记录的有效天数")
    ] = None,
    optional: Annotated[
        bool, typer.Option("--optional", help="Not required for clear-text access / 不作为明文访问的前提")
    ] = False,
) -> None:
    """Add a course (validity: its own, else the parameter training.validity_days). /
    新增课程（有效期：课程自身的，否则取参数 training.validity_days）。"""
    with db.unit_of_work() as session:
        c = training_service.add_course(
            session,
            code=code,
            title_zh=title_zh,
            title_en=title_en,
            validity_days=validity_days,
            required=not optional,
            actor=_actor(),
        )
        d = service.course_to_dict(c)
    typer.echo(f"added course {d['code']} (valid {d['validity_days']} days, from {d['validity_from']})")


@course_app.command("list")
def course_list(fmt: Fmt = "table") -> None:
    """Every course. / 全部课程。"""
    with db.unit_of_work() as session:
        rows = [service.course_to_dict(c) for c in training_service.list_courses(session)]
    if fmt == "json":
        _print({"courses": rows}, fmt)
        return
    table = Table("code", "title", "valid days", "required")
    for r in rows:
        table.add_row(
            r["code"], f"{r['title']['zh']} / {r['title']['en']}", str(r["validity_days"]), str(r["required"])
        )
    Console(highlight=False).print(table)


@training_app.command("record")
def training_record(
    username: str,
    course: str,
    completed: Annotated[
        str | None, typer.Option(help="When (ISO date); default now / 完成时间（默认现在）")
    ] = None,
    evidence: Annotated[
        str | None, typer.Option(help="Certificate number, attendance sheet … / 证书编号、签到表等")
    ] = None,
) -> None:
    """Record that USERNAME completed COURSE (an unknown course is an error; nothing is written). /
    记录 USERNAME 完成了 COURSE（课程不存在则报错，不写入任何记录）。"""
    with db.unit_of_work() as session:
        row = training_service.record_completion(
            session,
            username=username,
            course=course,
            completed_at=_when("completed", completed),
            evidence=evidence,
            actor=_actor(),
        )
        typer.echo(
            f"recorded {course} for {username}, valid until {to_local_date(row.expires_at).isoformat()}"
        )


@training_app.command("status")
def training_status(
    username: Annotated[
        str | None, typer.Argument(help="One person; default everyone / 单个人员（默认全部）")
    ] = None,
    fmt: Fmt = "table",
) -> None:
    """Who is current, lapsed or missing training (lapsed: masked views only). /
    培训有效、已过期或缺失的人员（已过期者只能查看掩码视图）。"""
    from piguard.identity import service as identity

    with db.unit_of_work() as session:
        if username:
            staff = identity.require_staff(session, username)
            rows = [
                {
                    "username": staff.username,
                    "kind": staff.kind,
                    **training_service.status(session, staff.id).to_dict(),
                }
            ]
        else:
            rows = training_service.coverage(session)
    if fmt == "json":
        _print({"staff": rows}, fmt)
        return
    table = Table("username", "current", "lapsed", "missing")
    for r in rows:
        table.add_row(
            r["username"], "yes" if r["current"] else "NO", ",".join(r["lapsed"]), ",".join(r["missing"])
        )
    Console(highlight=False).print(table)
