"""Retention of message records (O31-11) on both backends: monthly partitions on PostgreSQL (created
ahead, the DEFAULT partition as a safety net, a purge is a partition drop), bounded batch deletes on
SQLite; nothing purged earlier than the retention period, nothing kept past the grace; the worker.

Months are China months (Asia/Shanghai). Partition state is read from the catalogue (pg_inherits,
pg_class), not through the code under test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit.models import AuditEntry
from piguard.core.calendar import SHANGHAI
from piguard.core.db import utcnow
from piguard.messaging import jobs
from piguard.messaging.models import MessageRecord
from piguard.messaging.records import partitions
from piguard.messaging.records import service as records
from piguard.messaging.records.partitions import Month
from piguard.messaging.settings import reset_messaging_settings

pytestmark = pytest.mark.obligation("O31-11")


def china(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, us, tzinfo=SHANGHAI)


def add_records(session: Session, times: list[datetime]) -> list[str]:
    refs = [records.new_ref() for _ in times]
    records.write_records(
        session,
        [
            records.record_row(
                ref=ref,
                at=at,
                direction="out",
                channel="sms",
                sender="1069000107",
                address="+8613800000000",
                recipient_hash="0" * 32,
                recipient_masked="138****0000",
                content="【优品商城】测试 回T退订",
                content_has_pi=False,
                outcome="allow",
                status="queued",
            )
            for ref, at in zip(refs, times, strict=True)
        ],
    )
    session.commit()
    return refs


def remaining(session: Session) -> set[str]:
    return set(session.scalars(select(MessageRecord.ref)))


def catalogue_partitions(session: Session) -> set[str]:
    """Partitions of msg_records straight from pg_inherits / pg_class."""
    rows = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'msg_records'::regclass AND c.relispartition"
        )
    )
    return {r[0] for r in rows}


def home(session: Session, ref: str) -> str:
    """The partition a row physically lives in."""
    return str(
        session.scalar(text("SELECT tableoid::regclass::text FROM msg_records WHERE ref = :r"), {"r": ref})
    )


def pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@pytest.fixture()
def grace(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def set_days(days: int) -> None:
        monkeypatch.setenv("PIGUARD_SMS_RETENTION_GRACE_DAYS", str(days))
        reset_messaging_settings()

    yield set_days
    monkeypatch.delenv("PIGUARD_SMS_RETENTION_GRACE_DAYS", raising=False)
    monkeypatch.delenv("PIGUARD_SMS_PURGE_BATCH", raising=False)
    reset_messaging_settings()


@pytest.fixture()
def clean(session: Session) -> Iterator[Session]:
    """PostgreSQL: start with only the DEFAULT partition (the session's schema is shared); restore
    the partitions around today afterwards."""
    if pg(session):
        for name in catalogue_partitions(session):
            if name != partitions.DEFAULT_PARTITION:
                session.execute(text(f'DROP TABLE "{name}"'))
        session.commit()
    yield session
    session.rollback()
    if pg(session):
        for name in catalogue_partitions(session):
            if name != partitions.DEFAULT_PARTITION:
                session.execute(text(f'DROP TABLE "{name}"'))
        partitions.maintain(session.connection(), now=utcnow())
        session.commit()


def test_china_months_bound_partitions() -> None:
    # 16:00 UTC on 31 March is 00:00 on 1 April in China: the April partition
    assert Month.of(datetime(2026, 3, 31, 16, 0, tzinfo=UTC)) == Month(2026, 4)
    assert Month.of(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)) == Month(2026, 3)
    assert Month.of(china(2026, 4, 1)) == Month(2026, 4)
    assert Month.of(china(2026, 3, 31, 23, 59, 59, 999999)) == Month(2026, 3)
    m = Month(2026, 12)
    assert (m.start, m.end, m.table) == (china(2026, 12, 1), china(2027, 1, 1), "msg_records_p202612")
    assert Month.from_table("msg_records_p202613") is None and Month.from_table("msg_records_default") is None


def test_partitions_are_created_ahead_and_rows_land_in_their_china_month(clean: Session) -> None:
    session = clean
    now = china(2031, 1, 15, 9)
    report = partitions.maintain(session.connection(), now=now, months_ahead=3)
    session.commit()
    if not pg(session):
        assert report.skipped == "sqlite" and not report.created
        return
    expected = {f"msg_records_p2031{m:02d}" for m in (1, 2, 3, 4)}
    assert set(report.created) == expected
    assert catalogue_partitions(session) == expected | {"msg_records_default"}
    kinds: dict[str, str] = dict(
        session.execute(
            text(
                "SELECT relname, relkind FROM pg_class "
                "WHERE oid IN ('msg_records'::regclass, 'msg_records_p203102'::regclass)"
            )
        ).all()
    )
    assert kinds == {"msg_records": "p", "msg_records_p203102": "r"}
    pk = session.scalar(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'msg_records'::regclass AND contype = 'p'"
        )
    )
    assert pk == "PRIMARY KEY (id, at)"
    last_jan, first_feb, june = add_records(
        session, [china(2031, 1, 31, 23, 59, 59, 999999), china(2031, 2, 1), china(2031, 6, 1)]
    )
    assert home(session, last_jan) == "msg_records_p203101"
    assert home(session, first_feb) == "msg_records_p203102"
    assert home(session, june) == "msg_records_default"
    again = partitions.maintain(session.connection(), now=now, months_ahead=3)
    session.commit()
    assert again.created == ["msg_records_p203106"] and again.default_rows == {"2031-06": 1}
    assert home(session, june) == "msg_records_p203106"


def test_rows_in_the_default_partition_are_moved_to_their_month_and_reported(clean: Session) -> None:
    session = clean
    a, b, c = add_records(session, [china(2029, 6, 10), china(2029, 6, 30, 23), china(2029, 8, 1)])
    result = jobs.run_partition_maintenance(now=china(2031, 1, 15), months_ahead=0)
    session.expire_all()
    if not pg(session):
        assert result == {
            "created": [],
            "default_rows_moved": {},
            "default_created": False,
            "unmanaged": [],
            "skipped": "sqlite",
        }
        return
    assert result["default_rows_moved"] == {"2029-06": 2, "2029-08": 1}
    assert set(result["created"]) == {"msg_records_p202906", "msg_records_p202908", "msg_records_p203101"}
    assert {home(session, a), home(session, b), home(session, c)} == {
        "msg_records_p202906",
        "msg_records_p202908",
    }
    assert session.scalar(text("SELECT count(*) FROM msg_records_default")) == 0
    assert remaining(session) == {a, b, c}
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "sms.records.partitions")).all()
    assert len(audit) == 1


def _one_record_per_boundary(session: Session, months: list[Month]) -> dict[str, datetime]:
    times: list[datetime] = []
    for m in months:
        times += [m.start, m.start + timedelta(days=14), m.end - timedelta(microseconds=1)]
    return dict(zip(add_records(session, times), times, strict=True))


def _assert_bounds(session: Session, rows: dict[str, datetime], now: datetime) -> None:
    """The O31-11 rule: nothing younger than 5 months is gone; nothing older than 5 months + grace is left."""
    left = remaining(session)
    floor, cut = records.retention_floor(now), records.retention_cutoff(now)
    assert floor == records.months_before(now, 5)
    too_early = [at.isoformat() for ref, at in rows.items() if at >= floor and ref not in left]
    too_late = [at.isoformat() for ref, at in rows.items() if at < cut and ref in left]
    assert not too_early, f"purged before 5 months: {too_early}"
    assert not too_late, f"kept past the grace: {too_late}"


def test_a_purge_drops_exactly_the_expired_months_and_keeps_every_row_younger_than_five_months(
    clean: Session, grace: object
) -> None:
    session = clean
    grace(31)  # type: ignore[operator]
    months = [Month(2030, m) for m in range(1, 11)]
    if pg(session):
        for m in months:
            partitions.create_month(session.connection(), m)
        session.commit()
    rows = _one_record_per_boundary(session, months)

    # 1 September 00:00 China: 5 months back is 1 April 00:00, minus 31 days of grace is 1 March
    now = china(2030, 9, 1)
    result = records.purge_expired(session, now=now)
    session.commit()
    _assert_bounds(session, rows, now)
    gone = {at for ref, at in rows.items() if ref not in remaining(session)}
    assert gone == {at for at in rows.values() if at < china(2030, 3, 1)}  # January and February
    if pg(session):
        assert set(result.partitions_dropped) == {"msg_records_p203001", "msg_records_p203002"}
        assert result.records == 0, "the purge was only partition drops"
        assert catalogue_partitions(session) == {m.table for m in months[2:]} | {"msg_records_default"}
    else:
        assert result.records == 6 and result.partitions_dropped == ()

    # mid-month: March is wholly older than 5 months (ends 1 April <= 15 April 12:00) and its oldest
    # row is past the grace: PostgreSQL drops it whole; SQLite deletes the rows before 15 March 12:00
    now = china(2030, 9, 15, 12)
    result = records.purge_expired(session, now=now)
    session.commit()
    _assert_bounds(session, rows, now)
    left = remaining(session)
    march = {ref for ref, at in rows.items() if Month.of(at) == Month(2030, 3)}
    if pg(session):
        assert result.partitions_dropped == ("msg_records_p203003",) and not march & left
        assert "msg_records_p203004" in catalogue_partitions(session), (
            "April holds rows younger than 5 months"
        )
    else:
        assert {rows[r] for r in march & left} == {china(2030, 3, 31, 23, 59, 59, 999999)}


def test_with_a_grace_under_a_month_the_partly_expired_month_is_purged_by_batches(
    clean: Session, grace: object
) -> None:
    session = clean
    grace(0)  # type: ignore[operator]
    months = [Month(2030, 3), Month(2030, 4)]
    if pg(session):
        for m in months:
            partitions.create_month(session.connection(), m)
        session.commit()
    rows = _one_record_per_boundary(session, months)
    young = add_records(session, [china(2030, 3, 31, 23, 59, 59, 500000)])[0]
    rows[young] = china(2030, 3, 31, 23, 59, 59, 500000)

    # one second before September: 5 months back is 31 March 23:59:59; the last half second of March
    # is younger than that, so the March partition must not be dropped
    now = china(2030, 8, 31, 23, 59, 59)
    result = records.purge_expired(session, now=now)
    session.commit()
    _assert_bounds(session, rows, now)
    assert young in remaining(session)
    assert result.partitions_dropped == ()
    assert result.records == 2, "March's rows older than 5 months (1st, 15th), in batches"
    if pg(session):
        assert "msg_records_p203003" in catalogue_partitions(session)

    now = china(2030, 9, 1)
    result = records.purge_expired(session, now=now)
    session.commit()
    _assert_bounds(session, rows, now)
    if pg(session):
        assert result.partitions_dropped == ("msg_records_p203003",)
    assert young not in remaining(session)


def test_a_partition_holding_a_young_row_is_never_dropped(clean: Session, grace: object) -> None:
    session = clean
    if not pg(session):
        pytest.skip("partitions are PostgreSQL's")
    grace(31)  # type: ignore[operator]
    # a hand-made partition whose bounds do not match its name: it holds a row from June
    session.execute(
        text(
            "CREATE TABLE msg_records_p203001 PARTITION OF msg_records "
            "FOR VALUES FROM ('2030-01-01 00:00+08') TO ('2030-07-01 00:00+08')"
        )
    )
    session.commit()
    [old, june] = add_records(session, [china(2030, 1, 5), china(2030, 6, 5)])
    result = records.purge_expired(session, now=china(2030, 9, 1))
    session.commit()
    assert result.partitions_refused == ("msg_records_p203001",) and result.partitions_dropped == ()
    assert june in remaining(session) and "msg_records_p203001" in catalogue_partitions(session)
    assert old not in remaining(session), "the expired row still goes, by batch delete"


def test_purges_run_in_bounded_batches(
    clean: Session, grace: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = clean  # on PostgreSQL these rows sit in the DEFAULT partition: batches there too
    grace(31)  # type: ignore[operator]
    monkeypatch.setenv("PIGUARD_SMS_PURGE_BATCH", "100")
    reset_messaging_settings()
    now = china(2030, 9, 15, 12)
    old = add_records(session, [china(2030, 1, 2) + timedelta(minutes=i) for i in range(250)])
    young = add_records(session, [records.retention_floor(now) + timedelta(seconds=1)])
    first = records.purge_expired(session, now=now, max_batches=2)
    session.commit()
    assert first.records == 200 and len(remaining(session)) == 51
    second = records.purge_expired(session, now=now, max_batches=2)
    session.commit()
    assert second.records == 50 and remaining(session) == set(young)
    assert not set(old) & remaining(session)


def test_worker_once_maintains_partitions_and_purges(db_engine: Engine, clean: Session) -> None:
    from piguard.cli import app

    session = clean
    now = utcnow()
    old_at = records.months_before(now, 8)
    _old, young = add_records(session, [old_at, now - timedelta(days=1)])
    r = CliRunner().invoke(app, ["worker", "--once"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["failed"] == []
    assert remaining(session) == {young}
    if pg(session):
        old_month = Month.of(old_at).table
        assert out["partitions"]["default_rows_moved"][Month.of(old_at).label] == 1
        assert Month.of(now).table in out["partitions"]["created"]
        assert out["retention"]["partitions_dropped"] == [old_month]
        assert old_month not in catalogue_partitions(session)
        assert Month.of(now).plus(3).table in catalogue_partitions(session)
    else:
        assert out["partitions"]["skipped"] == "sqlite" and out["retention"]["records"] == 1
    n = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "sms.records.purged")
    )
    assert n == 1
    assert "+8613800000000" not in r.output and "8613800000000" not in r.output


def test_worker_refuses_a_negative_interval() -> None:
    from piguard.cli import app

    r = CliRunner().invoke(app, ["worker", "--interval", "-1"])
    assert r.exit_code == 2 and "--interval" in r.output
