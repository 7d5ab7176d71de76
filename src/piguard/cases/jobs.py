"""The cases worker job: reminders before due, escalation when overdue, due dates re-counted once
the operator has loaded the official holiday schedule.

* **Reminder**: an open case whose due date is ``PIGUARD_CASES_REMIND_DAYS`` days away or nearer
  (Asia/Shanghai), once per case: a ``reminder`` event and an audit entry.
* **Escalation**: an open case past the end of its due day, once per case: an ``escalation`` event
  (with the obligation it is late against) and an audit entry.
* **Re-count**: open cases whose due date was an estimate are counted again on the current calendar
  (``service.recount_estimated``); a changed date goes on the timeline. Bounded per round; a case
  whose period still runs past the data stays estimated and unchanged.
* **Daily report** (``PIGUARD_CASES_CONTENT_REPORT_DAILY=true``): the report to the authority of what
  the gateway stopped as prohibited content the day before (China date), drafted once per day
  (``content_reports``, CSL-47); the result then has a ``content_report`` key.

Takes a session and does not commit (the worker's unit of work does).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.cases import service
from piguard.cases.models import OPEN_STATUSES, Case
from piguard.cases.settings import get_cases_settings
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.core.reasons import Reason
from piguard.regulations.markers import carries

JOB = Actor.system("worker.cases")
_BATCH = 1000


@carries("O24-12", "O31-27")
def run_once(session: Session, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    recounted = service.recount_estimated(session, actor=JOB, limit=_BATCH)
    days = get_cases_settings().remind_days
    today = calendar.to_local_date(now)
    reminded = escalated = 0
    rows = session.scalars(
        select(Case)
        .where(
            Case.status.in_(OPEN_STATUSES),
            Case.due_date.is_not(None),
            (Case.reminded_at.is_(None)) | (Case.escalated_at.is_(None)),
        )
        .order_by(Case.due_date, Case.id)
        .limit(_BATCH)
    )
    for case in list(rows):
        state = service.clock_state(case, now)
        assert state.due is not None and state.days_left is not None
        due = state.due.isoformat()
        if state.overdue and case.escalated_at is None:
            case.escalated_at = now
            service.add_event(
                session,
                case,
                "escalation",
                JOB,
                summary=f"overdue: due {due}",
                reasons=[
                    Reason(
                        "case_overdue",
                        tuple(case.obligations or ()),
                        f"The period ended on {due} without an answer; escalated.",
                        f"期限已于 {due} 届满仍未答复，已升级处理。",
                        {"due": due, "estimated": case.due_estimated, "owner": case.owner},
                    )
                ],
                at=now,
            )
            escalated += 1
        elif not state.overdue and case.reminded_at is None and state.days_left <= days:
            case.reminded_at = now
            service.add_event(
                session,
                case,
                "reminder",
                JOB,
                summary=f"due {due} ({state.days_left} day(s) left)",
                reasons=[
                    Reason(
                        "case_due_soon",
                        tuple(case.obligations or ()),
                        f"Due on {due}: {state.days_left} day(s) left.",
                        f"将于 {due} 到期：剩余 {state.days_left} 天。",
                        {
                            "due": due,
                            "days_left": state.days_left,
                            "remind_days": days,
                            "today": today.isoformat(),
                        },
                    )
                ],
                at=now,
            )
            reminded += 1
    out: dict[str, Any] = {"reminded": reminded, "escalated": escalated, "recounted": recounted}
    if get_cases_settings().content_report_daily:
        out["content_report"] = daily_content_report(session, now)
    return out


@carries("CSL-47", "O31-16")
def daily_content_report(session: Session, now: datetime | None = None) -> str | None:
    """Draft yesterday's (China date) report of prohibited content stopped, unless it exists; the
    case's reference when drafted now, None when it was already there."""
    from piguard.cases import content_reports

    now = now or utcnow()
    p = content_reports.period(now=now)
    if content_reports.find(session, p) is not None:
        return None
    return content_reports.prohibited_content_draft_report(
        session, first=p.first, last=p.last, actor=JOB, now=now
    ).ref


def run_job(now: datetime | None = None) -> dict[str, Any]:
    """One round in its own unit of work (what ``piguard worker`` calls)."""
    from piguard.core.db import unit_of_work

    with unit_of_work() as session:
        return run_once(session, now)
