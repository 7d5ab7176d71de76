"""Case clocks: the dated parameter, the official calendar, estimates past the data, transfers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.cases import service
from piguard.cases.clocks import clock_for
from piguard.cases.models import Case, CaseEvent
from piguard.core import calendar
from piguard.core.errors import PiguardError

CST = calendar.SHANGHAI
STAFF = Actor("staff", "7")
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_pi_complaint_fifteen_calendar_days_across_national_day() -> None:
    # 2026-09-28 + 15 days = 10-13, a working day after the National Day holiday (O24-12).
    c = clock_for("pi_complaint", datetime(2026, 9, 28, 10, tzinfo=CST))
    assert (c.due, c.estimated, c.basis) == (date(2026, 10, 13), False, "complaint.reply_days")
    assert c.obligations == ("O24-12",)
    assert c.reasons[0].obligations == ("O24-12",)


def test_sms_complaint_fifteen_working_days_skip_the_holiday() -> None:
    # Golden Week (10-01..10-07) does not count; the adjusted working Saturday 10-10 does.
    c = clock_for("sms_complaint", datetime(2026, 9, 28, 10, tzinfo=CST))
    assert c.due == date(2026, 10, 23)
    assert c.days == "working_days" and c.count == 15 and not c.estimated


def test_a_period_running_past_the_holiday_data_is_an_estimate() -> None:
    cal = calendar.get_calendar()
    last = cal.covered_until
    assert last is not None
    start = datetime.combine(last - timedelta(days=3), datetime.min.time(), tzinfo=CST) + timedelta(hours=10)
    c = clock_for("sms_complaint", start)
    assert c.estimated and c.due is not None and c.due > last
    assert c.warning_en and "calendar load" in c.warning_en and c.warning_zh


def test_transfer_starts_the_providers_clock_and_flags_a_late_centre() -> None:
    received = datetime(2026, 9, 28, 10, tzinfo=CST)
    on_time = clock_for("sms_report_transfer", received, transferred_at=datetime(2026, 9, 30, 9, tzinfo=CST))
    assert not on_time.transfer_late and on_time.start == date(2026, 9, 30)
    # 5 working days from 09-28: 09-29, 09-30, 10-08, 10-09, 10-10 (adjusted working Saturday).
    assert on_time.transfer_due == date(2026, 10, 10)
    late = clock_for("sms_report_transfer", received, transferred_at=datetime(2026, 10, 12, 9, tzinfo=CST))
    assert late.transfer_late
    assert any(r.code == "transfer_late" and r.obligations == ("O31-27",) for r in late.reasons)
    assert late.due == calendar.deadline_in_working_days(date(2026, 10, 12), 15).due


@pytest.mark.parametrize(
    ("kind", "kw", "field"),
    [
        ("nonsense", {}, "kind"),
        ("sms_report_transfer", {}, "transferred_at"),
    ],
)
def test_bad_clock_input_is_a_clear_error(kind: str, kw: dict[str, object], field: str) -> None:
    with pytest.raises(PiguardError) as e:
        clock_for(kind, datetime(2026, 9, 28, tzinfo=CST), **kw)  # type: ignore[arg-type]
    assert e.value.code == "validation_error"
    assert e.value.fields[0].field == field


def test_transfer_before_the_report_is_refused() -> None:
    with pytest.raises(PiguardError) as e:
        clock_for(
            "sms_report_transfer",
            datetime(2026, 9, 28, tzinfo=CST),
            transferred_at=datetime(2026, 9, 27, tzinfo=CST),
        )
    assert e.value.fields[0].field == "transferred_at"


def test_open_case_writes_clock_timeline_and_audit(session: Session) -> None:
    case = service.open_case(
        session,
        kind="sms_complaint",
        received="2026-09-28T10:00:00+08:00",
        text="收到贷款广告短信",
        source="phone",
        subject="phone:13800138000",
        actor=STAFF,
        now=NOW,
    )
    session.commit()
    out = service.to_dict(case, now=NOW)
    assert out["kind"] == "sms_complaint" and out["status"] == "open"
    assert out["due"] == "2026-10-23" and out["estimated"] is False
    assert out["obligations"] == ["O31-27"]
    assert out["subject"] != "13800138000" and "13800138000" not in str(out)
    assert out["overdue"] is True  # 2026-12-02 is after 10-23 and nobody answered
    evs = service.events(session, case)
    assert [e.kind for e in evs] == ["opened"]
    assert evs[0].reasons[0]["obligations"] == ["O31-27"]
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "case.open" in actions


def test_bad_input_writes_nothing(session: Session) -> None:
    bad: list[dict[str, object]] = [
        {"kind": "pi_complaint", "received": "yesterday", "text": "x"},
        {"kind": "pi_complaint", "received": "2026-09-28T10:00:00", "text": "x"},  # no zone
        {"kind": "pi_complaint", "received": "2027-09-28T10:00:00+08:00", "text": "x"},  # future
        {"kind": "pi_complaint", "received": "2026-09-28", "text": ""},
        {"kind": "pi_complaint", "received": "2026-09-28", "text": "x", "source": "pigeon"},
        {"kind": "pi_complaint", "received": "2026-09-28", "text": "x", "subject": "phone:12"},
        {"kind": "pi_complaint", "received": "2026-09-28", "text": "a\x00b"},
        {"kind": "pi_complaint", "received": "2026-09-28", "text": "x", "transferred_at": "2026-09-29"},
    ]
    for kw in bad:
        with pytest.raises(PiguardError) as e:
            service.open_case(session, actor=STAFF, now=NOW, **kw)  # type: ignore[arg-type]
        assert e.value.http_status == 422, kw
    session.commit()
    assert session.scalars(select(Case)).all() == []


def test_life_cycle_reply_in_time_and_late(session: Session) -> None:
    a = service.open_case(
        session, kind="pi_complaint", received="2026-11-30T09:00:00+08:00", text="a", actor=STAFF, now=NOW
    )
    b = service.open_case(
        session, kind="pi_complaint", received="2026-09-01T09:00:00+08:00", text="b", actor=STAFF, now=NOW
    )
    service.assign(session, a, "staff:9", STAFF)
    assert a.status == "in_progress"
    service.reply(session, a, "已处理", STAFF, now=NOW)
    service.reply(session, b, "已处理", STAFF, now=NOW)
    session.commit()
    assert service.to_dict(a, NOW)["answered_late"] is False
    assert service.to_dict(b, NOW)["answered_late"] is True
    assert a.status == b.status == "answered"
    assert not service.clock_state(b, NOW).overdue  # answered cases are not overdue
    kinds = [e.kind for e in service.events(session, a)]
    assert kinds == ["opened", "assigned", "status", "reply", "status"]
    late = next(e for e in service.events(session, b) if e.kind == "reply")
    assert late.reasons[0]["code"] == "answered_late" and late.reasons[0]["obligations"] == ["O24-12"]
    service.close(session, a, STAFF)
    with pytest.raises(PiguardError) as e:
        service.set_status(session, a, "in_progress", STAFF)
    assert e.value.code == "case_transition_refused" and e.value.http_status == 409
    with pytest.raises(PiguardError):
        service.reply(session, a, "again", STAFF)


def test_queue_orders_by_due_date_and_cases_without_clock_last(session: Session) -> None:
    inc = service.open_case(
        session, kind="incident", received="2026-11-01", text="", title="leak", actor=STAFF, now=NOW
    )
    late = service.open_case(
        session, kind="pi_complaint", received="2026-10-01", text="x", actor=STAFF, now=NOW
    )
    soon = service.open_case(
        session, kind="sms_complaint", received="2026-11-30", text="y", actor=STAFF, now=NOW
    )
    session.commit()
    assert [c.id for c in service.queue(session)] == [late.id, soon.id, inc.id]
    assert [c.id for c in service.queue(session, kinds=["sms_complaint"])] == [soon.id]
    assert inc.due_date is None and service.to_dict(inc, NOW)["overdue"] is False
    with pytest.raises(PiguardError):
        service.queue(session, kinds=["bogus"])
    assert service.get(session, late.ref).id == late.id
    assert service.get(session, str(late.id)).id == late.id
    with pytest.raises(PiguardError) as e:
        service.get(session, "nope")
    assert e.value.http_status == 404


def test_recount_after_the_schedule_is_loaded(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    cal = calendar.get_calendar()
    last = cal.covered_until
    assert last is not None
    start = datetime.combine(last - timedelta(days=2), datetime.min.time(), tzinfo=CST) + timedelta(hours=9)
    case = service.open_case(
        session, kind="sms_complaint", received=start, text="x", actor=STAFF, now=start + timedelta(hours=1)
    )
    session.commit()
    assert case.due_estimated
    # The operator loads next year's schedule with one extra holiday inside the period.
    nxt = last.year + 1
    extra = calendar.Schedule(
        year=nxt, holidays=((date(nxt, 1, 5), "Test holiday"),), workdays=(), source="test"
    )
    monkeypatch.setattr(calendar, "get_calendar", lambda: calendar.WorkingDayCalendar([extra]))
    before = case.due_date
    assert service.recount_estimated(session) == 1
    session.commit()
    assert case.due_estimated is False and case.due_date is not None and before is not None
    assert case.due_date >= before
    assert (
        session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()[-1] == "due_changed"
    )
