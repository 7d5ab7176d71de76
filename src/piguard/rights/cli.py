"""End users' requests: access, correction, deletion, account cancellation (O24-9.2, O24-9.4, CSL-43, NPC-8). / 用户查询、更正、删除、注销请求。"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

from piguard.audit.service import Actor

app = typer.Typer(
    help="End users' requests: access, correction, deletion, account cancellation (O24-9.2, O24-9.4, CSL-43, NPC-8). / 用户查询、更正、删除、注销请求。",
    no_args_is_help=True,
)
Fmt = Annotated[str, typer.Option("--format", help="table or json / 输出格式")]


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return Actor.system(f"cli:{user}"[:100])


def _out(data: Any, fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False, default=str))
        return
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "steps":
                for s in v:
                    typer.echo(
                        f"  step {s['id']}: {s['system']}.{s['table'] or ''} {s['action']} {s['status']} rows={s['rows']}"
                    )
            else:
                typer.echo(f"{k}: {v}")
    else:
        typer.echo(str(data))


@app.command("open")
def open_cmd(
    kind: Annotated[
        str,
        typer.Option("--kind", help="access | correction | deletion | cancellation / 查询、更正、删除、注销"),
    ],
    subject: Annotated[str, typer.Option("--subject", help="kind:value, e.g. phone:13800138000 / 用户标识")],
    changes: Annotated[
        str | None, typer.Option("--changes", help='correction: {"field": "value"} / 更正内容')
    ] = None,
    text: Annotated[str, typer.Option("--text", help="what the user asked / 用户请求内容")] = "",
    source: Annotated[
        str, typer.Option("--source", help="staff, phone, counter, email, letter… / 来源渠道")
    ] = "staff",
    fmt: Fmt = "table",
) -> None:
    """Open a request (a case on its statutory clock). / 受理请求。"""
    from piguard.core.db import unit_of_work
    from piguard.rights import service

    with unit_of_work() as session:
        req = service.open_request(
            session, kind=kind, subject=subject, actor=_actor(), source=source, changes=changes, text=text
        )
        out = service.open_dict(session, req)
    _out(out, fmt)


@app.command("run")
def run_cmd(
    id: Annotated[int | None, typer.Option("--id", help="only this request / 仅处理此请求")] = None,
    fmt: Fmt = "json",
) -> None:
    """Run due steps now (the worker does this each round). / 立即执行待办步骤。"""
    from piguard.core.db import session_factory
    from piguard.rights import service

    session = session_factory()()
    try:
        out = service.run_pending(session, request_id=id)
    finally:
        session.close()
    _out(out, fmt)


@app.command("show")
def show_cmd(
    id: Annotated[str, typer.Argument(help="request id or case ref / 请求编号或案件编号")], fmt: Fmt = "table"
) -> None:
    """A request, its steps and its export. / 查看请求及其步骤。"""
    from piguard.core.db import unit_of_work
    from piguard.rights import service

    with unit_of_work() as session:
        out = service.show(session, id)
    _out(out, fmt)


@app.command("complete")
def complete_cmd(
    step: Annotated[int, typer.Argument(help="manual task (step) id / 人工任务（步骤）编号")],
    rows: Annotated[
        int | None, typer.Option("--rows", help="rows the owner handled / 负责人处理的行数")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Remark / 备注")] = "",
    fmt: Fmt = "table",
) -> None:
    """Record that a manual task was done by its owner. / 记录人工任务已完成。"""
    from piguard.core.db import unit_of_work
    from piguard.rights import service

    with unit_of_work() as session:
        st = service.complete_task(session, step, actor=_actor(), rows=rows, note=note)
        out = service.step_dict(st)
    _out(out, fmt)


@app.command("retry")
def retry_cmd(
    step: Annotated[int, typer.Argument(help="failed step id / 失败步骤编号")], fmt: Fmt = "table"
) -> None:
    """Run a failed step again (after the inventory was fixed). / 重试失败的步骤。"""
    from piguard.core.db import unit_of_work
    from piguard.rights import service

    with unit_of_work() as session:
        out = service.step_dict(service.retry(session, step, actor=_actor()))
    _out(out, fmt)
