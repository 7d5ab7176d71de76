"""`piguard demo`: migrate the database, load the demo data and serve the console."""

from __future__ import annotations

import os

import typer
from rich.console import Console

from piguard.core import db, migrate
from piguard.core.config import get_settings, reset_settings


def command(
    serve: bool = typer.Option(
        True,
        help="Start the server after loading (--no-serve to only load) / 加载后启动服务（--no-serve 仅加载）",
    ),
    port: int = typer.Option(None, help="Port (default PIGUARD_PORT, 8000) / 端口"),
) -> None:
    """Set up the embedded SQLite database with demo data and serve the console. / 建立内置演示数据库并启动控制台。"""
    from piguard.demo import DEMO_PASSWORD, DEMO_PORTAL_ENV, DEMO_USERNAME, load_demo

    for name, value in DEMO_PORTAL_ENV.items():  # the portal sends its codes from the demo's port
        os.environ.setdefault(name, value)
    reset_settings()
    settings = get_settings()
    if settings.env == "production":
        raise typer.BadParameter("the demo data set is never loaded with PIGUARD_ENV=production")
    engine = db.get_engine()
    migrate.upgrade(engine)
    with db.unit_of_work() as session:
        load_demo(session)
    # the demo's replies to complainants go out through the gateway from the demo operator's own
    # service port, into the outbox (an operator sets these in production)
    from piguard.cases.demo import NOTICE_PORT, NOTICE_SIGNATURE
    from piguard.cases.settings import reset_cases_settings

    os.environ.setdefault("PIGUARD_CASES_NOTICE_SENDER", NOTICE_PORT)
    os.environ.setdefault("PIGUARD_CASES_NOTICE_SIGNATURE", NOTICE_SIGNATURE)
    reset_cases_settings()
    port = port or settings.port
    console = Console()
    console.print(f"[bold]piguard[/] database: {engine.url.render_as_string(hide_password=True)}")
    console.print(
        f"console:  [bold]http://{settings.host}:{port}/console[/]   API docs: http://{settings.host}:{port}/docs"
    )
    console.print(f"demo login / 演示账号: [bold]{DEMO_USERNAME}[/] / [bold]{DEMO_PASSWORD}[/]")
    console.print(
        f"portal / 个人信息门户: [bold]http://{settings.host}:{port}/portal[/] "
        "(phone 13800138000; the code is in the outbox, msg_outbox, see docs/portal.md / 验证码见发件箱)"
    )
    if serve:
        from piguard.serve_cli import command as serve_command

        serve_command(host=settings.host, port=port, workers=1)
