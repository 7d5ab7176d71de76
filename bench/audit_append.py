"""Audit append throughput: the hash chain on, beside a plain insert of the same rows (O24-13.6).

For each backend (SQLite in a temporary file; PostgreSQL in a temporary schema when it answers),
two figures:

* batched: ``--batch`` entries (default 100) per transaction;
* single: one entry per transaction (the worst case for the chain: lock, head read and head update
  are paid by every entry).

Three ways of writing the same entries, each committing per transaction:

* plain: the rows, prepared beforehand, inserted into ``audit_plain`` (same columns, types and
  indexes as ``audit_entry``) with the same batched insert: no checks, no chain, no lock;
* chain: the same prepared rows through the chain write path (chain lock, head read, SHA-256 over
  the canonical form, insert, signed head, periodic checkpoints): what tamper-evidence costs;
* record(): the whole API, ``record()`` per entry (input checks, PI guard and masking) then commit.

    uv run python bench/audit_append.py [--rows 5000] [--single 500] [--batch 100]
    PIGUARD_BENCH_POSTGRES_URL=postgresql+psycopg://user@host/db uv run python bench/audit_append.py

Target: chain >= 0.5 x plain on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, MetaData, Table, insert, text
from sqlalchemy.orm import sessionmaker

from piguard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from piguard.audit.service import Actor, _append, record, verify
from piguard.core import db
from piguard.core.db import utcnow

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENTRY = cast(Table, AuditEntry.__table__)
AUDIT_TABLES = [ENTRY, cast(Table, AuditHead.__table__), cast(Table, AuditCheckpoint.__table__)]


def plain_table() -> Table:
    """``audit_plain``: the columns and secondary indexes (``index=True``) of ``audit_entry``, no chain."""
    table = Table("audit_plain", MetaData(), *(c._copy() for c in ENTRY.columns))
    assert {tuple(c.name for c in i.columns) for i in table.indexes} == {
        tuple(c.name for c in i.columns) for i in ENTRY.indexes
    }
    return table


PLAIN = plain_table()


def entry_kwargs(i: int) -> dict[str, Any]:
    return {
        "action": "pi.read" if i % 4 else "pi.write",
        "actor": Actor("staff", f"staff-{i % 37}"),
        "subject_ref": f"u-{i % 5003:08d}",
        "data_categories": ("user.contact.phone", "user.account"),
        "purpose": "customer_service",
        "outcome": "ok",
        "obligations": ("O24-13.6", "O24-9.1"),
        "client_ip": f"10.20.{i % 37}.{i % 37 + 10}",  # each staff member at their workstation
        "terminal": f"desk-{i % 37}",
        "detail": {
            "fields": ["phone", "plan"],
            "masked": True,
            "ticket": f"T{i:07d}",
            "phone": "138****5678",
        },
    }


def plain_row(seq: int, kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": seq,
        "time": utcnow(),
        "actor_type": kw["actor"].type,
        "actor_id": kw["actor"].id,
        "client_ip": kw["client_ip"],
        "terminal": kw["terminal"],
        "action": kw["action"],
        "subject_ref": kw["subject_ref"],
        "data_categories": list(kw["data_categories"]),
        "purpose": kw["purpose"],
        "outcome": kw["outcome"],
        "obligations": list(kw["obligations"]),
        "detail": kw["detail"],
        "prev_hash": "0" * 64,
        "hash": "f" * 64,
    }


class Runner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.factory = sessionmaker(bind=engine, expire_on_commit=False)
        self.plain_seq = 0
        self.count = 0

    def reset(self) -> None:
        with self.engine.begin() as conn:
            for t in [PLAIN, *AUDIT_TABLES]:
                conn.execute(t.delete())
        self.plain_seq = 0

    def chain(self, rows: int, per_tx: int) -> float:
        kws = [entry_kwargs(self.count + i) for i in range(rows)]
        self.count += rows
        start = time.perf_counter()
        for lo in range(0, rows, per_tx):
            with self.factory() as s:
                for kw in kws[lo : lo + per_tx]:
                    record(s, **kw)
                s.commit()
        return rows / (time.perf_counter() - start)

    def chain_only(self, rows: int, per_tx: int) -> float:
        """The chain write path alone (lock, head, SHA-256, insert, signed head) over rows checked
        beforehand, as the plain insert gets them: what tamper-evidence itself costs."""
        prepared = [plain_row(0, entry_kwargs(self.count + i)) for i in range(rows)]
        for row in prepared:
            del row["seq"], row["prev_hash"], row["hash"]
        self.count += rows
        start = time.perf_counter()
        for lo in range(0, rows, per_tx):
            with self.factory() as s:
                _append(s.connection(), prepared[lo : lo + per_tx])
                s.commit()
        return rows / (time.perf_counter() - start)

    def plain(self, rows: int, per_tx: int) -> float:
        prepared = [plain_row(self.plain_seq + i + 1, entry_kwargs(self.count + i)) for i in range(rows)]
        self.plain_seq += rows
        self.count += rows
        start = time.perf_counter()
        for lo in range(0, rows, per_tx):
            with self.factory() as s:
                s.execute(insert(PLAIN), prepared[lo : lo + per_tx])
                s.commit()
        return rows / (time.perf_counter() - start)


def measure(runner: Runner, rows: int, per_tx: int, rounds: int) -> tuple[float, float, float]:
    """Rates over ``rounds`` interleaved rounds (plain, chain, record() in turn, ``rows / rounds``
    entries each), so that the load of a shared machine falls on all three alike."""
    warm = min(rows, 5 * per_tx)  # statement caches, connections
    runner.chain(warm, per_tx)
    runner.chain_only(warm, per_tx)
    runner.plain(warm, per_tx)
    share = max(per_tx, rows // rounds // per_tx * per_tx)
    spent = {"plain": 0.0, "chain": 0.0, "record": 0.0}
    done = 0
    while done < rows:
        n = min(share, rows - done)
        spent["plain"] += n / runner.plain(n, per_tx)
        spent["chain"] += n / runner.chain_only(n, per_tx)
        spent["record"] += n / runner.chain(n, per_tx)
        done += n
    return rows / spent["record"], rows / spent["chain"], rows / spent["plain"]


Result = tuple[str, str, float, float, float]


def bench_backend(name: str, engine: Engine, args: argparse.Namespace) -> list[Result]:
    md_tables = [PLAIN, *AUDIT_TABLES]
    for t in md_tables:
        t.create(engine, checkfirst=True)
    runner = Runner(engine)
    runner.reset()
    results = []
    results.append((name, f"{args.batch} per tx", *measure(runner, args.rows, args.batch, args.rounds)))
    results.append((name, "1 per tx", *measure(runner, args.single, 1, args.rounds)))
    with sessionmaker(bind=engine)() as s:
        result = verify(s)
    if not result.ok:
        raise SystemExit(f"{name}: the chain written by the benchmark does not verify: {result.message_en}")
    return results


def with_sqlite(fn: Callable[[str, Engine], Any]) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            return fn("SQLite (file, WAL)", engine)
        finally:
            engine.dispose()


def with_postgres(url: str, fn: Callable[[str, Engine], Any]) -> Any:
    schema = f"bench_audit_{uuid.uuid4().hex[:10]}"
    try:
        admin = db.make_engine(url, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # not reachable: say so and go on
        print(f"PostgreSQL skipped: {url.split('@')[-1]} not reachable ({type(exc).__name__})")
        return None
    engine = db.make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        return fn("PostgreSQL", engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=5000, help="entries per batched run (default 5000)")
    parser.add_argument("--single", type=int, default=500, help="entries per single-entry run (default 500)")
    parser.add_argument("--batch", type=int, default=100, help="entries per transaction (default 100)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--postgres-url", default=os.environ.get("PIGUARD_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    if min(args.rows, args.single, args.batch, args.rounds) < 1:
        parser.error("--rows, --single, --batch and --rounds must be positive")
    os.environ.setdefault("PIGUARD_AUDIT_CHECKPOINT_EVERY", "1000")

    started = time.perf_counter()
    results = with_sqlite(lambda name, engine: bench_backend(name, engine, args))
    if not args.no_postgres:
        results += (
            with_postgres(args.postgres_url, lambda name, engine: bench_backend(name, engine, args)) or []
        )

    print()
    print(f"entries per second ({args.rounds} interleaved rounds)")
    print(
        f"{'backend':<20} {'batch':<11} {'plain':>9} {'chain':>9} {'ratio':>6} {'record()':>9} {'ratio':>6}"
    )
    print("-" * 76)
    for backend, shape, chain, chain_only, plain in results:
        print(
            f"{backend:<20} {shape:<11} {plain:>9,.0f} {chain_only:>9,.0f} {chain_only / plain:>6.2f} "
            f"{chain:>9,.0f} {chain / plain:>6.2f}"
        )
    print(
        f"""
plain:    batched insert of prepared rows into a table of the same shape and indexes, no chain
chain:    the same prepared rows through the chain write path (lock, signed head, SHA-256, insert)
record(): the whole API: record() per entry (input checks, PI guard, masking) then commit
target on PostgreSQL: chain >= 0.5 x plain ({time.perf_counter() - started:.1f} s in all)"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
