"""Cases: open one on its statutory clock, follow it on its timeline, answer and close it.

The one place a complaint, an end user's request or an incident gets a due date, an owner, a
status and an audit trail. Complaint intake, requests (``rights/``) and incidents build on these
functions; they never write ``cases`` or ``case_events`` themselves.

Service functions take a session and do not commit: the caller owns the unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor, record
from piguard.cases.clocks import RULES, Clock, clock_for
from piguard.cases.models import (
    DONE_STATUSES,
    KINDS,
    OPEN_STATUSES,
    SOURCES,
    STATUSES,
    Case,
    CaseEvent,
)
from piguard.consent import subjects
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, not_found, validation_error
from piguard.core.reasons import Reason, obligations_of
from piguard.core.refs import as_row_id, new_ref
from piguard.core.text import clean_text
from piguard.regulations.markers import carries

#: Clock skew allowed between a caller's "received" and the server's clock; not a regulatory number.
_FUTURE_SKEW = timedelta(minutes=5)
_TEXT_MAX = 20_000
_TITLE_MAX = 200

#: Allowed status moves. ``answered`` may be reopened (a complainant not satisfied) to in_progress.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "waiting", "answered", "closed", "rejected"),
    "in_progress": ("waiting", "answered", "closed", "rejected"),
    "waiting": ("in_progress", "answered", "closed", "rejected"),
    "answered": ("in_progress", "closed"),
    "closed": (),
    "rejected": (),
}


def actor_str(actor: Actor) -> str:
    return f"{actor.type}:{actor.id}" if actor.id else actor.type


def _bad(field: str, en: str, zh: str) -> PiguardError:
    return validation_error([FieldError(field, f"{en} / {zh}")], f"Invalid case: {en}", f"案件信息无效：{zh}")


def instant(value: object, field: str) -> datetime:
    """An aware UTC datetime from a datetime, a date (00:00 Asia/Shanghai) or ISO text with offset."""
    if isinstance(value, str):
        value = calendar.parse_when(value, field)
    if isinstance(value, datetime):
        calendar.to_local_date(value, field)  # naive -> the calendar's clear error
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=calendar.SHANGHAI).astimezone(UTC)
    raise _bad(field, "expected a date or an ISO date-time with offset", "须为日期或带时区的日期时间")


def _text(value: object, field: str, limit: int, *, required: bool) -> str:
    return clean_text(value, field, limit, required=required, bad=_bad)


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str) or kind not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}", f"须为 {'、'.join(KINDS)} 之一")
    return kind


def _check_source(source: object) -> str:
    if not isinstance(source, str) or source not in SOURCES:
        raise _bad("source", f"one of {', '.join(SOURCES)}", f"须为 {'、'.join(SOURCES)} 之一")
    return source


def classification_of(kind: str) -> str | None:
    if kind == "pi_complaint":
        return "pi"
    if kind in ("sms_complaint", "sms_report_transfer"):
        return "sms"
    return None


# -- opening ------------------------------------------------------------------------------------


@carries("O24-12", "O31-25", "O31-27")
def open_case(
    session: Session,
    *,
    kind: str,
    received: object,
    actor: Actor,
    text: str = "",
    title: str = "",
    source: str = "staff",
    subject: str | subjects.Subject | None = None,
    transferred_at: object = None,
    message_ref: str | None = None,
    content_provider_id: int | None = None,
    external_ref: str | None = None,
    owner: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
    extra_reasons: Sequence[Reason] = (),
) -> Case:
    """Open a case: its clock from the dated parameter on the official calendar, an ``opened`` event
    with the clock's reasons, and an audit entry. Bad input raises before anything is written."""
    now = now or utcnow()
    kind = _check_kind(kind)
    source = _check_source(source)
    received_at = instant(received, "received")
    if received_at > now + _FUTURE_SKEW:
        raise _bad("received", "is in the future", "晚于当前时间")
    transferred = instant(transferred_at, "transferred_at") if transferred_at is not None else None
    if transferred is not None and transferred > now + _FUTURE_SKEW:
        raise _bad("transferred_at", "is in the future", "晚于当前时间")
    if transferred is not None and kind != "sms_report_transfer":
        raise _bad(
            "transferred_at", "only a reporting-centre transfer has one", "仅举报中心转办案件有转交时间"
        )
    body = _text(text, "text", _TEXT_MAX, required=kind != "incident")
    heading = _text(title, "title", _TITLE_MAX, required=False)
    who = subjects.parse(subject) if subject is not None else None
    clock = clock_for(kind, received_at, transferred_at=transferred)
    row = Case(
        ref=new_ref(),
        kind=kind,
        status="open",
        source=source,
        classification=classification_of(kind),
        received_at=received_at,
        transferred_at=transferred,
        transfer_late=clock.transfer_late,
        due_date=clock.due,
        due_estimated=clock.estimated,
        due_basis=clock.basis,
        obligations=list(clock.obligations),
        subject_hash=who.hash if who else None,
        subject_masked=who.masked if who else None,
        subject_kind=who.kind if who else None,
        owner=owner,
        content_provider_id=content_provider_id,
        message_ref=message_ref,
        external_ref=external_ref,
        title=heading or body[:80],
        text=body,
        detail=dict(detail or {}),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    reasons = [*clock.reasons, *extra_reasons]
    add_event(
        session,
        row,
        "opened",
        actor,
        summary=f"{kind} opened from {source}",
        reasons=reasons,
        detail={"clock": clock.to_dict()},
        at=now,
        audit=False,
    )
    record(
        session,
        action="case.open",
        actor=actor,
        subject_ref=f"case:{row.ref}",
        obligations=clock.obligations,
        detail={
            "kind": kind,
            "source": source,
            "due": row.due_date.isoformat() if row.due_date else None,
            "estimated": row.due_estimated,
        },
    )
    return row


# -- reading ------------------------------------------------------------------------------------


def get(session: Session, key: int | str) -> Case:
    """A case by id (``12``) or reference."""
    row: Case | None = None
    row_id = as_row_id(key)
    if row_id is not None:
        row = session.get(Case, row_id)
    elif isinstance(key, str) and key.strip():
        row = session.scalars(select(Case).where(Case.ref == key.strip())).first()
    if row is None:
        raise not_found("Case", "案件", str(key))
    return row


def events(session: Session, case: Case) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def queue(
    session: Session,
    *,
    kinds: Iterable[str] | None = None,
    statuses: Iterable[str] = OPEN_STATUSES,
    owner: str | None = None,
    subject_hash: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Case]:
    """Cases ordered by due date (the most urgent first; cases without a clock last)."""
    q = select(Case)
    kinds = list(kinds) if kinds is not None else None
    if kinds:
        for k in kinds:
            _check_kind(k)
        q = q.where(Case.kind.in_(kinds))
    statuses = list(statuses)
    for s in statuses:
        if s not in STATUSES:
            raise _bad("status", f"one of {', '.join(STATUSES)}", f"须为 {'、'.join(STATUSES)} 之一")
    if statuses:
        q = q.where(Case.status.in_(statuses))
    if owner is not None:
        q = q.where(Case.owner == owner)
    if subject_hash is not None:
        q = q.where(Case.subject_hash == subject_hash)
    nulls_last = sql_case((Case.due_date.is_(None), 1), else_=0)
    q = q.order_by(nulls_last, Case.due_date, Case.received_at, Case.id)
    return list(session.scalars(q.limit(max(1, min(limit, 1000))).offset(max(0, offset))))


@dataclass(frozen=True, slots=True)
class ClockState:
    due: date | None
    estimated: bool
    #: Days left until the period ends (0 = the due day itself, negative = overdue by that many).
    days_left: int | None
    overdue: bool
    ends_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "due": self.due.isoformat() if self.due else None,
            "estimated": self.estimated,
            "days_left": self.days_left,
            "overdue": self.overdue,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
        }


def clock_state(case: Case, now: datetime | None = None) -> ClockState:
    """Where the case stands on its clock now. A case answered or closed is never overdue; one
    answered after its due date stays marked late in its timeline."""
    if case.due_date is None:
        return ClockState(None, False, None, False, None)
    now = now or utcnow()
    ends = datetime.combine(case.due_date + timedelta(days=1), datetime.min.time(), tzinfo=calendar.SHANGHAI)
    today = calendar.to_local_date(now)
    left = (case.due_date - today).days
    done = case.status in DONE_STATUSES
    return ClockState(case.due_date, case.due_estimated, left, (not done) and now >= ends, ends)


def answered_late(case: Case) -> bool | None:
    """Whether the reply came after the period ended (None while unanswered or without a clock)."""
    if case.due_date is None or case.replied_at is None:
        return None
    return calendar.to_local_date(case.replied_at) > case.due_date


def to_dict(case: Case, now: datetime | None = None, *, with_text: bool = False) -> dict[str, Any]:
    """The shape the API and ``--format json`` give (the operators' scripts rely on the first keys)."""
    state = clock_state(case, now)
    out: dict[str, Any] = {
        "id": case.id,
        "ref": case.ref,
        "kind": case.kind,
        "status": case.status,
        "received": case.received_at.isoformat(),
        "due": case.due_date.isoformat() if case.due_date else None,
        "estimated": case.due_estimated,
        "obligations": list(case.obligations or []),
        "source": case.source,
        "classification": case.classification,
        "transferred_at": case.transferred_at.isoformat() if case.transferred_at else None,
        "transfer_late": case.transfer_late,
        "overdue": state.overdue,
        "days_left": state.days_left,
        "owner": case.owner,
        "subject": case.subject_masked,
        "message_ref": case.message_ref,
        "content_provider_id": case.content_provider_id,
        "title": case.title,
        "replied_at": case.replied_at.isoformat() if case.replied_at else None,
        "answered_late": answered_late(case),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        #: the drafted report of an automatic stop (zh, O31-28), when there was one
        "report": (case.detail or {}).get("report"),
        "monitor_complaint_id": (case.detail or {}).get("monitor_complaint_id"),
    }
    if case.due_estimated:
        cal = calendar.get_calendar()
        until = cal.covered_until
        out["estimate_note"] = {
            "en": "The due date was counted past the official holiday data (weekends only); load the State "
            "Council's schedule with `piguard calendar load FILE`."
            + (f" Data covers up to {until.isoformat()}." if until else ""),
            "zh": "到期日超出官方节假日数据范围（仅按周末估算）；请使用 `piguard calendar load FILE` 载入国务院安排。"
            + (f"数据覆盖至 {until.isoformat()}。" if until else ""),
        }
    if with_text:
        out["text"] = case.text
        out["reply_text"] = case.reply_text
    return out


#: What a case shows when it is read for a purpose: the person's number (masked) beside what they
#: wrote. The queue shows neither (:func:`queue_dict`).
CASE_CATEGORIES = ("phone_mobile",)


def queue_dict(case: Case, now: datetime | None = None) -> dict[str, Any]:
    """A case as the queue lists it: its clock and state, no personal information (the subject is
    read on the case, for a purpose: O24-9.3, O24-13.3)."""
    out = to_dict(case, now)
    out["subject"] = None
    return out


def audit_trail(session: Session, case: Case, *, limit: int = 500) -> list[AuditEntry]:
    """The audit entries about this case, in chain order (O24-13.6)."""
    stmt = select(AuditEntry).where(AuditEntry.subject_ref == f"case:{case.ref}").order_by(AuditEntry.seq)
    return list(session.scalars(stmt.limit(limit)))


def event_dict(ev: CaseEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "at": ev.at.isoformat(),
        "kind": ev.kind,
        "actor": ev.actor,
        "summary": ev.summary,
        "reasons": list(ev.reasons or []),
        "obligations": list(ev.obligations or []),
        "detail": dict(ev.detail or {}),
    }


# -- changing -----------------------------------------------------------------------------------


def add_event(
    session: Session,
    case: Case,
    kind: str,
    actor: Actor,
    *,
    summary: str = "",
    reasons: Sequence[Reason] = (),
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    audit: bool = True,
) -> CaseEvent:
    """Append one event to the case's timeline (and, unless ``audit=False``, the audit log)."""
    obligations = list(obligations_of(reasons)) or list(case.obligations or [])
    ev = CaseEvent(
        case_id=case.id,
        at=at or utcnow(),
        kind=kind,
        actor=actor_str(actor),
        summary=summary[:500],
        reasons=[r.to_dict() for r in reasons],
        obligations=obligations,
        detail=dict(detail or {}),
    )
    session.add(ev)
    case.updated_at = ev.at
    if audit:
        record(
            session,
            action=f"case.{kind}",
            actor=actor,
            subject_ref=f"case:{case.ref}",
            obligations=obligations,
            detail={"kind": case.kind, "event": kind},
        )
    session.flush()
    return ev


def set_status(session: Session, case: Case, status: str, actor: Actor, *, note: str = "") -> Case:
    """Move the case along its life cycle; a move the cycle does not allow is refused, nothing changed."""
    if status not in STATUSES:
        raise _bad("status", f"one of {', '.join(STATUSES)}", f"须为 {'、'.join(STATUSES)} 之一")
    if status == case.status:
        return case
    if status not in TRANSITIONS[case.status]:
        raise PiguardError(
            "case_transition_refused",
            f"A case that is {case.status} cannot become {status}.",
            f"状态为 {case.status} 的案件不能变为 {status}。",
            obligations=tuple(case.obligations or ()),
            http_status=409,
        )
    note = _text(note, "note", 2000, required=False)
    before = case.status
    case.status = status
    now = utcnow()
    if status in ("closed", "rejected"):
        case.closed_at = now
    add_event(
        session,
        case,
        "status",
        actor,
        summary=f"{before} -> {status}",
        detail={"from": before, "to": status, **({"note": note} if note else {})},
        at=now,
    )
    return case


def assign(session: Session, case: Case, owner: str, actor: Actor) -> Case:
    owner = _text(owner, "owner", 128, required=True)
    before = case.owner
    case.owner = owner
    add_event(
        session, case, "assigned", actor, summary=f"owner {owner}", detail={"from": before, "to": owner}
    )
    if case.status == "open":
        set_status(session, case, "in_progress", actor)
    return case


def note(session: Session, case: Case, text: str, actor: Actor) -> CaseEvent:
    body = _text(text, "note", 2000, required=True)
    return add_event(session, case, "note", actor, summary=body[:120], detail={"note": body})


@carries("O24-12", "O31-27")
def reply(session: Session, case: Case, text: str, actor: Actor, *, now: datetime | None = None) -> Case:
    """Record the answer given to the complainant or requester; it is on time or late by the clock,
    and the timeline says which, with the obligation."""
    if case.status in ("closed", "rejected"):
        raise PiguardError(
            "case_closed",
            f"Case {case.ref} is {case.status}; it cannot be answered again.",
            f"案件 {case.ref} 已{('关闭' if case.status == 'closed' else '驳回')}，不能再次答复。",
            http_status=409,
        )
    body = _text(text, "reply", _TEXT_MAX, required=True)
    now = now or utcnow()
    case.reply_text = body
    case.replied_at = now
    late = answered_late(case)
    reasons: list[Reason] = []
    if case.due_date is not None:
        due = case.due_date.isoformat()
        reasons.append(
            Reason(
                "answered_late" if late else "answered_in_time",
                tuple(case.obligations or ()),
                f"Answered {'after' if late else 'within'} the period (due {due}).",
                f"{'超过' if late else '在'}期限{'' if late else '内'}答复（应于 {due} 前）。",
                {"due": due, "late": bool(late)},
            )
        )
    add_event(
        session, case, "reply", actor, summary="answered", reasons=reasons, detail={"late": late}, at=now
    )
    if case.status != "answered":
        set_status(session, case, "answered", actor)
    return case


def close(session: Session, case: Case, actor: Actor, *, note: str = "") -> Case:
    return set_status(session, case, "closed", actor, note=note)


# -- the clock after the calendar changes -------------------------------------------------------


def recount_estimated(session: Session, *, actor: Actor | None = None, limit: int = 1000) -> int:
    """Re-count the due date of every open case whose date was an estimate, now that the calendar may
    hold the official schedule for those years; a changed date goes on the timeline. Returns how many
    cases changed."""
    actor = actor or Actor.system("worker.cases")
    changed = 0
    rows = session.scalars(
        select(Case).where(Case.due_estimated.is_(True), Case.status.in_(OPEN_STATUSES)).limit(limit)
    )
    for row in rows:
        clock: Clock = clock_for(row.kind, row.received_at, transferred_at=row.transferred_at)
        if clock.due == row.due_date and clock.estimated == row.due_estimated:
            continue
        before = row.due_date
        row.due_date, row.due_estimated = clock.due, clock.estimated
        add_event(
            session,
            row,
            "due_changed",
            actor,
            summary=f"due {before} -> {clock.due}",
            reasons=clock.reasons[:1],
            detail={
                "from": before.isoformat() if before else None,
                "to": clock.due.isoformat() if clock.due else None,
                "estimated": clock.estimated,
            },
        )
        changed += 1
    return changed


__all__ = [
    "RULES",
    "TRANSITIONS",
    "ClockState",
    "actor_str",
    "add_event",
    "answered_late",
    "assign",
    "classification_of",
    "clock_state",
    "close",
    "event_dict",
    "events",
    "get",
    "instant",
    "note",
    "open_case",
    "queue",
    "recount_estimated",
    "reply",
    "set_status",
    "to_dict",
]


def statistics(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    kinds: Iterable[str] = KINDS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Timeliness of the cases received in ``[since, until)`` against their statutory clocks, for
    the self-inspection and the evidence bundle (O24-16, O24-12, O31-27): per kind, how many were
    answered on time, answered late, are still open within their period, or are open and overdue;
    and the same per month of receipt (China time). Counts only."""
    now = now or utcnow()
    kinds = list(kinds)
    for k in kinds:
        _check_kind(k)
    rows = session.scalars(
        select(Case).where(Case.kind.in_(kinds), Case.received_at >= since, Case.received_at < until)
    )
    by_kind: dict[str, dict[str, int]] = {}
    months: dict[str, dict[str, int]] = {}
    total = dict.fromkeys(("received", "on_time", "late", "open", "overdue", "no_clock", "rejected"), 0)

    def bump(bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1

    for case in rows:
        if case.status == "rejected":
            outcome = "rejected"
        elif case.due_date is None:
            outcome = "no_clock"
        elif case.replied_at is not None or case.status in DONE_STATUSES:
            late = answered_late(case)
            if late is None and case.closed_at is not None:
                late = calendar.to_local_date(case.closed_at) > case.due_date
            outcome = "late" if late else "on_time"
        else:
            outcome = "overdue" if clock_state(case, now).overdue else "open"
        kind = by_kind.setdefault(case.kind, {})
        month = months.setdefault(calendar.to_local_date(case.received_at).strftime("%Y-%m"), {})
        for bucket in (kind, month, total):
            bump(bucket, "received")
            bump(bucket, outcome)
        if case.transfer_late:
            bump(kind, "transfer_late")
    return {
        "total": total,
        "by_kind": by_kind,
        "by_month": [{"month": m, **months[m]} for m in sorted(months)],
    }


def overdue_now(session: Session, *, now: datetime | None = None, limit: int = 1000) -> list[Case]:
    """Open cases whose statutory period has ended (whenever they were received)."""
    now = now or utcnow()
    today = calendar.to_local_date(now)
    q = (
        select(Case)
        .where(Case.status.in_(OPEN_STATUSES), Case.due_date.is_not(None), Case.due_date < today)
        .order_by(Case.due_date, Case.id)
        .limit(limit)
    )
    return [c for c in session.scalars(q) if clock_state(c, now).overdue]
