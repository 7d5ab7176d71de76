"""``piguard sms sgip-serve`` and ``piguard sms sgip-account …`` (mounted on ``piguard sms`` by
``SMS_COMMANDS`` in ``messaging/cli.py``), in the shape of ``ismg.cli``."""

from __future__ import annotations

from typing import Any

import typer

from piguard.core.config import get_settings
from piguard.core.db import unit_of_work
from piguard.core.errors import invalid_field
from piguard.messaging.ismg import accounts
from piguard.messaging.ismg.cli import CLI_PRINCIPAL, account_app, serve, shared_table_ops
from piguard.messaging.sgip.accounts import RULES
from piguard.messaging.sgip.bridge import SgipGateway
from piguard.messaging.sgip.config import SgipSettings


def sgip_serve(
    host: str = typer.Option(
        None, help="Listen address (default $PIGUARD_SGIP_HOST or 127.0.0.1). 监听地址。"
    ),
    port: int = typer.Option(
        None, help="Listen port, 0 for any free one (default $PIGUARD_SGIP_PORT or 8801). 监听端口。"
    ),
    node_id: int = typer.Option(
        None, help="SMG node id, first number of piguard's Sequence Numbers. 节点编号。"
    ),
    max_seconds: float = typer.Option(
        0,
        help="Stop after this many seconds (0: until SIGINT/SIGTERM). 运行这么多秒后停止（0 为直至收到信号）。",
    ),
) -> None:
    """Run piguard's SGIP 1.2 server: content providers bind to it; every Submit is decided by the
    gateway (as SMPP submit_sm) and allowed ones are queued in the outbox. 运行 SGIP 服务：每条 Submit 经网关判定。"""
    get_settings()  # in production, weak or demo keys are refused here, before anything listens
    if node_id is not None and not 0 <= node_id <= 0xFFFFFFFF:
        raise invalid_field("node_id", "0-4294967295 (32 bits)", "须为 0-4294967295（32 位）")
    if port is not None and not 0 <= port <= 65535:
        raise invalid_field("port", "0-65535", "须为 0-65535")
    overrides: dict[str, Any] = {
        k: v for k, v in {"host": host, "port": port, "node_id": node_id}.items() if v is not None
    }
    settings = SgipSettings(**overrides)
    serve(lambda: SgipGateway(settings), "sgip", {"node_id": settings.node_id}, max_seconds)


account_app = account_app(
    shared_table_ops(
        RULES,
        login_help="Login Name the content provider binds with (1-16 characters). 内容提供者登录用的 Login Name。",
        secret_help="Login Password, 6-16 characters; generated and printed once when omitted. 登录密码；省略时自动生成并仅显示一次。",
        help="SGIP accounts of content providers (Login Name and Password). 内容提供者的 SGIP 账号。",
        flow_word="Result 11",
        disabled_word="Result 1",
    )
)


@account_app.command("callback")
def account_callback(
    login_name: str = typer.Argument(
        ..., metavar="LOGIN_NAME", help="The account's Login Name. 账号的登录名。"
    ),
    address: str = typer.Argument(
        None, metavar="HOST:PORT", help="The content provider's SGIP server. 内容提供者的 SGIP 服务地址。"
    ),
    clear: bool = typer.Option(
        False,
        "--clear",
        help="Send Report and Deliver on its own connection again. 恢复经其自身连接发送 Report 与 Deliver。",
    ),
) -> None:
    """Where piguard binds (Login Type 2) to send Report and Deliver to this account, as SGIP's SMG
    does; without one they go on the content provider's connection. 设置 SP 接收端地址。"""
    if (address is None) == (not clear):
        raise invalid_field("callback", "HOST:PORT, or --clear", "须为 主机:端口，或 --clear")
    with unit_of_work() as session:
        accounts.set_callback(session, RULES, login_name, None if clear else address, principal=CLI_PRINCIPAL)
