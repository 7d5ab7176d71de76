"""``piguard sms route``, ``sms ported import`` and ``sms links`` (mounted by ``SMS_COMMANDS``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from piguard.core import addresses
from piguard.core.db import unit_of_work
from piguard.core.errors import PiguardError
from piguard.identity.principal import system_principal
from piguard.messaging.routing import service
from piguard.messaging.routing.links import OTHER, load_links

ported_app = typer.Typer(
    help="Ported numbers (携号转网): import the list. 携号转网号码。", no_args_is_help=True
)
_CLI = system_principal("cli")
LINKS_ENV = "PIGUARD_SMS_LINKS_FILE"


def _echo(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def route_command(number: str = typer.Argument(..., help="A mobile number. 手机号码。")) -> None:
    """Which carrier's link a number goes to, and why (ported, or its segment). 号码的路由。"""
    address = addresses.normalize_address("sms", number, "number")
    with unit_of_work() as session:
        _echo({"number": addresses.mask_address(address), **service.route_of(session, address).to_dict()})


@ported_app.callback()
def _ported() -> None:
    """Ported numbers (携号转网). 携号转网号码。"""  # a group, so that `import` stays a sub-command


@ported_app.command("import")
def import_command(
    path: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="CSV: number,carrier[,ported_on] CSV 文件：号码、运营商、转网日期",
    ),
    replace: bool = typer.Option(False, "--replace", help="The table becomes exactly this file. 全量替换。"),
) -> None:
    """Import ported numbers (all or nothing; a bad line is named, never the number). 导入携号转网号码。"""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PiguardError(
            "ported_import_invalid", "The file is not UTF-8 text.", "文件不是 UTF-8 文本。", exit_code=2
        ) from None
    with unit_of_work() as session:
        _echo(service.import_ported(session, text, replace=replace, principal=_CLI))


def links_command(
    links_file: Path = typer.Option(None, "--links", help=f"Links file (default ${LINKS_ENV}). 链路文件。"),
) -> None:
    """Outbound links per carrier and the queue waiting for each (one JSON line each; a carrier
    no link carries is listed with link null). 各运营商链路与待发队列。"""
    from piguard.core.db import utcnow

    path = links_file or (Path(os.environ[LINKS_ENV]) if os.environ.get(LINKS_ENV) else None)
    configured = load_links(path) if path is not None else []
    with unit_of_work() as session:
        rows = service.links_overview(session, utcnow())
        queues = service.queue_by_route(session)
    reported = {r["link"] for r in rows if r["link"] is not None}
    for link in configured:
        if link.name not in reported:  # in the file, but no process has run it yet
            rows.insert(
                0,
                {
                    "link": link.name,
                    "protocol": link.protocol,
                    "address": f"{link.host}:{link.port}",
                    "carriers": list(link.carriers),
                    "state": "not_started",
                    "queued": sum(queues.get(r, {}).get("queued", 0) for r in link.routes),
                    "sending": sum(queues.get(r, {}).get("sending", 0) for r in link.routes),
                },
            )
    if configured:  # a carrier with a queue that the file gives no link
        carried = {r for link in configured for r in link.routes}
        rows = [
            r
            for r in rows
            if r["link"] is not None
            or (None if r["carriers"] == [OTHER] else r["carriers"][0]) not in carried
        ]
    limits = {link.name: (link.window, link.max_rate) for link in configured}
    for r in rows:
        if r["link"] in limits:  # what the file grants the link: its window and max_rate (0: none)
            r["window"], r["max_rate"] = limits[r["link"]]
        _echo(r)
