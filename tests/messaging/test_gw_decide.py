"""The gateway decision on each row of REQUIREMENTS section F, through submit (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import MessageRecord, OutboxMessage
from piguard.messaging.registry import service as registry

from .gw_setup import (
    AD,
    BUSINESS_PORT,
    CODE,
    COMMERCIAL_PORT,
    NOTICE,
    USER,
    USER_E164,
    ad,
    at_noon,
    build_registry,
    give_consent,
)


def _codes(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.code for r in result.reasons}


@pytest.mark.obligation("O31-18.1", "CRL-29", "NPC-7", "O31-11")
def test_commercial_with_live_consent_is_allowed_recorded_and_queued(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad()], now=at_noon())
    session.commit()
    assert r.outcome == "allow", r.to_dict()
    assert "consent_live" in _codes(r) and r.kind == "commercial"
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == r.ref))
    assert rec is not None and rec.status == "queued" and rec.recipient_masked == "+86138****5678"
    assert USER not in rec.recipient_enc and rec.content == AD
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == r.ref)) is not None


@pytest.mark.obligation("O31-18.1", "CRL-29", "NPC-7")
def test_commercial_without_consent_is_refused_and_recorded(session: Session) -> None:
    build_registry(session)
    [r] = submit(session, [ad()], now=at_noon())
    session.commit()
    assert r.outcome == "refuse" and "consent_missing" in _codes(r)
    assert "O31-18.1" in r.obligations
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == r.ref))
    assert rec is not None and rec.status == "refused" and "consent_missing" in rec.reason_codes
    assert session.scalar(select(OutboxMessage)) is None


@pytest.mark.obligation("O31-18.2")
def test_consent_covers_its_type_only_and_its_frequency(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg, max_messages=2)
    [other_type] = submit(session, [ad(message_type="loans")], now=at_noon())
    assert "consent_missing" in _codes(other_type)
    [no_type] = submit(session, [ad(message_type=None)], now=at_noon())
    assert "consent_type_missing" in _codes(no_type)
    results = submit(session, [ad(), ad(), ad()], now=at_noon())
    session.commit()
    assert [r.outcome for r in results] == ["allow", "allow", "refuse"]
    assert "consent_frequency_exceeded" in _codes(results[2])
    # the counter persisted: the next batch the same day is refused too
    [later] = submit(session, [ad()], now=at_noon())
    assert later.outcome == "refuse" and "consent_frequency_exceeded" in _codes(later)


@pytest.mark.obligation("O31-18.2")
def test_consent_period_ends(session: Session) -> None:
    from datetime import timedelta

    reg = build_registry(session)
    give_consent(session, reg, days=1)
    [r] = submit(session, [ad()], now=at_noon() + timedelta(days=2))
    assert r.outcome == "refuse" and "consent_expired" in _codes(r)


@pytest.mark.obligation("O31-10", "O31-13")
def test_unknown_sender_or_extension_out_of_range_is_refused(session: Session) -> None:
    build_registry(session)
    res = submit(
        session,
        [ad(sender="10699999"), ad(sender=COMMERCIAL_PORT + "77"), ad(sender=COMMERCIAL_PORT)],
        now=at_noon(),
    )
    for r in res:
        assert r.outcome == "refuse" and "sender_unregistered" in _codes(r), r.to_dict()
        assert "O31-10" in r.obligations


@pytest.mark.obligation("O31-19")
def test_business_port_never_sends_commercial(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad(sender=BUSINESS_PORT)], now=at_noon())
    assert r.outcome == "refuse" and "port_type_mismatch" in _codes(r) and "O31-19" in r.obligations
    [n] = submit(session, [GatewayRequest("sms", BUSINESS_PORT, USER, NOTICE)], now=at_noon())
    [c] = submit(session, [GatewayRequest("sms", BUSINESS_PORT, USER, CODE)], now=at_noon())
    assert n.outcome == "allow" and c.outcome == "allow", (n.to_dict(), c.to_dict())


@pytest.mark.obligation("O31-21", "O31-20")
def test_signature_and_optout_text_are_required_for_commercial(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    no_optout = AD.replace(" 回T退订", "")
    wrong_sig = AD.replace("优品商城", "别家商城")
    res = submit(session, [ad(text=no_optout), ad(text=wrong_sig)], now=at_noon())
    assert "optout_missing" in _codes(res[0]) and res[0].outcome == "refuse"
    assert "signature_mismatch" in _codes(res[1]) and res[1].outcome == "refuse"


@pytest.mark.obligation("O31-16", "CSL-47")
def test_prohibited_content_is_stopped_and_recorded(session: Session) -> None:
    build_registry(session)
    text = "【优品商城】澳门首家线上赌场上线，百家乐真人荷官，注册即送88元，回T退订"
    [r] = submit(session, [GatewayRequest("sms", BUSINESS_PORT, USER, text)], now=at_noon())
    session.commit()
    assert r.outcome == "refuse" and "prohibited_content" in _codes(r)
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == r.ref))
    assert rec is not None and rec.outcome == "refuse"


@pytest.mark.obligation("O31-23", "O24-14.2", "O31-28")
def test_suspension_switches_refuse_and_are_audited(session: Session) -> None:
    from piguard.audit.models import AuditEntry

    reg = build_registry(session)
    give_consent(session, reg)
    registry.suspend_content_provider(
        session, "youpin", reason="12321 referral: unconsented ads", obligations=("O31-23",)
    )
    session.commit()
    [r] = submit(session, [ad()], now=at_noon())
    assert r.outcome == "refuse" and "content_provider_suspended" in _codes(r)
    registry.resume_content_provider(session, "youpin", reason="rectified")
    registry.set_suspension(
        session,
        target_type="port",
        key=reg.commercial_port_id,
        suspended=True,
        reason="authority order",
        obligations=("O24-14.2",),
    )
    session.commit()
    [p] = submit(session, [ad()], now=at_noon())
    assert "port_suspended" in _codes(p) and "O24-14.2" in p.obligations
    session.commit()
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"sms.registry.suspended", "sms.registry.resumed"} <= actions


@pytest.mark.obligation("O31-12")
def test_unverified_content_provider_is_refused(session: Session) -> None:
    reg = build_registry(session)
    cp = registry.create_content_provider(
        session,
        code="newco",
        name="新公司",
        service_provider_id=reg.sp_id,
        identity_type="uscc",
        identity_number="91440300MA5ABCDE1H",
    )
    registry.create_port(session, code="10690003", port_type="business_service", content_provider="newco")
    session.commit()
    assert cp.identity_masked.startswith("914") and "MA5ABCDE" not in cp.identity_masked
    [r] = submit(
        session, [GatewayRequest("sms", "10690003", USER, "【新公司】您的订单已发货。")], now=at_noon()
    )
    assert r.outcome == "refuse" and "content_provider_unverified" in _codes(r)


@pytest.mark.obligation("O31-10")
def test_bad_items_get_errors_and_the_rest_is_processed(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    items = [
        ad(),
        ad(text=""),
        ad(text="x" * 2000),
        ad(recipient="not-a-number"),
        GatewayRequest("fax", COMMERCIAL_PORT, USER, AD),
        GatewayRequest("sms", "", USER, NOTICE),
        ad(recipient=USER_E164),
    ]
    res = submit(session, items, now=at_noon())
    session.commit()
    assert res[0].outcome == "allow" and res[6].outcome == "allow"
    fields = [r.error.fields[0].field if r.error else None for r in res]
    assert fields == [None, "text", "text", "recipient", "channel", "sender", None]
    assert all("not-a-number" not in str(r.to_dict()) for r in res)
    assert len(list(session.scalars(select(MessageRecord)))) == 2


@pytest.mark.obligation("O31-22")
def test_quiet_hours_hold_commercial_but_not_verification_codes(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from piguard.messaging.settings import reset_messaging_settings

    monkeypatch.setenv("PIGUARD_SMS_QUIET_HOURS", "21:00-08:00")
    reset_messaging_settings()
    try:
        reg = build_registry(session)
        give_consent(session, reg)
        night = at_noon() + timedelta(hours=11)  # 23:00 in Shanghai
        res = submit(session, [ad(), GatewayRequest("sms", BUSINESS_PORT, USER, CODE)], now=night)
        assert res[0].outcome == "hold" and "quiet_hours" in _codes(res[0])
        assert res[1].outcome == "allow"
    finally:
        monkeypatch.delenv("PIGUARD_SMS_QUIET_HOURS")
        reset_messaging_settings()


@pytest.mark.obligation("NPC-7")
def test_email_goes_under_the_same_consent_rule(session: Session) -> None:
    reg = build_registry(session)
    registry.create_port(
        session,
        channel="email",
        code="News@YouPin.example",
        port_type="commercial",
        content_provider="youpin",
    )
    session.commit()
    mail = "优品商城 会员专享：全场春装5折起，满299减50。如不想再收到此类邮件，回复TD退订。"
    req = GatewayRequest(
        "email", "news@youpin.example", "Li.Lei@Example.com", mail, message_type="promotions"
    )
    [refused] = submit(session, [req], now=at_noon())
    assert refused.outcome == "refuse" and "consent_missing" in _codes(refused)
    give_consent(session, reg, recipient="Li.Lei@example.com", channel="email")
    [ok] = submit(session, [req], now=at_noon())
    assert ok.outcome == "allow", ok.to_dict()


def test_dry_run_records_nothing(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad()], now=at_noon(), dry_run=True)
    session.commit()
    assert r.outcome == "allow" and r.ref is None and r.status == "checked"
    assert session.scalar(select(MessageRecord)) is None


@pytest.mark.parametrize("key", ["", "abc", "１２", "99999999999999999999999", "-1"])
def test_suspending_a_port_by_a_malformed_key_is_not_found(session: Session, key: str) -> None:
    from piguard.core.errors import PiguardError

    build_registry(session)
    with pytest.raises(PiguardError) as err:
        registry.set_suspension(
            session, target_type="port", key=key, suspended=True, reason="x", obligations=("O24-14.2",)
        )
    assert err.value.code == "not_found" and err.value.http_status == 404
