"""No stale cache across workers: two engines on one database stand for two worker processes, each
with its own decision cache (O24-9.1). A withdrawal committed by one is refused by the other's next
transaction; within a transaction, warm decisions run no SQL at all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from piguard.consent import service
from piguard.consent.purposes import StaticPurposes

from .conftest import OTHER, PHONE, STAFF, second_engine, shown

pytestmark = pytest.mark.obligation("O24-9.1", "CSL-41.1")


@pytest.fixture()
def worker_b(db_engine: Engine) -> Iterator[Session]:
    eng = second_engine(db_engine)
    s = sessionmaker(bind=eng, expire_on_commit=False)()
    yield s
    s.rollback()
    s.close()
    eng.dispose()


def _count_sql(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_withdrawal_on_one_worker_is_refused_by_the_next_decision_of_the_other(
    session: Session, worker_b: Session, source: StaticPurposes
) -> None:
    worker_a = session
    service.grant(worker_a, PHONE, "marketing", shown(), actor=STAFF)
    service.grant(worker_a, OTHER, "marketing", shown(), actor=STAFF)
    worker_a.commit()
    # both workers warm their caches
    assert service.may(worker_a, STAFF, PHONE, ["name"], "marketing").allowed
    assert service.may(worker_b, STAFF, PHONE, ["name"], "marketing").allowed
    assert service.may(worker_b, STAFF, OTHER, ["name"], "marketing").allowed
    worker_b.commit()
    worker_a.commit()
    # worker B withdraws and commits
    service.withdraw(worker_b, PHONE, "marketing", shown("撤回"), actor=STAFF)
    worker_b.commit()
    # worker A's very next decision (its next transaction) refuses
    d = service.may(worker_a, STAFF, PHONE, ["name"], "marketing")
    assert not d.allowed and d.reasons[0].code == "no_consent"
    # ... and only that subject was dropped: the other stays allowed
    assert service.may(worker_a, STAFF, OTHER, ["name"], "marketing").allowed
    assert not service.may(worker_b, STAFF, PHONE, ["name"], "marketing").allowed
    # granted again on A: B's next transaction allows again
    worker_a.commit()
    service.grant(worker_a, PHONE, "marketing", shown(), actor=STAFF)
    worker_a.commit()
    worker_b.commit()
    assert service.may(worker_b, STAFF, PHONE, ["name"], "marketing").allowed


def test_warm_decisions_run_no_sql_and_a_new_transaction_runs_one_read(
    session: Session, worker_b: Session, source: StaticPurposes
) -> None:
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    bind = worker_b.get_bind()
    assert isinstance(bind, Engine)
    seen = _count_sql(bind)
    assert service.may(worker_b, STAFF, PHONE, ["name"], "marketing").allowed
    cold = len(seen)
    assert cold >= 2  # the epoch row, then the subject
    for _ in range(50):
        assert service.may(worker_b, STAFF, PHONE, ["name"], "marketing").allowed
    assert len(seen) == cold  # warm: from memory
    worker_b.commit()
    assert service.may(worker_b, STAFF, PHONE, ["name"], "marketing").allowed
    assert len(seen) == cold + 1  # next transaction: the epoch row only
    assert "consent_epoch" in seen[-1]


def test_suspension_on_one_worker_reaches_every_subject_on_the_other(
    session: Session, worker_b: Session, source: StaticPurposes
) -> None:
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    assert service.may(worker_b, STAFF, PHONE, ["name"], "marketing").allowed
    worker_b.commit()
    service.suspend(session, "*", order_ref="通信管理局暂停令-1", actor=STAFF)
    session.commit()
    d = service.may(worker_b, STAFF, PHONE, ["name"], "marketing")
    assert not d.allowed and d.reasons[0].code == "processing_suspended"
