"""The working-day calendar and the statutory period rules (民法典 第201条, 第203条).

Concrete dates were checked by hand against the State Council notices for 2025 and 2026 (and the
package's own data, which the first tests compare with).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piguard.core import calendar as cal
from piguard.core.calendar import Deadline, WorkingDayCalendar, deadline_in_days, deadline_in_working_days
from piguard.core.errors import PiguardError

D = date
PACKAGE = WorkingDayCalendar()  # package data only: independent of the data dir


# ---------------------------------------------------------------------------------------------------
# the data


def test_covers_through_2026_and_no_further() -> None:
    assert max(chinese_calendar.holidays).year == 2026
    assert PACKAGE.covered_until == D(2026, 12, 31)
    assert PACKAGE.covered_from == D(2004, 1, 1)
    assert PACKAGE.is_covered(D(2026, 12, 31))
    assert not PACKAGE.is_covered(D(2027, 1, 1))


@pytest.mark.parametrize("year", [2025, 2026])
def test_agrees_with_package_dicts(year: int) -> None:
    day = D(year, 1, 1)
    while day.year == year:
        expected_rest = day in chinese_calendar.holidays or (
            day.weekday() >= 5 and day not in chinese_calendar.workdays
        )
        assert PACKAGE.is_rest_day(day) is expected_rest, day
        assert PACKAGE.is_working_day(day) is (not expected_rest), day
        assert PACKAGE.is_working_day(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_2025_schedule_checked_by_hand() -> None:
    # Spring Festival 2025: 1/28-2/4 off; Sun 1/26 and Sat 2/8 worked.
    assert all(PACKAGE.is_rest_day(D(2025, 1, 28) + timedelta(days=k)) for k in range(8))
    assert PACKAGE.is_working_day(D(2025, 1, 26)) and PACKAGE.is_working_day(D(2025, 2, 8))
    # National Day + Mid-Autumn 2025: 10/1-10/8 off; Sun 9/28 and Sat 10/11 worked.
    assert all(PACKAGE.is_rest_day(D(2025, 10, 1) + timedelta(days=k)) for k in range(8))
    assert PACKAGE.is_working_day(D(2025, 9, 28)) and PACKAGE.is_working_day(D(2025, 10, 11))
    assert PACKAGE.is_rest_day(D(2025, 10, 12))  # an ordinary Sunday


def test_2026_schedule_checked_by_hand() -> None:
    # Spring Festival 2026: 2/15-2/23 off; Sat 2/14 and Sat 2/28 worked.
    assert all(PACKAGE.is_rest_day(D(2026, 2, 15) + timedelta(days=k)) for k in range(9))
    assert PACKAGE.is_working_day(D(2026, 2, 14)) and PACKAGE.is_working_day(D(2026, 2, 28))
    # Mid-Autumn 9/25-9/27; National Day 10/1-10/7; Sun 9/20 and Sat 10/10 worked.
    assert all(PACKAGE.is_rest_day(D(2026, 9, 25) + timedelta(days=k)) for k in range(3))
    assert all(PACKAGE.is_rest_day(D(2026, 10, 1) + timedelta(days=k)) for k in range(7))
    assert PACKAGE.is_working_day(D(2026, 9, 20)) and PACKAGE.is_working_day(D(2026, 10, 10))
    assert PACKAGE.is_working_day(D(2026, 9, 28)) and PACKAGE.is_working_day(D(2026, 10, 8))
    assert "国庆节" in (PACKAGE.holiday_name(D(2026, 10, 1)) or "")


# ---------------------------------------------------------------------------------------------------
# calendar-day periods (O24-12: complaints answered within 15 days)


@pytest.mark.obligation("O24-12")
@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (D(2026, 9, 28), 15, D(2026, 10, 13)),  # the start day is not counted (第201条)
        (D(2026, 9, 20), 15, D(2026, 10, 8)),  # 10/5 is in Golden Week: the day after it ends (第203条)
        (D(2026, 2, 5), 15, D(2026, 2, 24)),  # 2/20 in Spring Festival -> 2/24
        (D(2026, 6, 5), 15, D(2026, 6, 22)),  # Dragon Boat 6/19-6/21 -> Monday 6/22
        (D(2026, 3, 6), 15, D(2026, 3, 23)),  # an ordinary Saturday -> Monday
        (D(2026, 2, 13), 15, D(2026, 2, 28)),  # adjusted working Saturday: not extended
        (D(2026, 9, 25), 15, D(2026, 10, 10)),  # starts on a holiday, ends on an adjusted working Saturday
        (D(2026, 10, 1), 15, D(2026, 10, 16)),  # starts on a holiday
        (D(2025, 1, 24), 15, D(2025, 2, 8)),  # adjusted working Saturday 2025
        (D(2025, 1, 20), 10, D(2025, 2, 5)),  # 1/30 in Spring Festival 2025 -> 2/5
        (D(2025, 9, 13), 15, D(2025, 9, 28)),  # adjusted working Sunday 2025: not extended
        (D(2025, 9, 20), 15, D(2025, 10, 9)),  # 10/5 in Golden Week 2025 -> 10/9
    ],
)
def test_calendar_day_periods(start: date, days: int, due: date) -> None:
    result = deadline_in_days(start, days, calendar=PACKAGE)
    assert result.due == due
    assert result.start == start
    assert result.kind == "calendar_days" and result.count == days
    assert not result.estimated and result.warning_en is None and result.warning_zh is None


@pytest.mark.obligation("O24-12")
def test_period_ends_at_midnight_shanghai() -> None:
    result = deadline_in_days(D(2026, 9, 28), 15, calendar=PACKAGE)
    assert result.ends_at == datetime(2026, 10, 14, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert result.ends_at.utcoffset() == timedelta(hours=8)


# ---------------------------------------------------------------------------------------------------
# working-day periods (O31-27: 15 working days; O31-17: 10 working days ahead)


@pytest.mark.obligation("O31-27")
@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Golden Week 2026: 9/29, 9/30, [10/1-10/7 off], 10/8, 10/9, Sat 10/10 (worked), 10/12 ... 10/23
        (D(2026, 9, 28), 15, D(2026, 10, 23)),
        (D(2026, 9, 28), 3, D(2026, 10, 8)),
        (D(2026, 9, 28), 5, D(2026, 10, 10)),  # the adjusted working Saturday counts
        (D(2026, 10, 3), 1, D(2026, 10, 8)),  # starts on a holiday
        (D(2026, 10, 1), 3, D(2026, 10, 10)),
        (D(2026, 9, 18), 1, D(2026, 9, 20)),  # Fri -> Sun 9/20 is a working day
        # Spring Festival 2026: Fri 2/13, Sat 2/14 (worked), [2/15-2/23 off], 2/24 ...
        (D(2026, 2, 12), 5, D(2026, 2, 26)),
        (D(2026, 2, 12), 15, D(2026, 3, 11)),
        # Spring Festival 2025: Sun 1/26 worked, [1/28-2/4 off], Sat 2/8 worked
        (D(2025, 1, 24), 1, D(2025, 1, 26)),
        (D(2025, 1, 26), 2, D(2025, 2, 5)),
        (D(2025, 1, 27), 5, D(2025, 2, 10)),
        # Golden Week 2025: Sun 9/28 worked, [10/1-10/8 off], Sat 10/11 worked
        (D(2025, 9, 26), 15, D(2025, 10, 23)),
    ],
)
def test_working_day_periods(start: date, n: int, due: date) -> None:
    result = deadline_in_working_days(start, n, calendar=PACKAGE)
    assert result.due == due
    assert result.kind == "working_days" and result.count == n
    assert not result.estimated


@pytest.mark.obligation("O31-17")
def test_ten_working_days_ahead_across_golden_week() -> None:
    # Details filed on 9/25/2026 (a holiday): 9/28, 9/29, 9/30, [10/1-10/7 off], 10/8, 10/9,
    # Sat 10/10 (worked), 10/12, 10/13, 10/14, 10/15 is the tenth working day.
    assert deadline_in_working_days(D(2026, 9, 25), 10, calendar=PACKAGE).due == D(2026, 10, 15)


# ---------------------------------------------------------------------------------------------------
# date-times and time zones


@pytest.mark.obligation("O24-12", "O31-27")
def test_aware_datetime_near_midnight_utc_is_next_day_in_shanghai() -> None:
    received = datetime(2026, 9, 27, 16, 30, tzinfo=UTC)  # 00:30 on 9/28 in Shanghai
    result = deadline_in_working_days(received, 15, calendar=PACKAGE)
    assert result.start == D(2026, 9, 28)
    assert result.due == D(2026, 10, 23)
    assert deadline_in_days(received, 15, calendar=PACKAGE).due == D(2026, 10, 13)

    just_before = datetime(2026, 9, 27, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on 9/27
    earlier = deadline_in_working_days(just_before, 15, calendar=PACKAGE)
    assert earlier.start == D(2026, 9, 27)
    assert earlier.due == D(2026, 10, 22)


def test_other_zones_are_converted() -> None:
    new_york = datetime(2026, 9, 27, 12, 30, tzinfo=ZoneInfo("America/New_York"))  # 00:30 9/28 Shanghai
    assert cal.to_local_date(new_york) == D(2026, 9, 28)
    assert cal.to_local_date(datetime(2026, 9, 28, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))) == D(2026, 9, 28)


def test_naive_datetime_refused() -> None:
    with pytest.raises(PiguardError) as info:
        deadline_in_working_days(datetime(2026, 9, 28, 9, 0), 15, calendar=PACKAGE)
    err = info.value
    assert err.code == "validation_error" and err.http_status == 422 and err.exit_code == 2
    assert err.fields[0].field == "start"
    assert "time zone" in err.fields[0].message and "时区" in err.message_zh
    with pytest.raises(PiguardError):
        PACKAGE.is_working_day(datetime(2026, 9, 28, 9, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-28", D(2026, 9, 28)),
        ("2026-09-27T16:30:00Z", D(2026, 9, 28)),
        ("2026-09-27T16:30:00+00:00", D(2026, 9, 28)),
        ("2026-09-27T16:30:00 00:00", D(2026, 9, 28)),  # a URL query turned + into a space
        ("2026-09-28T00:30+08:00", D(2026, 9, 28)),
    ],
)
def test_parse_when(text: str, expected: date) -> None:
    assert cal.to_local_date(cal.parse_when(text)) == expected


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-02-30", "2026/09/28", "2026-09-28T09:00"])
def test_parse_when_refuses(text: str) -> None:
    with pytest.raises(PiguardError) as info:
        cal.parse_when(text)
    assert info.value.code == "validation_error" and info.value.fields[0].field == "start"


# ---------------------------------------------------------------------------------------------------
# counts


@pytest.mark.parametrize("bad", [0, -1, -15, 3661, 10**9, True, 1.5, "15"])
def test_bad_counts_refused(bad: object) -> None:
    for fn, name in ((deadline_in_days, "days"), (deadline_in_working_days, "working_days")):
        with pytest.raises(PiguardError) as info:
            fn(D(2026, 9, 28), bad, calendar=PACKAGE)  # type: ignore[operator,arg-type]
        assert info.value.code == "validation_error"
        assert info.value.fields[0].field == name


def test_largest_count_allowed() -> None:
    result = deadline_in_working_days(D(2020, 1, 1), cal.MAX_COUNT, calendar=PACKAGE)
    assert result.due > D(2034, 1, 1) and result.estimated


def test_date_overflow_is_a_validation_error() -> None:
    with pytest.raises(PiguardError) as info:
        deadline_in_days(D(9999, 12, 1), 100, calendar=PACKAGE)
    assert info.value.code == "validation_error"


# ---------------------------------------------------------------------------------------------------
# beyond the data: weekends-only, flagged


@pytest.mark.obligation("O24-12", "O31-27")
def test_beyond_the_data_is_estimated_weekends_only() -> None:
    calendar_days = deadline_in_days(D(2027, 1, 1), 15, calendar=PACKAGE)
    assert calendar_days.due == D(2027, 1, 18)  # 1/16 is a Saturday: Monday under weekends-only
    assert calendar_days.estimated and calendar_days.estimated_years == (2027,)
    assert (
        calendar_days.warning_en
        and "2027" in calendar_days.warning_en
        and "2026-12-31" in calendar_days.warning_en
    )
    assert (
        calendar_days.warning_zh and "估算" in calendar_days.warning_zh and "2027" in calendar_days.warning_zh
    )

    # 12/29, 12/30, 12/31, then 1/1/2027 counted as a working day (no schedule), 1/4.
    working = deadline_in_working_days(D(2026, 12, 28), 5, calendar=PACKAGE)
    assert working.due == D(2027, 1, 4)
    assert working.estimated and working.estimated_years == (2027,)


def test_inside_the_data_is_not_estimated_even_near_the_end() -> None:
    result = deadline_in_working_days(D(2026, 12, 28), 3, calendar=PACKAGE)
    assert result.due == D(2026, 12, 31)
    assert not result.estimated and result.estimated_years == ()


def test_before_the_data_is_estimated_too() -> None:
    result = deadline_in_days(D(2003, 1, 1), 5, calendar=PACKAGE)
    assert result.estimated and result.estimated_years == (2003,)


def test_to_dict_shape() -> None:
    result = deadline_in_days(D(2027, 1, 1), 15, calendar=PACKAGE)
    body = result.to_dict()
    assert body == {
        "due": "2027-01-18",
        "start": "2027-01-01",
        "kind": "calendar_days",
        "count": 15,
        "estimated": True,
        "estimated_years": [2027],
        "ends_at": "2027-01-19T00:00:00+08:00",
        "warning_en": result.warning_en,
        "warning_zh": result.warning_zh,
    }
    with pytest.raises(AttributeError):
        result.due = D(2030, 1, 1)  # type: ignore[misc]  # frozen


def test_default_calendar_is_used_without_argument() -> None:
    assert deadline_in_working_days(D(2026, 9, 28), 15).due == D(2026, 10, 23)
    assert cal.is_rest_day(D(2026, 10, 1)) and cal.is_working_day(D(2026, 10, 10))
    assert isinstance(deadline_in_days(date(2026, 9, 28), 15), Deadline)


# ---------------------------------------------------------------------------------------------------
# properties


_starts = st.dates(min_value=D(2003, 6, 1), max_value=D(2028, 12, 31))
_PROPS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.obligation("O31-27", "O31-17")
@_PROPS
@given(start=_starts, n=st.integers(min_value=1, max_value=400))
def test_working_day_deadline_is_a_working_day_after_start(start: date, n: int) -> None:
    result = PACKAGE.deadline_in_working_days(start, n)
    assert result.due > start
    assert PACKAGE.is_working_day(result.due)
    # exactly n working days in (start, due]
    span = (result.due - start).days
    assert sum(PACKAGE.is_working_day(start + timedelta(days=k)) for k in range(1, span + 1)) == n
    assert result.estimated == any(
        not PACKAGE.is_covered(start + timedelta(days=k)) for k in range(1, span + 1)
    )


@pytest.mark.obligation("O31-27")
@_PROPS
@given(start=_starts, n=st.integers(min_value=1, max_value=400))
def test_one_more_working_day_is_later(start: date, n: int) -> None:
    assert PACKAGE.deadline_in_working_days(start, n + 1).due > PACKAGE.deadline_in_working_days(start, n).due


@pytest.mark.obligation("O24-12")
@_PROPS
@given(start=_starts, days=st.integers(min_value=1, max_value=400))
def test_calendar_day_deadline_is_never_early_and_not_a_rest_day(start: date, days: int) -> None:
    result = PACKAGE.deadline_in_days(start, days)
    assert result.due >= start + timedelta(days=days)
    assert not PACKAGE.is_rest_day(result.due)
    # every day skipped was a rest day
    day = start + timedelta(days=days)
    while day < result.due:
        assert PACKAGE.is_rest_day(day)
        day += timedelta(days=1)
