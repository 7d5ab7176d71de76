"""`piguard responsibilities …`, `piguard access-reviews …` and `piguard media …`: the responsibility
register (O24-13.1), access reviews (O24-13.5) and the storage-media register (O24-13.4).

The register is changed with the local operating-system user as the actor (like the agent
register). Access reviews and media act as a named member of staff (``--as USERNAME`` with their
password, as ``piguard bulk`` does): a reviewer is never the person reviewed, a destruction's
witness never its proposer, so the terminal's user is not enough. Errors come out in the one error
shape (code, zh/en message, obligation ids) and change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from piguard.core import db
from piguard.core.errors import invalid_field
from piguard.core.reasons import Decision
from piguard.oversight import access_reviews, media, responsibilities
from piguard.oversight.bulk_cli import PasswordStdin, _login
from piguard.oversight.cli import _actor

responsibilities_app = typer.Typer(
    help="Responsibility register: PI-protection lead, system, category and branch owners (O24-13.1). "
    "/ 责任登记：个人信息保护负责人及系统、类别、分支机构负责人。",
    no_args_is_help=True,
)
access_reviews_app = typer.Typer(
    help="Access reviews: periodic campaigns, owners confirm or revoke each access (O24-13.5). "
    "/ 访问权限定期复核。",
    no_args_is_help=True,
)
media_app = typer.Typer(
    help="Storage-media register: custody and witnessed destruction (O24-13.4). / 存储介质登记：保管与见证销毁。",
    no_args_is_help=True,
)

Fmt = Annotated[str, typer.Option("--format", help="table or json / 输出格式")]
As = Annotated[str, typer.Option("--as", help="Your staff username / 您的人员账号")]


def _json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def _decision_lines(decision: Decision) -> None:
    for r in decision.reasons:
        typer.echo(f"  - {r.code} [{', '.join(r.obligations)}]: {r.message_en} / {r.message_zh}")


# ----------------------------------------------------------------------------- responsibilities


@responsibilities_app.command("assign")
def resp_assign(
    kind: Annotated[str, typer.Argument(help="pi_protection, system, category or branch / 责任类型")],
    username: Annotated[str, typer.Argument(help="The responsible person's username / 负责人用户名")],
    scope: Annotated[
        str, typer.Option(help="System id, category code or branch name / 系统编号、类别代码或分支机构名称")
    ] = "",
    title: Annotated[str | None, typer.Option(help="The position's title / 职务名称")] = None,
) -> None:
    """Make USERNAME responsible for KIND (and --scope). / 指定 USERNAME 为 KIND（及 --scope）的负责人。"""
    with db.unit_of_work() as session:
        row = responsibilities.assign(
            session, kind=kind, scope=scope, username=username, title=title, actor=_actor()
        )
        typer.echo(f"assigned #{row.id}: {username} for {row.scope_kind} {row.scope_id!r}")


@responsibilities_app.command("end")
def resp_end(responsibility_id: str) -> None:
    """End an assignment (it stays in the history). / 结束一项指派（仍保留在历史中）。"""
    with db.unit_of_work() as session:
        row = responsibilities.end(session, responsibility_id, actor=_actor())
        typer.echo(f"ended #{row.id} ({row.scope_kind} {row.scope_id!r})")


@responsibilities_app.command("list")
def resp_list(fmt: Fmt = "table") -> None:
    """The current register. / 当前的责任登记。"""
    with db.unit_of_work() as session:
        rows = responsibilities.to_dicts(session, responsibilities.current(session))
    if fmt == "json":
        _json({"responsibilities": rows})
        return
    table = Table("id", "kind", "scope", "username", "title", "since")
    for r in rows:
        table.add_row(str(r["id"]), r["kind"], r["scope"], r["username"], r["title"], r["since"][:10])
    Console(highlight=False).print(table)


@responsibilities_app.command("gaps")
def resp_gaps(fmt: Fmt = "table") -> None:
    """What has nobody in charge (exit code 1 when anything does). /
    无人负责的事项（存在时退出码为 1）。"""
    with db.unit_of_work() as session:
        found = [g.to_dict() for g in responsibilities.gaps(session)]
    if fmt == "json":
        _json({"gaps": found})
    else:
        for g in found:
            r = g["reason"]
            typer.echo(f"{g['kind']} {g['scope']!r}: {r['message']['en']} / {r['message']['zh']} [O24-13.1]")
        if not found:
            typer.echo("no gaps / 无缺口")
    if found:
        raise typer.Exit(1)


@responsibilities_app.command("export")
def resp_export() -> None:
    """The register as YAML (to keep beside the inventory). / 以 YAML 导出责任登记（与清单一并保存）。"""
    with db.unit_of_work() as session:
        typer.echo(responsibilities.export_yaml(session), nl=False)


@responsibilities_app.command("import")
def resp_import(
    path: Annotated[
        Path, typer.Argument(help="A YAML file as `export` writes / `export` 输出格式的 YAML 文件")
    ],
) -> None:
    """Make the register what FILE says (checked whole first: unknown names change nothing). /
    按 FILE 设定责任登记（先整体校验：有未知名称则不作任何变更）。"""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise invalid_field("path", "cannot be read as UTF-8 text", "无法以 UTF-8 文本读取") from None
    with db.unit_of_work() as session:
        out = responsibilities.import_yaml(session, raw, actor=_actor())
    typer.echo(f"imported: {out['added']} added, {out['ended']} ended, {out['kept']} kept")


# -------------------------------------------------------------------------------- access reviews


@access_reviews_app.command("open")
def reviews_open(
    username: As,
    title: Annotated[str, typer.Option(help="The campaign's title / 复核标题")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Open a campaign: snapshot every account's roles against every inventory system. /
    发起一轮复核：为每个账号在清单中每个系统上的角色生成快照。"""
    principal = _login(username, password_stdin)
    with db.unit_of_work() as session:
        c = access_reviews.open_campaign(session, principal, title=title)
        d = access_reviews.campaign_to_dict(session, c)
    typer.echo(f"opened {d['ref']}: {d['counts']['pending']} item(s), due {d['due_at'][:10]}")
    if d["unowned_systems"]:
        typer.echo(
            f"  systems without an owner (the PI-protection lead decides): {', '.join(d['unowned_systems'])}"
        )


@access_reviews_app.command("list")
def reviews_list(fmt: Fmt = "table") -> None:
    """Every campaign with its state and counts. / 全部复核及其状态与计数。"""
    with db.unit_of_work() as session:
        rows = [access_reviews.campaign_to_dict(session, c) for c in access_reviews.list_campaigns(session)]
    if fmt == "json":
        _json({"campaigns": rows})
        return
    table = Table("ref", "title", "opened", "due", "state", "pending", "confirmed", "revoked")
    for r in rows:
        c = r["counts"]
        table.add_row(
            r["ref"], r["title"], r["opened_at"][:10], r["due_at"][:10], r["state"],
            str(c["pending"]), str(c["confirmed"]), str(c["revoked"]),
        )  # fmt: skip
    Console(highlight=False).print(table)


@access_reviews_app.command("show")
def reviews_show(ref: str, fmt: Fmt = "table") -> None:
    """One campaign with its items. / 一轮复核及其各项权限。"""
    with db.unit_of_work() as session:
        d = access_reviews.campaign_to_dict(
            session, access_reviews.get_campaign(session, ref), with_items=True
        )
    if fmt == "json":
        _json(d)
        return
    table = Table("item", "system", "username", "kind", "role", "status", "decided by")
    for i in d["items"]:
        table.add_row(
            str(i["id"]), i["system"], i["username"], i["kind"], i["role"], i["status"], i["decided_by"] or ""
        )
    Console(highlight=False).print(table)


def _decide(item: str, username: str, decision: str, note: str, password_stdin: bool) -> None:
    principal = _login(username, password_stdin)
    with db.unit_of_work() as session:
        out = access_reviews.decide(session, principal, item, decision=decision, note=note)
    typer.echo(f"item {item}: {decision}ed")
    _decision_lines(out)


@access_reviews_app.command("confirm")
def reviews_confirm(
    item: str,
    username: As,
    note: Annotated[str, typer.Option(help="Why (optional) / 原因（选填）")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Confirm one access (as its system's owner). / 确认一项访问权限（以其系统负责人身份）。"""
    _decide(item, username, "confirm", note, password_stdin)


@access_reviews_app.command("revoke")
def reviews_revoke(
    item: str,
    username: As,
    note: Annotated[str, typer.Option(help="Why (required) / 原因（必填）")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Revoke one access: the role is removed in identity at once. /
    撤销一项访问权限：立即在身份管理中移除该角色。"""
    _decide(item, username, "revoke", note, password_stdin)


@access_reviews_app.command("overdue")
def reviews_overdue(fmt: Fmt = "table") -> None:
    """Access unreviewed after its campaign's due date (exit code 1 when there is any). /
    复核截止日后仍未复核的访问权限（存在时退出码为 1）。"""
    with db.unit_of_work() as session:
        rows = access_reviews.overdue(session)
        standing = access_reviews.standing(session)
    if fmt == "json":
        _json({"overdue": rows, "standing": standing.to_dict()})
    else:
        for r in rows:
            typer.echo(f"item {r['id']} [{r['campaign']}]: {r['reason']['message']['en']} [O24-13.5]")
        typer.echo(f"standing: {standing.outcome.value}")
        _decision_lines(standing)
    if rows:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------------- media


@media_app.command("add")
def media_add(
    label: Annotated[str, typer.Argument(help="The asset tag on the medium / 介质上的资产标签")],
    username: As,
    kind: Annotated[str, typer.Option(help="disk, tape, usb, optical, paper or backup / 介质类型")],
    holder: Annotated[str, typer.Option(help="Who holds it (username) / 保管人（用户名）")],
    location: Annotated[str, typer.Option(help="Where it is kept / 存放地点")],
    description: Annotated[str, typer.Option(help="What it holds / 所存内容")] = "",
    category: Annotated[
        list[str] | None, typer.Option(help="PI category (repeat) / 个人信息类别（可重复）")
    ] = None,
    system: Annotated[
        str | None, typer.Option(help="Inventory system it comes from / 来源的清单系统")
    ] = None,
    encrypted: Annotated[
        bool, typer.Option("--encrypted", help="The medium is encrypted / 介质已加密")
    ] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Register a medium with its first holder and place. / 登记存储介质及其首位保管人与存放地点。"""
    principal = _login(username, password_stdin)
    with db.unit_of_work() as session:
        m = media.register_medium(
            session,
            principal,
            label=label,
            kind=kind,
            holder=holder,
            location=location,
            description=description,
            categories=list(category or []),
            system=system,
            encrypted=encrypted,
        )
        typer.echo(f"registered {m.label} ({m.kind})")


@media_app.command("transfer")
def media_transfer(
    label: str,
    username: As,
    to: Annotated[str, typer.Option(help="The new holder (username) / 新保管人（用户名）")],
    location: Annotated[str, typer.Option(help="Where it is kept now / 现存放地点")],
    note: Annotated[str, typer.Option(help="Why / remark / 原因或备注")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Hand a medium to another person or place. / 将存储介质移交他人或其他地点。"""
    principal = _login(username, password_stdin)
    with db.unit_of_work() as session:
        media.transfer(session, principal, label, to=to, location=location, note=note)
    typer.echo(f"{label}: now held by {to} at {location}")


@media_app.command("destroy")
def media_destroy(
    label: str,
    username: As,
    method: Annotated[
        str, typer.Option(help="shred, degauss, overwrite, crypto_erase or incinerate / 销毁方式")
    ],
    note: Annotated[str, typer.Option(help="Remark / 备注")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Propose a medium's destruction (a second person witnesses it with `witness`). /
    提出销毁存储介质（由另一人以 `witness` 见证）。"""
    principal = _login(username, password_stdin)
    with db.unit_of_work() as session:
        out = media.propose_destruction(session, principal, label, method=method, note=note)
    typer.echo(f"{label}: destruction proposed, waits for a witness")
    _decision_lines(out)


@media_app.command("witness")
def media_witness(
    label: str,
    username: As,
    note: Annotated[str, typer.Option(help="Remark / 备注")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Witness a proposed destruction (never its proposer): the medium is destroyed. /
    见证销毁（提出人本人不得见证）：介质即登记为已销毁。"""
    principal = _login(username, password_stdin)
    with db.unit_of_work() as session:
        out = media.witness_destruction(session, principal, label, note=note)
    typer.echo(f"{label}: destroyed")
    _decision_lines(out)


@media_app.command("list")
def media_list(fmt: Fmt = "table") -> None:
    """The register: every medium, its holder, place and state. /
    存储介质登记：每个介质的保管人、存放地点与状态。"""
    with db.unit_of_work() as session:
        rows = [media.medium_to_dict(session, m) for m in media.list_media(session)]
    if fmt == "json":
        _json({"media": rows})
        return
    table = Table("label", "kind", "status", "holder", "location", "since", "certificate")
    for r in rows:
        cert = (r["destruction"] or {}).get("certificate_ref") or ""
        table.add_row(
            r["label"], r["kind"], r["status"], r["holder"] or "", r["location"], r["held_since"][:10], cert
        )
    Console(highlight=False).print(table)
