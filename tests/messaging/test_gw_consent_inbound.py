"""Consent requests, replies, opt-out, similarity suppression, charged services (both backends)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from piguard.core.errors import PiguardError
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import Consent, ConsentRequest, MessageRecord, OutboxMessage, SubscriptionEvent
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions import consent
from piguard.messaging.subscriptions.inbound import receive_reply

from .gw_setup import COMMERCIAL_PORT, USER, ad, at_noon, build_registry, give_consent

PORT = COMMERCIAL_PORT + "07"


def _ask(session: Session, pitch: str = "春季会员促销：全场5折起，满299减50。", **kw):  # type: ignore[no-untyped-def]
    args = {
        "channel": "sms",
        "sender": PORT,
        "recipient": USER,
        "message_type": "promotions",
        "max_messages": 2,
        "period_unit": "week",
        "valid_until": at_noon() + timedelta(days=90),
        "pitch": pitch,
        "now": at_noon(),
    }
    args.update(kw)
    return consent.create_request(session, **args)


@pytest.mark.obligation("O31-18.2", "O31-18.1")
def test_request_states_type_frequency_period_and_a_yes_grants(session: Session) -> None:
    build_registry(session)
    res = _ask(session)
    session.commit()
    text = res.request.request_text
    assert (
        "promotions" in text and "每周最多2条" in text and "有效期至" in text and "未回复视为不同意" in text
    )
    assert (
        session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == res.message_ref)) is not None
    )
    out = receive_reply(
        session,
        channel="sms",
        sender=USER,
        to=PORT,
        text="好的，同意",
        received_at=at_noon() + timedelta(minutes=5),
    )
    session.commit()
    assert out.intent == "consent_grant" and len(out.requests_granted) == 1
    c = session.get(Consent, out.requests_granted[0])
    assert c is not None and c.max_messages == 2 and c.period_unit == "week"
    assert c.evidence["request_text"] == text and c.evidence["reply_text"] == "好的，同意"
    [r] = submit(session, [ad()], now=at_noon() + timedelta(minutes=10))
    assert r.outcome == "allow"


@pytest.mark.obligation("O31-18.2")
def test_no_reply_is_refusal_and_similar_content_is_not_sent_again(session: Session) -> None:
    build_registry(session)
    res = _ask(session)
    session.commit()
    assert consent.expire_requests(session, now=at_noon() + timedelta(hours=47)) == 0
    assert consent.expire_requests(session, now=at_noon() + timedelta(hours=49)) == 1
    session.commit()
    assert session.get(ConsentRequest, res.request.id).status == "expired"  # type: ignore[union-attr]
    # a near-duplicate request (other numbers, same offer) is refused ...
    with pytest.raises(PiguardError) as e:
        _ask(session, pitch="春季会员促销：全场6折起，满199减60。", now=at_noon() + timedelta(days=3))
    assert e.value.reasons[0].code == "similar_content_refused" and "O31-18.2" in e.value.obligations
    # ... an unrelated one is not
    _ask(
        session,
        pitch="新店开业：门店地址与营业时间介绍。",
        message_type="store_news",
        period_unit="month",
        max_messages=1,
        now=at_noon() + timedelta(days=3),
    )


@pytest.mark.obligation("O31-18.2")
def test_refused_request_suppresses_similar_messages_even_under_a_new_type(session: Session) -> None:
    reg = build_registry(session)
    _ask(session)
    session.commit()
    out = receive_reply(session, channel="sms", sender=USER, to=PORT, text="N", received_at=at_noon())
    session.commit()
    assert out.intent == "consent_refusal" and out.requests_refused
    give_consent(
        session, reg, message_type="other"
    )  # even with some consent, similar content stays suppressed
    text = "【优品商城】春季会员促销：全场5折起，满299减50。回T退订"
    [r] = submit(session, [ad(text=text, message_type="other")], now=at_noon())
    assert r.outcome == "refuse" and "similar_content_refused" in {x.code for x in r.reasons}
    [fine] = submit(
        session,
        [ad(text="【优品商城】新品上架：夏季凉鞋系列，欢迎到店选购。回T退订", message_type="other")],
        now=at_noon(),
    )
    assert fine.outcome == "allow", fine.to_dict()


@pytest.mark.obligation("O31-20", "NPC-8", "O31-11")
def test_opt_out_ends_consent_at_once_confirms_and_records(session: Session) -> None:
    reg = build_registry(session)
    cid = give_consent(session, reg)
    give_consent(session, reg, message_type="news")
    out = receive_reply(
        session, channel="sms", sender="+86 138-1234-5678", to=PORT, text="ＴＤ，谢谢", received_at=at_noon()
    )
    session.commit()
    assert out.intent == "opt_out" and cid in out.consents_ended and len(out.consents_ended) == 2
    assert session.get(Consent, cid).status == "ended"  # type: ignore[union-attr]
    conf = session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == out.confirmation_ref))
    assert conf is not None and "退订" in conf.content
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == out.ref))
    assert rec is not None and rec.direction == "in" and rec.intent == "opt_out"
    events = list(session.scalars(select(SubscriptionEvent.event)))
    assert "unsubscribed" in events
    [r] = submit(session, [ad()], now=at_noon())
    assert r.outcome == "refuse" and "consent_missing" in {x.code for x in r.reasons}


@pytest.mark.obligation("O31-20")
def test_ambiguous_reply_is_recorded_not_guessed(session: Session) -> None:
    reg = build_registry(session)
    cid = give_consent(session, reg)
    out = receive_reply(
        session, channel="sms", sender=USER, to=PORT, text="怎么退订？", received_at=at_noon()
    )
    session.commit()
    assert out.intent == "ambiguous" and not out.consents_ended
    assert session.get(Consent, cid).status == "active"  # type: ignore[union-attr]
    assert session.scalar(select(MessageRecord).where(MessageRecord.ref == out.ref)) is not None


@pytest.mark.obligation("O31-20")
def test_opt_out_is_keyed_by_port_extension(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    out = receive_reply(
        session, channel="sms", sender=USER, to=COMMERCIAL_PORT + "88", text="TD", received_at=at_noon()
    )
    assert out.content_provider is None and not out.consents_ended
    assert any(r["code"] == "port_unknown" for r in out.reasons)


@pytest.mark.obligation("O31-9")
def test_charged_service_without_all_terms_cannot_ask_for_consent(session: Session) -> None:
    build_registry(session)
    partial = registry.create_charged_service(
        session,
        content_provider="youpin",
        code="vip",
        name="VIP资讯",
        service_content="每日资讯",
        tariff="5元/月",
    )
    full = registry.create_charged_service(
        session,
        content_provider="youpin",
        code="vip2",
        name="VIP资讯",
        service_content="每日资讯",
        tariff="5元/月",
        charging_method="按月从话费扣除",
        unsubscribe_method="回复TD退订",
    )
    session.commit()
    with pytest.raises(PiguardError) as e:
        _ask(session, charged_service_id=partial.id)
    assert e.value.reasons[0].code == "charged_terms_missing" and set(
        e.value.reasons[0].detail["missing"]
    ) == {"charging_method", "unsubscribe_method"}
    res = _ask(session, charged_service_id=full.id)
    assert "5元/月" in res.request.request_text and "回复TD退订" in res.request.request_text


@pytest.mark.obligation("O31-20", "O31-18.1")
def test_concurrent_opt_out_wins_over_send(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    """Senders and an opt-out race; every message decided after the opt-out committed is refused."""
    reg = build_registry(session)
    give_consent(session, reg, max_messages=300, period_unit="month")
    factory = sessionmaker(bind=db_engine, expire_on_commit=False)
    optout_done = threading.Event()
    after: list[str] = []
    errors: list[BaseException] = []

    def sender() -> None:
        # Send until a few messages were decided after the opt-out committed: a fixed count let
        # fast senders finish before the opt-out got the write lock, and nothing was tested.
        try:
            decided_after = 0
            for _ in range(140):  # two senders stay under the consent's 300 a month
                was_done = optout_done.is_set()
                with factory() as s:
                    [r] = submit(s, [ad()], now=at_noon())
                    s.commit()
                if was_done:
                    after.append(r.outcome or "")
                    decided_after += 1
                    if decided_after == 5:
                        return
                time.sleep(0.001)  # let the opt-out's transaction in between
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    def opt_out() -> None:
        try:
            with factory() as s:
                receive_reply(s, channel="sms", sender=USER, to=PORT, text="退订", received_at=at_noon())
                s.commit()
            optout_done.set()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    opt = threading.Thread(target=opt_out)
    opt.start()
    for t in [*threads, opt]:
        t.join(60)
    assert not errors, errors
    assert after and all(o == "refuse" for o in after), after
    # every allowed record was committed before the opt-out's time of commit
    with factory() as s:
        allowed = list(
            s.scalars(
                select(MessageRecord).where(
                    MessageRecord.outcome == "allow", MessageRecord.kind == "commercial"
                )
            )
        )
        c = s.scalars(select(Consent)).first()
        assert c is not None and c.status == "ended"
        assert c.window_count == len(allowed)
