"""``piguard sms smgp-serve`` and ``piguard sms smgp-account …`` (mounted on ``piguard sms`` by
``SMS_COMMANDS`` in ``messaging/cli.py``), in the shape of ``ismg.cli``."""

from __future__ import annotations

from typing import Any

import typer

from piguard.core.config import get_settings
from piguard.core.errors import invalid_field
from piguard.messaging.ismg.cli import account_app, serve, shared_table_ops
from piguard.messaging.smgp.accounts import RULES
from piguard.messaging.smgp.bridge import SmgpGateway
from piguard.messaging.smgp.config import SmgpSettings


def smgp_serve(
    host: str = typer.Option(
        None, help="Listen address (default $PIGUARD_SMGP_HOST or 127.0.0.1). 监听地址。"
    ),
    port: int = typer.Option(
        None, help="Listen port, 0 for any free one (default $PIGUARD_SMGP_PORT or 8890). 监听端口。"
    ),
    gateway_code: int = typer.Option(None, help="SMGW code in every MsgID (6 digits). 网关代码。"),
    max_seconds: float = typer.Option(
        0,
        help="Stop after this many seconds (0: until SIGINT/SIGTERM). 运行这么多秒后停止（0 为直至收到信号）。",
    ),
) -> None:
    """Run piguard's SMGP 3.0 server: content providers log in to it; every Submit is decided by the
    gateway (as SMPP submit_sm) and allowed ones are queued in the outbox. 运行 SMGP 服务：每条 Submit 经网关判定。"""
    get_settings()  # in production, weak or demo keys are refused here, before anything listens
    if gateway_code is not None and not 0 <= gateway_code <= 999_999:
        raise invalid_field("gateway_code", "0-999999 (6 digits)", "须为 0-999999（6 位）")
    if port is not None and not 0 <= port <= 65535:
        raise invalid_field("port", "0-65535", "须为 0-65535")
    overrides: dict[str, Any] = {
        k: v for k, v in {"host": host, "port": port, "gateway_code": gateway_code}.items() if v is not None
    }
    settings = SmgpSettings(**overrides)
    serve(lambda: SmgpGateway(settings), "smgp", {"gateway_code": settings.gateway_code}, max_seconds)


account_app = account_app(
    shared_table_ops(
        RULES,
        login_help="ClientID the content provider logs in with (1-8 characters). 内容提供者登录用的 ClientID。",
        secret_help="Shared secret, 6-15 characters; generated and printed once when omitted. 共享密钥；省略时自动生成并仅显示一次。",
        help="SMGP accounts of content providers (ClientID and shared secret). 内容提供者的 SMGP 账号。",
        flow_word="Status 1",
        disabled_word="Status 76",
    )
)
