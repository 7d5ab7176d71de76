"""``piguard sms smpp-serve`` and ``piguard sms smpp-account …`` (mounted on ``piguard sms`` by
``SMS_COMMANDS`` in ``messaging/cli.py``, imported only when run)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from piguard.core.config import get_settings
from piguard.core.db import unit_of_work
from piguard.core.errors import invalid_field
from piguard.identity.principal import system_principal
from piguard.messaging.ismg.cli import GatewayGroup, serve
from piguard.messaging.records.service import LoopbackTransport
from piguard.messaging.registry.service import list_content_providers
from piguard.messaging.routing.cli import LINKS_ENV
from piguard.messaging.routing.links import load_links
from piguard.messaging.smpp import accounts
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.config import SmppSettings

account_app = typer.Typer(
    help="SMPP accounts of content providers' ESMEs. 内容提供者的 SMPP 账号。", no_args_is_help=True
)

_CLI = system_principal("cli")


def smpp_serve(
    host: str = typer.Option(
        None, help="Listen address (default $PIGUARD_SMPP_HOST or 127.0.0.1). 监听地址。"
    ),
    port: int = typer.Option(
        None, help="Listen port, 0 for any free one (default $PIGUARD_SMPP_PORT or 2775). 监听端口。"
    ),
    upstream_host: str = typer.Option(
        None, help="SMS centre host (default $PIGUARD_SMPP_UPSTREAM_HOST). 上游短信中心。"
    ),
    upstream_port: int = typer.Option(None, help="SMS centre port. 上游端口。"),
    upstream_system_id: str = typer.Option(
        None,
        help="system_id piguard binds to the SMS centre with (password: $PIGUARD_SMPP_UPSTREAM_PASSWORD). 连接上游短信中心的 system_id。",
    ),
    loopback: bool = typer.Option(
        False, "--loopback", help="No SMS centre: count allowed messages as sent (demo). 演示模式。"
    ),
    cmpp_port: int = typer.Option(
        None,
        help="Also serve CMPP on this port, in this process (MO replies reach it). 同进程在此端口运行 CMPP 服务。",
    ),
    smgp_port: int = typer.Option(
        None, help="Also serve SMGP 3.0 on this port, in this process. 同进程在此端口运行 SMGP 服务。"
    ),
    sgip_port: int = typer.Option(
        None, help="Also serve SGIP 1.2 on this port, in this process. 同进程在此端口运行 SGIP 服务。"
    ),
    max_seconds: float = typer.Option(
        0,
        help="Stop after this many seconds (0: until SIGINT/SIGTERM). 运行这么多秒后停止（0 为直至收到信号）。",
    ),
    links: Path = typer.Option(
        None,
        "--links",
        help="Links file: one upstream link per carrier (default $PIGUARD_SMS_LINKS_FILE; docs/sms-routing.md). 链路文件：每个运营商一条上游链路。",
    ),
) -> None:
    """Run piguard's SMPP server: content providers bind to it; every submit_sm is decided by the
    gateway and allowed ones go to the SMS centre. With --cmpp-port / --smgp-port / --sgip-port the
    CMPP, SMGP and SGIP servers run in the same process: their allowed messages go out through the
    same SMS centre link and users' replies (退订) reach their content providers.
    运行 SMPP 服务：每条 submit_sm 经网关判定后转发短信中心；可同进程运行 CMPP/SMGP/SGIP 服务。"""
    get_settings()  # in production, weak or demo keys are refused here, before anything listens
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "upstream_host": upstream_host,
            "upstream_port": upstream_port,
            "upstream_system_id": upstream_system_id,
        }.items()
        if v is not None
    }
    settings = SmppSettings(**overrides)
    transport = LoopbackTransport() if loopback else None
    path = links or (Path(os.environ[LINKS_ENV]) if os.environ.get(LINKS_ENV) else None)
    link_configs = load_links(path) if path is not None and transport is None else []

    def upstream(gw: SmppGateway) -> dict[str, Any]:
        where: object = (
            {c.name: f"{c.host}:{c.port}" for c in link_configs}
            if link_configs
            else f"{settings.upstream_host}:{settings.upstream_port}"
            if gw.upstream
            else ("loopback" if transport else "none (messages stay queued)")
        )
        return {"upstream": where}

    ports = {"cmpp": cmpp_port, "smgp": smgp_port, "sgip": sgip_port}
    for name, p in ports.items():
        if p is not None and not 0 <= p <= 65535:
            raise invalid_field(f"{name}_port", "0-65535", "须为 0-65535")

    def group() -> GatewayGroup:
        from piguard.messaging.cmpp.bridge import CmppGateway
        from piguard.messaging.sgip.bridge import SgipGateway
        from piguard.messaging.smgp.bridge import SmgpGateway

        make = {"cmpp": CmppGateway, "smgp": SmgpGateway, "sgip": SgipGateway}
        others = {name: (make[name](), p) for name, p in ports.items() if p is not None}
        return GatewayGroup(
            SmppGateway(settings, transport=transport, links=link_configs), others, settings.host
        )

    def info(g: GatewayGroup) -> dict[str, Any]:
        return {**upstream(g.main), **g.bound}

    serve(group, "smpp", info, max_seconds)


@account_app.command("add")
def account_add(
    system_id: str = typer.Argument(
        ..., help="system_id the ESME binds with (1-15 characters). ESME 登录用的 system_id。"
    ),
    content_provider: str = typer.Option(
        ..., "--content-provider", "-c", help="Registered content provider code. 内容提供者代码。"
    ),
    password: str = typer.Option(
        None,
        help="6-8 characters (SMPP 3.4); generated and printed once when omitted. 密码；省略时自动生成并仅显示一次。",
    ),
    bind_types: str = typer.Option(
        "tx,rx,trx", help="Allowed binds: tx, rx, trx (comma-separated). 允许的绑定方式。"
    ),
    message_type: str = typer.Option(
        None,
        help="Consent type of commercial messages without piguard TLV 0x1401. 未带 TLV 0x1401 的商业性短信的同意类型。",
    ),
    max_rate: int = typer.Option(
        0,
        help="submit_sm per second (0: unlimited); beyond: ESME_RTHROTTLED. 每秒 submit_sm 上限（0 为不限）。",
    ),
    window: int = typer.Option(
        20, help="Unanswered submit_sm at once; beyond: ESME_RTHROTTLED. 同时未应答的 submit_sm 上限。"
    ),
) -> None:
    """Create an SMPP account for a content provider. 为内容提供者创建 SMPP 账号。"""
    generated = password is None
    pw = password or accounts.generate_password()
    with unit_of_work() as session:
        acc = accounts.create_account(
            session,
            system_id=system_id,
            password=pw,
            content_provider=content_provider,
            bind_types=[t.strip() for t in bind_types.split(",") if t.strip()],
            default_message_type=message_type,
            max_rate=max_rate,
            window=window,
            principal=_CLI,
        )
        out = {"system_id": acc.system_id, "content_provider": content_provider, "bind_types": acc.bind_types}
    if generated:
        out["password"] = pw  # shown once
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


@account_app.command("list")
def account_list() -> None:
    """List SMPP accounts. 列出 SMPP 账号。"""
    with unit_of_work() as session:
        cps = {c.id: c.code for c in list_content_providers(session)}
        rows = [
            (
                a.system_id,
                cps.get(a.content_provider_id, "?"),
                ",".join(a.bind_types),
                str(a.max_rate),
                str(a.window),
                "yes" if a.active else "no",
            )
            for a in accounts.list_accounts(session)
        ]
    table = Table(title="SMPP accounts / SMPP 账号")
    for col in ("system_id", "content provider", "binds", "rate/s", "window", "active"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    Console(highlight=False).print(table)


@account_app.command("disable")
def account_disable(system_id: str) -> None:
    """Refuse further binds of an account (ESME_RBINDFAIL). 停用账号。"""
    with unit_of_work() as session:
        accounts.set_active(session, system_id, False, principal=_CLI)


@account_app.command("enable")
def account_enable(system_id: str) -> None:
    """Allow binds again. 启用账号。"""
    with unit_of_work() as session:
        accounts.set_active(session, system_id, True, principal=_CLI)
