"""``piguard sms callback …``: content providers' callback endpoints, their events, and pushing
(mounted on ``piguard sms`` by ``SMS_COMMANDS``, imported only when run)."""

from __future__ import annotations

import json
import sys
import time

import typer

from piguard.core.db import unit_of_work
from piguard.identity.principal import system_principal
from piguard.messaging.callbacks import service
from piguard.messaging.registry.service import get_content_provider

callback_app = typer.Typer(
    help="Receipts and replies pushed to content providers (HMAC-signed), or kept to poll. 回执与上行推送。",
    no_args_is_help=True,
)
_CLI = system_principal("cli")


def _echo(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


@callback_app.command("set")
def set_command(
    content_provider: str = typer.Option(
        ..., "--content-provider", help="Content provider code. 内容提供者代码。"
    ),
    url: str = typer.Option(None, "--url", help="https URL to push to; none: kept to poll only. 推送地址。"),
    receipts: bool = typer.Option(True, "--receipts/--no-receipts", help="Delivery reports. 状态报告。"),
    replies: bool = typer.Option(True, "--replies/--no-replies", help="Users' replies (MO). 上行回复。"),
    rotate_secret: bool = typer.Option(False, "--rotate-secret", help="A new HMAC secret. 更换签名密钥。"),
) -> None:
    """Turn receipts and replies on for a content provider, or change them; prints the HMAC
    secret when new or rotated (shown once). 开启或修改回执与上行推送；新密钥只显示一次。"""
    with unit_of_work() as session:
        cp = get_content_provider(session, content_provider)
        ep, secret = service.set_endpoint(
            session,
            cp.id,
            url=url,
            receipts=receipts,
            replies=replies,
            rotate_secret=rotate_secret,
            principal=_CLI,
        )
        _echo({"content_provider": cp.code, **service.endpoint_dict(ep, secret)})


@callback_app.command("show")
def show_command(
    content_provider: str = typer.Option(
        ..., "--content-provider", help="Content provider code. 内容提供者代码。"
    ),
) -> None:
    """The endpoint of a content provider (never its secret). 查看推送设置。"""
    with unit_of_work() as session:
        cp = get_content_provider(session, content_provider)
        ep = service.get_endpoint(session, cp.id)
        _echo({"content_provider": cp.code, **(service.endpoint_dict(ep) if ep else {"active": False})})


@callback_app.command("remove")
def remove_command(
    content_provider: str = typer.Option(
        ..., "--content-provider", help="Content provider code. 内容提供者代码。"
    ),
) -> None:
    """Turn them off (events kept stay until the records' retention ends). 关闭推送。"""
    with unit_of_work() as session:
        cp = get_content_provider(session, content_provider)
        _echo(
            {"content_provider": cp.code, "removed": service.remove_endpoint(session, cp.id, principal=_CLI)}
        )


@callback_app.command("push")
def push_command(
    loop: bool = typer.Option(False, "--loop", help="Keep pushing every --interval seconds. 持续推送。"),
    interval: float = typer.Option(
        2.0, "--interval", min=0.1, max=3600, help="Seconds between pushes with --loop. 持续推送的间隔秒数。"
    ),
    max_seconds: float = typer.Option(
        0,
        "--max-seconds",
        help="With --loop: stop after this long (0: never). 与 --loop 合用：运行这么多秒后停止（0 为不停止）。",
    ),
) -> None:
    """Push the due events now (the worker also does, each round). 立即推送到期事件。"""
    from piguard.messaging.callbacks.jobs import push_due

    end = time.monotonic() + max_seconds if max_seconds else None
    while True:
        _echo(push_due())
        if not loop or (end is not None and time.monotonic() >= end):
            return
        time.sleep(interval)
