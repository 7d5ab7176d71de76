"""Loading newer official schedules: strict validation, all or nothing, persisted in the data dir.

The 2027 schedule below is TEST DATA shaped like a State Council notice, not the official one.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from piguard.core import calendar as cal
from piguard.core.config import get_settings, reset_settings
from piguard.core.errors import PiguardError

D = date

SCHEDULE_2027_YAML = """\
year: 2027
source: test data shaped like a State Council notice
holidays:
  - date: 2027-01-01
    name: 元旦 New Year's Day
  - start: 2027-01-02
    end: 2027-01-03
    name: 元旦 New Year's Day
  - start: 2027-02-06
    end: 2027-02-12
    name: 春节 Spring Festival
workdays:
  - date: 2027-02-20
    name: 春节 Spring Festival
  - 2027-01-30
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _stored() -> list[str]:
    folder = get_settings().data_dir / "calendar"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.obligation("O24-12", "O31-27", "O31-17")
def test_loading_a_schedule_removes_the_estimate(tmp_path: Path) -> None:
    before = cal.deadline_in_working_days(D(2026, 12, 28), 5)
    assert before.estimated and before.due == D(2027, 1, 4)

    installed = cal.load_schedule(_write(tmp_path, "2027.yaml", SCHEDULE_2027_YAML))
    assert [s.year for s in installed] == [2027]
    assert _stored() == ["2027.json"]

    after = cal.deadline_in_working_days(D(2026, 12, 28), 5)
    assert not after.estimated and after.warning_en is None
    assert after.due == D(2027, 1, 5)  # 12/29, 12/30, 12/31, [1/1-1/3 off], 1/4, 1/5
    calendar = cal.get_calendar()
    assert calendar.covered_until == D(2027, 12, 31)
    assert calendar.is_rest_day(D(2027, 2, 8))
    assert calendar.is_working_day(D(2027, 2, 20)) and calendar.is_working_day(D(2027, 1, 30))
    # a period ending on the loaded holiday is extended, on the loaded working Saturday is not
    assert cal.deadline_in_days(D(2027, 1, 25), 15).due == D(
        2027, 2, 15
    )  # 2/9 off -> 2/13 Sat, 2/14 Sun -> 2/15
    assert cal.deadline_in_days(D(2027, 2, 5), 15).due == D(2027, 2, 20)


def test_loaded_schedule_persists_across_runs(tmp_path: Path) -> None:
    cal.load_schedule(_write(tmp_path, "s.yml", SCHEDULE_2027_YAML))
    cal.reset_calendar_cache()  # a later run starts from nothing but the data dir
    stored = json.loads((get_settings().data_dir / "calendar" / "2027.json").read_text(encoding="utf-8"))
    assert stored["year"] == 2027 and len(stored["holidays"]) == 10
    fresh = cal.get_calendar()
    assert fresh.is_covered(D(2027, 6, 1))
    assert fresh.year_view(2027).source == "test data shaped like a State Council notice"
    assert [s.year for s in cal.installed_schedules()] == [2027]


def test_json_schedule_and_list_of_years(tmp_path: Path) -> None:
    doc = [
        {"year": 2027, "holidays": [{"date": "2027-01-01", "name": "元旦"}], "workdays": []},
        {"year": 2028, "holidays": [{"start": "2028-01-01", "end": "2028-01-03", "name": "元旦"}]},
    ]
    installed = cal.load_schedule(_write(tmp_path, "s.json", json.dumps(doc, ensure_ascii=False)))
    assert [s.year for s in installed] == [2027, 2028]
    assert _stored() == ["2027.json", "2028.json"]
    assert not cal.deadline_in_days(D(2028, 1, 10), 15).estimated
    assert cal.get_calendar().covered_until == D(2028, 12, 31)


def test_calendar_file_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "official.yaml", SCHEDULE_2027_YAML)
    monkeypatch.setenv("PIGUARD_CALENDAR_FILE", str(path))
    reset_settings()
    result = cal.deadline_in_working_days(D(2026, 12, 28), 5)
    assert not result.estimated and result.due == D(2027, 1, 5)
    assert _stored() == []  # applied, not copied


def test_calendar_file_setting_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGUARD_CALENDAR_FILE", str(tmp_path / "nope.yaml"))
    reset_settings()
    with pytest.raises(PiguardError) as info:
        cal.get_calendar()
    assert info.value.code == "calendar_file_missing"


def test_a_loaded_year_replaces_the_packaged_data(tmp_path: Path) -> None:
    assert cal.is_rest_day(D(2026, 10, 7)) and cal.is_working_day(D(2026, 10, 10))
    doc = "year: 2026\nholidays:\n  - {start: 2026-10-01, end: 2026-10-06, name: 国庆节}\nworkdays: []\n"
    cal.load_schedule(_write(tmp_path, "fix.yaml", doc))
    assert cal.is_working_day(D(2026, 10, 7))
    assert cal.is_rest_day(D(2026, 10, 10))  # no longer an adjusted working day
    assert cal.is_rest_day(D(2026, 2, 16)) is False  # the whole year is replaced


def test_december_days_of_the_year_before_may_be_named(tmp_path: Path) -> None:
    doc = "year: 2027\nholidays:\n  - {start: 2026-12-31, end: 2027-01-02, name: 元旦}\nworkdays: [2026-12-27]\n"
    cal.load_schedule(_write(tmp_path, "s.yaml", doc))
    calendar = cal.get_calendar()
    assert calendar.is_rest_day(D(2026, 12, 31))
    assert calendar.is_working_day(D(2026, 12, 27))


def test_a_stored_file_that_is_corrupt_is_an_error_not_ignored(tmp_path: Path) -> None:
    cal.load_schedule(_write(tmp_path, "s.yaml", SCHEDULE_2027_YAML))
    (get_settings().data_dir / "calendar" / "2027.json").write_text("{not json", encoding="utf-8")
    cal.reset_calendar_cache()
    with pytest.raises(PiguardError) as info:
        cal.get_calendar()
    assert info.value.code == "validation_error"
    assert info.value.fields[0].field == "calendar/2027.json"


# ---------------------------------------------------------------------------------------------------
# bad files: a field error, nothing installed

BAD_FILES: list[tuple[str, str, str, str]] = [
    ("bad-date", "s.yaml", "year: 2027\nholidays:\n  - {date: 2027-02-30, name: x}\n", "holidays[0].date"),
    ("bad-format", "s.yaml", "year: 2027\nholidays:\n  - {date: 27/1/1, name: x}\n", "holidays[0].date"),
    ("year-text", "s.yaml", "year: '2027'\nholidays:\n  - {date: 2027-01-01, name: x}\n", "year"),
    ("year-missing", "s.yaml", "holidays:\n  - {date: 2027-01-01, name: x}\n", "year"),
    ("year-absurd", "s.yaml", "year: 1066\nholidays:\n  - {date: 1066-10-14, name: x}\n", "year"),
    (
        "outside-year",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2028-01-01, name: x}\n",
        "holidays[0].date",
    ),
    (
        "november-before",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2026-11-30, name: x}\n",
        "holidays[0].date",
    ),
    (
        "overlap",
        "s.yaml",
        "year: 2027\nholidays:\n  - {start: 2027-02-06, end: 2027-02-12, name: x}\nworkdays: [2027-02-06]\n",
        "workdays[0]",
    ),
    (
        "weekday-workday",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2027-01-01, name: x}\nworkdays: [2027-01-05]\n",
        "workdays[0]",
    ),
    (
        "dup-holiday",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2027-01-01, name: x}\n  - {start: 2026-12-31, end: 2027-01-01, name: y}\n",
        "holidays[1]",
    ),
    (
        "dup-workday",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2027-01-01, name: x}\nworkdays: [2027-01-09, 2027-01-09]\n",
        "workdays[1]",
    ),
    (
        "range-backwards",
        "s.yaml",
        "year: 2027\nholidays:\n  - {start: 2027-02-12, end: 2027-02-06, name: x}\n",
        "holidays[0].end",
    ),
    (
        "range-huge",
        "s.yaml",
        "year: 2027\nholidays:\n  - {start: 2027-01-01, end: 2027-06-30, name: x}\n",
        "holidays[0]",
    ),
    (
        "date-and-range",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2027-01-01, start: 2027-01-01, end: 2027-01-02, name: x}\n",
        "holidays[0]",
    ),
    ("no-date", "s.yaml", "year: 2027\nholidays:\n  - {name: x}\n", "holidays[0]"),
    ("no-name", "s.yaml", "year: 2027\nholidays:\n  - {date: 2027-01-01}\n", "holidays[0].name"),
    (
        "name-not-text",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2027-01-01, name: 5}\n",
        "holidays[0].name",
    ),
    (
        "unknown-key",
        "s.yaml",
        "year: 2027\nholiday: []\nholidays:\n  - {date: 2027-01-01, name: x}\n",
        "schedule.holiday",
    ),
    (
        "unknown-entry-key",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2027-01-01, name: x, kind: rest}\n",
        "holidays[0].kind",
    ),
    ("holidays-empty", "s.yaml", "year: 2027\nholidays: []\n", "holidays"),
    ("holidays-not-list", "s.yaml", "year: 2027\nholidays: 2027-01-01\n", "holidays"),
    (
        "workdays-not-list",
        "s.yaml",
        "year: 2027\nholidays:\n  - {date: 2027-01-01, name: x}\nworkdays: 2027-01-09\n",
        "workdays",
    ),
    ("entry-not-mapping", "s.yaml", "year: 2027\nholidays:\n  - 2027-01-01\n", "holidays[0]"),
    ("top-not-mapping", "s.yaml", "just text\n", "schedule"),
    ("empty-list", "s.yaml", "[]\n", "schedule"),
    ("yaml-syntax", "s.yaml", "year: 2027\nholidays: [\n", "file"),
    ("json-syntax", "s.json", '{"year": 2027,', "file"),
    (
        "json-year-float",
        "s.json",
        '{"year": 2027.0, "holidays": [{"date": "2027-01-01", "name": "x"}]}',
        "year",
    ),
    (
        "one-bad-year-in-list",
        "s.json",
        '[{"year": 2027, "holidays": [{"date": "2027-01-01", "name": "x"}]},'
        ' {"year": 2028, "holidays": [{"date": "2028-02-31", "name": "x"}]}]',
        "[1].holidays[0].date",
    ),
    (
        "same-year-twice",
        "s.json",
        '[{"year": 2027, "holidays": [{"date": "2027-01-01", "name": "x"}]},'
        ' {"year": 2027, "holidays": [{"date": "2027-01-02", "name": "x"}]}]',
        "year",
    ),
]


@pytest.mark.parametrize(("name", "text", "field"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_bad_schedule_files_are_refused_whole(tmp_path: Path, name: str, text: str, field: str) -> None:
    with pytest.raises(PiguardError) as info:
        cal.load_schedule(_write(tmp_path, name, text))
    err = info.value
    assert err.code == "validation_error" and err.http_status == 422 and err.exit_code == 2
    assert "nothing was loaded" in err.message_en and "未载入" in err.message_zh
    assert field in [f.field for f in err.fields], [f.to_dict() for f in err.fields]
    assert _stored() == []  # nothing half-loaded, no temp files left


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    text = "year: 2027\nholidays:\n  - {date: 2027-02-30, name: x}\n  - {date: 2027-01-01}\nworkdays: [2027-01-05]\n"
    with pytest.raises(PiguardError) as info:
        cal.load_schedule(_write(tmp_path, "s.yaml", text))
    fields = {f.field for f in info.value.fields}
    assert {"holidays[0].date", "holidays[1].name", "workdays[0]"} <= fields


def test_a_bad_load_leaves_the_installed_schedule_alone(tmp_path: Path) -> None:
    cal.load_schedule(_write(tmp_path, "good.yaml", SCHEDULE_2027_YAML))
    before = (get_settings().data_dir / "calendar" / "2027.json").read_text(encoding="utf-8")
    with pytest.raises(PiguardError):
        cal.load_schedule(
            _write(tmp_path, "bad.yaml", "year: 2027\nholidays:\n  - {date: 2027-13-01, name: x}\n")
        )
    assert (get_settings().data_dir / "calendar" / "2027.json").read_text(encoding="utf-8") == before
    assert _stored() == ["2027.json"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PiguardError) as info:
        cal.load_schedule(tmp_path / "absent.yaml")
    assert info.value.fields[0].field == "file"
    assert "FileNotFoundError" in info.value.fields[0].message


def test_parse_schedule_accepts_date_objects() -> None:
    sched = cal.parse_schedule({"year": 2027, "holidays": [{"date": D(2027, 1, 1), "name": "元旦"}]})
    assert sched.holidays == ((D(2027, 1, 1), "元旦"),)
    assert cal.parse_schedule(sched.to_dict()) == sched  # the stored form round-trips
