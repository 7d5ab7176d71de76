"""``piguard sms mail-relay``: drain the outbox's e-mail through an SMTP relay."""

from __future__ import annotations

import json
import os
import time

import typer

from piguard.core.db import unit_of_work
from piguard.core.errors import invalid_field

PASSWORD_ENV = "PIGUARD_SMTP_PASSWORD"


def mail_relay_command(
    host: str = typer.Option(
        ..., "--host", help="The mail relay's host name or address. 邮件中继的主机名或地址。"
    ),
    port: int = typer.Option(
        587, "--port", min=1, max=65535, help="Its port (587 submission, 465 TLS, 25). 邮件中继端口。"
    ),
    security: str = typer.Option(
        "starttls", "--security", help="starttls, tls (implicit, port 465) or none. 连接加密方式。"
    ),
    user: str | None = typer.Option(
        None, "--user", help=f"Log in as this user (password from ${PASSWORD_ENV}). 登录用户名。"
    ),
    batch: int = typer.Option(
        200, "--batch", min=1, max=5000, help="Messages per SMTP session. 每个 SMTP 会话的邮件数。"
    ),
    once: bool = typer.Option(
        False, "--once", help="Drain what is queued now and stop. 发送当前队列后停止。"
    ),
    interval: float = typer.Option(
        2.0, "--interval", min=0.1, help="Seconds between rounds when idle. 空闲时轮询间隔秒数。"
    ),
) -> None:
    """Hand the outbox's e-mail to an SMTP mail relay, with the one-click unsubscribe headers on
    commercial mail (NPC-7); one JSON line per round. 经 SMTP 中继发送发件箱中的电子邮件。"""
    from piguard.messaging.mail.transport import SmtpTransport
    from piguard.messaging.records.service import drain_outbox_rounds

    if security not in ("starttls", "tls", "none"):
        raise invalid_field("security", "starttls, tls or none", "须为 starttls、tls 或 none")
    if user and not os.environ.get(PASSWORD_ENV):
        raise invalid_field(
            "user", f"needs the password in ${PASSWORD_ENV}", f"须在 ${PASSWORD_ENV} 中给出密码"
        )
    transport = SmtpTransport(
        host, port, security=security, username=user, password=os.environ.get(PASSWORD_ENV)
    )
    while True:
        with unit_of_work() as session:
            sent = drain_outbox_rounds(session, transport, limit=batch, max_rounds=10)
        typer.echo(json.dumps({"relay": f"{host}:{port}", "sent": sent}))
        if once:
            return
        if not sent:
            time.sleep(interval)
