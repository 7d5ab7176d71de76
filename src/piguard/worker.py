"""``piguard worker``: scheduled jobs (SMS consent-request expiry, partition maintenance and record
retention, early warning) on an interval, or one round with ``--once`` (cron, tests)."""

from __future__ import annotations

import json
import time

import typer

from piguard.core.logging import get_logger


def command(
    once: bool = typer.Option(False, "--once", help="Run one round and exit. 运行一轮后退出。"),
    interval: int = typer.Option(
        0,
        "--interval",
        help="Seconds between rounds (default PIGUARD_WORKER_INTERVAL_SECONDS). 轮询间隔秒数。",
    ),
) -> None:
    """Run scheduled jobs: consent-request expiry (O31-18.2), record partitions and retention (O31-11),
    early warning (O31-22). 运行定时任务：同意请求过期、记录分区维护与保存期限清理、预警。"""
    from piguard.core.config import get_settings
    from piguard.messaging import jobs
    from piguard.messaging.settings import get_messaging_settings

    get_settings()  # in production, weak or demo keys are refused before any job runs
    log = get_logger("piguard.worker")
    if interval < 0:
        raise typer.BadParameter("must be >= 0 / 不能为负数", param_hint="--interval")
    every = interval or get_messaging_settings().worker_interval_seconds
    while True:
        result = jobs.run_once()
        if once:
            typer.echo(json.dumps(result, ensure_ascii=False))
            if result["failed"]:
                raise typer.Exit(1)
            return
        retention = result["retention"]
        log.info(
            "worker.round",
            expired=result["consent_requests_expired"],
            purged=retention.get("records"),
            partitions_dropped=retention.get("partitions_dropped"),
            partitions_created=result["partitions"].get("created"),
            failed=result["failed"],
        )
        time.sleep(every)
