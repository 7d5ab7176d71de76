"""The shape of ``piguard sms <protocol>-serve`` and ``piguard sms <protocol>-account …`` for CMPP,
SMGP and SGIP: :func:`serve` runs a gateway until SIGINT/SIGTERM (or ``--max-seconds``) after
printing where it listens as one JSON line; :func:`account_app` builds the add/list/disable/enable
commands over a protocol's account functions (:class:`AccountOps`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from piguard.core.db import unit_of_work
from piguard.identity.principal import Principal, system_principal
from piguard.messaging.ismg import accounts
from piguard.messaging.ismg.accounts import LoginRules
from piguard.messaging.registry.service import list_content_providers

CLI_PRINCIPAL = system_principal("cli")


class Gateway(Protocol):
    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]: ...
    async def stop(self) -> None: ...


def serve(
    gateway: Callable[[], Gateway],
    label: str,
    extra: dict[str, Any] | Callable[[Any], dict[str, Any]],
    max_seconds: float,
) -> None:
    """Start the gateway (made in the loop), print ``{label: "host:port", "port": port, **extra}``
    (``extra`` may be worked out from the started gateway), wait, stop. Used by smpp-serve too."""
    asyncio.run(_serve(gateway, label, extra, max_seconds))


async def _serve(
    gateway: Callable[[], Gateway],
    label: str,
    extra: dict[str, Any] | Callable[[Any], dict[str, Any]],
    max_seconds: float,
) -> None:
    gw = gateway()
    bound_host, bound_port = await gw.start()
    more = extra(gw) if callable(extra) else extra
    sys.stdout.write(json.dumps({label: f"{bound_host}:{bound_port}", "port": bound_port, **more}) + "\n")
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


class GatewayGroup:
    """The SMPP gateway with CMPP/SMGP/SGIP gateways in one process (``smpp-serve --cmpp-port ...``):
    they share its outbox dispatcher and take MO replies from its upstream link (``forward_mo``)."""

    def __init__(self, main: Any, others: dict[str, tuple[Any, int]], host: str | None) -> None:
        self.main = main
        self.others = others
        self.host = host
        self.bound: dict[str, str] = {}

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        addr: tuple[str, int] = await self.main.start(host, port)
        for name, (gw, gw_port) in self.others.items():
            h, p = await gw.start(self.host, gw_port)
            self.bound[name] = f"{h}:{p}"
            self.main.mo_forwarders.append(gw.forward_mo)
        return addr

    async def stop(self) -> None:
        for gw, _port in self.others.values():
            await gw.stop()
        await self.main.stop()


@dataclass(frozen=True, slots=True)
class AccountRow:
    login: str
    content_provider_id: int
    max_rate: int
    window: int
    active: bool


@dataclass(frozen=True, slots=True)
class AccountOps:
    """A protocol's account functions and words, for :func:`account_app`."""

    label: str  #: "CMPP"
    login_key: str  #: "source_addr", "client_id", "login_name"
    login_help: str
    secret_help: str
    help: str
    flow_word: str  #: the answer beyond the window or rate ("Result 8")
    disabled_word: str  #: the answer of a disabled account's login ("Status 5")
    create: Callable[..., Any]  #: (session, login=, secret=, content_provider=, ..., principal=)
    rows: Callable[[Session], list[AccountRow]]
    set_active: Callable[[Session, str, bool, Principal], Any]
    generate_secret: Callable[[], str]


def account_app(ops: AccountOps) -> typer.Typer:
    app = typer.Typer(help=ops.help, no_args_is_help=True)

    @app.command("add")
    def account_add(
        login: str = typer.Argument(..., metavar=ops.login_key.upper(), help=ops.login_help),
        content_provider: str = typer.Option(
            ..., "--content-provider", "-c", help="Registered content provider code. 内容提供者代码。"
        ),
        secret: str = typer.Option(None, help=ops.secret_help),
        message_type: str = typer.Option(
            None,
            help=f"Consent type of commercial messages ({ops.label} carries none). 商业性短信的同意类型。",
        ),
        max_rate: int = typer.Option(
            0, help=f"Submits per second (0: unlimited); beyond: {ops.flow_word}. 每秒提交上限（0 为不限）。"
        ),
        window: int = typer.Option(
            16, help=f"Unanswered submits at once; beyond: {ops.flow_word}. 同时未应答的提交上限。"
        ),
    ) -> None:
        """Create an account for a content provider. 为内容提供者创建账号。"""
        generated = secret is None
        sec = secret or ops.generate_secret()
        with unit_of_work() as session:
            ops.create(
                session,
                login=login,
                secret=sec,
                content_provider=content_provider,
                default_message_type=message_type,
                max_rate=max_rate,
                window=window,
                principal=CLI_PRINCIPAL,
            )
        out = {ops.login_key: login, "content_provider": content_provider}
        if generated:
            out["secret"] = sec  # shown once
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")

    @app.command("list")
    def account_list() -> None:
        """List accounts (never their secrets). 列出账号。"""
        with unit_of_work() as session:
            cps = {c.id: c.code for c in list_content_providers(session)}
            rows = [
                (r.login, cps.get(r.content_provider_id, "?"), str(r.max_rate), str(r.window),
                 "yes" if r.active else "no")
                for r in ops.rows(session)
            ]  # fmt: skip
        table = Table(title=f"{ops.label} accounts / {ops.label} 账号")
        for col in (ops.login_key, "content provider", "rate/s", "window", "active"):
            table.add_column(col)
        for r in rows:
            table.add_row(*r)
        Console(highlight=False).print(table)

    @app.command("disable")
    def account_disable(
        login: str = typer.Argument(
            ..., metavar=ops.login_key.upper(), help="The account's login. 账号的登录名。"
        ),
    ) -> None:
        """Refuse further logins of an account. 停用账号。"""
        with unit_of_work() as session:
            ops.set_active(session, login, False, CLI_PRINCIPAL)

    @app.command("enable")
    def account_enable(
        login: str = typer.Argument(
            ..., metavar=ops.login_key.upper(), help="The account's login. 账号的登录名。"
        ),
    ) -> None:
        """Allow logins again. 启用账号。"""
        with unit_of_work() as session:
            ops.set_active(session, login, True, CLI_PRINCIPAL)

    account_disable.__doc__ = f"Refuse further logins of an account ({ops.disabled_word}). 停用账号。"
    return app


def shared_table_ops(
    rules: LoginRules, *, login_help: str, secret_help: str, help: str, flow_word: str, disabled_word: str
) -> AccountOps:
    """The :class:`AccountOps` of a protocol whose logins are in ``msg_ismg_accounts`` (SMGP, SGIP)."""

    def rows(session: Session) -> list[AccountRow]:
        return [
            AccountRow(a.login, a.content_provider_id, a.max_rate, a.window, a.active)
            for a in accounts.list_accounts(session, rules)
        ]

    def create(session: Session, **kwargs: Any) -> Any:
        return accounts.create_account(session, rules, **kwargs)

    def set_active(session: Session, login: str, active: bool, principal: Principal) -> Any:
        return accounts.set_active(session, rules, login, active, principal=principal)

    return AccountOps(
        label=rules.label,
        login_key=rules.login_field,
        login_help=login_help,
        secret_help=secret_help,
        help=help,
        flow_word=flow_word,
        disabled_word=disabled_word,
        create=create,
        rows=rows,
        set_active=set_active,
        generate_secret=lambda: accounts.generate_secret(rules.secret_len),
    )
