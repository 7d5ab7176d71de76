"""Early warning (O31-22) and suspension (O31-23): each alert kind fires at its threshold and not
below; auto-suspension makes the gateway refuse; raising and acknowledging are audited. Both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.core.errors import PiguardError
from piguard.identity.principal import Principal
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import ContentProvider
from piguard.messaging.monitor import jobs as monitor_jobs
from piguard.messaging.monitor import service as monitor
from piguard.messaging.monitor.models import MonitorAlert
from piguard.messaging.monitor.service import AlertSettings, evaluate_alerts
from piguard.messaging.subscriptions.inbound import receive_reply

from .gw_setup import AD, BUSINESS_PORT, COMMERCIAL_PORT, NOTICE, Reg, at_noon, build_registry

pytestmark = pytest.mark.obligation("O31-22")

#: Rates and counts small enough to reach in a test; everything else far away.
QUIET = {
    "volume_max": 1_000_000,
    "min_volume": 10,
    "refusal_rate": 1.0,
    "opt_out_rate": 1.0,
    "complaint_rate": 1.0,
    "complaint_min": 1_000_000,
    "burst_recipients": 1_000_000,
}


def settings(**kw: object) -> AlertSettings:
    return AlertSettings(**{**QUIET, **kw})  # type: ignore[arg-type]


def user(i: int) -> str:
    return f"1391234{i:04d}"


def notices(n: int, start: int = 0) -> list[GatewayRequest]:
    """Service notices from the business port: allowed without consent."""
    return [
        GatewayRequest(channel="sms", sender=BUSINESS_PORT, recipient=user(start + i), text=NOTICE)
        for i in range(n)
    ]


def unconsented_ads(n: int, start: int = 500) -> list[GatewayRequest]:
    """Commercial messages to recipients who never consented: refused (O31-18.1)."""
    return [
        GatewayRequest(
            channel="sms",
            sender=COMMERCIAL_PORT + "07",
            recipient=user(start + i),
            text=AD,
            message_type="promotions",
        )
        for i in range(n)
    ]


def _send(session: Session, reqs: list[GatewayRequest], now: datetime) -> None:
    submit(session, reqs, now=now)
    session.commit()


def _alerts(session: Session, kind: str) -> list[MonitorAlert]:
    return list(session.scalars(select(MonitorAlert).where(MonitorAlert.kind == kind)))


def _audit(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture()
def reg(session: Session) -> Reg:
    return build_registry(session)


@pytest.fixture()
def t0() -> datetime:
    return at_noon()


def test_volume_fires_at_threshold_not_below(session: Session, reg: Reg, t0: datetime) -> None:
    _send(session, notices(4), t0)
    assert evaluate_alerts(session, t0 + timedelta(minutes=1), settings=settings(volume_max=5)).raised == []
    _send(session, notices(1, start=4), t0)
    res = evaluate_alerts(session, t0 + timedelta(minutes=1), settings=settings(volume_max=5))
    session.commit()
    [a] = res.raised
    assert (a.kind, a.content_provider_id, a.count, a.state) == ("volume", reg.youpin_id, 5, "open")
    assert a.obligations[:2] == ["O31-22", "O31-23"]
    # Outside the sliding window the same messages no longer count.
    later = t0 + timedelta(minutes=61)
    assert evaluate_alerts(session, later, settings=settings(volume_max=5)).refreshed == []


def test_refusal_rate_fires_at_threshold_with_reasons_by_code(
    session: Session, reg: Reg, t0: datetime
) -> None:
    s = settings(refusal_rate=0.5)
    _send(session, notices(6) + unconsented_ads(4), t0)
    assert evaluate_alerts(session, t0 + timedelta(minutes=1), settings=s).raised == []  # 40% < 50%
    _send(session, notices(4, start=6) + unconsented_ads(6, start=600), t0)  # 10 of 20 = 50%
    [a] = evaluate_alerts(session, t0 + timedelta(minutes=1), settings=s).raised
    session.commit()
    assert a.kind == "refusal_rate" and a.value == pytest.approx(0.5) and (a.count, a.volume) == (10, 20)
    codes = {r["code"]: r for r in a.reasons}
    assert codes["alert_refusal_rate"]["obligations"] == ["O31-22", "O31-23"]
    # The unconsented messages are named with the article they broke (O31-18.1).
    assert "O31-18.1" in codes["consent_missing"]["obligations"]
    assert codes["consent_missing"]["detail"]["count"] == 10
    assert a.detail["by_reason"]["consent_missing"] == 10


def test_rates_need_min_volume(session: Session, reg: Reg, t0: datetime) -> None:
    _send(session, unconsented_ads(9), t0)  # 100% refused, but only 9 decided
    assert (
        evaluate_alerts(session, t0 + timedelta(minutes=1), settings=settings(refusal_rate=0.1)).raised == []
    )


def test_opt_out_rate_fires_at_threshold_not_below(session: Session, reg: Reg, t0: datetime) -> None:
    s = settings(opt_out_rate=0.2)
    _send(session, notices(10), t0)
    receive_reply(
        session,
        channel="sms",
        sender=user(0),
        to=BUSINESS_PORT,
        text="退订",
        received_at=t0 + timedelta(minutes=5),
    )
    session.commit()
    # 1 opt-out for 10 messages (its confirmation message is not counted as sending)
    assert evaluate_alerts(session, t0 + timedelta(minutes=10), settings=s).raised == []
    receive_reply(
        session,
        channel="sms",
        sender=user(1),
        to=BUSINESS_PORT,
        text="TD",
        received_at=t0 + timedelta(minutes=6),
    )
    session.commit()
    [a] = evaluate_alerts(session, t0 + timedelta(minutes=10), settings=s).raised
    assert (a.kind, a.count, a.volume) == ("opt_out_rate", 2, 10)
    assert "O31-20" in a.obligations


@pytest.mark.obligation("O31-22")
def test_complaint_rate_fires_at_threshold_not_below(session: Session, reg: Reg, t0: datetime) -> None:
    s = settings(complaint_rate=0.2, complaint_min=1)
    _send(session, notices(10), t0)
    monitor.record_complaint(
        session,
        reg.youpin_id,
        at=t0 + timedelta(minutes=2),
        source="12321",
        recipient=user(3),
        summary="骚扰 13912340003",
    )
    session.commit()
    assert evaluate_alerts(session, t0 + timedelta(minutes=10), settings=s).raised == []
    monitor.record_complaint(session, reg.youpin_id, at=t0 + timedelta(minutes=3))
    session.commit()
    [a] = evaluate_alerts(session, t0 + timedelta(minutes=10), settings=s).raised
    assert (a.kind, a.count, a.volume) == ("complaint_rate", 2, 10)
    # the complaint keeps no clear number: masked address, redacted summary
    from piguard.messaging.monitor.models import MonitorComplaint

    c = session.scalars(select(MonitorComplaint).order_by(MonitorComplaint.id)).first()
    assert c is not None and c.recipient_masked == "+86139****0003" and "13912340003" not in c.summary


def test_complaint_bad_input(session: Session, reg: Reg) -> None:
    with pytest.raises(PiguardError) as e:
        monitor.record_complaint(session, 999_999)
    assert e.value.code == "not_found"
    with pytest.raises(PiguardError) as e:
        monitor.record_complaint(session, reg.youpin_id, source="rumour")
    assert e.value.code == "validation_error" and e.value.fields[0].field == "source"
    with pytest.raises(PiguardError):
        monitor.record_complaint(session, reg.youpin_id, recipient="not-a-number")


def _variant(i: int) -> str:
    # near-identical: the same offer with a different amount and member number
    return (
        f"【优品商城】尊敬的会员{1000 + i}：全场春装5折起，满{200 + i}减50，限时3天，详询4008123456 回T退订"
    )


def test_similar_burst_fires_at_threshold_not_below(session: Session, reg: Reg, t0: datetime) -> None:
    s = settings(burst_recipients=6, burst_similarity=0.85)
    reqs = [
        GatewayRequest(
            channel="sms",
            sender=COMMERCIAL_PORT + "07",
            recipient=user(i),
            text=_variant(i),
            message_type="promotions",
        )
        for i in range(5)
    ]
    _send(session, reqs, t0)
    # different content to another recipient does not join the cluster
    other = "【优品商城】新店开业，进店即送咖啡一杯，地址人民路88号 回T退订"
    _send(
        session,
        [
            GatewayRequest(
                channel="sms",
                sender=COMMERCIAL_PORT + "07",
                recipient=user(77),
                text=other,
                message_type="promotions",
            )
        ],
        t0,
    )
    assert evaluate_alerts(session, t0 + timedelta(minutes=1), settings=s).raised == []
    _send(
        session,
        [
            GatewayRequest(
                channel="sms",
                sender=COMMERCIAL_PORT + "07",
                recipient=user(5),
                text=_variant(5),
                message_type="promotions",
            )
        ],
        t0,
    )
    [a] = evaluate_alerts(session, t0 + timedelta(minutes=1), settings=s).raised
    assert (a.kind, a.count, a.volume) == ("similar_burst", 6, 6)
    assert a.detail["texts"] == 6 and "O31-18.1" in a.obligations
    # outside the burst window: nothing
    assert evaluate_alerts(session, t0 + timedelta(minutes=30), settings=s).refreshed == []


@pytest.mark.obligation("O31-23")
def test_auto_suspension_makes_the_gateway_refuse(session: Session, reg: Reg, t0: datetime) -> None:
    s = settings(refusal_rate=0.5, auto_suspend=True)
    _send(session, unconsented_ads(10), t0)
    res = evaluate_alerts(session, t0 + timedelta(minutes=1), settings=s)
    session.commit()
    assert res.suspended == ["youpin"] and res.raised[0].suspended
    cp = session.get(ContentProvider, reg.youpin_id)
    assert cp is not None and cp.suspended and "O31-23" in cp.suspended_obligations
    # the gateway now refuses even a plain notice, naming O31-23
    [r] = submit(session, notices(1, start=50), now=t0 + timedelta(minutes=2))
    session.commit()
    assert r.outcome == "refuse"
    assert any(x.code == "content_provider_suspended" and "O31-23" in x.obligations for x in r.reasons)
    # the suspension went through the registry's audited switch
    [sus] = _audit(session, "sms.registry.suspended")
    assert "O31-23" in sus.obligations
    assert _audit(session, "sms.alert.raised")
    # the other content provider is untouched
    other = session.get(ContentProvider, reg.other_id)
    assert other is not None and not other.suspended


@pytest.mark.obligation("O31-23")
def test_no_suspension_unless_configured_or_for_other_kinds(session: Session, reg: Reg, t0: datetime) -> None:
    _send(session, unconsented_ads(10), t0)
    res = evaluate_alerts(session, t0 + timedelta(minutes=1), settings=settings(refusal_rate=0.5))
    assert res.raised and res.suspended == []
    # volume is not in the default suspend_on list
    res = evaluate_alerts(
        session,
        t0 + timedelta(minutes=1),
        settings=settings(volume_max=5, auto_suspend=True, suspend_on="complaint_rate"),
    )
    session.commit()
    assert [a.kind for a in res.raised] == ["volume"] and res.suspended == []
    cp = session.get(ContentProvider, reg.youpin_id)
    assert cp is not None and not cp.suspended


def test_alert_lifecycle_is_audited_and_not_duplicated(session: Session, reg: Reg, t0: datetime) -> None:
    s = settings(volume_max=3)
    _send(session, notices(3), t0)
    [a] = evaluate_alerts(session, t0 + timedelta(minutes=1), settings=s).raised
    session.commit()
    # still above: refreshed, not raised again
    again = evaluate_alerts(session, t0 + timedelta(minutes=2), settings=s)
    assert again.raised == [] and [x.id for x in again.refreshed] == [a.id]
    staff = Principal(
        "staff", "alice", username="alice", roles=frozenset({"compliance_officer"}), client_ip="10.0.0.8"
    )
    monitor.acknowledge_alert(session, a.id, principal=staff, note="looking, call 13800001111")
    session.commit()
    [ack] = _audit(session, "sms.alert.acknowledged")
    assert (ack.actor_type, ack.actor_id, ack.subject_ref) == ("staff", "alice", f"alert:{a.id}")
    assert "O31-22" in ack.obligations
    got = monitor.get_alert(session, a.id)
    assert (
        got.state == "acknowledged"
        and got.acknowledged_by == "alice"
        and "13800001111" not in (got.note or "")
    )
    with pytest.raises(PiguardError) as e:
        monitor.acknowledge_alert(session, a.id, principal=staff)
    assert e.value.http_status == 409
    monitor.close_alert(session, a.id, principal=staff)
    session.commit()
    assert _audit(session, "sms.alert.closed")
    # closed: the next evaluation that still finds the condition raises a new alert
    [b] = evaluate_alerts(session, t0 + timedelta(minutes=3), settings=s).raised
    assert b.id != a.id
    with pytest.raises(PiguardError) as e:
        monitor.close_alert(session, 987654)
    assert e.value.code == "not_found"


def test_list_and_count(session: Session, reg: Reg, t0: datetime) -> None:
    _send(session, notices(3), t0)
    evaluate_alerts(session, t0 + timedelta(minutes=1), settings=settings(volume_max=3))
    session.commit()
    assert monitor.count_alerts(session) == {"open": 1, "acknowledged": 0, "closed": 0}
    [a] = monitor.list_alerts(session, state="open")
    assert monitor.alert_to_dict(a)["kind"] == "volume"
    with pytest.raises(PiguardError):
        monitor.list_alerts(session, state="bogus")


def test_worker_job_runs_in_its_own_unit_of_work(
    session: Session, reg: Reg, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _send(session, notices(3), t0)
    monkeypatch.setenv("PIGUARD_SMS_ALERT_VOLUME_MAX", "3")
    monitor.reset_alert_settings()
    try:
        out = monitor_jobs.run_alert_evaluation(t0 + timedelta(minutes=1))
    finally:
        monitor.reset_alert_settings()
    assert len(out["raised"]) == 1 and out["suspended"] == []
    assert monitor.count_alerts(session)["open"] == 1


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGUARD_SMS_AUTO_SUSPEND", "true")
    monkeypatch.setenv("PIGUARD_SMS_ALERT_REFUSAL_RATE", "0.35")
    monkeypatch.setenv("PIGUARD_SMS_ALERT_SUSPEND_ON", "refusal_rate, similar_burst")
    s = AlertSettings()
    assert s.auto_suspend and s.refusal_rate == 0.35
    assert s.suspend_kinds() == {"refusal_rate", "similar_burst"}
    monkeypatch.setenv("PIGUARD_SMS_ALERT_SUSPEND_ON", "refusal_rate,everything")
    with pytest.raises(ValueError):
        AlertSettings()
    monkeypatch.setenv("PIGUARD_SMS_ALERT_SUSPEND_ON", "refusal_rate")
    monkeypatch.setenv("PIGUARD_SMS_ALERT_REFUSAL_RATE", "1.5")
    with pytest.raises(ValueError):
        AlertSettings()
