"""Issue 14.2 over SMPP: an ESME that resubmits a message with the same reference (vendor TLV
0x1404, from the same system_id, within PIGUARD_SMS_IDEMPOTENCY_HOURS) gets the first message_id
back and nothing new is recorded, queued or sent; without a reference every submit_sm is a new
message (SMPP's 16-bit user_message_reference is no key: it wraps within a day)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.messaging.smpp_harness import BUSINESS_PORT, PASSWORD, SYSTEM_ID, USER, build, loop_thread

from piguard.messaging.models import OutboxMessage
from piguard.messaging.smpp.bridge import authenticate, decide_submission, smpp_client_ref
from piguard.messaging.smpp.models import SmppMessage
from piguard.messaging.smpp.pdu import Status
from piguard.messaging.smpp.server import Submission

__all__ = ["loop_thread"]


def _sub(system_id: str, ref: str | None, n: int = 1) -> Submission:
    return Submission(
        account=authenticate(system_id, PASSWORD, "trx"),
        peer="127.0.0.1:5000",
        source_addr=BUSINESS_PORT,
        source_addr_ton=0,
        destination_addr=USER[:-2] + f"{n:02d}",
        dest_addr_ton=1,
        text=f"【优品商城】您的订单已发货，快递单号SF12345{n:02d}，请注意查收。",
        registered_delivery=1,
        message_type=None,
        kind="notification",
        campaign_id=None,
        client_ref=ref,
    )


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.obligation("O31-11")
def test_smpp_resubmission_with_the_same_reference_returns_the_first_id(
    session: Session, loop_thread: object
) -> None:
    build(session)
    first = decide_submission(_sub(SYSTEM_ID, "order-77"))
    assert first.status == Status.ESME_ROK and first.message_id
    again = decide_submission(_sub(SYSTEM_ID, "order-77"))
    assert again.status == Status.ESME_ROK and again.message_id == first.message_id
    assert _count(session, OutboxMessage) == 1 and _count(session, SmppMessage) == 1
    # another reference, or another system_id with the same reference: new messages
    other = decide_submission(_sub(SYSTEM_ID, "order-78", 2))
    assert other.message_id not in ("", first.message_id)
    assert _count(session, OutboxMessage) == 2
    elsewhere = decide_submission(_sub("thrtl", "order-77", 3))
    assert elsewhere.message_id not in ("", first.message_id)
    assert _count(session, OutboxMessage) == 3


@pytest.mark.obligation("O31-11")
def test_smpp_without_a_reference_every_submit_is_new(session: Session, loop_thread: object) -> None:
    build(session)
    a = decide_submission(_sub(SYSTEM_ID, None))
    b = decide_submission(_sub(SYSTEM_ID, None, 2))
    assert a.message_id and b.message_id and a.message_id != b.message_id
    assert _count(session, OutboxMessage) == 2


def test_long_references_are_hashed_within_the_column() -> None:
    assert smpp_client_ref("yp01", None) == "smpp:yp01"
    assert smpp_client_ref("yp01", "abc") == "smpp:yp01:abc"
    long = smpp_client_ref("yp01", "x" * 200)
    assert len(long) <= 64 and long != smpp_client_ref("yp01", "x" * 199)
