"""Scheduled gateway work, run by ``piguard worker``: consent-request expiry (no reply = refusal,
O31-18.2), release of held messages whose hold ended (O31-22, O31-17), partition maintenance and
record retention (O31-11), early-warning evaluation (O31-22,
O31-23). Each job opens its own unit of work; one job failing does not stop the others (it is logged
and reported, and ``piguard worker --once`` exits non-zero)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from piguard.audit.service import Actor, record
from piguard.core.db import unit_of_work, utcnow
from piguard.core.errors import PiguardError
from piguard.core.logging import get_logger
from piguard.messaging.records import partitions
from piguard.messaging.records import service as records
from piguard.messaging.subscriptions import consent
from piguard.regulations.markers import carries

log = get_logger("piguard.worker")


@carries("O31-18.2")
def expire_consent_requests(now: datetime | None = None) -> int:
    with unit_of_work() as session:
        n = consent.expire_requests(session, now=now)
        if n:
            record(
                session,
                action="sms.consent.expired",
                actor=Actor.system("worker.consent_expiry"),
                obligations=("O31-18.2",),
                detail={"requests": n},
            )
        return n


@carries("O31-11", "O31-18.2")
def expire_consents(now: datetime | None = None) -> int:
    """End the consents whose period has ended (with their subscription events)."""
    with unit_of_work() as session:
        n = consent.expire_consents(session, now=now)
        if n:
            record(
                session,
                action="sms.consent.period_ended",
                actor=Actor.system("worker.consent_expiry"),
                obligations=("O31-11", "O31-18.2"),
                detail={"consents": n},
            )
        return n


@carries("O31-11")
def run_partition_maintenance(
    now: datetime | None = None, months_ahead: int = partitions.MONTHS_AHEAD
) -> dict[str, Any]:
    """PostgreSQL: the DEFAULT partition and this China month + ``months_ahead`` months of
    ``msg_records`` exist; rows found in the DEFAULT partition are moved to their month and reported
    (audited). Elsewhere: ``{"skipped": <dialect>}``."""
    with unit_of_work() as session:
        report = partitions.maintain(session.connection(), now=now or utcnow(), months_ahead=months_ahead)
        if report.created or report.default_rows or report.default_created:
            record(
                session,
                action="sms.records.partitions",
                actor=Actor.system("worker.partitions"),
                obligations=("O31-11",),
                detail=report.to_dict(),
            )
        return report.to_dict()


@carries("O31-11")
def run_retention(now: datetime | None = None) -> dict[str, Any]:
    """Drop expired monthly partitions (PostgreSQL) in a short transaction of its own (a drop locks
    ``msg_records``), then purge the rest in bounded batches; both audited."""
    now = now or utcnow()
    with unit_of_work() as session:
        dropped, refused = records.drop_expired_partitions(session, now=now)
        if dropped or refused:
            record(
                session,
                action="sms.records.partitions_dropped",
                actor=Actor.system("worker.retention"),
                obligations=("O31-11",),
                outcome="refused" if refused else "ok",
                detail={"dropped": dropped, "refused": refused},
            )
    with unit_of_work() as session:
        result = replace(
            records.purge_expired(session, now=now, drop_partitions=False),
            partitions_dropped=tuple(dropped),
            partitions_refused=tuple(refused),
        )
        record(
            session,
            action="sms.records.purged",
            actor=Actor.system("worker.retention"),
            obligations=("O31-11",),
            detail=result.to_dict(),
        )
        return result.to_dict()


@carries("O31-22", "O31-17")
def run_release_held(now: datetime | None = None) -> dict[str, int]:
    """Held messages whose hold ended (quiet hours over, campaign send date reached) are decided
    again and queued (``messaging.gateway.release``)."""
    from piguard.messaging.gateway import release

    with unit_of_work() as session:
        return release.release_held(session, now or utcnow())


def run_alert_evaluation(now: datetime | None = None) -> dict[str, Any]:
    from piguard.messaging.monitor import jobs as monitor_jobs

    return monitor_jobs.run_alert_evaluation(now)


def run_callbacks(now: datetime | None = None) -> dict[str, int]:
    from piguard.messaging.callbacks import jobs as callback_jobs

    return callback_jobs.run_callbacks(now)


def _guarded(name: str, job: Callable[[], Any]) -> tuple[Any, bool]:
    try:
        return job(), True
    except PiguardError as e:
        log.error("worker.job_failed", job=name, code=e.code)
        return {"error": e.code}, False
    except Exception as e:  # one failing job must not stop the others
        log.error("worker.job_failed", job=name, error=type(e).__name__)
        return {"error": type(e).__name__}, False


def _expire_purpose_consents(now: datetime | None) -> int:
    """The consent ledger's grants past their period (``consent/``, below messaging)."""
    from piguard.consent.jobs import expire_consents as expire_purpose_consents

    return expire_purpose_consents(now)


def run_once(now: datetime | None = None) -> dict[str, Any]:
    """One round of every job, in order: consent expiry, release of held messages, partition maintenance (before retention, so
    rows parked in the DEFAULT partition reach their month first), retention, early warning. Returns
    what each did; ``"failed"`` lists the jobs that raised."""
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("consent_requests_expired", lambda: expire_consent_requests(now)),
        ("consents_expired", lambda: expire_consents(now)),
        ("purpose_consents_expired", lambda: _expire_purpose_consents(now)),
        ("held_released", lambda: run_release_held(now)),
        ("partitions", lambda: run_partition_maintenance(now)),
        ("retention", lambda: run_retention(now)),
        ("alerts", lambda: run_alert_evaluation(now)),
        ("callbacks", lambda: run_callbacks(now)),
    ]
    out: dict[str, Any] = {}
    failed: list[str] = []
    for name, job in jobs:
        out[name], ok = _guarded(name, job)
        if not ok:
            failed.append(name)
    out["failed"] = failed
    return out
