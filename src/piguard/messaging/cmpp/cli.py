"""``piguard sms cmpp-serve`` and ``piguard sms cmpp-account …`` (mounted on ``piguard sms`` by
``SMS_COMMANDS`` in ``messaging/cli.py``, imported only when run)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from piguard.core.config import get_settings
from piguard.core.db import unit_of_work
from piguard.core.errors import invalid_field
from piguard.identity.principal import system_principal
from piguard.messaging.cmpp import accounts
from piguard.messaging.cmpp.bridge import CmppGateway
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.registry.service import list_content_providers

account_app = typer.Typer(
    help="CMPP accounts of content providers (SP_Id and shared secret). 内容提供者的 CMPP 账号。",
    no_args_is_help=True,
)

_CLI = system_principal("cli")


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
    max_seconds: float = typer.Option(0, help="Stop after this many seconds (0: until SIGINT/SIGTERM)."),
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
    asyncio.run(_serve(settings, max_seconds))


async def _serve(settings: CmppSettings, max_seconds: float) -> None:
    gw = CmppGateway(settings)
    bound_host, bound_port = await gw.start()
    sys.stdout.write(
        json.dumps({"cmpp": f"{bound_host}:{bound_port}", "port": bound_port, "version": settings.version})
        + "\n"
    )
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if max_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max_seconds)
        else:
            await stop.wait()
    finally:
        await gw.stop()


@account_app.command("add")
def account_add(
    source_addr: str = typer.Argument(..., help="Source_Addr the SP connects with (SP_Id, 6 digits)."),
    content_provider: str = typer.Option(
        ..., "--content-provider", "-c", help="Registered content provider code. 内容提供者代码。"
    ),
    secret: str = typer.Option(
        None, help="Shared secret, 6-32 characters; generated and printed once when omitted."
    ),
    message_type: str = typer.Option(None, help="Consent type of commercial messages (CMPP carries none)."),
    max_rate: int = typer.Option(0, help="CMPP_SUBMIT per second (0: unlimited); beyond: Result 8."),
    window: int = typer.Option(16, help="Unanswered CMPP_SUBMIT at once; beyond: Result 8."),
) -> None:
    """Create a CMPP account for a content provider. 为内容提供者创建 CMPP 账号。"""
    generated = secret is None
    sec = secret or accounts.generate_secret()
    with unit_of_work() as session:
        acc = accounts.create_account(
            session,
            source_addr=source_addr,
            secret=sec,
            content_provider=content_provider,
            default_message_type=message_type,
            max_rate=max_rate,
            window=window,
            principal=_CLI,
        )
        out = {"source_addr": acc.source_addr, "content_provider": content_provider}
    if generated:
        out["secret"] = sec  # shown once
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


@account_app.command("list")
def account_list() -> None:
    """List CMPP accounts (never their secrets). 列出 CMPP 账号。"""
    with unit_of_work() as session:
        cps = {c.id: c.code for c in list_content_providers(session)}
        rows = [
            (a.source_addr, cps.get(a.content_provider_id, "?"), str(a.max_rate), str(a.window),
             "yes" if a.active else "no")
            for a in accounts.list_accounts(session)
        ]  # fmt: skip
    table = Table(title="CMPP accounts / CMPP 账号")
    for col in ("source_addr", "content provider", "rate/s", "window", "active"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    Console(highlight=False).print(table)


@account_app.command("disable")
def account_disable(source_addr: str) -> None:
    """Refuse further connects of an account (Status 5). 停用账号。"""
    with unit_of_work() as session:
        accounts.set_active(session, source_addr, False, principal=_CLI)


@account_app.command("enable")
def account_enable(source_addr: str) -> None:
    """Allow connects again. 启用账号。"""
    with unit_of_work() as session:
        accounts.set_active(session, source_addr, True, principal=_CLI)
