"""`piguard bulk …`: bulk export, copy and destruction under maker-checker review (O24-13.3).

Every command acts as a named member of staff (``--as USERNAME``), authenticated by their password
(``--password-stdin``, the ``PIGUARD_PASSWORD`` environment variable, or a prompt): maker-checker
means two people, so the terminal's user is not enough. Output is a table or ``--format json``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from piguard.core.db import unit_of_work
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.identity.principal import Principal
from piguard.oversight import bulk, bulk_certificate

app = typer.Typer(
    help="Bulk export, copy and destruction under maker-checker review (O24-13.3). / 批量导出、复制、销毁的双人审批。",
    no_args_is_help=True,
)


class Format(StrEnum):
    table = "table"
    json = "json"


As = Annotated[str, typer.Option("--as", help="Your staff username / 您的人员账号")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin. / 从标准输入的第一行读取密码。",
    ),
]
Fmt = Annotated[Format, typer.Option("--format", help="table or json / 输出格式")]


def _terminal() -> str | None:
    try:
        return socket.gethostname()[:128] or None
    except OSError:
        return None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    env = os.environ.get("PIGUARD_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        raise validation_error(
            [
                FieldError(
                    "password",
                    "no terminal to prompt on: use --password-stdin or PIGUARD_PASSWORD / "
                    "无终端可提示输入，请使用 --password-stdin 或 PIGUARD_PASSWORD",
                )
            ]
        )
    return str(typer.prompt("Password / 密码", hide_input=True))


def _login(username: str, from_stdin: bool) -> Principal:
    """The staff member at the terminal, by password; a failed attempt is recorded (and committed)."""
    from piguard.identity.auth import authenticate

    password = _password(from_stdin)
    failure: PiguardError | None = None
    principal: Principal | None = None
    with unit_of_work() as session:
        try:
            principal = authenticate(session, username, password, terminal=_terminal())
        except PiguardError as err:
            failure = err
    if failure is not None:
        raise failure
    assert principal is not None
    return replace(principal, via="cli")


def _emit(fmt: Format, body: dict[str, Any], lines: list[str]) -> None:
    console = Console(highlight=False)
    if fmt is Format.json:
        console.print_json(json.dumps(body, ensure_ascii=False))
    else:
        for line in lines:
            console.print(line, markup=False)


def _reasons(decision: dict[str, Any]) -> list[str]:
    return [
        f"  - {r['code']} [{', '.join(r['obligations'])}]: {r['message']['en']} / {r['message']['zh']}"
        for r in decision.get("reasons", [])
    ]


@app.command("request")
def request_cmd(
    kind: Annotated[str, typer.Argument(help="export, copy or destroy / 导出、复制或销毁")],
    username: As,
    purpose: Annotated[
        str,
        typer.Option("--purpose", help="Purpose id of the inventory taxonomy (O24-9.3) / 清单中的目的编号"),
    ],
    justification: Annotated[str, typer.Option("--justification", help="Why / 事由")],
    system: Annotated[str, typer.Option("--system", help="The system the data is in / 所在系统")],
    dataset: Annotated[str, typer.Option("--dataset", help="Table, file or dataset / 数据集")],
    recipient: Annotated[
        list[str] | None, typer.Option("--recipient", help="Who receives it (repeat) / 接收方（可重复）")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="The export's CSV file (scanned) / 导出的 CSV 文件（将被扫描）"),
    ] = None,
    rows: Annotated[
        int | None,
        typer.Option("--rows", min=1, help="Rows concerned (copy, destroy) / 涉及行数（复制、销毁）"),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="PI category code (repeat) / 个人信息类别代码（可重复）"),
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help=", ".join(bulk.DESTROY_METHODS) + " / 销毁方式")
    ] = None,
    password_stdin: PasswordStdin = False,
    fmt: Fmt = Format.table,
) -> None:
    """Ask for a bulk export, copy or destruction; held for a second person's approval.
    / 申请批量导出、复制或销毁，等待第二人审批。"""
    text = None
    if data is not None:
        try:
            text = data.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise validation_error(
                [FieldError("data", f"cannot read the file ({type(exc).__name__}) / 无法读取文件")]
            ) from None
    principal = _login(username, password_stdin)
    with unit_of_work() as session:
        done = bulk.request(
            session,
            principal,
            kind=kind,
            purpose=purpose,
            justification=justification,
            system=system,
            dataset=dataset,
            recipients=recipient or [],
            data=text,
            rows=rows,
            categories=category or [],
            method=method,
        )
        body = {"request": bulk.to_dict(done.request), "decision": done.decision.to_dict()}
    r = body["request"]
    summary = ", ".join(f"{k} {v}" for k, v in (r["pi_summary"].get("categories") or {}).items())
    _emit(
        fmt,
        body,
        [
            f"{r['ref']}: {r['kind']} held for approval until {r['expires_at']} / 等待审批",
            f"  rows {r['rows']}; categories {', '.join(r['categories'])}"
            + (f"; PI found: {summary}" if summary else ""),
            *_reasons(body["decision"]),
        ],
    )


@app.command("approve")
def approve_cmd(
    ref: str,
    username: As,
    note: Annotated[str, typer.Option("--note", help="Remark / 备注")] = "",
    password_stdin: PasswordStdin = False,
    fmt: Fmt = Format.table,
) -> None:
    """Approve a request as the second person (never your own, never after it expired).
    / 作为第二人审批通过（不得审批本人申请，不得在过期后审批）。"""
    principal = _login(username, password_stdin)
    with unit_of_work() as session:
        decision = bulk.approve(session, principal, ref, note=note)
        body = {"request": bulk.to_dict(bulk.get(session, ref)), "decision": decision.to_dict()}
    _emit(fmt, body, [f"{ref}: approved / 已批准", *_reasons(body["decision"])])


@app.command("reject")
def reject_cmd(
    ref: str,
    username: As,
    note: Annotated[str, typer.Option("--note", help="Why / 驳回理由")],
    password_stdin: PasswordStdin = False,
    fmt: Fmt = Format.table,
) -> None:
    """Reject a request as the second person; an export's data is erased. / 驳回申请，导出数据随即销毁。"""
    principal = _login(username, password_stdin)
    with unit_of_work() as session:
        decision = bulk.reject(session, principal, ref, note=note)
        body = {"request": bulk.to_dict(bulk.get(session, ref)), "decision": decision.to_dict()}
    _emit(fmt, body, [f"{ref}: rejected / 已驳回", *_reasons(body["decision"])])


@app.command("download")
def download_cmd(
    ref: str,
    username: As,
    recipient: Annotated[str, typer.Option("--recipient", help="The named recipient / 接收方")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the CSV / CSV 输出位置")],
    password_stdin: PasswordStdin = False,
    fmt: Fmt = Format.table,
) -> None:
    """Download an approved export for one recipient, watermarked for them (audited).
    / 为指定接收方下载已批准的导出（带水印，记入审计）。"""
    principal = _login(username, password_stdin)
    with unit_of_work() as session:
        package = bulk.download(session, principal, ref, recipient=recipient)
    out.write_bytes(package.content)
    body = {"file": str(out), "rows": package.rows, "sha256": package.sha256}
    _emit(fmt, body, [f"{out}: {package.rows} rows, sha256 {package.sha256}"])


@app.command("destroy")
def destroy_cmd(
    ref: str,
    username: As,
    note: Annotated[str, typer.Option("--note", help="Remark / 备注")] = "",
    password_stdin: PasswordStdin = False,
    fmt: Fmt = Format.table,
) -> None:
    """Record an approved destruction as carried out; prints its certificate.
    / 记录已批准的销毁已执行并出具销毁证明。"""
    principal = _login(username, password_stdin)
    with unit_of_work() as session:
        cert = bulk.destroy(session, principal, ref, note=note)
    _emit(
        fmt, {"certificate": cert}, [f"{ref}: destroyed / 已销毁; certificate / 证明 {cert['certificate']}"]
    )


@app.command("certificate")
def certificate_cmd(
    ref: str,
    username: As,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the HTML certificate here / 同时将 HTML 证明写入此处"),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en / 语言：中文或英文")] = "zh",
    password_stdin: PasswordStdin = False,
    fmt: Fmt = Format.table,
) -> None:
    """The destruction certificate of an approved, carried-out destruction (JSON; HTML zh/en).
    / 已批准并执行的销毁的证明（JSON；HTML 中英文）。"""
    principal = _login(username, password_stdin)
    with unit_of_work() as session:
        bulk.may_read(session, principal)
        cert = bulk.certificate(session, ref)
    if html is not None:
        html.write_text(bulk_certificate.certificate_html(cert, lang), encoding="utf-8")
    _emit(
        fmt,
        {"certificate": cert},
        [
            f"certificate / 证明 {cert['certificate']} for {cert['request']}",
            f"  what: {cert['what']['system']} / {cert['what']['dataset']}, {cert['what']['rows']} rows",
            f"  how: {cert['how']['en']} / {cert['how']['zh']}; when: {cert['when']}",
            f"  requested by {cert['requested_by']}; approved by {cert['approved_by']}",
        ],
    )


@app.command("list")
def list_cmd(
    username: As,
    status: Annotated[
        str | None, typer.Option("--status", help="Only requests in this state / 仅此状态的申请")
    ] = None,
    password_stdin: PasswordStdin = False,
    fmt: Fmt = Format.table,
) -> None:
    """Bulk-operation requests, newest first. / 批量操作申请列表。"""
    principal = _login(username, password_stdin)
    with unit_of_work() as session:
        bulk.may_read(session, principal)
        items = [bulk.to_dict(r) for r in bulk.list_requests(session, status=status)]
    if fmt is Format.json:
        _emit(fmt, {"requests": items}, [])
        return
    table = Table("ref", "kind", "status", "purpose", "rows", "categories", "requested by", "expires")
    for r in items:
        table.add_row(
            r["ref"],
            r["kind"],
            r["status"],
            r["purpose"],
            str(r["rows"]),
            ", ".join(r["categories"]),
            r["requested_by"],
            r["expires_at"],
        )
    Console(highlight=False).print(table)
