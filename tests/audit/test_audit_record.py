"""Recording: batching at flush/commit, the caller's transaction, savepoints, round trips (O24-13.6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, String, event, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from piguard.audit import service
from piguard.audit.chain import GENESIS, entry_hash
from piguard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from piguard.audit.service import Actor, record, verify
from piguard.core.errors import PiguardError

pytestmark = pytest.mark.obligation("O24-13.6")

STAFF = Actor("staff", "s-17")


class _Base(DeclarativeBase):
    pass


class Widget(_Base):
    """A stand-in for another domain's table, to make the session dirty."""

    __tablename__ = "audit_test_widget"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture()
def widgets(db_engine: Engine) -> Iterator[None]:
    _Base.metadata.create_all(db_engine)
    yield
    _Base.metadata.drop_all(db_engine)


def committed(engine: Engine) -> list[AuditEntry]:
    with sessionmaker(bind=engine)() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_entries_are_written_at_commit_as_a_gap_free_chain(session: Session, db_engine: Engine) -> None:
    record(
        session,
        action="pi.read",
        actor=STAFF,
        subject_ref="user-1",
        data_categories=["user.contact.phone"],
        purpose="customer_service",
        client_ip="10.1.2.3",
        terminal="desk-4",
        obligations=["O24-13.6"],
    )
    record(session, action="staff.create", actor=Actor.system("cli"), detail={"roles": ["auditor"]})
    assert service.pending_count(session) == 2
    assert committed(db_engine) == []  # nothing written before the flush
    session.commit()
    rows = committed(db_engine)
    assert [r.seq for r in rows] == [1, 2]
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].hash
    assert rows[0].hash == entry_hash(
        GENESIS, {c.key: getattr(rows[0], c.key) for c in AuditEntry.__table__.c}
    )
    assert rows[0].time.tzinfo is not None and rows[0].client_ip == "10.1.2.3"
    assert (rows[1].actor_type, rows[1].actor_id, rows[1].outcome) == ("system", "cli", "ok")
    assert service.pending_count(session) == 0
    record(session, action="pi.read", actor=STAFF)
    session.commit()
    assert [r.seq for r in committed(db_engine)] == [1, 2, 3]
    assert verify(session).ok


def test_record_never_commits_and_a_rollback_discards_its_entries(
    session: Session, db_engine: Engine
) -> None:
    record(session, action="pi.read", actor=STAFF)
    session.flush()
    session.rollback()
    assert service.pending_count(session) == 0
    session.commit()
    assert committed(db_engine) == []
    # entries written by a flush vanish with the transaction too
    record(session, action="pi.read", actor=STAFF)
    service.checkpoint(session)  # writes the pending entry and a checkpoint
    assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 1
    session.rollback()
    assert committed(db_engine) == []
    with sessionmaker(bind=db_engine)() as s:
        assert s.execute(select(func.count()).select_from(AuditCheckpoint)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(AuditHead)).scalar_one() == 0


def test_entries_are_written_when_the_session_flushes(
    session: Session, db_engine: Engine, widgets: None
) -> None:
    record(session, action="pi.write", actor=STAFF, subject_ref="user-2")
    session.add(Widget(name="w"))
    session.flush()  # before_flush writes the buffer in this transaction
    assert service.pending_count(session) == 0
    assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 1
    assert committed(db_engine) == []  # not visible to others until the caller commits
    session.commit()
    assert len(committed(db_engine)) == 1


def test_entries_recorded_by_other_flush_listeners_are_written(
    session: Session, db_engine: Engine, widgets: None
) -> None:
    def on_flush(s: Session, _ctx: object, _instances: object) -> None:
        for obj in s.new:
            if isinstance(obj, Widget):
                record(s, action="widget.create", actor=STAFF, detail={"label": obj.name})

    event.listen(session, "before_flush", on_flush)
    try:
        session.add(Widget(name="w1"))
        session.commit()
    finally:
        event.remove(session, "before_flush", on_flush)
    assert [(r.action, r.detail) for r in committed(db_engine)] == [("widget.create", {"label": "w1"})]
    assert verify(session).ok


def test_a_rolled_back_savepoint_takes_only_its_own_entries(
    session: Session, db_engine: Engine, widgets: None
) -> None:
    record(session, action="pi.read", actor=STAFF, subject_ref="before")
    nested = session.begin_nested()
    record(session, action="pi.write", actor=STAFF, subject_ref="inside-rolled-back")
    session.add(Widget(name="x"))
    session.flush()
    nested.rollback()
    with session.begin_nested():
        record(session, action="pi.write", actor=STAFF, subject_ref="inside-kept")
    record(session, action="pi.read", actor=STAFF, subject_ref="after")
    session.commit()
    assert [r.subject_ref for r in committed(db_engine)] == ["inside-kept", "before", "after"]
    assert verify(session).ok


def test_values_round_trip_so_the_hash_recomputes_on_every_backend(session: Session) -> None:
    detail = {
        "float": 0.1,
        "tiny": 2.5e-07,
        "huge": 1e300,
        "neg_zero": -0.0,
        "int": 2**62,
        "big": 10**30,
        "quote": '中文 ☃ "quoted" \\ back\nslash',
        "nested": {"z": [1, {"y": None}], "a": True},
        "empty": {},
        "when": datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    }
    record(session, action="pi.read", actor=Actor("end_user", "u-😀"), detail=detail, purpose="查询话费")
    session.commit()
    entry = session.scalars(select(AuditEntry)).one()
    assert entry.detail["when"] == "2024-02-29T23:59:59.999999Z"
    assert entry.detail["float"] == 0.1 and entry.detail["big"] == 10**30
    result = verify(session)
    assert result.ok, result.message_en


def test_periodic_and_manual_checkpoints(
    session: Session, write_entries: Callable[..., None], checkpoint_every: Callable[[int], None]
) -> None:
    checkpoint_every(5)
    write_entries(12, per_commit=4)
    seqs = session.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)).all()
    assert seqs == [5, 10]
    info = service.checkpoint(session)
    session.commit()
    assert (info.seq, info.count, info.kind) == (12, 12, "manual")
    result = verify(session)
    assert result.ok and result.checkpoints_checked == 3 and result.checked == 12
    assert result.head_seq == 12 and result.signed_head_seq == 12


def test_checkpoint_of_an_empty_log_is_refused(session: Session) -> None:
    with pytest.raises(PiguardError) as err:
        service.checkpoint(session)
    assert err.value.code == "audit_empty"
    empty = verify(session)
    assert empty.ok and empty.checked == 0 and empty.head_seq is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "Read PI"}, "action"),
        ({"action": ""}, "action"),
        ({"action": "pi"}, "action"),
        ({"actor": Actor("robot", "r")}, "actor.type"),
        ({"outcome": "maybe"}, "outcome"),
        ({"obligations": ["article 5"]}, "obligations[0]"),
        ({"obligations": "O24-13.6"}, "obligations"),
        ({"data_categories": ["bad category!"]}, "data_categories[0]"),
        ({"client_ip": "not-an-ip"}, "client_ip"),
        ({"purpose": "x" * 201}, "purpose"),
        ({"subject_ref": "user\x00"}, "subject_ref"),
        ({"detail": {"x": object()}}, "detail.x"),
        ({"detail": {"x": float("inf")}}, "detail.x"),
        ({"detail": {"x": "a" * 20000}}, "detail"),
    ],
)
def test_bad_entries_are_refused_with_a_clear_error(
    session: Session, kwargs: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {"action": "pi.read", "actor": STAFF, **kwargs}
    with pytest.raises(PiguardError) as err:
        record(session, **args)  # type: ignore[arg-type]
    assert err.value.code == "audit_invalid_entry" and err.value.http_status == 422
    assert err.value.fields[0].field == field
    assert "O24-13.6" in err.value.obligations
    assert service.pending_count(session) == 0


def test_ipv6_addresses_are_normalised(session: Session) -> None:
    record(
        session, action="auth.login_failed", actor=STAFF, client_ip="2001:DB8:0:0:0:0:0:1", outcome="refused"
    )
    session.commit()
    assert session.scalars(select(AuditEntry.client_ip)).one() == "2001:db8::1"


def test_search_filters_and_pages(session: Session) -> None:
    for i in range(6):
        record(
            session,
            action="auth.login_failed" if i % 2 else "pi.read",
            actor=Actor("staff", f"s-{i % 2}"),
            subject_ref=f"user-{i % 3}",
            outcome="refused" if i == 5 else "ok",
        )
    record(session, action="auth.login9failed", actor=Actor("agent", "a-1"))
    record(session, action="pi.read", actor=Actor("end_user", "u-1"), subject_ref="u-1")
    session.commit()
    seqs = lambda es: [e.seq for e in es]  # noqa: E731
    assert seqs(service.search(session)) == [8, 7, 6, 5, 4, 3, 2, 1]
    assert seqs(service.search(session, actor_id="s-1")) == [6, 4, 2]
    assert seqs(service.search(session, actor_type="agent")) == [7]
    assert seqs(service.search(session, subject_ref="user-0")) == [4, 1]
    assert seqs(service.search(session, action="auth.login_")) == [6, 4, 2]  # "_" is literal, not a wildcard
    assert seqs(service.search(session, action="auth")) == [7, 6, 4, 2]
    assert seqs(service.search(session, outcome="refused")) == [6]
    assert seqs(service.search(session, actor_id="s-1", outcome="ok")) == [4, 2]
    assert seqs(service.search(session, limit=3)) == [8, 7, 6]
    assert seqs(service.search(session, limit=3, cursor=6)) == [5, 4, 3]
    assert seqs(service.search(session, limit=3, offset=6)) == [2, 1]
    now = datetime.now(UTC)
    assert (
        len(service.search(session, since=now - timedelta(minutes=5), until=now + timedelta(minutes=5))) == 8
    )
    assert service.search(session, since=now + timedelta(minutes=5)) == []
    assert service.search(session, until=now - timedelta(minutes=5)) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"actor_type": "robot"}, "actor_type"),
        ({"outcome": "maybe"}, "outcome"),
        ({"since": datetime(2024, 1, 1)}, "since"),
        ({"since": datetime(2024, 2, 1, tzinfo=UTC), "until": datetime(2024, 1, 1, tzinfo=UTC)}, "until"),
    ],
)
def test_bad_search_filters_are_refused(session: Session, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(PiguardError) as err:
        service.search(session, **kwargs)  # type: ignore[arg-type]
    assert err.value.code == "validation_error" and err.value.fields[0].field == field


def test_verify_reads_in_bounded_batches(
    session: Session, write_entries: Callable[..., None], checkpoint_every: Callable[[int], None]
) -> None:
    checkpoint_every(7)
    write_entries(50, per_commit=9)
    for batch in (1, 3, 7, 50, 1000):
        result = verify(session, batch_size=batch)
        assert result.ok and result.checked == 50 and result.checkpoints_checked == 7, batch
    with pytest.raises(PiguardError):
        verify(session, batch_size=0)


def test_a_missing_head_is_recorded_in_the_chain_and_not_silently_replaced(
    session: Session, db_engine: Engine
) -> None:
    record(session, action="pi.read", actor=STAFF)
    session.commit()
    with db_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    assert verify(session).problem == "bad_signature"
    with pytest.raises(PiguardError) as err:
        service.checkpoint(session)  # nothing is signed over a head that does not check out
    assert err.value.code == "audit_head_invalid"
    session.rollback()
    record(session, action="pi.read", actor=STAFF)
    session.commit()  # the writer records what it found, then goes on and signs a new head
    entries = committed(db_engine)
    assert [(r.seq, r.action, r.outcome) for r in entries] == [
        (1, "pi.read", "ok"),
        (2, "audit.head_reset", "failed"),
        (3, "pi.read", "ok"),
    ]
    assert entries[1].detail == {
        "reason": "missing",
        "signed_head_seq": None,
        "last_entry_seq": 1,
        "last_checkpoint_seq": 0,
    }
    result = verify(session)  # a reset is a failure until an operator acknowledges it
    assert not result.ok and result.problem == "head_reset" and result.first_bad_seq == 2
    assert "acknowledge-reset 2" in result.message_en and "重置" in result.message_zh
    service.acknowledge_reset(session, reset_seq=2, reason="head row lost in a restore", actor=STAFF)
    session.commit()
    result = verify(session)
    assert result.ok and result.head_resets == (2,)
    assert "reset at seq 2" in result.message_en and "确认" in result.message_zh
