"""Monthly partitions of ``msg_records`` on PostgreSQL (O31-11), so a retention purge is a partition drop.

``msg_records`` is ``PARTITION BY RANGE (at)`` on PostgreSQL (SQLite ignores the option). Partition
``msg_records_pYYYYMM`` holds the China month YYYY-MM: ``[YYYY-MM-01 00:00:00+08:00,
next month's 01 00:00:00+08:00)`` (Asia/Shanghai has no daylight saving, so every bound is 16:00 UTC
on the last day of the previous month). ``msg_records_default`` is the DEFAULT partition: a safety
net for a row whose month has no partition yet (a back-dated record, a clock far off, a worker that
has not run); :func:`maintain` moves such rows into their month's partition and reports them.

Every function takes a SQLAlchemy ``Connection`` on PostgreSQL, runs in the caller's transaction and
never commits. Only tables named by this module are created or dropped; other partitions are left
alone and reported as ``unmanaged``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from piguard.core.calendar import SHANGHAI
from piguard.core.logging import get_logger
from piguard.regulations.markers import carries

TABLE = "msg_records"
PARTITION_KEY = "at"
DEFAULT_PARTITION = f"{TABLE}_default"
#: Partitions made ahead of the current China month by :func:`maintain`.
MONTHS_AHEAD = 3
#: At most this many months are rebuilt from DEFAULT-partition rows in one round (the rest next round).
MAX_MONTHS_FROM_DEFAULT = 24
#: DDL waits at most this long for the gateway's writers before the round gives up (retried next round).
LOCK_TIMEOUT = "10s"
_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")

log = get_logger("piguard.messaging.records.partitions")


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month in China (Asia/Shanghai)."""

    year: int
    month: int

    @classmethod
    def of(cls, at: datetime) -> Month:
        local = at.astimezone(SHANGHAI)
        return cls(local.year, local.month)

    def plus(self, n: int) -> Month:
        y, m = divmod(self.year * 12 + self.month - 1 + n, 12)
        return Month(y, m + 1)

    @property
    def start(self) -> datetime:
        """First instant of the month: the 1st, 00:00:00 Asia/Shanghai (inclusive bound)."""
        return datetime(self.year, self.month, 1, tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime:
        """First instant of the next month (exclusive bound)."""
        return self.plus(1).start

    @property
    def table(self) -> str:
        return f"{TABLE}_p{self.year:04d}{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def from_table(cls, name: str) -> Month | None:
        m = _NAME.match(name)
        if not m or not 1 <= int(m.group(2)) <= 12:
            return None
        return cls(int(m.group(1)), int(m.group(2)))


def _lit(at: datetime) -> str:
    """A timestamptz literal with its offset, for partition bounds (DDL takes no bind parameters)."""
    return "'" + at.astimezone(SHANGHAI).isoformat(sep=" ") + "'"


def _bounds(month: Month) -> str:
    return f"FOR VALUES FROM ({_lit(month.start)}) TO ({_lit(month.end)})"


def is_partitioned(conn: Connection) -> bool:
    """True when ``msg_records`` exists here as a partitioned table (PostgreSQL, relkind 'p')."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.scalar(text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": TABLE})
    return kind == "p"


def list_partitions(conn: Connection) -> list[str]:
    """Names of the partitions attached to ``msg_records`` (pg_inherits), sorted."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"
        ),
        {"t": TABLE},
    )
    return [str(r[0]) for r in rows]


def monthly_partitions(conn: Connection) -> dict[Month, str]:
    out: dict[Month, str] = {}
    for name in list_partitions(conn):
        month = Month.from_table(name)
        if month is not None:
            out[month] = name
    return out


def _lock(conn: Connection) -> None:
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))


def ensure_default(conn: Connection) -> bool:
    """Create the DEFAULT partition if missing; True when created."""
    if DEFAULT_PARTITION in list_partitions(conn):
        return False
    conn.execute(text(f'CREATE TABLE "{DEFAULT_PARTITION}" PARTITION OF "{TABLE}" DEFAULT'))
    return True


def _columns(conn: Connection) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": TABLE},
    )
    return [str(r[0]) for r in rows]


def _in_default(month: Month) -> str:
    return f'"{PARTITION_KEY}" >= {_lit(month.start)} AND "{PARTITION_KEY}" < {_lit(month.end)}'


def create_month(conn: Connection, month: Month) -> int:
    """Create ``month``'s partition if missing. Rows of that month already in the DEFAULT partition
    (PostgreSQL refuses a new partition over them) are moved into it first: a standalone table is
    built, the rows are moved, and it is attached. Returns how many rows were moved."""
    if month in monthly_partitions(conn):
        return 0
    # writers wait (briefly) while the partition set changes; readers do not
    conn.execute(text(f'LOCK TABLE "{TABLE}" IN SHARE ROW EXCLUSIVE MODE'))
    has_default = DEFAULT_PARTITION in list_partitions(conn)
    waiting = 0
    if has_default:
        waiting = int(
            conn.scalar(text(f'SELECT count(*) FROM "{DEFAULT_PARTITION}" WHERE {_in_default(month)}')) or 0
        )
    if not waiting:
        conn.execute(text(f'CREATE TABLE "{month.table}" PARTITION OF "{TABLE}" {_bounds(month)}'))
        return 0
    cols = ", ".join(f'"{c}"' for c in _columns(conn))
    conn.execute(
        text(f'CREATE TABLE "{month.table}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    )
    conn.execute(
        text(
            f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" WHERE {_in_default(month)} RETURNING {cols}) '
            f'INSERT INTO "{month.table}" ({cols}) SELECT {cols} FROM moved'
        )
    )
    conn.execute(text(f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{month.table}" {_bounds(month)}'))
    return waiting


def default_months(conn: Connection, limit: int = MAX_MONTHS_FROM_DEFAULT) -> list[tuple[Month, int]]:
    """The China months of the rows waiting in the DEFAULT partition, oldest first, with their counts."""
    if DEFAULT_PARTITION not in list_partitions(conn):
        return []
    rows = conn.execute(
        text(
            f"SELECT date_trunc('month', \"{PARTITION_KEY}\" AT TIME ZONE 'Asia/Shanghai') AS m, count(*) "
            f'FROM "{DEFAULT_PARTITION}" GROUP BY 1 ORDER BY 1 LIMIT :n'
        ),
        {"n": limit},
    )
    return [(Month(r[0].year, r[0].month), int(r[1])) for r in rows]


@dataclass(slots=True)
class MaintenanceReport:
    """What one maintenance round did (no personal information: partition names and counts)."""

    created: list[str] = field(default_factory=list)
    default_rows: dict[str, int] = field(default_factory=dict)  # month -> rows moved out of DEFAULT
    default_created: bool = False
    unmanaged: list[str] = field(default_factory=list)
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": list(self.created),
            "default_rows_moved": dict(self.default_rows),
            "default_created": self.default_created,
            "unmanaged": list(self.unmanaged),
            **({"skipped": self.skipped} if self.skipped else {}),
        }


@carries("O31-11")
def maintain(conn: Connection, *, now: datetime, months_ahead: int = MONTHS_AHEAD) -> MaintenanceReport:
    """Make sure the DEFAULT partition and the partitions of the current China month and
    ``months_ahead`` months after it exist, and move rows that landed in the DEFAULT partition into
    their month's partition (reported per month, and logged as a warning)."""
    report = MaintenanceReport()
    if not is_partitioned(conn):
        report.skipped = "not_partitioned" if conn.dialect.name == "postgresql" else conn.dialect.name
        return report
    if months_ahead < 0:
        raise ValueError("months_ahead must be >= 0")
    _lock(conn)
    report.default_created = ensure_default(conn)
    for month, _n in default_months(conn):
        moved = create_month(conn, month)
        report.default_rows[month.label] = moved
        if month.table not in report.created:
            report.created.append(month.table)
    current = Month.of(now)
    for i in range(months_ahead + 1):
        month = current.plus(i)
        if month not in monthly_partitions(conn):
            create_month(conn, month)
            report.created.append(month.table)
    report.unmanaged = [
        p for p in list_partitions(conn) if p != DEFAULT_PARTITION and Month.from_table(p) is None
    ]
    if report.default_rows:
        log.warning(
            "sms.records.default_partition_rows",
            months=sorted(report.default_rows),
            rows=sum(report.default_rows.values()),
        )
    return report


@carries("O31-11")
def drop_expired(conn: Connection, *, older_than: datetime, cutoff: datetime) -> tuple[list[str], list[str]]:
    """Drop each monthly partition whose whole range lies before ``older_than`` (the instant exactly
    the retention period before now: ``end <= older_than``, so every row it can hold is older than
    the retention period) and whose oldest possible row is past ``cutoff`` (retention + grace:
    ``start < cutoff``). Before dropping, the partition is checked to hold no row at or after
    ``older_than`` (whatever its bounds say); one that does is kept and returned as refused.
    Returns (dropped, refused) partition names."""
    dropped: list[str] = []
    refused: list[str] = []
    candidates = sorted(
        (m, name) for m, name in monthly_partitions(conn).items() if m.end <= older_than and m.start < cutoff
    )
    if not candidates:
        return dropped, refused
    _lock(conn)
    for _month, name in candidates:
        young = conn.scalar(
            text(f'SELECT EXISTS (SELECT 1 FROM "{name}" WHERE "{PARTITION_KEY}" >= {_lit(older_than)})')
        )
        if young:
            refused.append(name)
            log.error("sms.records.partition_not_dropped", partition=name, reason="holds_young_rows")
            continue
        conn.execute(text(f'DROP TABLE "{name}"'))
        dropped.append(name)
    return dropped, refused
