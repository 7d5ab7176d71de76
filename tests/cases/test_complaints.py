"""Complaint intake: classification, the named message checked, one monitor row, the O31-28 stop,
the reply recorded and sent through the gateway."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.cases.complaints_setup import LOAN, USER, build_registry, old_message, sent_notice

from piguard.audit.service import Actor
from piguard.cases import complaints, service
from piguard.cases.clocks import clock_for
from piguard.cases.models import Case, CaseEvent
from piguard.cases.settings import reset_cases_settings
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.messaging.gateway import submit as gateway
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.models import ContentProvider, MessageRecord
from piguard.messaging.monitor import service as monitor
from piguard.messaging.monitor.models import MonitorComplaint

STAFF = Actor("staff", "7")


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.obligation("O24-12")
def test_pi_complaint_from_the_counter_is_classified_and_on_its_clock(session: Session) -> None:
    now = utcnow()
    case = complaints.file_complaint(
        session,
        kind="pi_complaint",
        received=now - timedelta(hours=1),
        text="客服泄露了我的地址",
        actor=STAFF,
        source="counter",
        subject="phone:13800138000",
        now=now,
    )
    assert case.classification == "pi" and case.source == "counter"
    assert case.due_date == clock_for("pi_complaint", case.received_at).due
    assert case.obligations == ["O24-12"]
    assert case.subject_masked and "13800138000" not in case.subject_masked
    assert _count(session, MonitorComplaint) == 0  # not an SMS complaint


@pytest.mark.obligation("O31-22")
@pytest.mark.obligation("O31-27")
def test_sms_complaint_is_counted_once_by_the_monitor_and_keeps_the_link(session: Session) -> None:
    reg = build_registry(session)
    now = utcnow()
    ref = sent_notice(session, now - timedelta(hours=2))
    case = complaints.file_complaint(
        session,
        kind="sms_complaint",
        received=now - timedelta(hours=1),
        text="收到不想要的短信",
        actor=STAFF,
        source="phone",
        subject=f"phone:{USER}",
        message_ref=ref,
        now=now,
    )
    assert case.classification == "sms" and case.content_provider_id == reg.youpin_id
    rows = monitor.list_complaints(session, content_provider_id=reg.youpin_id)
    assert len(rows) == 1
    assert rows[0].message_ref == ref and rows[0].external_ref == case.ref
    assert rows[0].recipient_masked and USER not in rows[0].recipient_masked
    assert case.detail["monitor_complaint_id"] == rows[0].id
    assert service.to_dict(case)["monitor_complaint_id"] == rows[0].id
    # a notice holds no prohibited content: no stop
    assert not session.get(ContentProvider, reg.youpin_id).suspended  # type: ignore[union-attr]


@pytest.mark.obligation("O31-25")
def test_reporting_centre_transfer_late_is_flagged(session: Session) -> None:
    build_registry(session)
    now = utcnow()
    case = complaints.file_complaint(
        session,
        kind="sms_report_transfer",
        received=now - timedelta(days=30),
        transferred_at=now - timedelta(hours=1),
        text="12321 转办：骚扰短信",
        actor=STAFF,
        source="reporting_centre",
        external_ref="12321-2026-0001",
    )
    assert case.transfer_late and case.external_ref == "12321-2026-0001"
    with pytest.raises(PiguardError) as e:
        complaints.file_complaint(
            session,
            kind="sms_report_transfer",
            received=now - timedelta(days=3),
            text="12321",
            actor=STAFF,
            source="reporting_centre",
        )
    assert e.value.fields[0].field == "transferred_at"


@pytest.mark.obligation("O31-28")
def test_unknown_message_and_someone_elses_message_are_refused_and_nothing_written(session: Session) -> None:
    reg = build_registry(session)
    now = utcnow()
    ref = sent_notice(session, now - timedelta(hours=2))
    session.commit()
    before = (_count(session, Case), _count(session, MonitorComplaint))
    with pytest.raises(PiguardError) as e:
        complaints.file_complaint(
            session,
            kind="sms_complaint",
            received=now,
            text="x",
            actor=STAFF,
            source="portal",
            message_ref="NOSUCHREF0000",
        )
    assert e.value.code == "complaint_message_unknown" and "NOSUCHREF0000" in e.value.message_en
    assert e.value.http_status == 404 and e.value.message_zh
    with pytest.raises(PiguardError) as e:
        complaints.file_complaint(
            session,
            kind="sms_complaint",
            received=now,
            text="x",
            actor=STAFF,
            source="portal",
            message_ref=ref,
            content_provider_id=reg.other_id,
        )
    assert e.value.code == "complaint_message_not_this_provider"
    assert ref in e.value.message_en and str(reg.other_id) in e.value.message_en
    assert "O31-28" in e.value.obligations
    session.rollback()
    assert (_count(session, Case), _count(session, MonitorComplaint)) == before


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": "spam_complaint"}, "kind"),
        ({"kind": "access"}, "kind"),
        ({"received": "2026-09-28T10:00:00"}, "received"),  # naive
        ({"received": "28/09/2026"}, "received"),  # garbled
        ({"text": "投诉\x07内容\x1b"}, "text"),  # control characters
        ({"text": "  "}, "text"),
        ({"external_ref": "x" * 65}, "external_ref"),
    ],
)
def test_bad_complaint_input_is_a_clear_error(session: Session, kw: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "kind": "pi_complaint",
        "received": "2026-09-28T10:00:00+08:00",
        "text": "投诉内容",
        "actor": STAFF,
        "source": "staff",
        **kw,
    }
    with pytest.raises(PiguardError) as e:
        complaints.file_complaint(session, **args)  # type: ignore[arg-type]
    assert e.value.code == "validation_error"
    assert any(f.field == field for f in e.value.fields), e.value.fields
    assert e.value.message_zh and e.value.message_en
    session.rollback()
    assert _count(session, Case) == 0


@pytest.mark.obligation("O31-28")
def test_complaint_about_prohibited_content_stops_the_provider_keeps_evidence_and_the_text_is_refused(
    session: Session,
) -> None:
    reg = build_registry(session)
    now = utcnow()
    ref = old_message(session, reg, now - timedelta(days=1))
    case = complaints.file_complaint(
        session,
        kind="sms_report_transfer",
        received=now - timedelta(hours=5),
        transferred_at=now - timedelta(hours=1),
        text="12321 转办：非法贷款短信",
        actor=STAFF,
        source="reporting_centre",
        message_ref=ref,
        external_ref="12321-LOAN-1",
        now=now,
    )
    session.commit()
    cp = session.get(ContentProvider, reg.youpin_id)
    assert cp is not None and cp.suspended and cp.suspended_obligations == ["O31-28"]
    evs = {ev.kind: ev for ev in service.events(session, case)}
    ev = evs["evidence"]
    assert ev.detail["message_ref"] == ref
    assert ev.detail["content_sha256"] == complaints.content_hash(LOAN)
    assert "illegal_lending" in str(ev.detail["review"]["prohibited"])
    assert any(
        r["code"] == "complained_prohibited_content" and r["obligations"] == ["O31-28"] for r in ev.reasons
    )
    assert evs["stop"].detail["content_provider_id"] == reg.youpin_id
    report = service.to_dict(case)["report"]
    assert report and "停止" in report and ref in report and case.ref in report and "12321-LOAN-1" in report
    # the same text, submitted through the gateway now, is refused, with a reason carrying O31-28
    res = gateway.submit(session, [GatewayRequest("sms", "10690002", "13900139000", LOAN)], now=now)[0]
    assert res.outcome == "refuse"
    stop = [r for r in res.reasons if r.code == "content_provider_suspended"]
    assert stop and "O31-28" in stop[0].obligations
    # and so is an innocent notice from the stopped provider, until staff resume it
    res2 = gateway.submit(
        session, [GatewayRequest("sms", "10690002", "13900139000", "【优品商城】您的订单已发货。")], now=now
    )[0]
    assert res2.outcome == "refuse"
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == res.ref))
    assert rec is not None and "O31-28" in rec.obligations


def test_a_complaint_about_a_clean_message_does_not_stop(session: Session) -> None:
    reg = build_registry(session)
    now = utcnow()
    ref = sent_notice(session, now - timedelta(hours=2))
    case = complaints.file_complaint(
        session,
        kind="sms_complaint",
        received=now,
        text="x",
        actor=STAFF,
        source="portal",
        message_ref=ref,
        now=now,
    )
    assert "report" not in case.detail
    assert not session.get(ContentProvider, reg.youpin_id).suspended  # type: ignore[union-attr]
    assert not any(ev.kind == "stop" for ev in service.events(session, case))


@pytest.mark.obligation("O31-27")
def test_reply_is_recorded_and_sent_through_the_gateway_as_a_notice(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_registry(session)
    monkeypatch.setenv("PIGUARD_CASES_NOTICE_SENDER", "10690002")
    monkeypatch.setenv("PIGUARD_CASES_NOTICE_SIGNATURE", "优品商城")
    reset_cases_settings()
    try:
        now = utcnow()
        case = complaints.file_complaint(
            session,
            kind="sms_complaint",
            received=now - timedelta(hours=1),
            text="骚扰",
            actor=STAFF,
            source="phone",
            subject="phone:13900139001",
            now=now,
        )
        complaints.answer(session, case, "已核实并停止向您发送。", STAFF, now=now)
        assert case.status == "answered" and case.reply_text
        notice = [ev for ev in service.events(session, case) if ev.kind == "notice"][-1]
        assert notice.detail["sent"] is True, notice.detail
        rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == notice.detail["message_ref"]))
        assert rec is not None and rec.outcome == "allow" and case.ref in rec.content
        assert "13900139001" not in rec.recipient_masked
        # answering a closed case is refused
        service.close(session, case, STAFF)
        with pytest.raises(PiguardError) as e:
            complaints.answer(session, case, "again", STAFF)
        assert e.value.code == "case_closed" and e.value.http_status == 409
    finally:
        reset_cases_settings()


def test_reply_without_a_notice_sender_is_recorded_and_says_it_was_not_sent(session: Session) -> None:
    now = utcnow()
    case = complaints.file_complaint(
        session,
        kind="pi_complaint",
        received=now,
        text="x",
        actor=STAFF,
        source="portal",
        subject="phone:13900139002",
        now=now,
    )
    complaints.answer(session, case, "答复", STAFF, now=now)
    ev = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "notice")
    ).one()
    assert ev.detail == {"sent": False, "why": "no_notice_sender"}
    assert "contact_enc" not in service.to_dict(case, with_text=True)


@pytest.mark.obligation("O31-28")
def test_content_kept_encrypted_because_it_held_pi_is_reviewed_in_clear_and_nothing_leaks(
    session: Session,
) -> None:
    from piguard.audit.models import AuditEntry
    from piguard.messaging.records import protect
    from piguard.messaging.records import service as records

    reg = build_registry(session)
    now = utcnow()
    text = "【优品商城】黑户可贷，无视征信，联系经理13912345678"
    addr = protect.normalize_address("sms", USER)
    ref = records.new_ref()
    records.write_records(
        session,
        [
            records.record_row(
                ref=ref, at=now - timedelta(days=1), direction="out", channel="sms", sender="10690002",
                address=addr, recipient_hash=protect.address_hash(addr), recipient_masked=protect.mask_address(addr),
                content=text, content_has_pi=True, outcome="allow", status="delivered",
                content_provider_id=reg.youpin_id, port_id=reg.business_port_id,
            )
        ],
    )  # fmt: skip
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == ref))
    assert rec is not None and "13912345678" not in rec.content and rec.content_enc
    case = complaints.file_complaint(
        session, kind="sms_complaint", received=now, text="非法贷款", actor=STAFF, source="phone",
        subject=f"phone:{USER}", message_ref=ref, now=now,
    )  # fmt: skip
    ev = next(e for e in service.events(session, case) if e.kind == "evidence")
    assert ev.detail["content_sha256"] == complaints.content_hash(text)
    assert session.get(ContentProvider, reg.youpin_id).suspended  # type: ignore[union-attr]
    session.flush()
    blob = " ".join(str(a.detail) + str(a.subject_ref) for a in session.scalars(select(AuditEntry)))
    assert "13912345678" not in blob and USER not in blob
    assert "13912345678" not in str(service.to_dict(case, with_text=True))
