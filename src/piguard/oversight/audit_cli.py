"""`piguard audit …`: verify, search and checkpoint the tamper-evident audit log (O24-13.6).

``verify`` exits 0 when the chain is intact and 1 when any entry was altered, deleted, reordered or
the tail truncated (naming the first bad seq and the kind of tampering). Reading the log is itself
recorded (``audit.verify``, ``audit.search``) as the system actor ``cli``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from piguard.audit import anchor, service
from piguard.audit.schemas import AuditEntryOut
from piguard.audit.service import Actor
from piguard.core import calendar
from piguard.core.db import unit_of_work
from piguard.core.errors import PiguardError
from piguard.regulations.markers import carries

app = typer.Typer(
    help="Tamper-evident audit log (O24-13.6): verify, search, checkpoint, retire. / 防篡改审计日志：校验、查询、检查点、归档。",
    no_args_is_help=True,
)

CLI_ACTOR = Actor.system("cli")
OBLIGATIONS = ("O24-13.6",)


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


def _terminal() -> str | None:
    try:
        return socket.gethostname()[:128] or None
    except OSError:
        return None


def parse_time(value: str | None, option: str) -> datetime | None:
    """ISO 8601 date or date-time; without an offset it is China time (a date: 00:00 there)."""
    if value is None or value == "":
        return None
    return calendar.parse_local_instant(value, option, example="2024-05-01")


@contextmanager
def _database() -> Iterator[Session]:
    """The unit of work, with a missing or unreachable database told as a clear error, not a trace."""
    try:
        with unit_of_work() as session:
            yield session
    except (OperationalError, ProgrammingError) as exc:
        raise PiguardError(
            "database_unavailable",
            "The database is unreachable or has no audit tables: check PIGUARD_DATABASE_URL and run "
            "`piguard db upgrade`.",
            "数据库无法连接或缺少审计表：请检查 PIGUARD_DATABASE_URL 并运行 `piguard db upgrade`。",
            obligations=OBLIGATIONS,
            http_status=503,
            exit_code=2,
        ) from exc


def _short(value: str | None, n: int = 16) -> str:
    return "" if value is None else (value if len(value) <= n else value[:n] + "…")


@app.command()
@carries("O24-13.6")
def verify(
    batch_size: int = typer.Option(
        5000,
        "--batch-size",
        min=1,
        help="Entries read per query (memory bound). / 每次查询读取的条目数（限制内存）。",
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json / 输出格式"),
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        help="The line `audit checkpoint` printed, kept outside the database: the chain must hold it. "
        "/ `audit checkpoint` 输出并在库外保存的记录：链中必须包含它。",
    ),
    from_checkpoint: int | None = typer.Option(
        None,
        "--from-checkpoint",
        min=1,
        help="Start from the signed checkpoint at this seq (entries before it are not read). "
        "/ 从该序号的签名检查点开始校验（不读取其前的记录）。",
    ),
) -> None:
    """Check every hash link, entry signature, checkpoint and the signed head; exit 1 on any tampering.
    / 校验每条哈希链接、记录签名、检查点与签名头部；发现篡改时以 1 退出。"""
    with _database() as session:
        result = service.verify(
            session, batch_size=batch_size, expect_head=expect_head, from_checkpoint=from_checkpoint
        )
        service.record_verification(session, result, CLI_ACTOR, terminal=_terminal())
    console = Console(highlight=False)
    if fmt is not Format.table:
        console.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
    elif result.ok:
        console.print(
            f"[green]intact / 完整[/]: {result.checked} entries checked / 已校验 {result.checked} 条"
        )
        if result.from_checkpoint is not None:
            console.print(f"from the signed checkpoint at seq / 起始签名检查点序号: {result.from_checkpoint}")
        if result.head_seq is not None:
            console.print(f"head / 链头: seq {result.head_seq} hash {result.head_hash}")
        console.print(
            f"checkpoints verified / 已校验检查点: {result.checkpoints_checked}; "
            f"signed head / 签名头部: seq {result.signed_head_seq if result.signed_head_seq is not None else '-'}"
        )
        if result.anchor is not None:
            console.print(f"checked against the anchor / 已对照锚定文件校验: {result.anchor}")
        if result.head_resets:
            console.print(f"[yellow]note / 注意[/]: {result.message_en}")
            console.print(f"  {result.message_zh}")
    else:
        where = f"seq {result.first_bad_seq}" if result.first_bad_seq is not None else "head / 头部"
        console.print(f"[bold red]TAMPERED / 已被篡改[/]: {result.problem} at {where}")
        console.print(f"  {result.message_en}")
        console.print(f"  {result.message_zh}")
        console.print(
            f"  checked before the problem / 出问题前已校验: {result.checked}; obligations: O24-13.6"
        )
    if not result.ok:
        raise typer.Exit(1)


def _row(entry: Any) -> dict[str, Any]:
    return AuditEntryOut.model_validate(entry).model_dump(mode="json")


@app.command()
@carries("O24-13.6")
def search(
    actor: str | None = typer.Option(
        None, "--actor", help="Actor id (staff id, agent id…). / 操作者编号（人员、代理等）。"
    ),
    actor_type: str | None = typer.Option(
        None, "--actor-type", help="staff, agent, end_user or system / 操作者类型"
    ),
    subject: str | None = typer.Option(
        None,
        "--subject",
        help="Subject ref (user id or pseudonymous id). / 个人信息主体引用（用户编号或假名编号）。",
    ),
    action: str | None = typer.Option(
        None, "--action", help="Action prefix, e.g. 'pi' or 'auth.login'. / 操作前缀。"
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="From (inclusive), ISO 8601; China time unless an offset is given. / 起始时间（含），未给时区即为北京时间。",
    ),
    until: str | None = typer.Option(
        None,
        "--until",
        help="Until (exclusive), ISO 8601; China time unless an offset is given. / 截止时间（不含），未给时区即为北京时间。",
    ),
    outcome: str | None = typer.Option(None, "--outcome", help="ok, refused, held or failed / 结果"),
    limit: int = typer.Option(
        100, "--limit", help="At most this many entries (1-1000). / 最多返回条目数（1-1000）。"
    ),
    offset: int = typer.Option(0, "--offset", help="Skip this many entries. / 跳过的条目数。"),
    cursor: int | None = typer.Option(
        None,
        "--cursor",
        help="Only entries older than this seq (next page). / 仅早于此序号的条目（下一页）。",
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or jsonl / 输出格式"),
) -> None:
    """Search the audit log, newest first. / 查询审计日志（按时间倒序）。"""
    since_at, until_at = parse_time(since, "--since"), parse_time(until, "--until")
    filters: dict[str, Any] = {
        "actor_id": actor,
        "actor_type": actor_type,
        "subject_ref": subject,
        "action": action,
        "since": since_at,
        "until": until_at,
        "outcome": outcome,
    }
    with _database() as session:
        entries = service.search(session, **filters, limit=limit, offset=offset, cursor=cursor)
        rows = [_row(e) for e in entries]
        service.record(
            session,
            action="audit.search",
            actor=CLI_ACTOR,
            terminal=_terminal(),
            obligations=OBLIGATIONS,
            detail={
                "filters": {k: v for k, v in filters.items() if v is not None},
                "limit": limit,
                "offset": offset,
                "cursor": cursor,
                "returned": len(rows),
            },
        )
    out = Console(highlight=False, soft_wrap=fmt is not Format.table)
    if fmt is Format.json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    if fmt is Format.jsonl:
        for r in rows:
            out.out(json.dumps(r, ensure_ascii=False, separators=(",", ":")), highlight=False)
        return
    table = Table(title=f"audit entries / 审计记录 ({len(rows)})")
    for col in (
        "seq",
        "time (UTC)",
        "actor",
        "from",
        "action",
        "subject",
        "categories",
        "purpose",
        "outcome",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["seq"]),
            r["time"][:19].replace("T", " "),
            f"{r['actor_type']}:{r['actor_id'] or '-'}",
            " ".join(x for x in (r["client_ip"], _short(r["terminal"])) if x) or "-",
            r["action"],
            r["subject_ref"] or "-",
            ",".join(r["data_categories"]) or "-",
            r["purpose"] or "-",
            r["outcome"],
        )
    out.print(table)
    if len(rows) == limit:
        out.print(f"more / 更多: --cursor {rows[-1]['seq']}")


@app.command()
@carries("O24-13.6")
def checkpoint(fmt: Format = typer.Option(Format.table, "--format", help="table or json / 输出格式")) -> None:
    """Sign the current head now; keep the printed line outside the database too.
    / 立即签名当前链头；请将输出另行保存在数据库之外。"""
    with _database() as session:
        info = service.checkpoint(session)
    anchored = anchor.append(info.head_line)  # after the commit: the line names entries that exist
    console = Console(highlight=False)
    if fmt is not Format.table:
        body = {**info.to_dict(), "anchor": str(anchored) if anchored else None}
        console.print_json(json.dumps(body, ensure_ascii=False))
        return
    if anchored is not None:
        console.print(f"anchored / 已锚定: {anchored}")
    console.print(f"checkpoint / 检查点: seq {info.seq} count {info.count} at {info.time.isoformat()}")
    console.print(f"hash {info.hash}")
    console.print(f"signature {info.signature} (key id {info.key_id})")
    console.print(
        "Keep this line outside the database; `piguard audit verify --expect-head LINE` checks the log "
        "against it. / 请在数据库之外保存下面这一行；`piguard audit verify --expect-head LINE` 据此校验日志。"
    )
    console.print(info.head_line, soft_wrap=True)


@app.command("acknowledge-reset")
@carries("O24-13.6")
def acknowledge_reset(
    seq: int = typer.Argument(..., help="The seq of the audit.head_reset entry / 头部重置记录的序号"),
    reason: str = typer.Option(..., "--reason", help="Why the reset is expected / 重置属预期的原因"),
) -> None:
    """Acknowledge a head reset after investigating it (a signed, audited operator act); verify then
    accepts it. / 调查后确认一次头部重置（经签名并记入审计的操作），之后校验将接受它。"""
    with _database() as session:
        service.acknowledge_reset(session, reset_seq=seq, reason=reason, actor=CLI_ACTOR)
    Console(highlight=False).print(f"acknowledged / 已确认: head reset at seq {seq}")


@app.command()
@carries("O24-13.6")
def retire(
    before_checkpoint: int = typer.Option(
        ...,
        "--before-checkpoint",
        min=1,
        help="Seq of the signed checkpoint: the entries up to it are deleted. / 签名检查点序号：删除其及之前的记录。",
    ),
    yes: bool = typer.Option(False, "--yes", help="Do it (without it, only say what would go). / 确认执行。"),
    batch_size: int = typer.Option(
        5000,
        "--batch-size",
        min=1,
        help="Entries read per query while verifying. / 校验时每次查询读取的条目数。",
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json / 输出格式"),
) -> None:
    """Retire the entries up to a signed checkpoint after verifying the whole chain; verify then
    starts from that checkpoint. / 校验全链后归档（删除）签名检查点及之前的记录；之后校验从该检查点开始。"""
    console = Console(highlight=False)
    with _database() as session:
        done = service.retire(
            session,
            before_checkpoint=before_checkpoint,
            actor=CLI_ACTOR,
            batch_size=batch_size,
            dry_run=not yes,
        )
    if not yes:
        console.print(
            f"the chain verifies; {done.entries} entries up to seq {done.through_seq} would be retired: run "
            f"again with --yes. / 校验通过；将归档 {done.entries} 条记录（至序号 {done.through_seq}）：加 --yes 执行。"
        )
        return
    if fmt is not Format.table:
        console.print_json(json.dumps(done.to_dict(), ensure_ascii=False))
        return
    console.print(
        f"retired / 已归档: {done.entries} entries up to seq {done.through_seq}, {done.checkpoints} older checkpoints"
    )
    console.print(
        "The chain now starts from this signed checkpoint; keep the line outside the database. "
        "/ 日志现从此签名检查点开始；请在库外保存下面这一行。"
    )
    console.print(done.head_line, soft_wrap=True)
