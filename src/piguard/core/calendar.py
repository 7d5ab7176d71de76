"""China working-day calendar: statutory clocks counted in Asia/Shanghai on the official holiday calendar.

The data is the State Council's yearly holiday schedule (国务院办公厅关于部分节假日安排的通知) as shipped
by the ``chinesecalendar`` package, plus newer official schedules the operator loads
(``piguard calendar load FILE``; stored under ``<data_dir>/calendar/`` and, optionally,
``PIGUARD_CALENDAR_FILE``).

Counting rules (民法典 Civil Code of the PRC):

* 第201条: a period counted in days does not include the starting day; counting begins the next day.
* 第203条: if the last day of a period is a statutory holiday or rest day, the day after the rest
  ends is the last day; the last day ends at 24:00.

A *rest day* is an official one: a holiday of the schedule, or a Saturday/Sunday that the schedule
did not turn into an adjusted working day (调休上班). A *working day* is any other day.

Beyond the data (a year with no official schedule) nothing is guessed silently: those days are
counted with weekends as the only rest days and the result says ``estimated=True`` with a warning in
Chinese and English.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import yaml

from piguard.core.config import get_settings
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.core.logging import get_logger
from piguard.core.yamlfiles import StrictPureLoader
from piguard.regulations.markers import carries

__all__ = [
    "MAX_COUNT",
    "SHANGHAI",
    "Deadline",
    "DeadlineKind",
    "Schedule",
    "WorkingDayCalendar",
    "YearView",
    "deadline_in_days",
    "deadline_in_working_days",
    "get_calendar",
    "installed_schedules",
    "is_rest_day",
    "is_working_day",
    "load_schedule",
    "parse_schedule",
    "parse_when",
    "read_schedule_file",
    "reset_calendar_cache",
    "schedule_dir",
    "to_local_date",
]


def _shanghai() -> tzinfo:
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no tz database on the host: China has kept UTC+8 without DST since 1991
        return timezone(timedelta(hours=8), "Asia/Shanghai")


SHANGHAI: tzinfo = _shanghai()

# Sanity bound on a count of days (about ten years); not a regulatory number.
MAX_COUNT = 3660
# Years a loaded schedule may name (the holiday system as scheduled today starts long after 2000).
_MIN_YEAR, _MAX_YEAR = 2000, 2200
# A single holiday range longer than this is a typo, not a holiday.
_MAX_RANGE_DAYS = 31
_MAX_FILE_BYTES = 1_000_000
_NAME_MAX = 100

DeadlineKind = Literal["calendar_days", "working_days"]

_log = get_logger("piguard.core.calendar")

_HOLIDAY_ZH = {h.value: h.chinese for h in chinese_calendar.Holiday}
_NEW_YEAR = chinese_calendar.Holiday.new_years_day.value
_PACKAGE_SOURCE = f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip()


# --------------------------------------------------------------------------------------------------
# dates and times


def to_local_date(value: date | datetime, field_name: str = "start") -> date:
    """The calendar date in Asia/Shanghai.

    A ``date`` is taken as a Shanghai date. An aware ``datetime`` is converted to Asia/Shanghai first
    (so 2026-09-27T16:30Z is 2026-09-28 in Shanghai). A naive ``datetime`` is refused: its zone is
    unknown and a statutory clock must not depend on the server's zone.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise validation_error(
                [
                    FieldError(
                        field_name, "a date-time needs a time zone (e.g. +08:00 or Z) / 日期时间须带时区"
                    )
                ],
                "A date-time without a time zone is ambiguous; give a date or a date-time with its offset.",
                "不带时区的日期时间无法确定所指日期；请给出日期，或带时区偏移的日期时间。",
            )
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return value
    raise validation_error(
        [FieldError(field_name, f"expected a date or date-time, got {type(value).__name__}")],
        "A date or date-time is required.",
        "需要日期或日期时间。",
    )


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_when(text: str, field_name: str = "start") -> date | datetime:
    """Parse ``YYYY-MM-DD`` (a Shanghai date) or an ISO 8601 date-time with offset (CLI and API input).

    A ``+`` in the offset that a URL query turned into a space is accepted back.
    """
    raw = text.strip()
    try:
        if _DATE_RE.match(raw):
            return date.fromisoformat(raw)
        if "T" in raw or " " in raw:
            head, _sep, tail = raw.partition("T") if "T" in raw else raw.partition(" ")
            tail = tail.replace(" ", "+")
            when = datetime.fromisoformat(f"{head}T{tail}")
            to_local_date(when, field_name)  # naive -> clear error
            return when
    except ValueError:
        pass
    raise validation_error(
        [
            FieldError(
                field_name, "expected YYYY-MM-DD or an ISO date-time with offset, e.g. 2026-09-28T09:30+08:00"
            )
        ],
        "The date is not valid.",
        "日期无效。",
    )


def parse_local_instant(
    text: str, field_name: str, *, through_day: bool = False, example: str = "2027-06-30"
) -> datetime:
    """An instant typed by a person (CLI option, console form) as an aware UTC ``datetime``.

    People here mean China time: a bare date is that day in Asia/Shanghai, from 00:00 there (or,
    with ``through_day``, up to the end of it, i.e. 00:00 the next day, for a contract that runs
    *until* 30 June inclusive); a date-time without an offset is Shanghai time; one with an
    offset is taken as given. Midnight UTC would be 08:00 in China, cutting eight hours off a day.
    """
    raw = (text or "").strip()
    try:
        if _DATE_RE.match(raw):
            day = date.fromisoformat(raw) + (timedelta(days=1) if through_day else timedelta(0))
            return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI).astimezone(UTC)
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise validation_error(
            [
                FieldError(
                    field_name,
                    f"an ISO date or date-time (China time unless an offset is given), e.g. {example}"
                    f" / 须为 ISO 日期或日期时间（未带时区即北京时间），例如 {example}",
                )
            ],
            f"{field_name} is not a date or time: use ISO 8601, e.g. {example} or {example}T09:30+08:00.",
            f"{field_name} 不是有效的日期或时间：请使用 ISO 8601 格式，如 {example} 或 {example}T09:30+08:00。",
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        at = at.replace(tzinfo=SHANGHAI)
    return at.astimezone(UTC)


def _check_count(value: object, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error([FieldError(field_name, "must be a whole number / 须为整数")])
    if not 1 <= value <= MAX_COUNT:
        raise validation_error(
            [FieldError(field_name, f"must be between 1 and {MAX_COUNT} / 须在 1 至 {MAX_COUNT} 之间")],
            "The number of days is out of range.",
            "天数超出范围。",
        )
    return value


# --------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed statutory deadline. ``due`` is the last day; the period ends at 24:00 that day
    (Asia/Shanghai), see :attr:`ends_at`."""

    due: date
    start: date
    kind: DeadlineKind
    count: int
    estimated: bool = False
    warning_en: str | None = None
    warning_zh: str | None = None
    estimated_years: tuple[int, ...] = ()

    @property
    def ends_at(self) -> datetime:
        """24:00 of the due day in Asia/Shanghai (民法典 第203条), i.e. 00:00 of the next day."""
        return datetime.combine(self.due + timedelta(days=1), time(0, 0), tzinfo=SHANGHAI)

    def to_dict(self) -> dict[str, Any]:
        return {
            "due": self.due.isoformat(),
            "start": self.start.isoformat(),
            "kind": self.kind,
            "count": self.count,
            "estimated": self.estimated,
            "estimated_years": list(self.estimated_years),
            "ends_at": self.ends_at.isoformat(),
            "warning_en": self.warning_en,
            "warning_zh": self.warning_zh,
        }


@dataclass(frozen=True, slots=True)
class Schedule:
    """One year's official schedule: holidays (放假) and adjusted working days (调休上班)."""

    year: int
    holidays: tuple[tuple[date, str], ...]
    workdays: tuple[tuple[date, str], ...] = ()
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The stored form (also a valid schedule file)."""
        body: dict[str, Any] = {"year": self.year}
        if self.source:
            body["source"] = self.source
        body["holidays"] = [{"date": d.isoformat(), "name": n} for d, n in self.holidays]
        body["workdays"] = [
            {"date": d.isoformat(), "name": n} if n else d.isoformat() for d, n in self.workdays
        ]
        return body


@dataclass(frozen=True, slots=True)
class YearView:
    """What the calendar knows about one year (for ``piguard calendar show`` and the API)."""

    year: int
    covered: bool
    source: str
    covered_until: date
    holidays: tuple[tuple[date, str], ...] = field(default=())
    workdays: tuple[tuple[date, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "covered": self.covered,
            "source": self.source,
            "covered_until": self.covered_until.isoformat(),
            "holidays": [{"date": d.isoformat(), "name": n} for d, n in self.holidays],
            "workdays": [{"date": d.isoformat(), "name": n} for d, n in self.workdays],
        }


# --------------------------------------------------------------------------------------------------
# the calendar


def _package_name(english: str) -> str:
    zh = _HOLIDAY_ZH.get(english)
    return f"{zh} {english}" if zh else english


@carries("O24-12", "O31-27", "O31-17")
class WorkingDayCalendar:
    """Official working and rest days: the package's data, overlaid by loaded schedules.

    A loaded schedule for year Y replaces what the package says about the dates of Y (a newer or
    corrected notice wins); schedules given later win over earlier ones. A schedule for Y may also
    name dates in December of Y-1 (a New Year break that starts in December); those are overlaid.
    """

    def __init__(self, schedules: Iterable[Schedule] = (), *, use_package_data: bool = True) -> None:
        holidays: dict[date, str] = {}
        workdays: dict[date, str] = {}
        sources: dict[int, str] = {}
        if use_package_data:
            holidays = {d: _package_name(n) for d, n in chinese_calendar.holidays.items()}
            workdays = {d: _package_name(n) for d, n in chinese_calendar.workdays.items()}
            first = min(holidays).year
            last = max(holidays).year
            sources = dict.fromkeys(range(first, last + 1), _PACKAGE_SOURCE)
        for sched in schedules:
            self._replace_year(holidays, workdays, sched.year)
            for d, name in sched.holidays:
                workdays.pop(d, None)
                holidays[d] = name
            for d, name in sched.workdays:
                holidays.pop(d, None)
                workdays[d] = name
            sources[sched.year] = sched.source or "loaded schedule"
        self._holidays = holidays
        self._workdays = workdays
        self._sources = sources

    @staticmethod
    def _replace_year(holidays: dict[date, str], workdays: dict[date, str], year: int) -> None:
        for table in (holidays, workdays):
            for d in [d for d, name in table.items() if d.year == year]:
                # Late-December New Year days belong to the next year's notice: keep them.
                if d.month == 12 and _NEW_YEAR in table[d]:
                    continue
                del table[d]

    # coverage ------------------------------------------------------------------------------------

    @property
    def covered_years(self) -> frozenset[int]:
        return frozenset(self._sources)

    @property
    def covered_from(self) -> date | None:
        return date(min(self._sources), 1, 1) if self._sources else None

    @property
    def covered_until(self) -> date | None:
        """The last date of the unbroken run of covered years (the end of its last year)."""
        if not self._sources:
            return None
        year = min(self._sources)
        while year + 1 in self._sources:
            year += 1
        return date(year, 12, 31)

    def is_covered(self, d: date | datetime) -> bool:
        """Whether an official schedule is known for the year of ``d``."""
        return to_local_date(d, "date").year in self._sources

    # days ----------------------------------------------------------------------------------------

    def is_rest_day(self, d: date | datetime) -> bool:
        """An official rest day: a holiday, or a weekend day not adjusted to a working day.

        Beyond the data only weekends are rest days (check :meth:`is_covered`)."""
        day = to_local_date(d, "date")
        if day in self._holidays:
            return True
        if day in self._workdays:
            return False
        return day.weekday() >= 5

    def is_working_day(self, d: date | datetime) -> bool:
        """An official working day (adjusted working weekend days included, holidays excluded)."""
        return not self.is_rest_day(d)

    def holiday_name(self, d: date | datetime) -> str | None:
        return self._holidays.get(to_local_date(d, "date"))

    # deadlines -----------------------------------------------------------------------------------

    @carries("O24-12")
    def deadline_in_days(self, start: date | datetime, days: int) -> Deadline:
        """``days`` calendar days after ``start`` (民法典 第201条: the start day is not counted);
        a last day that is a rest day moves to the day after the rest ends (第203条)."""
        first = to_local_date(start)
        count = _check_count(days, "days")
        try:
            due = first + timedelta(days=count)
            consulted = [due]
            while self.is_rest_day(due):
                due += timedelta(days=1)
                consulted.append(due)
        except OverflowError:
            raise _too_far() from None
        return self._result(first, due, "calendar_days", count, consulted)

    @carries("O31-27", "O31-17")
    def deadline_in_working_days(self, start: date | datetime, n: int) -> Deadline:
        """The ``n``-th official working day after ``start`` (the start day is not counted; adjusted
        working weekend days count, holidays do not)."""
        first = to_local_date(start)
        count = _check_count(n, "working_days")
        consulted: list[date] = []
        day = first
        counted = 0
        try:
            while counted < count:
                day += timedelta(days=1)
                consulted.append(day)
                if self.is_working_day(day):
                    counted += 1
        except OverflowError:
            raise _too_far() from None
        return self._result(first, day, "working_days", count, consulted)

    def _result(
        self, start: date, due: date, kind: DeadlineKind, count: int, consulted: list[date]
    ) -> Deadline:
        years = tuple(sorted({d.year for d in consulted if d.year not in self._sources}))
        if not years:
            return Deadline(due=due, start=start, kind=kind, count=count)
        en, zh = self._warning(years)
        return Deadline(due, start, kind, count, True, en, zh, years)

    def _warning(self, years: tuple[int, ...]) -> tuple[str, str]:
        listed = ", ".join(str(y) for y in years)
        until = self.covered_until
        span_en = f" The official data covers up to {until.isoformat()}." if until else ""
        span_zh = f"官方节假日数据覆盖至 {until.isoformat()}。" if until else ""
        en = (
            f"Estimated: no official holiday schedule is loaded for {listed}; days in that period were "
            f"counted with weekends as the only rest days.{span_en} Load the State Council schedule with "
            "`piguard calendar load FILE` for an exact deadline."
        )
        zh = (
            f"估算结果：尚未载入 {listed} 年的国务院节假日安排，该期间仅将周末视为休息日。{span_zh}"
            "请使用 `piguard calendar load FILE` 载入官方安排以得到准确期限。"
        )
        return en, zh

    # views ---------------------------------------------------------------------------------------

    def year_view(self, year: int) -> YearView:
        if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9998:
            raise validation_error([FieldError("year", "must be a year such as 2026 / 须为年份，如 2026")])
        until = self.covered_until or date(year - 1, 12, 31)
        return YearView(
            year=year,
            covered=year in self._sources,
            source=self._sources.get(year, "none: weekends-only fallback"),
            covered_until=until,
            holidays=tuple(sorted((d, n) for d, n in self._holidays.items() if d.year == year)),
            workdays=tuple(sorted((d, n) for d, n in self._workdays.items() if d.year == year)),
        )


def _too_far() -> PiguardError:
    return validation_error(
        [FieldError("start", "too far in the future / 日期过远")],
        "The date is out of range.",
        "日期超出范围。",
    )


# --------------------------------------------------------------------------------------------------
# schedule files


class _DateAsTextLoader(StrictPureLoader):
    """Safe YAML without implicit timestamps: dates stay text, so bad ones get a field error."""


_DateAsTextLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_TOP_KEYS = {"year", "source", "holidays", "workdays"}


class _Collector:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, where: str, message: str) -> None:
        self.errors.append(FieldError(where, message))


def _parse_day(value: object, where: str, year: int | None, errors: _Collector) -> date | None:
    if isinstance(value, datetime) or not isinstance(value, str | date):
        errors.add(where, "expected a date as YYYY-MM-DD / 日期格式须为 YYYY-MM-DD")
        return None
    if isinstance(value, str):
        if not _DATE_RE.match(value.strip()):
            errors.add(where, f"{value!r} is not a date as YYYY-MM-DD / 日期格式须为 YYYY-MM-DD")
            return None
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            errors.add(where, f"{value!r} is not a real date / 日期不存在")
            return None
    if year is not None and not (value.year == year or (value.year == year - 1 and value.month == 12)):
        errors.add(
            where,
            f"{value.isoformat()} is outside {year} (only December {year - 1} may precede it) "
            f"/ 日期不在 {year} 年内",
        )
        return None
    return value


def _parse_name(value: object, where: str, errors: _Collector, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        errors.add(where, "a non-empty text is required / 名称不能为空")
        return ""
    if len(value) > _NAME_MAX:
        errors.add(where, f"at most {_NAME_MAX} characters / 不超过 {_NAME_MAX} 个字符")
        return ""
    return value.strip()


def _unknown_keys(entry: Mapping[Any, Any], allowed: set[str], where: str, errors: _Collector) -> None:
    for key in entry:
        if key not in allowed:
            errors.add(f"{where}.{key}", f"unknown field (allowed: {', '.join(sorted(allowed))}) / 未知字段")


def _parse_holidays(raw: object, year: int | None, errors: _Collector, prefix: str) -> dict[date, str]:
    out: dict[date, str] = {}
    if not isinstance(raw, list) or not raw:
        errors.add(f"{prefix}holidays", "a non-empty list of holidays is required / 须列出节假日")
        return out
    for i, entry in enumerate(raw):
        where = f"{prefix}holidays[{i}]"
        if not isinstance(entry, Mapping):
            errors.add(
                where, "expected {date, name} or {start, end, name} / 须为 {date, name} 或 {start, end, name}"
            )
            continue
        _unknown_keys(entry, {"date", "start", "end", "name"}, where, errors)
        name = _parse_name(entry.get("name"), f"{where}.name", errors, required=True)
        days: list[date] = []
        if "date" in entry and ("start" in entry or "end" in entry):
            errors.add(where, "give either date or start/end, not both / date 与 start/end 只能选其一")
            continue
        if "date" in entry:
            d = _parse_day(entry["date"], f"{where}.date", year, errors)
            days = [d] if d else []
        elif "start" in entry and "end" in entry:
            first = _parse_day(entry["start"], f"{where}.start", year, errors)
            last = _parse_day(entry["end"], f"{where}.end", year, errors)
            if first and last:
                if last < first:
                    errors.add(f"{where}.end", "end is before start / 结束日期早于开始日期")
                elif (last - first).days + 1 > _MAX_RANGE_DAYS:
                    errors.add(where, f"a holiday range longer than {_MAX_RANGE_DAYS} days / 假期区间过长")
                else:
                    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        else:
            errors.add(where, "date (or start and end) is required / 须给出 date 或 start 与 end")
        for d in days:
            if d in out:
                errors.add(where, f"{d.isoformat()} is listed twice / 日期重复")
            else:
                out[d] = name
    return out


def _parse_workdays(
    raw: object, year: int | None, holidays: dict[date, str], errors: _Collector, prefix: str
) -> dict[date, str]:
    out: dict[date, str] = {}
    if raw is None:
        return out
    if not isinstance(raw, list):
        errors.add(f"{prefix}workdays", "expected a list of dates / 须为日期列表")
        return out
    for i, entry in enumerate(raw):
        where = f"{prefix}workdays[{i}]"
        name = ""
        if isinstance(entry, Mapping):
            _unknown_keys(entry, {"date", "name"}, where, errors)
            name = _parse_name(entry.get("name"), f"{where}.name", errors, required=False)
            if "date" not in entry:
                errors.add(f"{where}.date", "required / 必填")
                continue
            d = _parse_day(entry["date"], f"{where}.date", year, errors)
        else:
            d = _parse_day(entry, where, year, errors)
        if d is None:
            continue
        if d.weekday() < 5:
            errors.add(
                where,
                f"{d.isoformat()} is a weekday; an adjusted working day is a Saturday or Sunday "
                "/ 调休上班日须为周六或周日",
            )
        elif d in holidays:
            errors.add(where, f"{d.isoformat()} is also listed as a holiday / 与节假日重复")
        elif d in out:
            errors.add(where, f"{d.isoformat()} is listed twice / 日期重复")
        else:
            out[d] = name
    return out


def parse_schedule(data: object, where: str = "") -> Schedule:
    """Validate one schedule mapping strictly; every problem is reported as a field error at once."""
    prefix = f"{where}." if where else ""
    errors = _Collector()
    if not isinstance(data, Mapping):
        raise _schedule_invalid(
            [FieldError(where or "schedule", "expected a mapping with year, holidays, workdays")]
        )
    _unknown_keys(data, _TOP_KEYS, where or "schedule", errors)
    raw_year = data.get("year")
    year: int | None = None
    if isinstance(raw_year, bool) or not isinstance(raw_year, int):
        errors.add(f"{prefix}year", "a year such as 2027 is required / 须给出年份，如 2027")
    elif not _MIN_YEAR <= raw_year <= _MAX_YEAR:
        errors.add(f"{prefix}year", f"must be between {_MIN_YEAR} and {_MAX_YEAR} / 年份超出范围")
    else:
        year = raw_year
    source = data.get("source", "")
    if not isinstance(source, str) or len(source) > 200:
        errors.add(f"{prefix}source", "expected a text of at most 200 characters / 须为不超过 200 字的文本")
        source = ""
    holidays = _parse_holidays(data.get("holidays"), year, errors, prefix)
    workdays = _parse_workdays(data.get("workdays"), year, holidays, errors, prefix)
    if errors.errors or year is None:
        raise _schedule_invalid(errors.errors)
    return Schedule(
        year=year,
        holidays=tuple(sorted(holidays.items())),
        workdays=tuple(sorted(workdays.items())),
        source=source.strip(),
    )


def _schedule_invalid(fields: list[FieldError]) -> PiguardError:
    return validation_error(
        fields,
        "The holiday schedule is not valid; nothing was loaded.",
        "节假日安排文件无效，未载入任何内容。",
    )


def _parse_document(data: object, where: str = "") -> list[Schedule]:
    items = data if isinstance(data, list) else [data]
    if not items:
        raise _schedule_invalid(
            [FieldError(where or "schedule", "the file holds no schedule / 文件中没有安排")]
        )
    fields: list[FieldError] = []
    schedules: list[Schedule] = []
    for i, item in enumerate(items):
        label = f"[{i}]" if isinstance(data, list) else ""
        label = f"{where}{label}" if where else label
        try:
            schedules.append(parse_schedule(item, label))
        except PiguardError as err:
            fields.extend(err.fields)
    years = [s.year for s in schedules]
    for y in sorted({y for y in years if years.count(y) > 1}):
        fields.append(FieldError(where or "year", f"{y} appears more than once / 年份重复"))
    if fields:
        raise _schedule_invalid(fields)
    return schedules


def read_schedule_file(path: str | os.PathLike[str], where: str = "") -> list[Schedule]:
    """Read and validate a schedule file (YAML or JSON; one mapping or a list of them). Nothing is
    installed; see :func:`load_schedule`."""
    p = Path(path)
    label = where or "file"
    try:
        if p.stat().st_size > _MAX_FILE_BYTES:
            raise _schedule_invalid([FieldError(label, "the file is too large / 文件过大")])
        text = p.read_text(encoding="utf-8")
    except PiguardError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise _schedule_invalid(
            [FieldError(label, f"cannot read {p.name}: {type(exc).__name__} / 无法读取文件")]
        ) from None
    try:
        is_json = p.suffix.lower() == ".json"
        data = json.loads(text) if is_json else yaml.load(text, Loader=_DateAsTextLoader)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _schedule_invalid([FieldError(label, f"not valid {kind}: {detail} / 格式错误")]) from None
    return _parse_document(data, where)


# --------------------------------------------------------------------------------------------------
# installed schedules and the default calendar


def schedule_dir() -> Path:
    """Where loaded schedules are stored: ``<data_dir>/calendar`` (one ``YYYY.json`` per year)."""
    return get_settings().data_dir / "calendar"


_STORED_RE = re.compile(r"^(\d{4})\.json$")


def _stored_files() -> list[Path]:
    folder = schedule_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _STORED_RE.match(p.name) and p.is_file())


def installed_schedules() -> list[Schedule]:
    """The schedules stored in the data dir, by year."""
    out: list[Schedule] = []
    for p in _stored_files():
        schedules = read_schedule_file(p, where=f"calendar/{p.name}")
        if len(schedules) != 1 or str(schedules[0].year) != p.stem:
            raise _schedule_invalid(
                [FieldError(f"calendar/{p.name}", "the stored schedule does not match its year")]
            )
        out.extend(schedules)
    return out


@carries("O24-12", "O31-27", "O31-17")
def load_schedule(path: str | os.PathLike[str]) -> list[Schedule]:
    """Validate a schedule file and install it in ``<data_dir>/calendar`` so later runs apply it.

    All or nothing: any error and nothing is written. Returns the installed schedules."""
    schedules = read_schedule_file(path)
    folder = schedule_dir()
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for sched in schedules:
            final = folder / f"{sched.year}.json"
            tmp = folder / f".{sched.year}.json.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(sched.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            staged.append((tmp, final))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _final in staged:
            tmp.unlink(missing_ok=True)
    reset_calendar_cache()
    for sched in schedules:
        _log.info(
            "calendar_schedule_installed",
            year=sched.year,
            holidays=len(sched.holidays),
            adjusted_workdays=len(sched.workdays),
        )
    return schedules


_cache: tuple[tuple[Any, ...], WorkingDayCalendar] | None = None


def reset_calendar_cache() -> None:
    global _cache
    _cache = None


def _signature() -> tuple[Any, ...]:
    settings = get_settings()
    parts: list[Any] = [str(schedule_dir())]
    for p in _stored_files():
        st = p.stat()
        parts.append((p.name, st.st_mtime_ns, st.st_size))
    extra = settings.calendar_file
    if extra is not None:
        try:
            st = Path(extra).stat()
            parts.append((str(extra), st.st_mtime_ns, st.st_size))
        except OSError:
            parts.append((str(extra), None))
    return tuple(parts)


def get_calendar() -> WorkingDayCalendar:
    """The calendar every clock uses: package data, then schedules stored in the data dir, then
    ``PIGUARD_CALENDAR_FILE`` (later wins for the same year). Rebuilt when those files change."""
    global _cache
    key = _signature()
    if _cache is not None and _cache[0] == key:
        return _cache[1]
    schedules = installed_schedules()
    extra = get_settings().calendar_file
    if extra is not None:
        if not Path(extra).is_file():
            raise PiguardError(
                "calendar_file_missing",
                "PIGUARD_CALENDAR_FILE does not name a readable file.",
                "PIGUARD_CALENDAR_FILE 指向的文件不存在或不可读。",
                fields=[FieldError("PIGUARD_CALENDAR_FILE", "file not found / 文件不存在")],
                http_status=500,
            )
        schedules.extend(read_schedule_file(extra, where="PIGUARD_CALENDAR_FILE"))
    calendar = WorkingDayCalendar(schedules)
    _cache = (key, calendar)
    return calendar


# --------------------------------------------------------------------------------------------------
# module-level shortcuts on the default calendar


def is_working_day(d: date | datetime, calendar: WorkingDayCalendar | None = None) -> bool:
    return (calendar or get_calendar()).is_working_day(d)


def is_rest_day(d: date | datetime, calendar: WorkingDayCalendar | None = None) -> bool:
    return (calendar or get_calendar()).is_rest_day(d)


@carries("O24-12")
def deadline_in_days(
    start: date | datetime, days: int, *, calendar: WorkingDayCalendar | None = None
) -> Deadline:
    """Calendar-day period (民法典 第201条, 第203条), e.g. a complaint answered within 15 days (O24-12)."""
    return (calendar or get_calendar()).deadline_in_days(start, days)


@carries("O31-27", "O31-17")
def deadline_in_working_days(
    start: date | datetime, n: int, *, calendar: WorkingDayCalendar | None = None
) -> Deadline:
    """Working-day period on the official calendar, e.g. 15 working days for an SMS complaint (O31-27)
    or details 10 working days ahead of a public-welfare message (O31-17)."""
    return (calendar or get_calendar()).deadline_in_working_days(start, n)
