"""``piguard sms alerts list|ack|close``, ``piguard sms complaint list`` (``add`` is retired: complaints are cases), ``piguard sms release``
and ``piguard sms reasons``: early warning (O31-22, O31-23), held messages (O31-22, O31-17) and the
reason-code catalogue from the command line. One JSON object per line on stdout; audited like the API
(actor ``system:cli``). Mounted by ``SMS_COMMANDS`` in ``messaging/cli.py``."""

from __future__ import annotations

import json

import typer

from piguard.core.db import unit_of_work
from piguard.identity.principal import system_principal
from piguard.messaging import reasons
from piguard.messaging.gateway import release
from piguard.messaging.monitor import service as monitor
from piguard.messaging.registry import service as registry

alerts_app = typer.Typer(help="Early-warning alerts (O31-22, O31-23). 预警。", no_args_is_help=True)
complaint_app = typer.Typer(help="Complaints about content providers (O31-22). 投诉。", no_args_is_help=True)

_CLI = system_principal("cli")


def _emit(obj: object) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


@alerts_app.command("list")
def alerts_list(
    state: str | None = typer.Option(None, help="open, acknowledged or closed 状态：未处理、已确认或已关闭"),
    content_provider: str | None = typer.Option(
        None, "--content-provider", "-c", help="content provider code 内容提供者代码"
    ),
    kind: str | None = typer.Option(
        None, help="volume, refusal_rate, opt_out_rate, complaint_rate, similar_burst 预警类型"
    ),
    limit: int = typer.Option(50, min=1, max=500, help="At most this many. 最多列出的条数。"),
) -> None:
    """List alerts, newest first. 列出预警，最新在前。"""
    with unit_of_work() as session:
        cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
        for a in monitor.list_alerts(session, state=state, content_provider_id=cp_id, kind=kind, limit=limit):
            _emit(monitor.alert_to_dict(a))


@alerts_app.command("ack")
def alerts_ack(
    alert_id: int, note: str | None = typer.Option(None, help="what is being done 正在采取的措施")
) -> None:
    """Acknowledge an alert (audited). 确认预警（记入审计日志）。"""
    with unit_of_work() as session:
        _emit(monitor.alert_to_dict(monitor.acknowledge_alert(session, alert_id, principal=_CLI, note=note)))


@alerts_app.command("close")
def alerts_close(
    alert_id: int, note: str | None = typer.Option(None, help="how it was dealt with 处理情况")
) -> None:
    """Close an alert (audited). A suspension it caused stays until resumed in the registry.
    关闭预警（记入审计日志）；由其引起的暂停须在登记中恢复后才解除。"""
    with unit_of_work() as session:
        _emit(monitor.alert_to_dict(monitor.close_alert(session, alert_id, principal=_CLI, note=note)))


@complaint_app.command("add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def complaint_add() -> None:
    """Retired: complaints are filed as cases (`piguard cases open --kind sms_complaint`).
    已停用：投诉作为案件受理（`piguard cases open --kind sms_complaint`）。"""
    raise monitor.complaints_moved()


@complaint_app.command("list")
def complaint_list(
    content_provider: str | None = typer.Option(
        None, "--content-provider", "-c", help="content provider code. 内容提供者代码。"
    ),
    source: str | None = typer.Option(None, help="Only complaints from this source. 仅此来源的投诉。"),
    limit: int = typer.Option(50, min=1, max=500, help="At most this many. 最多列出的条数。"),
) -> None:
    """List complaints, newest first (numbers masked). 列出投诉，最新在前（号码已掩码）。"""
    with unit_of_work() as session:
        cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
        for c in monitor.list_complaints(session, content_provider_id=cp_id, source=source, limit=limit):
            _emit(monitor.complaint_to_dict(c))


def release_command(ref: str) -> None:
    """Decide a held message again now; queued when its hold has ended (audited). 重新判定被暂缓的短信。"""
    with unit_of_work() as session:
        _emit(release.release_message(session, ref, principal=_CLI))


def reasons_command() -> None:
    """The gateway's reason codes with their obligation ids and labels (zh/en). 网关理由代码及其义务条款。"""
    for r in reasons.catalogue():
        _emit(r)
