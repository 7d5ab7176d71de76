"""The one decision path (issue 10): consent requests and confirmations decided like every message,
reasons from the catalogue, the decision's steps alone, campaigns, control characters, bounds."""

from __future__ import annotations

import ast
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.core.calendar import SHANGHAI
from piguard.core.errors import PiguardError
from piguard.messaging import reasons as catalogue
from piguard.messaging.gateway.decision import (
    STEPS,
    GatewayRequest,
    Work,
    prepare,
    resolve_sender,
    step_consent,
    step_quiet_hours,
)
from piguard.messaging.gateway.submit import load_context, submit
from piguard.messaging.models import MessageRecord, OutboxMessage
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions import consent
from piguard.messaging.subscriptions.inbound import receive_reply

from .gw_setup import COMMERCIAL_PORT, USER, WELFARE_PORT, ad, at_noon, build_registry, give_consent

PORT = COMMERCIAL_PORT + "07"
PITCH = "春季会员促销：全场5折起，满299减50。"
SRC = Path(__file__).resolve().parents[2] / "src" / "piguard" / "messaging"


def _ask(session: Session, now: datetime, **kw: object) -> consent.RequestResult:
    args: dict[str, object] = {
        "channel": "sms",
        "sender": PORT,
        "recipient": USER,
        "message_type": "promotions",
        "max_messages": 2,
        "period_unit": "week",
        "valid_until": now + timedelta(days=90),
        "pitch": PITCH,
        "now": now,
    }
    args.update(kw)
    return consent.create_request(session, **args)  # type: ignore[arg-type]


def _utc(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=SHANGHAI).astimezone(at_noon().tzinfo)


# ----------------------------------------------------------------------------- consent requests


@pytest.mark.obligation("O31-18.1", "O31-18.2")
def test_after_an_opt_out_the_same_request_with_the_same_pitch_is_refused(session: Session) -> None:
    reg = build_registry(session)
    t0 = at_noon()
    _ask(session, t0)
    receive_reply(
        session, channel="sms", sender=USER, to=PORT, text="Y", received_at=t0 + timedelta(minutes=5)
    )
    receive_reply(
        session, channel="sms", sender=USER, to=PORT, text="退订", received_at=t0 + timedelta(minutes=6)
    )
    session.commit()
    outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    with pytest.raises(PiguardError) as e:
        _ask(session, t0 + timedelta(days=1))
    assert e.value.code == "refused"
    assert [r.code for r in e.value.reasons if r.code == "similar_content_refused"]
    assert "O31-18.2" in e.value.obligations
    # the pitch itself is not sent as a commercial message either
    give_consent(session, reg)
    [r] = submit(session, [ad(text=f"【优品商城】{PITCH}回T退订")], now=t0 + timedelta(days=1))
    assert r.outcome == "refuse" and "similar_content_refused" in [x.code for x in r.reasons]
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before


@pytest.mark.obligation("O31-10", "O31-13")
def test_a_consent_request_from_an_unregistered_sender_has_the_gateways_ids(session: Session) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as e:
        _ask(session, at_noon(), sender="10699999")
    [r] = [r for r in e.value.reasons if r.code == "sender_unregistered"]
    assert r.obligations == catalogue.obligations_of("sender_unregistered") == ("O31-10", "O31-13")
    [res] = submit(session, [ad(sender="10699999")], now=at_noon())
    assert [x.obligations for x in res.reasons] == [r.obligations]


@pytest.mark.obligation("O31-19")
def test_a_consent_request_is_refused_by_the_same_steps_as_a_message(session: Session) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as e:
        _ask(session, at_noon(), sender="10690002")  # the business port
    assert [r.code for r in e.value.reasons if r.code == "port_type_mismatch"]
    assert catalogue.obligations_of("port_type_mismatch") == next(
        r.obligations for r in e.value.reasons if r.code == "port_type_mismatch"
    )


@pytest.mark.obligation("O31-11", "O31-18.2")
def test_a_consent_request_is_recorded_queued_and_audited_by_the_one_writer(session: Session) -> None:
    build_registry(session)
    res = _ask(session, at_noon())
    session.commit()
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == res.message_ref))
    assert rec is not None and rec.kind == "consent_request" and rec.status == "queued"
    assert "consent_request" in rec.reason_codes and "sender_registered" in rec.reason_codes
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.message_ref == res.message_ref))


@pytest.mark.obligation("O31-20")
def test_the_opt_out_confirmation_goes_through_the_decision(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    out = receive_reply(session, channel="sms", sender=USER, to=PORT, text="退订", received_at=at_noon())
    session.commit()
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == out.confirmation_ref))
    assert rec is not None and rec.outcome == "allow"
    assert {"sender_registered", "optout_confirmation", "message_kind"} <= set(rec.reason_codes)


@pytest.mark.obligation("O31-18.2")
@pytest.mark.parametrize(
    ("max_messages", "unit", "days", "field"),
    [
        (1000, "day", 30, "sms_consent.max_messages_per_day"),
        (2, "day", 365 * 70, "sms_consent.max_period_months"),
    ],
)
def test_consent_terms_beyond_the_dated_bounds_are_refused(
    session: Session, max_messages: int, unit: str, days: int, field: str
) -> None:
    reg = build_registry(session)
    with pytest.raises(PiguardError) as e:
        consent.record_consent(
            session,
            channel="sms",
            recipient=USER,
            content_provider_id=reg.youpin_id,
            message_type="promotions",
            max_messages=max_messages,
            period_unit=unit,
            valid_until=at_noon() + timedelta(days=days),
            evidence={"text_shown": "同意"},
        )
    assert e.value.code == "refused" and e.value.obligations == ("O31-18.2",)
    [r] = e.value.reasons
    assert r.code == "consent_terms_excessive" and r.detail["parameter"] == field
    with pytest.raises(PiguardError) as e2:
        _ask(
            session,
            at_noon(),
            max_messages=max_messages,
            period_unit=unit,
            valid_until=at_noon() + timedelta(days=days),
        )
    assert e2.value.reasons[0].code == "consent_terms_excessive"


# ----------------------------------------------------------------------------- one catalogue


_DECISION_MODULES = (
    "gateway/decision.py",
    "gateway/submit.py",
    "gateway/release.py",
    "subscriptions/consent.py",
    "subscriptions/inbound.py",
    "registry/service.py",
)
_BUILDERS = {"reason", "_refuse", "_fixed"}


@pytest.mark.obligation("O31-11")
def test_every_reason_of_the_decision_path_is_built_from_the_catalogue() -> None:
    """No ``Reason("code", …)`` written inline: every literal code goes through the catalogue's
    builder, and every such code is catalogued (its ids are the catalogue's)."""
    inline: list[str] = []
    used: set[str] = set()
    for name in _DECISION_MODULES:
        tree = ast.parse((SRC / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            fname = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            first = node.args[0] if node.args else None
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if fname in ("Reason", "_r") and (literal or isinstance(first, ast.Starred)):
                inline.append(f"{name}:{node.lineno}")
            if fname in _BUILDERS and literal:
                assert isinstance(first, ast.Constant)
                used.add(str(first.value))
    assert inline == []
    assert used and used <= set(catalogue.CATALOG), sorted(used - set(catalogue.CATALOG))
    with pytest.raises(KeyError):
        catalogue.reason("not_a_code", "x", "x")
    with pytest.raises(ValueError):
        catalogue.reason("consent_missing", "x", "x", obligations=("O31-99",))


@pytest.mark.obligation("O31-18.1", "O31-17", "O31-19")
def test_every_reason_a_decision_carries_has_the_catalogues_ids(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    msgs = [
        ad(),
        ad(recipient="13900000001"),
        ad(sender="10699999"),
        ad(sender="10690002"),
        ad(message_type=None),
        GatewayRequest(
            "sms", WELFARE_PORT, USER, "【市应急管理局】暴雨红色预警，请勿外出。", kind="emergency"
        ),
        GatewayRequest("sms", WELFARE_PORT, USER, "【市应急管理局】防范诈骗宣传。", kind="public_welfare"),
        GatewayRequest("sms", PORT, USER, "【优品商城】您的订单已发货。"),
    ]
    seen = set()
    for r in submit(session, msgs, now=at_noon()):
        for x in r.reasons:
            seen.add(x.code)
            if x.code in catalogue.CATALOG and not catalogue.CATALOG[x.code].own_ids:
                assert x.obligations == catalogue.obligations_of(x.code), x.code
    assert {
        "consent_live",
        "consent_missing",
        "sender_unregistered",
        "port_type_mismatch",
        "emergency_lane",
    } <= seen


# ----------------------------------------------------------------------------- steps alone


def _work(session: Session, req: GatewayRequest, now: datetime):  # type: ignore[no-untyped-def]
    p = prepare(req)
    ctx = load_context(session, [p], now=now)
    w = resolve_sender(ctx, p)
    assert isinstance(w, Work)
    return ctx, w


@pytest.mark.obligation("O31-22")
def test_the_quiet_hours_step_alone(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    ctx, w = _work(session, ad(), at_noon())
    ctx.quiet_hours = (time(11, 0), time(13, 0))  # 12:00 Asia/Shanghai is inside
    w.kind = "notification"  # what the review step decides; notifications are never held
    step_quiet_hours(ctx, w)
    assert [r.code for r in w.holds] == []
    w.kind = "commercial"
    step_quiet_hours(ctx, w)
    assert [r.code for r in w.holds] == ["quiet_hours"]
    ctx.quiet_hours = (time(22, 0), time(8, 0))
    w.holds.clear()
    step_quiet_hours(ctx, w)
    assert w.holds == []


@pytest.mark.obligation("O31-18.1", "O31-18.2")
def test_the_consent_step_alone(session: Session) -> None:
    reg = build_registry(session)
    cid = give_consent(session, reg, max_messages=1)
    ctx, w = _work(session, ad(), at_noon())
    w.kind = "commercial"
    step_consent(ctx, w)
    assert w.consent_id == cid and [r.code for r in w.reasons][-1] == "consent_live"
    ctx.used[cid] = 1  # the one message a day is used in this batch
    w2 = resolve_sender(ctx, w.p)
    assert isinstance(w2, Work)
    w2.kind = "commercial"
    step_consent(ctx, w2)
    assert [r.code for r in w2.refusals] == ["consent_frequency_exceeded"]
    assert STEPS[0].__name__ == "step_provider" and step_consent in STEPS


# ----------------------------------------------------------------------------- campaigns


def _campaign(session: Session, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "name": "反诈宣传",
        "department": "市公安局",
        "content": "警惕电信诈骗：公检法机关不会通过电话要求转账，请提高警惕。",
        "scope": "全市",
        "content_provider": "civic",
        "notified_on": date(2025, 9, 1),
        "send_on": date(2025, 9, 30),
    }
    args.update(kw)
    c = registry.create_campaign(session, **args)  # type: ignore[arg-type]
    session.commit()
    return c


@pytest.mark.obligation("O31-17")
def test_a_campaign_notified_past_the_packaged_holidays_says_its_date_is_an_estimate(
    session: Session,
) -> None:
    build_registry(session)
    camp = _campaign(session, notified_on=date(2026, 12, 20), send_on=date(2027, 1, 8))
    assert camp.notice_estimated is True
    text = "【市应急管理局】警惕电信诈骗：公检法机关不会通过电话要求转账，请提高警惕。"
    [r] = submit(
        session,
        [GatewayRequest("sms", WELFARE_PORT, USER, text, kind="public_welfare", campaign_id=camp.id)],
        now=_utc(2027, 1, 8),
    )
    [est] = [x for x in r.reasons if x.code == "campaign_date_estimated"]
    assert est.message_zh and est.message_en and "O31-17" in est.obligations
    known = _campaign(session)
    assert known.notice_estimated is False


@pytest.mark.obligation("O31-17")
def test_a_campaign_lets_out_only_what_was_notified_and_only_until_its_end(session: Session) -> None:
    build_registry(session)
    camp = _campaign(session, ends_on=date(2025, 10, 31))
    ok = "【市应急管理局】警惕电信诈骗：公检法机关不会通过电话要求转账，请提高警惕。"
    other = "【市应急管理局】冬季用电安全提醒：请勿私拉乱接电线，离家请关闭电器电源。"
    req = GatewayRequest("sms", WELFARE_PORT, USER, ok, kind="public_welfare", campaign_id=camp.id)
    wrong = GatewayRequest("sms", WELFARE_PORT, USER, other, kind="public_welfare", campaign_id=camp.id)
    a, b = submit(session, [req, wrong], now=_utc(2025, 10, 1))
    assert a.outcome == "allow"
    assert b.outcome == "refuse" and "campaign_content_mismatch" in [x.code for x in b.reasons]
    [late] = submit(session, [req], now=_utc(2025, 11, 1))
    assert late.outcome == "refuse" and "campaign_ended" in [x.code for x in late.reasons]
    with pytest.raises(PiguardError) as e:
        _campaign(session, ends_on=date(2025, 9, 1))
    assert e.value.fields[0].field == "ends_on"


@pytest.mark.obligation("O31-17", "O31-13")
def test_a_commercial_content_provider_cannot_register_a_campaign(session: Session) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as e:
        _campaign(session, content_provider="youpin")
    assert e.value.code == "refused" and e.value.reasons[0].code == "campaign_provider_commercial"
    assert "O31-17" in e.value.obligations


@pytest.mark.obligation("O31-17", "O31-19")
def test_an_emergency_text_carrying_an_advert_does_not_take_the_emergency_lane(session: Session) -> None:
    build_registry(session)
    text = (
        "【市应急管理局】暴雨红色预警，请勿外出。会员专享：全场春装5折起，满299减50，详询4008123456 回T退订"
    )
    [r] = submit(session, [GatewayRequest("sms", WELFARE_PORT, USER, text, kind="emergency")], now=at_noon())
    codes = [x.code for x in r.reasons]
    assert r.outcome == "refuse" and not r.emergency and "emergency_lane" not in codes
    assert "emergency_advert" in codes


# ----------------------------------------------------------------------------- text


@pytest.mark.obligation("O31-11")
@pytest.mark.parametrize("ch", ["\x07", "\x1b", "\x00", "\x7f"])
def test_control_characters_never_reach_the_sms_centre(session: Session, ch: str) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    [r] = submit(session, [ad(text=f"【优品商城】春装5折{ch}起，回T退订")], now=at_noon())
    assert r.error is not None and r.error.code == "validation_error"
    assert r.error.fields[0].field == "text" and f"U+{ord(ch):04X}" in r.error.fields[0].message
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    [fine] = submit(session, [ad(text="【优品商城】春装5折起，\n满299减50，回T退订")], now=at_noon())
    assert fine.error is None


@pytest.mark.obligation("O31-17")
def test_a_too_short_notice_past_the_packaged_holidays_says_the_date_is_estimated(session: Session) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as e:
        _campaign(session, notified_on=date(2026, 12, 20), send_on=date(2026, 12, 25))
    assert e.value.code == "public_welfare_notice_too_short"
    assert "Estimated" in e.value.message_en and "估算" in e.value.message_zh
