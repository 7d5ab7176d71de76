"""Calendar API: statutory deadlines on China's official working-day calendar (public, no PI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from piguard.core import calendar as cal
from piguard.core.errors import FieldError, validation_error

router = APIRouter(prefix="/api/calendar", tags=["calendar"])


class DeadlineOut(BaseModel):
    due: date = Field(description="The last day of the period (Asia/Shanghai).")
    start: date = Field(description="The start day in Asia/Shanghai (not counted).")
    kind: Literal["calendar_days", "working_days"]
    count: int
    estimated: bool = Field(description="True when a day counted lies beyond the official schedule data.")
    estimated_years: list[int] = Field(default_factory=list)
    ends_at: datetime = Field(description="24:00 of the due day, Asia/Shanghai.")
    warning_en: str | None = None
    warning_zh: str | None = None


class CalendarDayOut(BaseModel):
    date: date
    name: str


class YearOut(BaseModel):
    year: int
    covered: bool = Field(description="False: no official schedule; only weekends are rest days.")
    source: str
    covered_until: date
    holidays: list[CalendarDayOut]
    workdays: list[CalendarDayOut]


@router.get("/deadline", response_model=DeadlineOut, summary="Due date of a statutory period (public)")
def deadline(
    start: str = Query(..., description="YYYY-MM-DD (Shanghai date) or ISO 8601 date-time with offset."),
    days: int | None = Query(None, description="Calendar days (民法典 第201、203条)."),
    working_days: int | None = Query(None, description="Official working days."),
) -> DeadlineOut:
    if (days is None) == (working_days is None):
        raise validation_error(
            [
                FieldError(
                    "days", "give exactly one of days or working_days / days 与 working_days 须且仅须给出一个"
                )
            ],
            "Give exactly one of days or working_days.",
            "须且仅须给出 days 或 working_days 之一。",
        )
    when = cal.parse_when(start)
    if days is not None:
        result = cal.deadline_in_days(when, days)
    else:
        assert working_days is not None
        result = cal.deadline_in_working_days(when, working_days)
    return DeadlineOut(
        due=result.due,
        start=result.start,
        kind=result.kind,
        count=result.count,
        estimated=result.estimated,
        estimated_years=list(result.estimated_years),
        ends_at=result.ends_at,
        warning_en=result.warning_en,
        warning_zh=result.warning_zh,
    )


@router.get(
    "/years/{year}", response_model=YearOut, summary="A year's holidays and adjusted working days (public)"
)
def year(year: int) -> YearOut:
    view = cal.get_calendar().year_view(year)
    return YearOut(
        year=view.year,
        covered=view.covered,
        source=view.source,
        covered_until=view.covered_until,
        holidays=[CalendarDayOut(date=d, name=n) for d, n in view.holidays],
        workdays=[CalendarDayOut(date=d, name=n) for d, n in view.workdays],
    )
