"""Issue 14.3 and 14.4: the dispatcher records each submit's outcome as it comes back (so a crash
leaves at most the window's messages ambiguous), and throttling, timeouts and a lost link are
retried with back-off within the message's validity; only permanent refusals fail a message; a
message the centre accepted is never recorded failed.

The SMS centre is the fault suite's (``bench/faults/common.FaultSmsc``): real SMPP over loopback,
which throttles, stalls and goes away on request."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.messaging.smpp_harness import BUSINESS_PORT, LoopThread, build, loop_thread, wait_for

from piguard.core.db import unit_of_work, utcnow
from piguard.identity.principal import Principal
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import MessageRecord, OutboxMessage
from piguard.messaging.records.service import claim_outbox
from piguard.messaging.settings import reset_messaging_settings
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.config import SmppSettings

__all__ = ["loop_thread"]

_spec = importlib.util.spec_from_file_location(
    "faults_common", Path(__file__).resolve().parents[2] / "bench" / "faults" / "common.py"
)
assert _spec is not None and _spec.loader is not None
faults = importlib.util.module_from_spec(_spec)
sys.modules["faults_common"] = faults
_spec.loader.exec_module(faults)

WHO = Principal(actor_type="system", actor_id="test", via="system")


def _queue(session: Session, n: int, first: int = 0) -> list[str]:
    reqs = [
        GatewayRequest(
            channel="sms",
            sender=BUSINESS_PORT,
            recipient=faults.recipient_for(k),
            text=f"【优品商城】您的订单{k:06d}已发货，请注意查收。",
            kind="notification",
        )
        for k in range(first, first + n)
    ]
    res = submit(session, reqs, principal=WHO)
    session.commit()
    assert all(r.outcome == "allow" for r in res), [r.reasons for r in res if r.outcome != "allow"]
    return [r.ref for r in res if r.ref]


def _statuses() -> dict[str, str]:
    with unit_of_work() as s:
        return dict(s.execute(select(OutboxMessage.message_ref, OutboxMessage.status)).all())


@pytest.fixture()
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PIGUARD_SMS_RETRY_BASE_SECONDS", "0.2")
    monkeypatch.setenv("PIGUARD_SMS_RETRY_MAX_SECONDS", "0.5")
    reset_messaging_settings()
    yield
    reset_messaging_settings()


@pytest.fixture()
def fault_stack(
    session: Session, loop_thread: LoopThread, fast_retry: None
) -> Iterator[tuple[SmppGateway, Any]]:
    build(session)
    smsc = faults.FaultSmsc()
    settings = SmppSettings(
        upstream_host="127.0.0.1",
        upstream_port=smsc.port,
        upstream_system_id="piguard",
        upstream_password="up-pass",
        upstream_window=10,
        upstream_response_timeout=2,
        dispatch_interval=0.1,
        workers=2,
    )
    gw = SmppGateway(settings)
    loop_thread.run(gw.start("127.0.0.1", 0))
    wait_for(lambda: gw.upstream is not None and gw.upstream.bound, 10)
    yield gw, smsc
    loop_thread.run(gw.stop(), 30)
    smsc.close()


def _accepted_never_failed(smsc: Any, refs: list[str]) -> None:
    with unit_of_work() as s:
        rows = s.execute(select(OutboxMessage.message_ref, OutboxMessage.status)).all()
    assert {st for _, st in rows} <= {"sent", "delivered"}, rows


@pytest.mark.obligation("O31-11")
def test_each_outcome_is_recorded_as_it_comes_back(
    session: Session, fault_stack: tuple[SmppGateway, Any]
) -> None:
    """14.3: with the centre answering 5 submits and then nothing, those 5 are recorded sent while
    the rest of the batch is still out (on main nothing was recorded before the whole batch came
    back, so a crash then sent everything again); at most a window's messages are submitted but
    unrecorded; when the centre answers again, the unanswered ones are retried and sent."""
    gw, smsc = fault_stack
    smsc.stall_after = 5
    refs = _queue(session, 40)
    gw.kick()
    wait_for(lambda: sum(smsc.accepted.values()) >= 5, 10)
    wait_for(lambda: sum(st == "sent" for st in _statuses().values()) == 5, 5)
    # the window bounds what is out and unrecorded: the centre has seen at most 5 + window submits
    assert smsc.submits <= 5 + 10
    smsc.stall_after = None
    wait_for(lambda: all(st == "sent" for st in _statuses().values()), 30, 0.1)
    assert smsc.delivered == len(refs)
    _accepted_never_failed(smsc, refs)


@pytest.mark.obligation("O31-11")
def test_throttling_is_retried_not_failed(session: Session, fault_stack: tuple[SmppGateway, Any]) -> None:
    """14.4: ESME_RTHROTTLED is transient: every message is delivered, none recorded failed."""
    gw, smsc = fault_stack
    smsc.throttle_every = 3
    refs = _queue(session, 30)
    gw.kick()
    wait_for(lambda: all(st == "sent" for st in _statuses().values()), 30, 0.1)
    assert smsc.throttled > 0
    assert smsc.delivered == len(refs)
    with unit_of_work() as s:
        assert not s.scalars(select(MessageRecord.ref).where(MessageRecord.status == "failed")).all()


@pytest.mark.obligation("O31-11")
def test_lost_link_is_retried_after_the_centre_returns(
    session: Session, fault_stack: tuple[SmppGateway, Any]
) -> None:
    """14.4: the centre goes away with submits outstanding: they are retried once it is back,
    every message is delivered and none that the centre accepted is recorded failed."""
    gw, smsc = fault_stack
    smsc.stall_after = 4
    refs = _queue(session, 20)
    gw.kick()
    wait_for(lambda: sum(smsc.accepted.values()) >= 4, 10)
    smsc.stall_after = None
    smsc.outage(1.0)
    wait_for(lambda: all(st == "sent" for st in _statuses().values()), 40, 0.1)
    assert smsc.delivered == len(refs)
    _accepted_never_failed(smsc, refs)


@pytest.mark.obligation("O31-11")
def test_retry_backs_off_and_ends_at_the_validity(session: Session, fast_retry: None) -> None:
    """A retry puts the row back to ``queued`` with a back-off it is not claimed before; a retry
    whose back-off would end past the validity (PIGUARD_SMS_VALIDITY_HOURS) fails it, "expired";
    a permanent refusal fails it at once."""
    from piguard.messaging.records.service import SendOutcome, settle_outbox

    build(session)
    a, b, c = _queue(session, 3, first=100)
    now = utcnow()
    token = claim_outbox(session, now=now)
    assert token is not None
    settle_outbox(
        session,
        token,
        [
            SendOutcome(a, "retry", error="0x00000058"),
            SendOutcome(b, "failed", error="0x0000000B"),
            SendOutcome(c, "sent", transport_ref="x1"),
        ],
        now=now,
    )
    session.commit()
    rows = {r.message_ref: r for r in session.scalars(select(OutboxMessage))}
    assert rows[a].status == "queued" and rows[a].last_error == "0x00000058"
    assert rows[a].next_attempt_at is not None and rows[a].next_attempt_at > now
    assert rows[b].status == "failed" and rows[c].status == "sent"
    assert claim_outbox(session, now=now) is None  # backing off
    later = now + timedelta(seconds=5)
    token = claim_outbox(session, now=later)
    assert token is not None
    settle_outbox(session, token, [SendOutcome(a, "retry", error="timeout")], now=later + timedelta(hours=49))
    session.commit()
    session.expire_all()
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == a))
    assert row is not None and row.status == "failed" and row.last_error == "expired"
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == a))
    assert rec is not None and rec.status == "failed"
