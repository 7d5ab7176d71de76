"""Concurrent writers, threads and processes, on each backend: the chain stays gap-free (O24-13.6)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor, record, verify

pytestmark = pytest.mark.obligation("O24-13.6")


def write(engine: Engine, worker: int, transactions: int, per_tx: int) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    for t in range(transactions):
        with factory() as s:
            for i in range(per_tx):
                record(
                    s,
                    action="pi.read",
                    actor=Actor("staff", f"w{worker}"),
                    subject_ref=f"user-{t}-{i}",
                    detail={"worker": worker, "tx": t, "i": i},
                )
            s.commit()


# A writer in another process: its own interpreter, engine and connections.
_WORKER = """
import sys
from sqlalchemy.orm import sessionmaker
from piguard.audit.service import Actor, record
from piguard.core import db

url, schema, worker, transactions, per_tx = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
kwargs = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
engine = db.make_engine(url, **kwargs)
factory = sessionmaker(bind=engine, expire_on_commit=False)
for t in range(transactions):
    with factory() as s:
        for i in range(per_tx):
            record(s, action="pi.read", actor=Actor("staff", f"w{worker}"), subject_ref=f"user-{t}-{i}")
        s.commit()
engine.dispose()
"""


def check(session: Session, expected: int) -> None:
    seqs = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert seqs == list(range(1, expected + 1))
    result = verify(session, batch_size=97)
    assert result.ok and result.checked == expected, result.message_en
    per_worker = dict(
        session.execute(select(AuditEntry.actor_id, func.count()).group_by(AuditEntry.actor_id)).all()
    )
    assert set(per_worker.values()) == {expected // len(per_worker)}


def test_concurrent_threads(session: Session, db_engine: Engine) -> None:
    workers, transactions, per_tx = 4, 15, 5
    errors: list[BaseException] = []

    def run(w: int) -> None:
        try:
            write(db_engine, w, transactions, per_tx)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    check(session, workers * transactions * per_tx)


def test_concurrent_processes(session: Session, db_engine: Engine) -> None:
    url = db_engine.url.render_as_string(hide_password=False)
    schema = None
    if db_engine.dialect.name == "postgresql":
        with db_engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, schema or "", str(w), "10", "4"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(2)
    ]
    write(db_engine, 2, 10, 4)  # and this process at the same time
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    check(session, 3 * 10 * 4)
