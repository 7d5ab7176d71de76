"""One ledger of consent per person: the gateway's commercial-message subscriptions (O31-18.1,
NPC-7) and the purpose consents are listed together in one evidence format, and withdrawing a
subscription through consent/ ends it for the gateway at once (O31-20, NPC-8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.messaging.gw_setup import USER, ad, at_noon, build_registry, give_consent  # type: ignore[import-not-found]

from piguard.consent import service
from piguard.consent.purposes import StaticPurposes
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import Consent, SubscriptionEvent

from .conftest import STAFF, shown

SUBJECT = f"phone:{USER}"


@pytest.mark.obligation("O31-18.1", "NPC-7", "O24-9.1")
def test_purpose_consents_and_sms_subscriptions_are_listed_together(
    session: Session, source: StaticPurposes
) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    service.grant(session, SUBJECT, "marketing", shown(), actor=STAFF)
    session.commit()
    ledger = service.list_for_subject(session, SUBJECT)
    by_ledger = {e.ledger: e for e in ledger.entries}
    assert set(by_ledger) == {"purpose", "sms"} and ledger.masked == "+86138****5678"
    sms, purpose = by_ledger["sms"], by_ledger["purpose"]
    assert sms.status == purpose.status == "granted"
    assert sms.detail["content_provider"] == "youpin" and sms.detail["message_type"] == "promotions"
    # one evidence format for both
    assert set(sms.evidence.to_dict()) == set(purpose.evidence.to_dict())
    assert sms.evidence.channel == "web" and "每日最多3条" in sms.evidence.text_shown
    assert purpose.evidence.client_ip == "10.0.0.8" and purpose.rules_version == 1
    assert USER not in repr(ledger.to_dict())


@pytest.mark.obligation("O31-20", "O31-18.1", "NPC-8")
def test_withdrawing_a_subscription_through_consent_ends_it_for_the_gateway(
    session: Session, source: StaticPurposes
) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad()], now=at_noon() + timedelta(minutes=1), dry_run=True)
    assert r.outcome == "allow"
    [entry] = [e for e in service.list_for_subject(session, SUBJECT).entries if e.ledger == "sms"]
    [after] = service.withdraw(session, SUBJECT, entry.ref, shown("在App中撤回短信订阅"), actor=STAFF)
    session.commit()
    assert after.status == "withdrawn"
    c = session.scalar(select(Consent))
    assert c is not None and c.status == "ended" and c.end_reason == "withdrawn"
    ev = session.scalars(select(SubscriptionEvent).order_by(SubscriptionEvent.id)).all()
    assert [e.event for e in ev] == ["subscribed", "unsubscribed"]
    [r] = submit(session, [ad()], now=at_noon() + timedelta(minutes=2), dry_run=True)
    assert r.outcome == "refuse" and any("O31-18.1" in x.obligations for x in r.reasons)


def test_another_persons_subscription_cannot_be_withdrawn_by_ref(
    session: Session, source: StaticPurposes
) -> None:
    from piguard.core.errors import PiguardError

    reg = build_registry(session)
    cid = give_consent(session, reg)
    with pytest.raises(PiguardError) as err:
        service.withdraw(session, "phone:13900139000", f"sms:{cid}", shown(), actor=STAFF)
    assert err.value.code == "not_found"
    with pytest.raises(PiguardError) as err:
        service.withdraw(session, SUBJECT, "sms:abc", shown(), actor=STAFF)
    assert err.value.code == "not_found"
