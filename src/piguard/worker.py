"""``piguard worker``: scheduled jobs (SMS consent-request expiry, partition maintenance and record
retention, early warning) on an interval, or one round with ``--once`` (cron, tests)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

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
        result["cases"] = _run_cases(result["failed"])
        result["audit_verified"] = _verify_audit_when_due(result["failed"])
        result["rights"] = _run_rights(result["failed"])
        result["bulk_packages_shredded"] = _shred_expired_bulk(result["failed"])
        result["self_inspection"] = _inspect_yearly(result["failed"])
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


def _run_cases(failed: list[str], now: datetime | None = None) -> dict[str, object] | None:
    """Case reminders, escalations and re-counted estimates (``cases.jobs``); a failure fails the
    round without stopping the other jobs."""
    from piguard.core.modules import import_if_present

    cases_jobs = import_if_present("piguard.cases.jobs")
    if cases_jobs is None:
        return None
    try:
        result: dict[str, object] = cases_jobs.run_job(now)
    except Exception:
        get_logger("piguard.worker").exception("worker.job_failed", job="cases")
        failed.append("cases")
        return None
    return result


def _run_rights(failed: list[str]) -> dict[str, int] | None:
    """End users' requests: every due step (piguard.rights.jobs); one job's failure never stops the round."""
    try:
        from piguard.rights import jobs as rights_jobs

        return rights_jobs.run_once()
    except Exception:
        get_logger("piguard.worker").exception("worker.job_failed", job="rights")
        failed.append("rights")
        return None


def _verify_audit_when_due(failed: list[str], now: datetime | None = None) -> dict[str, object] | None:
    """Walk the whole audit chain when the last recorded verification is older than
    ``PIGUARD_AUDIT_VERIFY_EVERY_HOURS`` (O24-13.6), and record the outcome, which the console's
    home page shows. A broken chain fails the round."""
    from piguard.audit import anchor
    from piguard.audit import service as audit
    from piguard.core.config import get_settings
    from piguard.core.db import unit_of_work, utcnow

    now = now or utcnow()
    every = timedelta(hours=get_settings().audit_verify_every_hours)
    try:
        with unit_of_work() as session:
            last = audit.verification_status(session)
            if last.at is not None and now - last.at < every:
                return None
            result = audit.verify(session)
            audit.record_verification(session, result, audit.Actor.system("worker.audit_verify"))
        anchored = None
        if result.ok and anchor.anchor_path() is not None:
            # sign the head just verified and keep it outside the database (after the commit, so
            # the line names entries that exist)
            with unit_of_work() as session:
                info = audit.checkpoint(session)
            anchored = str(anchor.append(info.head_line))
    except Exception:  # one job's failure never stops the round
        get_logger("piguard.worker").exception("worker.job_failed", job="audit_verify")
        failed.append("audit_verify")
        return None
    if not result.ok:
        failed.append("audit_verify")
    return {
        "ok": result.ok,
        "checked": result.checked,
        "problem": result.problem,
        "first_bad_seq": result.first_bad_seq,
        "anchored": anchored,
    }


def _shred_expired_bulk(failed: list[str]) -> int | None:
    """Erase the keys of expired bulk-operation requests and packages (O24-13.3)."""
    from piguard.core.db import unit_of_work
    from piguard.oversight import bulk

    try:
        with unit_of_work() as session:
            return bulk.purge_expired(session)
    except Exception:  # one job's failure never stops the round
        get_logger("piguard.worker").exception("worker.job_failed", job="bulk_purge")
        failed.append("bulk_purge")
        return None


def _inspect_yearly(failed: list[str], now: datetime | None = None) -> int | None:
    """Last year's self-inspection, once it has ended and no run covers it (O24-16); the run's id."""
    from piguard.core.db import unit_of_work
    from piguard.oversight import inspection

    try:
        with unit_of_work() as session:
            run = inspection.inspect_when_due(session, now=now)
            return run.id if run is not None else None
    except Exception:  # one job's failure never stops the round
        get_logger("piguard.worker").exception("worker.job_failed", job="self_inspection")
        failed.append("self_inspection")
        return None
