"""What the gateway's submit writes, and how (issue 10, the submit figure): the records' client_ref
index holds only rows that have a client_ref, and the idempotency lookup still finds them through it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from piguard.identity.principal import system_principal
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import MessageRecord
from piguard.messaging.records.service import outbound_by_client_ref

from .gw_setup import COMMERCIAL_PORT, ad, at_noon, build_registry, give_consent


def _index_sql(session: Session) -> str:
    if session.get_bind().dialect.name == "sqlite":
        return str(
            session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'ix_msg_records_client_ref'"))
        )
    return str(
        session.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_msg_records_client_ref'"))
    )


@pytest.mark.obligation("O31-11")
def test_client_ref_index_is_partial_and_the_resubmission_lookup_uses_it(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg, max_messages=10)
    now = at_noon()
    first = submit(session, [ad(client_ref="order-1"), ad()], principal=system_principal("test"), now=now)
    session.commit()
    assert [r.outcome for r in first] == ["allow", "allow"]
    assert "client_ref IS NOT NULL" in _index_sql(session).replace("(", "").replace(")", "")

    # the lookup by client_ref still answers, and a resubmission is a duplicate that writes nothing
    found = outbound_by_client_ref(session, {(COMMERCIAL_PORT + "07", "order-1")}, since=now)
    assert [v["ref"] for v in found.values()] == [first[0].ref]
    again = submit(session, [ad(client_ref="order-1")], principal=system_principal("test"), now=now)
    session.commit()
    assert again[0].duplicate and again[0].ref == first[0].ref
    assert len(session.scalars(select(MessageRecord.id)).all()) == 2

    if session.get_bind().dialect.name == "sqlite":
        # SQLite proves client_ref IN (...) implies client_ref IS NOT NULL and plans with the index
        plan = " ".join(
            str(r[-1])
            for r in session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT ref FROM msg_records "
                    "WHERE client_ref IN ('order-1', 'order-2') AND direction = 'out' AND at >= :since"
                ),
                {"since": now},
            )
        )
        assert "ix_msg_records_client_ref" in plan


@pytest.mark.obligation("O31-18.1")
def test_a_consent_is_written_with_its_grant_window_and_counts_as_before(session: Session) -> None:
    """A consent is written at its full size (the window it was granted in, a count of 0), so the
    first message's counter update does not grow the row; the frequency counts as it did when a
    new consent had no window: in the grant's window and in a later one."""
    from datetime import timedelta

    from piguard.core.db import utcnow
    from piguard.messaging.gateway.decision import window_start
    from piguard.messaging.models import Consent
    from piguard.messaging.subscriptions.consent import bulk_consents

    reg = build_registry(session)
    cid = give_consent(session, reg, max_messages=2)
    c = session.get(Consent, cid)
    assert c is not None and c.window_count == 0
    assert c.window_start == window_start(c.granted_at, "day")

    # two allowed, the third refused (frequency), across batches; at noon (no quiet hours), which is
    # the grant's window or the one before or after it
    now = at_noon()
    first = submit(session, [ad(), ad()], principal=system_principal("test"), now=now)
    session.commit()
    again = submit(session, [ad()], principal=system_principal("test"), now=now)
    session.commit()
    assert [r.outcome for r in first + again] == ["allow", "allow", "refuse"]
    session.refresh(c)
    assert (c.window_start, c.window_count) == (window_start(now, "day"), 2)

    # a later window counts from 0 again
    later = now + timedelta(days=1)
    third = submit(session, [ad(), ad(), ad()], principal=system_principal("test"), now=later)
    session.commit()
    assert [r.outcome for r in third] == ["allow", "allow", "refuse"]
    session.refresh(c)
    assert (c.window_start, c.window_count) == (window_start(later, "day"), 2)

    # consents inserted in bulk get their window too
    grant = utcnow()
    bulk_consents(
        session,
        [("sms", "13900139111", reg.youpin_id, "promotions", 5, "week", grant + timedelta(days=9))],
        now=grant,
    )
    session.commit()
    bulk = session.scalars(select(Consent).where(Consent.period_unit == "week")).one()
    assert (bulk.window_start, bulk.window_count) == (window_start(grant, "week"), 0)


@pytest.mark.obligation("O31-18.1")
def test_the_context_load_sees_a_consent_the_session_has_not_flushed(session: Session) -> None:
    """The context load reads the consents with a Core statement after the session's autoflush, as
    the ORM statement it replaced did: a consent added in the same session and not yet flushed
    counts, and its counter is updated by the guarded update."""
    from datetime import timedelta

    from piguard.core import addresses, crypto
    from piguard.core.db import utcnow
    from piguard.messaging.gateway.decision import prepare, window_start
    from piguard.messaging.gateway.submit import load_context
    from piguard.messaging.models import Consent
    from piguard.messaging.registry.service import snapshot

    from .gw_setup import USER

    reg = build_registry(session)
    now = at_noon()
    address = addresses.normalize_address("sms", USER)
    c = Consent(
        recipient_hash=crypto.address_hash(address),
        recipient_masked=addresses.mask_address(address),
        channel="sms",
        content_provider_id=reg.youpin_id,
        message_type="promotions",
        max_messages=5,
        period_unit="day",
        granted_at=now,
        valid_until=utcnow() + timedelta(days=30),
        status="active",
        window_start=window_start(now, "day"),
        window_count=0,
        evidence={"source": "test"},
    )
    reg_snapshot = snapshot(session)  # read before: the context load's own statements must flush
    session.add(c)  # pending: not flushed
    p = prepare(ad())
    ctx = load_context(session, [p], now=now, registry=reg_snapshot)
    assert c.id is not None and ctx.consents[(p.recipient_hash, reg.youpin_id, "promotions")].id == c.id
    [r] = submit(session, [ad()], principal=system_principal("test"), now=now)
    assert r.outcome == "allow", r.reasons
    session.commit()
    session.refresh(c)
    assert c.window_count == 1
