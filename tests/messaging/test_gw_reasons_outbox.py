"""Reasons on records with their own obligation ids, the reason catalogue, reason-code search in SQL,
the outbox with several dispatchers and forward-only statuses, and the bound content provider."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from piguard.core.errors import PiguardError
from piguard.messaging import reasons
from piguard.messaging.gateway import submit as batch
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import MessageRecord, OutboxMessage
from piguard.messaging.monitor import service as monitor
from piguard.messaging.records import service as records
from piguard.messaging.records.service import OutboundMessage, RecordQuery, records_search
from piguard.messaging.registry import service as registry

from .gw_setup import BUSINESS_PORT, NOTICE, WELFARE_PORT, ad, at_noon, build_registry, give_consent

pytestmark = pytest.mark.obligation("O31-11")


# ------------------------------------------------------------------------------------ reasons


@pytest.mark.obligation("O31-23", "O24-14.2", "O31-18.1", "O31-19")
def test_each_reason_is_stored_with_its_own_obligations(session: Session) -> None:
    build_registry(session)
    registry.suspend_content_provider(session, "youpin", reason="12321 referral", obligations=("O24-14.2",))
    session.commit()
    [r] = submit(session, [ad(sender=BUSINESS_PORT)], now=at_noon())
    session.commit()
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == r.ref))
    assert rec is not None and rec.outcome == "refuse"
    stored = {x["code"]: x["obligations"] for x in rec.reasons}
    # the suspension rests on the ids the operator gave, not the catalogue's default
    assert stored["content_provider_suspended"] == ["O24-14.2"]
    assert stored["port_type_mismatch"] == ["O31-19", "O31-13"]
    assert stored["consent_missing"] == ["O31-18.1", "CRL-29", "NPC-7"]
    assert [x["code"] for x in rec.reasons] == rec.reason_codes
    out = records.record_to_dict(rec)
    by_code = {x["code"]: x for x in out["reasons"]}
    assert by_code["content_provider_suspended"]["obligations"] == ["O24-14.2"]
    assert by_code["sender_registered"]["info"] is True and "derived" not in by_code["sender_registered"]
    assert monitor.record_reasons(rec) == out["reasons"]


def test_rows_written_before_per_reason_storage_stay_readable(session: Session) -> None:
    build_registry(session)
    [r] = submit(session, [ad()], now=at_noon())
    session.execute(update(MessageRecord).where(MessageRecord.ref == r.ref).values(reasons=[]))
    session.commit()
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == r.ref))
    assert rec is not None
    out = records.record_to_dict(rec)["reasons"]
    assert {
        "code": "consent_missing",
        "obligations": ["O31-18.1", "CRL-29", "NPC-7"],
        "info": False,
        "derived": True,
    } in out


def test_the_catalogue_covers_every_code_the_gateway_emits(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    registry.suspend_content_provider(session, "civic", reason="x")
    session.commit()
    results = submit(
        session,
        [
            ad(),
            ad(sender=BUSINESS_PORT),
            ad(sender="10690009"),
            ad(text="【优品商城】特价！"),
            ad(text="【优品商城】身份证110101199003074514 办证 回T退订"),
            ad(recipient="13900000000"),
            ad(message_type=None),
            ad(text=NOTICE, sender=WELFARE_PORT),
            ad(sender=WELFARE_PORT, content_provider_id=reg.youpin_id),
        ],
        now=at_noon(),
    )
    codes = {x.code for r in results for x in r.reasons}
    assert codes - set(reasons.CATALOG) == set()
    # and the shared catalogue is what batch and monitor use
    assert batch.INFO_CODES is reasons.INFO_CODES and monitor.INFO_CODES is reasons.INFO_CODES
    assert monitor.reason_label("consent_missing", "zh") == "未经用户同意"
    assert {e["code"] for e in reasons.catalogue()} == set(reasons.CATALOG)


# ------------------------------------------------------------------------------------ search


def test_reason_code_search_runs_in_sql(session: Session) -> None:
    """The wanted rows sit behind more than ten times the limit of others: an over-fetch-then-filter
    search would miss them; the SQL filter finds them, and ``_`` is not a wildcard."""
    reg = build_registry(session)
    give_consent(session, reg, max_messages=300, period_unit="month")
    now = at_noon()
    submit(session, [ad(recipient="13900000001")], now=now - timedelta(minutes=5))  # consent_missing
    submit(session, [ad() for _ in range(25)], now=now)  # allowed, newer
    session.commit()
    found = records_search(session, RecordQuery(reason_code="consent_missing", limit=2))
    assert len(found) == 1 and "consent_missing" in found[0].reason_codes
    assert len(records_search(session, RecordQuery(reason_code="consent_live", limit=2))) == 2
    assert records_search(session, RecordQuery(reason_code="consent_mi", limit=5)) == []
    assert records_search(session, RecordQuery(reason_code="consentxmissing", limit=5)) == []
    with pytest.raises(PiguardError) as e:
        records_search(session, RecordQuery(reason_code="x'; drop table"))
    assert e.value.code == "validation_error"


# ------------------------------------------------------------------------------------ outbox


class SlowTransport:
    name = "slow"

    def __init__(self, delay: float = 0.0) -> None:
        self.sent: list[str] = []
        self.delay = delay
        self._lock = threading.Lock()

    def send(self, messages: Sequence[OutboundMessage]) -> list[str | None]:
        time.sleep(self.delay)
        with self._lock:
            self.sent.extend(m.ref for m in messages)
        return [f"t-{m.ref[:8]}" for m in messages]


def _queue(session: Session, n: int) -> list[str]:
    reg = build_registry(session)
    give_consent(session, reg, max_messages=300, period_unit="month")
    res = submit(session, [ad() for _ in range(n)], now=at_noon())
    session.commit()
    return [r.ref or "" for r in res]


@pytest.mark.obligation("O31-17")
def test_a_committed_claim_keeps_other_dispatchers_off(session: Session, db_engine: Engine) -> None:
    _queue(session, 3)
    other = sessionmaker(bind=db_engine, expire_on_commit=False)()
    try:
        token = records.claim_outbox(session, limit=10)
        session.commit()
        assert token is not None
        assert records.claim_outbox(other, limit=10) is None
        other.commit()
        # the first dispatcher died: once its lease ran out the rows are taken again
        later = at_noon() + timedelta(days=2)
        assert records.claim_outbox(other, limit=10, now=later) is not None
        other.commit()
        rows = list(session.scalars(select(OutboxMessage).execution_options(populate_existing=True)))
        assert {r.status for r in rows} == {"sending"} and {r.attempts for r in rows} == {2}
    finally:
        other.close()


def test_settling_renews_the_claims_lease_once_a_third_of_it_has_passed(session: Session) -> None:
    """A live dispatcher working through a slow batch keeps its claim, without rewriting every
    lease on every window of outcomes (issue 10: that was most of the dispatcher's database work)."""
    refs = _queue(session, 4)
    t0 = at_noon()
    token = records.claim_outbox(session, limit=10, now=t0, lease_seconds=300)
    session.commit()
    assert token is not None

    def leases() -> dict[str, object]:
        rows = session.execute(
            select(OutboxMessage.message_ref, OutboxMessage.lease_until).execution_options(
                populate_existing=True
            )
        ).all()
        return {ref: until for ref, until in rows}

    first = leases()
    # a window settled 10 s in: the others' lease is left as it was
    records.settle_outbox(
        session,
        token,
        [records.SendOutcome(refs[0], "sent")],
        now=t0 + timedelta(seconds=10),
        lease_seconds=300,
    )
    session.commit()
    after = leases()
    assert after[refs[0]] is None  # settled: no claim, no lease
    assert [after[r] for r in refs[1:]] == [first[r] for r in refs[1:]]
    # 150 s in (past a third of the lease): the rest of the claim is renewed from then
    later = t0 + timedelta(seconds=150)
    records.settle_outbox(
        session, token, [records.SendOutcome(refs[1], "sent")], now=later, lease_seconds=300
    )
    session.commit()
    renewed = leases()
    assert {renewed[r] for r in refs[2:]} == {later + timedelta(seconds=300)}
    # and another dispatcher still cannot take them when the first lease would have ended
    assert records.claim_outbox(session, limit=10, now=t0 + timedelta(seconds=301)) is None


@pytest.mark.obligation("O31-17")
def test_concurrent_dispatchers_send_each_message_once(session: Session, db_engine: Engine) -> None:
    refs = _queue(session, 40)
    transport = SlowTransport(delay=0.02)
    factory = sessionmaker(bind=db_engine, expire_on_commit=False)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            while True:
                with factory() as s:
                    n = records.drain_outbox(s, transport, limit=3)
                    s.commit()
                if n == 0:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert Counter(transport.sent) == Counter(refs)  # every message exactly once
    session.expire_all()
    assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}
    assert set(session.scalars(select(MessageRecord.status))) == {"sent"}


def test_statuses_never_move_backwards(session: Session, db_engine: Engine) -> None:
    [ref] = _queue(session, 1)
    factory = sessionmaker(bind=db_engine, expire_on_commit=False)

    class ReceiptFirst:
        """The SMS centre's receipt is applied (another transaction) before the send is marked."""

        name = "receipt-first"

        def send(self, messages: Sequence[OutboundMessage]) -> list[str | None]:
            with factory() as other:
                for m in messages:
                    assert (
                        records.deliver_report(other, m.ref, "delivered", transport_ref="smsc-1")
                        == "delivered"
                    )
                other.commit()
            return ["smsc-1" for _ in messages]

    assert records.drain_outbox(session, ReceiptFirst()) == 1
    session.commit()
    assert records.deliver_report(session, ref, "sent") == "delivered"
    assert records.deliver_report(session, ref, "failed") == "delivered"
    session.commit()
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == ref))
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == ref))
    assert row is not None and rec is not None
    session.refresh(row)
    session.refresh(rec)
    assert row.status == "delivered" and rec.status == "delivered" and row.transport_ref == "smsc-1"
    with pytest.raises(PiguardError):
        records.deliver_report(session, "nope", "delivered")


def test_failed_send_is_final(session: Session) -> None:
    [ref] = _queue(session, 1)

    class Refuse:
        name = "refuse"

        def send(self, messages: Sequence[OutboundMessage]) -> list[str | None]:
            return [None for _ in messages]

    assert records.drain_outbox(session, Refuse()) == 0
    session.commit()
    assert records.deliver_report(session, ref, "sent") == "failed"
    rec = session.scalar(select(MessageRecord.status).where(MessageRecord.ref == ref))
    assert rec == "failed"


# ------------------------------------------------------------------------------------ bound provider


@pytest.mark.obligation("O31-13", "O31-10")
def test_a_bound_caller_may_not_use_another_content_providers_port(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    welfare = "【市应急管理局】台风红色预警，请转移避险。"
    res = submit(
        session,
        [
            ad(sender=WELFARE_PORT, text=welfare, message_type=None, content_provider_id=reg.youpin_id),
            ad(content_provider_id=reg.youpin_id),
            ad(content_provider_id=reg.other_id),
        ],
        now=at_noon(),
    )
    session.commit()
    assert res[0].outcome == "refuse" and res[0].reasons[0].code == "sender_not_this_provider"
    assert res[0].reasons[0].obligations == ("O31-13", "O31-10") and res[0].content_provider == "youpin"
    assert res[1].outcome == "allow"
    assert res[2].outcome == "refuse" and res[2].content_provider == "civic"
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == res[0].ref))
    assert rec is not None and rec.content_provider_id == reg.youpin_id
    assert rec.reasons[0] == {"code": "sender_not_this_provider", "obligations": ["O31-13", "O31-10"]}
    # nothing of the refused ones reached the outbox, and no consent was used for them
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == res[2].ref)) is None
