"""Records and retention (O31-11), outbox and delivery reports, public-welfare campaigns and the
emergency lane (O31-17), the worker (both backends)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.core.calendar import SHANGHAI
from piguard.core.crypto import decrypt
from piguard.core.errors import PiguardError
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import Consent, MessageRecord, OutboxMessage, SubscriptionEvent
from piguard.messaging.records import service as records
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions.inbound import receive_reply

from .gw_setup import COMMERCIAL_PORT, USER, WELFARE_PORT, ad, at_noon, build_registry, give_consent

ALERT = "【市应急管理局】暴雨红色预警：今夜至明晨有特大暴雨，请减少外出，远离河道和低洼地带。"
WELFARE = "【市应急管理局】防范电信网络诈骗宣传：公检法机关不会通过电话要求转账，请提高警惕。"


def _utc(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=SHANGHAI).astimezone(at_noon().tzinfo)


@pytest.mark.obligation("O31-11")
def test_months_before_clamps_to_the_month_end() -> None:
    assert records.months_before(_utc(2026, 7, 31), 5).astimezone(SHANGHAI).date() == date(2026, 2, 28)
    assert records.months_before(_utc(2026, 3, 15), 5).astimezone(SHANGHAI).date() == date(2025, 10, 15)


@pytest.mark.obligation("O31-11")
def test_retention_purges_nothing_earlier_than_five_months_and_nothing_later_than_the_grace(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from piguard.messaging.settings import reset_messaging_settings

    monkeypatch.setenv("PIGUARD_SMS_RETENTION_GRACE_DAYS", "10")
    reset_messaging_settings()
    try:
        reg = build_registry(session)
        give_consent(session, reg)
        now = _utc(2026, 9, 20)
        five = records.months_before(now, 5)
        ages = {
            "young": five + timedelta(days=1),
            "at_min": five - timedelta(days=1),
            "past_grace": five - timedelta(days=11),
        }
        refs = {}
        for name, when in ages.items():
            [r] = submit(session, [ad()], now=when)
            refs[name] = r.ref
        session.commit()
        result = records.purge_expired(session, now=now)
        session.commit()
        left = set(session.scalars(select(MessageRecord.ref)))
        assert refs["young"] in left and refs["at_min"] in left, "purged before the statutory minimum + grace"
        assert refs["past_grace"] not in left and result.records == 1
    finally:
        monkeypatch.delenv("PIGUARD_SMS_RETENTION_GRACE_DAYS")
        reset_messaging_settings()


@pytest.mark.obligation("O31-11")
def test_subscription_status_is_kept_five_months_after_the_relationship_ends(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    start = at_noon() - timedelta(days=400)  # subscribed long ago: status kept while it lasts
    session.execute(SubscriptionEvent.__table__.update().values(at=start))  # type: ignore[attr-defined]
    session.commit()
    now = at_noon()
    records.purge_expired(session, now=now)
    session.commit()
    assert session.scalar(select(func.count()).select_from(SubscriptionEvent)) == 1, (
        "status purged while the service lasts"
    )
    ended_at = now - timedelta(days=120)  # ended 4 months ago: still kept
    receive_reply(
        session, channel="sms", sender=USER, to=COMMERCIAL_PORT + "07", text="TD", received_at=ended_at
    )
    session.commit()
    records.purge_expired(session, now=now)
    session.commit()
    assert session.scalar(select(func.count()).select_from(SubscriptionEvent)) == 2
    assert session.scalar(select(func.count()).select_from(Consent)) == 1
    later = now + timedelta(days=120)  # now > 5 months + grace after the end
    records.purge_expired(session, now=later)
    session.commit()
    assert session.scalar(select(func.count()).select_from(SubscriptionEvent)) == 0
    assert session.scalar(select(func.count()).select_from(Consent)) == 0


@pytest.mark.obligation("O31-11")
def test_outbox_drain_and_delivery_reports_update_records(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad()], now=at_noon())
    t = records.LoopbackTransport()
    assert records.drain_outbox(session, t) == 1
    assert t.sent[0].recipient == "+8613812345678"
    records.deliver_report(session, r.ref or "", "delivered")
    session.commit()
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == r.ref))
    assert rec is not None and rec.status == "delivered" and decrypt(rec.recipient_enc) == "+8613812345678"
    with pytest.raises(PiguardError):
        records.deliver_report(session, r.ref or "", "exploded")


@pytest.mark.obligation("O31-17")
def test_public_welfare_campaign_needs_ten_working_days_on_the_official_calendar(session: Session) -> None:
    build_registry(session)
    # details given Friday 2025-09-26: 10 working days on the official calendar (the adjusted working
    # Sunday 9-28 and Saturday 10-11 count, the National Day holiday Oct 1-8 does not) end on
    # 2025-10-16, the earliest send date; counting weekdays alone would give 2025-10-10
    with pytest.raises(PiguardError) as e:
        registry.create_campaign(
            session,
            name="反诈宣传",
            department="市公安局",
            content=WELFARE,
            scope="全市",
            content_provider="civic",
            notified_on=date(2025, 9, 26),
            send_on=date(2025, 10, 15),
        )
    assert e.value.code == "public_welfare_notice_too_short" and "2025-10-16" in e.value.message_en
    camp = registry.create_campaign(
        session,
        name="反诈宣传",
        department="市公安局",
        content=WELFARE,
        scope="全市",
        content_provider="civic",
        notified_on=date(2025, 9, 26),
        send_on=date(2025, 10, 16),
    )
    session.commit()
    req = GatewayRequest("sms", WELFARE_PORT, USER, WELFARE, kind="public_welfare", campaign_id=camp.id)
    [early] = submit(session, [req], now=_utc(2025, 10, 15))
    [on_time] = submit(session, [req], now=_utc(2025, 10, 16))
    [none] = submit(
        session,
        [GatewayRequest("sms", WELFARE_PORT, USER, WELFARE, kind="public_welfare")],
        now=_utc(2025, 10, 16),
    )
    assert early.outcome == "hold" and "campaign_not_started" in {x.code for x in early.reasons}
    assert on_time.outcome == "allow", on_time.to_dict()
    assert none.outcome == "refuse" and "campaign_missing" in {x.code for x in none.reasons}


@pytest.mark.obligation("O31-17")
def test_emergency_lane_ignores_quiet_hours_and_goes_first(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from piguard.messaging.settings import reset_messaging_settings

    monkeypatch.setenv("PIGUARD_SMS_QUIET_HOURS", "00:00-23:59")
    reset_messaging_settings()
    try:
        reg = build_registry(session)
        give_consent(session, reg)
        res = submit(
            session, [ad(), GatewayRequest("sms", WELFARE_PORT, USER, ALERT, kind="emergency")], now=at_noon()
        )
        assert res[0].outcome == "hold"
        assert res[1].outcome == "allow" and res[1].emergency, res[1].to_dict()
        [bad] = submit(
            session,
            [
                GatewayRequest(
                    "sms",
                    WELFARE_PORT,
                    USER,
                    "【市应急管理局】紧急通知：澳门赌场注册即送88元",
                    kind="emergency",
                )
            ],
            now=at_noon(),
        )
        assert bad.outcome == "refuse" and "prohibited_content" in {x.code for x in bad.reasons}
        [unreg] = submit(
            session, [GatewayRequest("sms", "99999", USER, ALERT, kind="emergency")], now=at_noon()
        )
        assert unreg.outcome == "refuse" and "sender_unregistered" in {x.code for x in unreg.reasons}
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == res[1].ref))
        assert row is not None and row.priority == records.EMERGENCY_PRIORITY
    finally:
        monkeypatch.delenv("PIGUARD_SMS_QUIET_HOURS")
        reset_messaging_settings()


@pytest.mark.obligation("O31-22")
def test_counters_per_content_provider(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg, max_messages=1)
    submit(session, [ad(), ad(), ad(recipient="13900001111")], now=at_noon())
    receive_reply(
        session, channel="sms", sender=USER, to=COMMERCIAL_PORT + "07", text="退订", received_at=at_noon()
    )
    session.commit()
    [c] = records.counters(
        session, since=at_noon() - timedelta(hours=1), until=at_noon() + timedelta(hours=1)
    )
    assert (
        c["content_provider_id"] == reg.youpin_id
        and c["allow"] >= 1
        and c["refuse"] == 2
        and c["opt_outs"] == 1
    )
    assert (
        c["refusals_by_reason"]["consent_missing"] == 1
        and c["refusals_by_reason"]["consent_frequency_exceeded"] == 1
    )


@pytest.mark.obligation("O31-11", "O31-18.2")
def test_worker_once_runs_expiry_and_retention(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    from piguard.cli import app

    build_registry(session)
    r = CliRunner().invoke(app, ["worker", "--once"])
    assert r.exit_code == 0, r.output
    assert '"consent_requests_expired": 0' in r.output and '"retention"' in r.output


ANTI_FRAUD = (
    "【市应急管理局】警惕冒充公检法诈骗：民警不会要求您转账到安全账户，也不会让您下载屏幕共享软件，谨防上当。"
)


@pytest.mark.obligation("O31-16", "O31-17")
def test_verified_public_welfare_port_may_quote_fraud_as_a_warning(session: Session) -> None:
    """Issue 11: the registry vouches for a verified provider's public-welfare port, so its
    anti-fraud warning that quotes the scam's words is not refused as fraud; the same words from a
    commercial port are."""
    reg = build_registry(session)
    give_consent(session, reg)
    camp = registry.create_campaign(
        session,
        name="反诈宣传",
        department="市公安局",
        content=ANTI_FRAUD,
        scope="全市",
        content_provider="civic",
        notified_on=date(2025, 9, 26),
        send_on=date(2025, 10, 16),
    )
    session.commit()
    req = GatewayRequest("sms", WELFARE_PORT, USER, ANTI_FRAUD, kind="public_welfare", campaign_id=camp.id)
    [welfare] = submit(session, [req], now=_utc(2025, 10, 16))
    assert welfare.outcome == "allow", welfare.to_dict()
    assert "prohibited_content_cleared" in {x.code for x in welfare.reasons}
    quoted = ANTI_FRAUD.replace("【市应急管理局】", "【优品商城】") + "回T退订"
    [commercial] = submit(session, [ad(text=quoted)], now=_utc(2025, 10, 16))
    assert commercial.outcome == "refuse"
    assert "prohibited_content" in {x.code for x in commercial.reasons}


@pytest.mark.obligation("O31-11", "O24-10")
def test_the_record_names_a_long_port_code_whole_and_masks_a_persons_number(session: Session) -> None:
    """A port with a 4-digit extension is 12 digits long, the length of a card number to the PI
    redactor: its records named it as 1069****1234, so no record said which port had sent. A sender
    that resolves to no port and is a person's number stays masked."""
    build_registry(session)
    registry.create_port(
        session,
        code="10690003",
        port_type="commercial",
        content_provider="youpin",
        extension_from="0001",
        extension_to="9999",
    )
    session.commit()
    long_port, mobile = "106900031234", "13912345678"
    done = submit(session, [ad(sender=long_port), ad(sender=mobile)], now=at_noon())
    session.commit()
    rows = {r.ref: r for r in session.scalars(select(MessageRecord))}
    by_port, by_mobile = rows[done[0].ref or ""], rows[done[1].ref or ""]
    assert by_port.sender == long_port and by_port.port_id is not None
    assert by_mobile.port_id is None and mobile not in by_mobile.sender and by_mobile.sender.endswith("5678")
