"""Hand-written PostgreSQL step for the partitioned ``msg_records`` table (O31-11), called from the
Alembic revision that creates it. Autogenerate renders ``op.create_table("msg_records", ...,
postgresql_partition_by="RANGE (at)")`` (the primary key becomes ``(id, at)`` on PostgreSQL through
``piguard.messaging.models``); it cannot express the partitions themselves. Wiring::

    from piguard.migrations import pg_partitions

    def upgrade() -> None:
        op.create_table("msg_records", ..., postgresql_partition_by="RANGE (at)")
        ...  # its indexes
        pg_partitions.create_msg_records_partitions(op)

    def downgrade() -> None:
        op.drop_table("msg_records")  # drops its partitions with it

and, in ``migrations/env.py``, ``context.configure(..., include_name=pg_partitions.include_name)``
so later autogenerate runs do not see the partitions (and their indexes) as stray tables to drop.

Kept self-contained (no import of application code that may change after the revision is written).
Everything is a no-op on SQLite. Partitions from then on are kept by ``piguard worker``
(``piguard.messaging.records.partitions.maintain``), which uses the same names and bounds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

TABLE = "msg_records"
DEFAULT_PARTITION = "msg_records_default"
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
_PARTITION = re.compile(r"^msg_records_(default|p\d{6})$")


def _month_start(year: int, month: int) -> datetime:
    y, m = divmod(year * 12 + month - 1, 12)
    return datetime(y, m + 1, 1, tzinfo=CHINA)


def _lit(at: datetime) -> str:
    return "'" + at.isoformat(sep=" ") + "'"


def create_msg_records_partitions(op: Any, *, months_ahead: int = 3, now: datetime | None = None) -> None:
    """PostgreSQL: the DEFAULT partition and the partitions of the current China month and
    ``months_ahead`` months after it (``msg_records_pYYYYMM`` = ``[YYYY-MM-01 00:00+08:00, next
    month's 1st 00:00+08:00)``). Refuses a ``msg_records`` that is not partitioned."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    kind = bind.scalar(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": TABLE})
    if kind != "p":
        raise RuntimeError(
            "msg_records exists but is not partitioned: create it with postgresql_partition_by='RANGE (at)' "
            "(or move its rows into a partitioned copy) before this step"
        )
    op.execute(f'CREATE TABLE IF NOT EXISTS "{DEFAULT_PARTITION}" PARTITION OF "{TABLE}" DEFAULT')
    local = (now or datetime.now(UTC)).astimezone(CHINA)
    for i in range(months_ahead + 1):
        start = _month_start(local.year, local.month + i)
        end = _month_start(local.year, local.month + i + 1)
        name = f"{TABLE}_p{start.year:04d}{start.month:02d}"
        op.execute(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{TABLE}" '
            f"FOR VALUES FROM ({_lit(start)}) TO ({_lit(end)})"
        )


def include_name(name: str | None, type_: Any, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: leave ``msg_records``' partitions and their indexes out of
    autogenerate comparisons (they are not in the models; the worker manages them)."""
    if type_ == "table" and name and _PARTITION.match(name):
        return False
    table = parent_names.get("table_name") if type_ in ("index", "unique_constraint", "column") else None
    return not (table and _PARTITION.match(str(table)))
