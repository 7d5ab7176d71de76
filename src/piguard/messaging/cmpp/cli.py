"""``piguard sms cmpp-serve`` and ``piguard sms cmpp-account …`` (mounted on ``piguard sms`` by
``SMS_COMMANDS`` in ``messaging/cli.py``, imported only when run), in the shape of ``ismg.cli``."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy.orm import Session

from piguard.core.config import get_settings
from piguard.core.errors import invalid_field
from piguard.identity.principal import Principal
from piguard.messaging.cmpp import accounts
from piguard.messaging.cmpp.bridge import CmppGateway
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.ismg.cli import AccountOps, AccountRow, account_app, serve


def cmpp_serve(
    host: str = typer.Option(
        None, help="Listen address (default $PIGUARD_CMPP_HOST or 127.0.0.1). 监听地址。"
    ),
    port: int = typer.Option(
        None, help="Listen port, 0 for any free one (default $PIGUARD_CMPP_PORT or 7890). 监听端口。"
    ),
    version: int = typer.Option(
        None, help="Highest CMPP version spoken: 3 (2.x and 3.0 accepted) or 2. 最高协议版本。"
    ),
    gateway_code: int = typer.Option(None, help="ISMG gateway code in every Msg_Id (22 bits). 网关代码。"),
    max_seconds: float = typer.Option(
        0,
        help="Stop after this many seconds (0: until SIGINT/SIGTERM). 运行这么多秒后停止（0 为直至收到信号）。",
    ),
) -> None:
    """Run piguard's CMPP 2.0/3.0 server: content providers connect to it; every CMPP_SUBMIT is
    decided by the gateway (as SMPP submit_sm) and allowed ones are queued in the outbox. 运行 CMPP 服务：每条 CMPP_SUBMIT 经网关判定。"""
    get_settings()  # in production, weak or demo keys are refused here, before anything listens
    overrides: dict[str, Any] = {
        k: v
        for k, v in {"host": host, "port": port, "version": version, "gateway_code": gateway_code}.items()
        if v is not None
    }
    if version is not None and version not in (2, 3):
        raise invalid_field("version", "2 or 3", "须为 2 或 3")
    if gateway_code is not None and not 0 <= gateway_code < 1 << 22:
        raise invalid_field("gateway_code", "0-4194303 (22 bits)", "须为 0-4194303（22 位）")
    settings = CmppSettings(**overrides)
    serve(lambda: CmppGateway(settings), "cmpp", {"version": settings.version}, max_seconds)


def _create(session: Session, *, login: str, **kwargs: Any) -> Any:
    return accounts.create_account(session, source_addr=login, **kwargs)


def _rows(session: Session) -> list[AccountRow]:
    return [
        AccountRow(a.source_addr, a.content_provider_id, a.max_rate, a.window, a.active)
        for a in accounts.list_accounts(session)
    ]


def _set_active(session: Session, login: str, active: bool, principal: Principal) -> Any:
    return accounts.set_active(session, login, active, principal=principal)


account_app = account_app(
    AccountOps(
        label="CMPP",
        login_key="source_addr",
        login_help="Source_Addr the SP connects with (SP_Id, 6 digits). SP 连接用的 Source_Addr（SP_Id）。",
        secret_help="Shared secret, 6-32 characters; generated and printed once when omitted. 共享密钥；省略时自动生成并仅显示一次。",
        help="CMPP accounts of content providers (SP_Id and shared secret). 内容提供者的 CMPP 账号。",
        flow_word="Result 8",
        disabled_word="Status 5",
        create=_create,
        rows=_rows,
        set_active=_set_active,
        generate_secret=accounts.generate_secret,
    )
)
