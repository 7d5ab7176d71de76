"""`piguard staff …`: staff and agent accounts, roles and API tokens from the command line.

Every change is audited with the local operating-system user as the actor (``system``/``cli:<user>``).
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from piguard.core import db
from piguard.core.errors import FieldError, validation_error
from piguard.identity import service
from piguard.identity.access import ROLES
from piguard.identity.principal import Principal, system_principal

app = typer.Typer(
    help="Staff and agent accounts, roles, API tokens. / 人员与代理账号、角色、API 令牌。",
    no_args_is_help=True,
)

RoleOpt = Annotated[
    list[str], typer.Option("--role", "-r", help=f"Role (repeatable): {', '.join(ROLES)} / 角色（可重复）")
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin. / 从标准输入的第一行读取密码。",
    ),
]
Fmt = Annotated[str, typer.Option("--format", help="table or json / 输出格式")]


def _operator() -> Principal:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return system_principal(f"cli:{user}"[:100])


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise validation_error(
            [
                FieldError(
                    "password",
                    "no terminal to prompt on: use --password-stdin / 无终端可提示输入，请使用 --password-stdin",
                )
            ]
        )
    return str(typer.prompt("Password / 密码", hide_input=True, confirmation_prompt=True))


def _out() -> Console:
    return Console(highlight=False)


@app.command()
def create(
    username: Annotated[str, typer.Argument(help="Login name: 3-64 of a-z 0-9 . _ - / 登录名")],
    role: RoleOpt,
    display_name: Annotated[
        str, typer.Option("--display-name", help="Name shown in the console / 控制台显示的姓名")
    ] = "",
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="staff, or agent for outsourced agents (O24-11) / staff 为本单位人员，agent 为代理商人员",
        ),
    ] = "staff",
    agent_org: Annotated[
        str | None,
        typer.Option("--agent-org", help="Agent organisation (agents only) / 所属代理商（仅代理商人员）"),
    ] = None,
    access_days: Annotated[
        int | None,
        typer.Option(
            "--access-days", min=1, help="Agent access lasts this many days / 代理商人员访问权限的有效天数"
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a staff or agent account. / 创建人员或代理账号。"""
    password = _read_password(password_stdin)
    expires = db.utcnow() + timedelta(days=access_days) if access_days else None
    with db.unit_of_work() as session:
        staff = service.create_staff(
            session,
            username=username,
            password=password,
            roles=role,
            display_name=display_name,
            kind=kind,
            agent_org=agent_org,
            access_expires_at=expires,
            by=_operator(),
        )
        _out().print(
            f"created {staff.username} (id {staff.id}, {staff.kind}; roles: {', '.join(sorted(staff.roles))})"
        )


@app.command("list")
def list_(
    active_only: Annotated[
        bool, typer.Option("--active-only", help="Hide deactivated accounts / 隐藏已停用账号")
    ] = False,
    fmt: Fmt = "table",
) -> None:
    """List staff and agent accounts. / 列出人员账号。"""
    with db.unit_of_work() as session:
        rows = service.list_staff(session, include_inactive=not active_only)
        data: list[dict[str, Any]] = [
            {
                "id": s.id,
                "username": s.username,
                "display_name": s.display_name,
                "kind": s.kind,
                "roles": sorted(s.roles),
                "active": s.active,
                "agent_org": s.agent_org,
                "access_expires_at": s.access_expires_at.isoformat() if s.access_expires_at else None,
                "last_login_at": s.last_login_at.isoformat() if s.last_login_at else None,
            }
            for s in rows
        ]
    if fmt == "json":
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    table = Table(
        "id", "username", "name", "kind", "roles", "active", "agent org", "access until", "last login"
    )
    for d in data:
        table.add_row(
            str(d["id"]),
            str(d["username"]),
            str(d["display_name"]),
            str(d["kind"]),
            ", ".join(d["roles"]),
            "yes" if d["active"] else "no",
            str(d["agent_org"] or ""),
            str(d["access_expires_at"] or ""),
            str(d["last_login_at"] or ""),
        )
    _out().print(table)


@app.command()
def token(
    username: Annotated[str, typer.Argument(help="Whose token / 令牌所属用户")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope", "-s", help="Scope (repeatable), e.g. audit:read, sms:submit, * / 权限范围（可重复）"
        ),
    ],
    expires_days: Annotated[
        int, typer.Option("--expires-days", min=1, max=366, help="Lifetime in days / 有效天数")
    ] = 30,
    name: Annotated[str, typer.Option("--name", help="A label for the token / 令牌标签")] = "",
    content_provider: Annotated[
        str | None,
        typer.Option(
            "--content-provider",
            help="Bind the token to this content provider (code): it sends only from its ports. "
            "绑定内容提供者。",
        ),
    ] = None,
) -> None:
    """Issue an API token; it is printed once, on stdout. / 签发 API 令牌（仅显示一次）。"""
    with db.unit_of_work() as session:
        staff = service.require_staff(session, username)
        plaintext, row = service.issue_token(
            session,
            staff,
            scope,
            timedelta(days=expires_days),
            name=name,
            by=_operator(),
            content_provider=content_provider,
        )
        bound = f", bound to content provider {content_provider}" if content_provider else ""
        info = (
            f"token {row.id} ({row.prefix}) for {staff.username}, scopes {' '.join(sorted(row.scopes))}{bound}, "
            f"expires {row.expires_at.isoformat()}; shown once / 仅显示一次"
        )
    Console(stderr=True, highlight=False).print(info)
    sys.stdout.write(plaintext + "\n")


@app.command()
def tokens(
    username: Annotated[str, typer.Argument(help="Whose tokens / 令牌所属用户")],
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens / 包括已撤销的令牌")] = False,
) -> None:
    """List an account's API tokens (never the secrets). / 列出账号的令牌。"""
    with db.unit_of_work() as session:
        staff = service.require_staff(session, username)
        table = Table("id", "prefix", "name", "scopes", "expires", "revoked", "last used")
        for t in service.list_tokens(session, staff, include_revoked=all_):
            table.add_row(
                str(t.id),
                t.prefix,
                t.name,
                " ".join(sorted(t.scopes)),
                t.expires_at.isoformat(),
                "yes" if t.revoked else "no",
                t.last_used_at.isoformat() if t.last_used_at else "",
            )
    _out().print(table)


@app.command("revoke-token")
def revoke_token(
    token_id: Annotated[int, typer.Argument(help="Token id (see `piguard staff tokens`) / 令牌编号")],
) -> None:
    """Revoke an API token. / 撤销令牌。"""
    with db.unit_of_work() as session:
        row = service.revoke_token(session, token_id, by=_operator())
        _out().print(f"revoked token {row.id} ({row.prefix})")


@app.command()
def roles(username: Annotated[str, typer.Argument(help="Login name / 登录名")], role: RoleOpt) -> None:
    """Replace an account's roles. / 设置账号角色。"""
    with db.unit_of_work() as session:
        staff = service.require_staff(session, username)
        service.set_roles(session, staff, role, by=_operator())
        _out().print(f"{staff.username}: roles {', '.join(sorted(staff.roles))}")


@app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument(help="Login name / 登录名")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set an account's password. / 设置账号密码。"""
    password = _read_password(password_stdin)
    with db.unit_of_work() as session:
        staff = service.require_staff(session, username)
        service.set_password(session, staff, password, by=_operator())
        _out().print(f"password set for {staff.username}")


@app.command()
def deactivate(
    username: Annotated[str, typer.Argument(help="Login name / 登录名")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the audit log) / 原因（记入审计日志）")
    ] = None,
) -> None:
    """Deactivate an account: its tokens are revoked and sessions ended. / 停用账号。"""
    with db.unit_of_work() as session:
        staff = service.require_staff(session, username)
        service.deactivate(session, staff, by=_operator(), reason=reason)
        _out().print(f"deactivated {staff.username}")


@app.command("roles-info")
def roles_info() -> None:
    """What each role may do. / 各角色的权限。"""
    from piguard.identity.access import actions_for_roles

    table = Table("role", "what for / 用途", "actions")
    for name, (en, zh) in ROLES.items():
        table.add_row(name, f"{en}\n{zh}", ", ".join(actions_for_roles({name})))
    _out().print(table)
