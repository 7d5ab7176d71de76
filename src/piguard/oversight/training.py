"""Training (O24-15): courses, completion records with expiry, and who is current.

A completion is valid for its course's ``validity_days`` or, when the course sets none, the dated
parameter ``training.validity_days``. Staff whose required training has lapsed lose clear-text
access to personal information (the access check in :mod:`piguard.oversight.access` asks
:func:`status`); masked views stay open, with the reason shown. Functions take a session and never
commit; every change is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError, invalid_field, not_found
from piguard.core.text import clean_text
from piguard.identity import service as identity
from piguard.oversight.models import TrainingCourse, TrainingRecord
from piguard.regulations.markers import carries
from piguard.regulations.parameters import value

OBLIGATIONS = ("O24-15", "O24-13.6")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_VALIDITY_DAYS = 3660


def default_validity_days(on: datetime | None = None) -> int:
    return value("training.validity_days", on or utcnow())


def _aware(field_name: str, at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise invalid_field(field_name, "an aware time (with a time zone)", "须为带时区的时间")
    return at


def _text(field_name: str, raw: object, limit: int) -> str:
    return clean_text(raw, field_name, limit, required=True, bad=invalid_field)


def unknown_course(code: str) -> PiguardError:
    shown = code[:64]
    return PiguardError(
        "training_course_unknown",
        f"Training course {shown!r} is not registered; nothing was recorded. Add it with "
        "`piguard training course add` first.",
        f"培训课程 {shown!r} 未登记，未作任何记录。请先用 `piguard training course add` 登记课程。",
        obligations=("O24-15",),
        http_status=404,
        exit_code=2,
    )


def get_course(session: Session, code: str) -> TrainingCourse:
    course = session.scalars(select(TrainingCourse).where(TrainingCourse.code == code)).one_or_none()
    if course is None:
        raise unknown_course(str(code))
    return course


def list_courses(session: Session, *, active_only: bool = False) -> list[TrainingCourse]:
    stmt = select(TrainingCourse).order_by(TrainingCourse.code)
    if active_only:
        stmt = stmt.where(TrainingCourse.active.is_(True))
    return list(session.scalars(stmt))


@carries("O24-15")
def add_course(
    session: Session,
    *,
    code: str,
    title_zh: str,
    title_en: str,
    validity_days: int | None = None,
    required: bool = True,
    actor: Actor,
) -> TrainingCourse:
    if not isinstance(code, str) or not _CODE.match(code):
        raise invalid_field(
            "code", "1-64 of a-z 0-9 _ . - (starting with a letter or digit)", "1-64 位 a-z 0-9 _ . -"
        )
    if validity_days is not None and (
        isinstance(validity_days, bool)
        or not isinstance(validity_days, int)
        or not 1 <= validity_days <= MAX_VALIDITY_DAYS
    ):
        raise invalid_field(
            "validity_days",
            f"a whole number from 1 to {MAX_VALIDITY_DAYS}",
            f"须为 1 至 {MAX_VALIDITY_DAYS} 的整数",
        )
    exists = session.scalars(select(TrainingCourse).where(TrainingCourse.code == code)).one_or_none()
    if exists is not None:
        raise PiguardError(
            "training_course_exists",
            f"Training course {code!r} already exists.",
            f"培训课程 {code!r} 已存在。",
            obligations=("O24-15",),
            http_status=409,
        )
    course = TrainingCourse(
        code=code,
        title_zh=_text("title_zh", title_zh, 200),
        title_en=_text("title_en", title_en, 200),
        validity_days=validity_days,
        required=bool(required),
    )
    session.add(course)
    session.flush()
    record(
        session,
        action="oversight.training.course_added",
        actor=actor,
        obligations=OBLIGATIONS,
        detail={"course": code, "validity_days": validity_days, "required": bool(required)},
    )
    return course


@carries("O24-15")
def record_completion(
    session: Session,
    *,
    username: str,
    course: str,
    completed_at: datetime | None = None,
    evidence: str | None = None,
    actor: Actor,
) -> TrainingRecord:
    """Record that ``username`` completed ``course``. An unknown course or person is an error naming
    it, and nothing is written."""
    c = get_course(session, course) if isinstance(course, str) else None
    if c is None:
        raise unknown_course(str(course))
    staff = identity.require_staff(session, username)
    done = _aware("completed_at", completed_at)
    if done > utcnow() + timedelta(minutes=5):
        raise invalid_field("completed_at", "lies in the future", "不能晚于当前时间")
    if evidence is not None and (not isinstance(evidence, str) or len(evidence) > 500):
        raise invalid_field("evidence", "at most 500 characters", "最多 500 个字符")
    days = c.validity_days or default_validity_days(done)
    row = TrainingRecord(
        staff_id=staff.id,
        course_id=c.id,
        completed_at=done,
        expires_at=done + timedelta(days=days),
        evidence=evidence.strip() if evidence else None,
        recorded_by=actor.id or actor.type,
    )
    session.add(row)
    session.flush()
    record(
        session,
        action="oversight.training.completed",
        actor=actor,
        subject_ref=f"staff:{staff.id}",
        obligations=OBLIGATIONS,
        detail={"course": c.code, "staff_id": staff.id, "valid_days": days},
    )
    return row


@dataclass(frozen=True)
class CourseStatus:
    course: str
    title_zh: str
    title_en: str
    completed_at: datetime | None
    expires_at: datetime | None
    current: bool


@dataclass(frozen=True)
class TrainingStatus:
    """Whether a person's required training is current: ``lapsed`` and ``missing`` name courses."""

    staff_id: int | None
    courses: tuple[CourseStatus, ...] = ()
    lapsed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    no_courses: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        return not self.no_courses and not self.lapsed and not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "staff_id": self.staff_id,
            "current": self.current,
            "lapsed": list(self.lapsed),
            "missing": list(self.missing),
            "no_required_courses": self.no_courses,
            "courses": [
                {
                    "course": c.course,
                    "title": {"zh": c.title_zh, "en": c.title_en},
                    "completed_at": c.completed_at.isoformat() if c.completed_at else None,
                    "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                    "current": c.current,
                }
                for c in self.courses
            ],
        }


@carries("O24-15")
def status(session: Session, staff_id: int | None, *, now: datetime | None = None) -> TrainingStatus:
    """The person's standing on every active required course, at ``now``."""
    now = now or utcnow()
    required = [c for c in list_courses(session, active_only=True) if c.required]
    if not required:
        return TrainingStatus(staff_id, no_courses=True)
    latest: dict[int, TrainingRecord] = {}
    if staff_id is not None:
        rows = session.scalars(
            select(TrainingRecord)
            .where(
                TrainingRecord.staff_id == staff_id,
                TrainingRecord.course_id.in_([c.id for c in required]),
            )
            .order_by(TrainingRecord.expires_at)
        )
        for row in rows:
            latest[row.course_id] = row  # ordered by expiry: the last one wins
    out: list[CourseStatus] = []
    lapsed: list[str] = []
    missing: list[str] = []
    for c in required:
        r = latest.get(c.id)
        current = r is not None and r.completed_at <= now < r.expires_at
        if r is None:
            missing.append(c.code)
        elif not current:
            lapsed.append(c.code)
        out.append(
            CourseStatus(
                c.code,
                c.title_zh,
                c.title_en,
                r.completed_at if r else None,
                r.expires_at if r else None,
                current,
            )
        )
    return TrainingStatus(staff_id, tuple(out), tuple(lapsed), tuple(missing))


def records_for(session: Session, username: str) -> list[tuple[TrainingRecord, TrainingCourse]]:
    staff = identity.require_staff(session, username)
    rows = session.execute(
        select(TrainingRecord, TrainingCourse)
        .join(TrainingCourse, TrainingCourse.id == TrainingRecord.course_id)
        .where(TrainingRecord.staff_id == staff.id)
        .order_by(TrainingRecord.completed_at.desc())
    )
    return [(r, c) for r, c in rows.tuples()]


@carries("O24-15")
def coverage(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every active account with its training standing (the console page and the self-inspection)."""
    now = now or utcnow()
    out = []
    for s in identity.list_staff(session, include_inactive=False):
        st = status(session, s.id, now=now)
        out.append({"username": s.username, "kind": s.kind, **st.to_dict()})
    return out


def course_or_404(session: Session, code: str) -> TrainingCourse:
    try:
        return get_course(session, code)
    except PiguardError:
        raise not_found("Training course", "培训课程", code[:64]) from None
