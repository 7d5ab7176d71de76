"""``core.db.insert_rows`` writes what ``session.execute(table.insert(), rows)`` writes: the same
values through the same type processors (aware UTC times, JSON, None), on each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, delete, select
from sqlalchemy.orm import Session

from piguard.core.db import insert_rows, insert_tuples
from piguard.messaging.records.service import RECORD_COLUMNS, RECORDS, new_ref, record_row

pytestmark = pytest.mark.obligation("O31-11")


def _rows(n: int, at: datetime) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        row = record_row(
            ref=new_ref(),
            at=at if i % 2 else at + timedelta(seconds=i),  # shared and distinct time objects
            direction="out",
            channel="sms",
            sender="106900010101",
            address=f"+86138001380{i:02d}",
            recipient_hash=f"{i:032d}",
            recipient_masked="138****8000",
            content="【优品】冬季上新 回T退订" if i % 3 else "含\u0007控制与 'quote' \"dq\" %(x)s ? :y",
            content_has_pi=False,
            outcome="allow",
            status="queued",
            reason_codes=[f"code_{i}"] if i % 4 else [],
            obligations=["O31-11", "O31-18.1"] if i % 2 else [],
            kind=None if i % 5 == 0 else "commercial",
            client_ref=None if i % 2 else f"c-{i}",
        )
        out.append(row)
    return out


def _read(session: Session) -> list[tuple[Any, ...]]:
    cols = [c for c in RECORDS.c if c.name != "id"]
    return [tuple(r) for r in session.execute(select(*cols).order_by(RECORDS.c.ref)).all()]


def test_insert_rows_binds_what_sqlalchemy_binds(session: Session) -> None:
    at = datetime(2026, 12, 4, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=8)))
    rows = _rows(40, at)
    session.execute(RECORDS.insert(), [dict(r) for r in rows])
    expected = _read(session)
    session.execute(delete(RECORDS))
    insert_rows(session, RECORDS, [dict(r) for r in rows])
    got = _read(session)
    assert got == expected and len(got) == 40
    times = {r[1] for r in got}
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    assert min(times) == at.astimezone(UTC)


def test_insert_tuples_writes_what_insert_rows_writes(session: Session) -> None:
    at = datetime(2026, 12, 4, 3, 4, 5, 678901, tzinfo=UTC)
    rows = _rows(30, at)
    assert all(tuple(r) == RECORD_COLUMNS for r in rows)  # record_row: the columns of record_values
    insert_rows(session, RECORDS, [dict(r) for r in rows])
    expected = _read(session)
    session.execute(delete(RECORDS))
    insert_tuples(session, RECORDS, RECORD_COLUMNS, [tuple(r.values()) for r in rows])
    assert _read(session) == expected and len(expected) == 30
    with pytest.raises(ValueError):
        insert_tuples(session, RECORDS, RECORD_COLUMNS, [tuple(rows[0].values())[:-1]])


def test_insert_rows_leaves_python_side_defaults_to_sqlalchemy(session: Session) -> None:
    at = datetime(2026, 12, 4, tzinfo=UTC)
    short = {k: v for k, v in _rows(1, at)[0].items() if k not in ("reasons", "reason_codes", "obligations")}
    insert_rows(session, RECORDS, [short])  # columns with Python-side defaults left out
    insert_rows(session, RECORDS, [])
    got = session.execute(select(RECORDS.c.reasons, RECORDS.c.reason_codes, RECORDS.c.ref)).all()
    assert [(r.reasons, r.reason_codes, r.ref) for r in got] == [([], [], short["ref"])]


def test_insert_rows_leaves_columns_null_in_every_row_out_and_they_read_back_null(session: Session) -> None:
    """A column that is None in every row is left out of the statement (no per-row NULL to bind):
    what is stored is what SQLAlchemy's insert stores; a column with a server default still gets
    the NULL it was given, and a JSON column its ``null``."""
    at = datetime(2026, 12, 4, tzinfo=UTC)
    rows = [dict(r, client_ref=None, kind=None, campaign_id=None) for r in _rows(12, at)]
    session.execute(RECORDS.insert(), [dict(r) for r in rows])
    expected = _read(session)
    session.execute(delete(RECORDS))
    insert_rows(session, RECORDS, [dict(r) for r in rows])
    assert _read(session) == expected
    nulls = session.execute(select(RECORDS.c.client_ref, RECORDS.c.kind, RECORDS.c.campaign_id)).all()
    assert {tuple(r) for r in nulls} == {(None, None, None)}

    md = MetaData()
    t = Table(
        "t_insert_rows_nulls",
        md,
        Column("id", Integer, primary_key=True),
        Column("plain", String(8), nullable=True),
        Column("with_default", String(8), nullable=True, server_default="x"),
        Column("doc", JSON, nullable=True),
    )
    md.create_all(session.connection())
    try:
        insert_rows(session, t, [{"plain": None, "with_default": None, "doc": None}] * 3)
        got = session.execute(select(t.c.plain, t.c.with_default, t.c.doc)).all()
        assert [tuple(r) for r in got] == [(None, None, None)] * 3
    finally:
        md.drop_all(session.connection())


def test_in_values_selects_what_in_selects(session: Session) -> None:
    from piguard.core.db import in_values

    at = datetime(2026, 12, 4, tzinfo=UTC)
    rows = _rows(30, at)
    insert_rows(session, RECORDS, rows)
    ids = [r.id for r in session.execute(select(RECORDS.c.id)).all()]
    wanted_hashes = [rows[i]["recipient_hash"] for i in (0, 7, 29)] + ["not-there", 'it\'s "quoted"']
    cases = ((RECORDS.c.recipient_hash, wanted_hashes, 3), (RECORDS.c.id, ids[::4], 8), (RECORDS.c.id, [], 0))
    for col, values, n in cases:
        expected = session.execute(select(RECORDS.c.ref).where(col.in_(values)).order_by(RECORDS.c.ref)).all()
        got = session.execute(
            select(RECORDS.c.ref).where(in_values(session, col, values)).order_by(RECORDS.c.ref)
        ).all()
        assert got == expected and len(got) == n
