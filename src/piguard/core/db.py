"""Database: engine, session factory, declarative base and the unit of work.

SQLite by default (a file under ``PIGUARD_DATA_DIR``), PostgreSQL via psycopg 3 in production.
Service functions take a session and never commit: the caller (view, CLI command, job) owns the
transaction through :func:`unit_of_work`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, DateTime, Engine, MetaData, Table, TypeDecorator, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from piguard.core.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Times are stored in UTC and come back timezone-aware on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: piguard stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json_dumps(value: Any) -> str:
    """JSON columns: orjson (several times faster on the gateway's per-message rows), falling back to
    the standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False)


#: SQLite page cache per connection, KiB (a maximum: pages are cached as they are read)
SQLITE_CACHE_KIB = 32 * 1024


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = url or get_settings().resolved_database_url()
    # Statement parameters hold personal information and message content: never in logs or
    # exception texts, whatever logging level someone turns on.
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_serializer", _json_dumps)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # a page cache of up to 32 MiB (the default is 2 MiB): a gateway batch dirties ~1,700
            # pages (the records, their indexes, ~500 consents' counters) and reads the consents of
            # 1,000 recipients; with 2 MiB it spilled and re-read pages within the batch (a third
            # fewer page reads with 32 MiB; bench/gateway.py)
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def get_engine() -> Engine:
    global _engine, _factory
    if _engine is None:
        _engine = make_engine()
        _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the process at another engine (tests, the CLI's --database option)."""
    global _engine, _factory
    _engine = engine
    _factory = sessionmaker(bind=engine, expire_on_commit=False) if engine is not None else None


def session_factory() -> sessionmaker[Session]:
    get_engine()
    assert _factory is not None
    return _factory


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Open a session, commit on success, roll back on any error."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def core_connection(session: Session) -> Connection:
    """The session's connection, for Core statements over tables, after the flush that an ORM
    statement's ``session.execute`` does first (autoflush): the statement sees the session's
    pending objects as the ORM statement did, and skips the ORM's compile and result layers."""
    if session.autoflush:
        session.flush()
    return session.connection()


#: per (table, dialect, keys): the INSERT's SQL and each parameter's key and bind processor
_INSERT_PLANS: dict[
    tuple[int, str, tuple[str, ...]], tuple[str, bool, tuple[tuple[str, Any], ...]] | None
] = {}


def _insert_plan(
    table: Table, dialect: Any, keys: tuple[str, ...]
) -> tuple[str, bool, tuple[tuple[str, Any], ...]] | None:
    """The SQL of ``table.insert()`` for rows with ``keys`` and the bind processor of each parameter
    (SQLAlchemy's own: TypeDecorators, JSON, SQLite's datetimes), computed once; None when the
    statement needs more than the rows give (a Python-side column default)."""
    compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
    names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
    if set(names) != set(keys) or len(names) != len(keys):
        return None
    procs = tuple((n, table.c[n].type._cached_bind_processor(dialect)) for n in names)
    return str(compiled), bool(compiled.positional), procs


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys in one ``executemany``, the values bound as
    ``session.execute(table.insert(), rows)`` binds them, without its per-row parameter building
    (~5 µs a row: the gateway writes a record and an outbox row per message). Falls back to that
    call when the statement needs defaults the rows do not give."""
    if not rows:
        return
    keys = tuple(rows[0])
    if any(len(r) != len(keys) for r in rows):
        session.execute(table.insert(), rows)
        return
    try:
        columns = [list(map(itemgetter(k), rows)) for k in keys]
    except KeyError:  # rows with other keys: SQLAlchemy's own path sorts them out
        session.execute(table.insert(), rows)
        return
    if not _insert_columns(session, table, keys, columns):
        session.execute(table.insert(), rows)


def insert_tuples(
    session: Session, table: Table, keys: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """:func:`insert_rows` for rows given as tuples of the values of ``keys``, in that order (a
    writer of many rows a batch builds them so: a dict of two dozen keys a row costs more than its
    insert's parameters)."""
    if not rows:
        return
    if any(len(r) != len(keys) for r in rows):
        raise ValueError(f"rows of {table.name} must give the {len(keys)} values of {keys}")
    columns = [list(c) for c in zip(*rows, strict=True)]
    if not _insert_columns(session, table, keys, columns):
        session.execute(table.insert(), [dict(zip(keys, r, strict=True)) for r in rows])


def _insert_columns(session: Session, table: Table, keys: tuple[str, ...], columns: list[list[Any]]) -> bool:
    """One ``executemany`` of ``table``'s INSERT for the values of ``keys`` given column by column;
    False (nothing written) when the statement needs more than they give (a Python-side default)."""
    conn = session.connection()
    plan_key = (id(table), conn.dialect.name, keys)
    if plan_key not in _INSERT_PLANS:
        _INSERT_PLANS[plan_key] = _insert_plan(table, conn.dialect, keys)
    plan = _INSERT_PLANS[plan_key]
    if plan is None:
        return False
    sql, positional, procs = plan
    by_key = dict(zip(keys, columns, strict=True))
    n = len(columns[0])
    bound = []
    null: list[str] = []
    for k, p in procs:
        values = by_key[k]
        if values.count(None) == n and k in _nulls_by_default(table):
            null.append(k)  # NULL in every row: left to the column, so not bound a row at a time
        elif p is not None:
            values = _bound(values, p)
        bound.append(values)
    if null:
        # the statement without the columns that are NULL in every row (a None parameter costs
        # the driver an adaptation lookup each; such columns have no default, so they stay NULL)
        short = tuple(k for k, _ in procs if k not in null)
        short_key = (id(table), conn.dialect.name, short)
        if short_key not in _INSERT_PLANS:
            _INSERT_PLANS[short_key] = _insert_plan(table, conn.dialect, short)
        if (short_plan := _INSERT_PLANS[short_key]) is not None:
            by_name = {k: c for (k, _), c in zip(procs, bound, strict=True)}
            sql, positional, procs = short_plan
            bound = [by_name[k] for k, _ in procs]
    params: list[Any] = list(zip(*bound, strict=True))
    if not positional:
        names = [k for k, _ in procs]
        params = [dict(zip(names, t, strict=True)) for t in params]
    conn.exec_driver_sql(sql, params)
    return True


#: per table: the columns that are NULL when an INSERT leaves them out and whose None is bound as
#: NULL (nullable, no default of either side, not a JSON-like type that writes None as ``null``)
_NULL_BY_DEFAULT: dict[int, frozenset[str]] = {}


def _nulls_by_default(table: Table) -> frozenset[str]:
    cols = _NULL_BY_DEFAULT.get(id(table))
    if cols is None:
        cols = _NULL_BY_DEFAULT[id(table)] = frozenset(
            c.key
            for c in table.columns
            if c.nullable
            and c.default is None
            and c.server_default is None
            and not c.primary_key
            and not c.type.should_evaluate_none
        )
    return cols


def _bound(values: list[Any], proc: Any) -> list[Any]:
    """``proc`` over a column's values, once per distinct object (the batch's one timestamp is
    formatted once, not once a row; rows that share one list of reasons serialise it once); None
    stays None. Keyed by ``id``: every value is alive in ``values`` while this runs."""
    ids = list(map(id, values))
    distinct = dict(zip(ids, values, strict=True))  # id -> value (the loops over rows run in C)
    done = {k: None if v is None else proc(v) for k, v in distinct.items()}
    return list(map(done.__getitem__, ids))


def in_values(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` with the values as one bound parameter: ``json_each`` on SQLite,
    ``= ANY(array)`` on PostgreSQL. The statement then compiles once whatever the count; an
    expanding ``IN`` renders a placeholder per value on every execution (with 1,000 keyed hashes
    a batch, about as much CPU as SQLite's own work on the query)."""
    from sqlalchemy import ARRAY, any_, bindparam, func, literal_column, select

    name = session.get_bind().dialect.name
    if name == "sqlite":
        each = func.json_each(bindparam("in_values", orjson.dumps(list(values)).decode()))
        return column.in_(select(literal_column("value")).select_from(each).scalar_subquery())
    if name == "postgresql":
        return column == any_(bindparam("in_values", list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


#: per (statement, dialect): the statement's SQL, each parameter's name, bind processor and value
#: when the rows do not give it (a literal of the statement), and whether the SQL is positional
_MANY_PLANS: dict[tuple[int, str], tuple[str, bool, tuple[tuple[str, Any, Any], ...]]] = {}


def execute_many(session: Session, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """``session.connection().execute(statement, rows)`` for a statement built once (a module
    constant, no expanding parameters; the rows give the same keys): compiled once per dialect, each
    parameter bound with SQLAlchemy's own processor, a value the rows share (a batch's one timestamp)
    processed once, then one ``executemany`` of the driver. Saves SQLAlchemy's per-row parameter
    building (the dispatcher settles a window of outcomes many times a second)."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    key = (id(statement), dialect.name)
    plan = _MANY_PLANS.get(key)
    if plan is None:
        compiled = statement.compile(dialect=dialect)
        binds = {name: bp for bp, name in compiled.bind_names.items()}
        defaults = {name: bp.effective_value for name, bp in binds.items()}
        types = {name: bp.type for name, bp in binds.items()}
        names = list(compiled.positiontup or []) if compiled.positional else list(binds)
        procs = tuple((n, types[n]._cached_bind_processor(dialect), defaults.get(n)) for n in names)
        plan = _MANY_PLANS[key] = (str(compiled), bool(compiled.positional), procs)
    sql, positional, procs = plan
    first, n = rows[0], len(rows)
    columns = []
    for name, proc, default in procs:
        values = [r[name] for r in rows] if name in first else [default] * n
        columns.append(_bound(values, proc) if proc is not None else values)
    params: list[Any] = list(zip(*columns, strict=True))
    if not positional:
        names = [name for name, _, _ in procs]
        params = [dict(zip(names, t, strict=True)) for t in params]
    conn.exec_driver_sql(sql, params)
