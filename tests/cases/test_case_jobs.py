"""The cases worker job: reminder before due (configurable), escalation once when overdue, re-count
of estimated due dates after a calendar load; and ``piguard worker --once`` runs it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.cases import jobs, service
from piguard.cases.models import CaseEvent
from piguard.cases.settings import reset_cases_settings
from piguard.core import calendar

STAFF = Actor("staff", "7")
CST = calendar.SHANGHAI


def _kinds(session: Session, case_id: int) -> list[str]:
    return list(
        session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
    )


@pytest.mark.obligation("O24-12")
def test_reminder_then_one_escalation(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGUARD_CASES_REMIND_DAYS", "2")
    reset_cases_settings()
    try:
        received = datetime(2026, 9, 28, 10, tzinfo=CST)  # due 2026-10-13 (15 calendar days)
        case = service.open_case(
            session,
            kind="pi_complaint",
            received=received,
            actor=STAFF,
            text="x",
            now=received + timedelta(hours=1),
        )
        assert case.due_date == date(2026, 10, 13)
        early = datetime(2026, 10, 10, 9, tzinfo=CST).astimezone(UTC)  # 3 days left: not yet
        assert jobs.run_once(session, early)["reminded"] == 0
        soon = datetime(2026, 10, 11, 9, tzinfo=CST).astimezone(UTC)  # 2 days left
        assert jobs.run_once(session, soon) == {"reminded": 1, "escalated": 0, "recounted": 0}
        assert jobs.run_once(session, soon + timedelta(hours=1))["reminded"] == 0  # once
        still_due_day = datetime(2026, 10, 13, 23, 59, tzinfo=CST).astimezone(UTC)
        assert jobs.run_once(session, still_due_day)["escalated"] == 0  # the period ends at 24:00
        late = datetime(2026, 10, 14, 0, 1, tzinfo=CST).astimezone(UTC)
        assert jobs.run_once(session, late)["escalated"] == 1
        assert jobs.run_once(session, late + timedelta(days=1))["escalated"] == 0  # once per case
        assert _kinds(session, case.id).count("reminder") == 1
        assert _kinds(session, case.id).count("escalation") == 1
        esc = session.scalars(select(CaseEvent).where(CaseEvent.kind == "escalation")).one()
        assert esc.reasons[0]["code"] == "case_overdue" and esc.reasons[0]["obligations"] == ["O24-12"]
        actions = list(session.scalars(select(AuditEntry.action)))
        assert actions.count("case.escalation") == 1 and actions.count("case.reminder") == 1
    finally:
        reset_cases_settings()


def test_an_answered_case_is_neither_reminded_nor_escalated(session: Session) -> None:
    received = datetime(2026, 9, 28, 10, tzinfo=CST)
    case = service.open_case(
        session,
        kind="pi_complaint",
        received=received,
        actor=STAFF,
        text="x",
        now=received + timedelta(hours=1),
    )
    service.reply(session, case, "答复", STAFF, now=received + timedelta(days=1))
    out = jobs.run_once(session, datetime(2026, 11, 1, tzinfo=UTC))
    assert out["reminded"] == out["escalated"] == 0


def test_estimated_due_dates_are_recounted_after_a_calendar_load(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cal = calendar.get_calendar()
    last = cal.covered_until
    assert last is not None
    received = datetime.combine(last - timedelta(days=2), datetime.min.time(), tzinfo=CST) + timedelta(
        hours=10
    )
    case = service.open_case(
        session,
        kind="sms_complaint",
        received=received,
        actor=STAFF,
        text="x",
        now=received + timedelta(hours=1),
    )
    assert case.due_estimated
    before = case.due_date
    assert before is not None
    now = received + timedelta(hours=2)
    assert jobs.run_once(session, now)["recounted"] == 0  # nothing loaded: unchanged
    # the operator loads next year's schedule: a holiday week right after the data ends
    year = last.year + 1
    sched = tmp_path / f"{year}.json"
    doc = {"year": year, "holidays": [{"start": f"{year}-01-01", "end": f"{year}-01-07", "name": "元旦"}]}
    sched.write_text(json.dumps(doc), encoding="utf-8")
    calendar.load_schedule(sched)
    calendar.reset_calendar_cache()
    try:
        assert jobs.run_once(session, now)["recounted"] == 1
        assert not case.due_estimated and case.due_date is not None and case.due_date > before
        assert "due_changed" in _kinds(session, case.id)
    finally:
        for p in calendar.schedule_dir().glob("*"):
            p.unlink()
        calendar.reset_calendar_cache()


def test_worker_once_runs_the_cases_job(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from piguard.cli import app

    received = datetime(2026, 9, 28, 10, tzinfo=CST)
    case = service.open_case(
        session,
        kind="pi_complaint",
        received=received,
        actor=STAFF,
        text="x",
        now=received + timedelta(hours=1),
    )
    session.commit()
    r = CliRunner().invoke(app, ["worker", "--once"])
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["cases"]["escalated"] == 1 and "cases" not in out["failed"], r.output
    session.expire_all()
    assert "escalation" in _kinds(session, case.id)
