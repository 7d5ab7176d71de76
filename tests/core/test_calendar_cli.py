"""`piguard calendar …`: the due date alone on stdout, warnings on stderr, errors in the one shape."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.core import calendar as cal
from piguard.core.calendar_cli import app
from piguard.core.errors import PiguardError

runner = CliRunner()

SCHEDULE_2027 = """\
year: 2027
source: test data
holidays:
  - {start: 2027-01-01, end: 2027-01-03, name: 元旦}
  - {start: 2027-02-06, end: 2027-02-12, name: 春节}
workdays: [2027-02-20]
"""


@pytest.mark.obligation("O31-27")
def test_deadline_working_days_prints_the_date_only() -> None:
    result = runner.invoke(app, ["deadline", "--start", "2026-09-28", "--working-days", "15"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-10-23\n"
    assert result.stderr == ""


@pytest.mark.obligation("O24-12")
def test_deadline_days() -> None:
    result = runner.invoke(app, ["deadline", "--start", "2026-09-28", "--days", "15"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "2026-10-13"


def test_deadline_aware_datetime() -> None:
    result = runner.invoke(app, ["deadline", "--start", "2026-09-27T16:30:00Z", "--working-days", "15"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2026-10-23"


def test_deadline_json() -> None:
    result = runner.invoke(
        app, ["deadline", "--start", "2026-09-28", "--working-days", "15", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["due"] == "2026-10-23" and body["kind"] == "working_days" and body["estimated"] is False
    assert body["ends_at"] == "2026-10-24T00:00:00+08:00"


@pytest.mark.obligation("O24-12")
def test_deadline_estimated_warns_on_stderr() -> None:
    result = runner.invoke(app, ["deadline", "--start", "2027-01-01", "--days", "15"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "2027-01-18"
    assert "2027-01-18" not in result.stderr
    assert "警告" in result.stderr and "估算" in result.stderr
    assert "warning: Estimated" in result.stderr

    as_json = runner.invoke(app, ["deadline", "--start", "2027-01-01", "--days", "15", "--format", "json"])
    body = json.loads(as_json.stdout)
    assert body["estimated"] is True and body["warning_zh"] and body["warning_en"]


@pytest.mark.parametrize(
    "args",
    [
        ["deadline", "--start", "2026-09-28"],
        ["deadline", "--start", "2026-09-28", "--days", "15", "--working-days", "15"],
        ["deadline", "--start", "2026-09-28", "--days", "-1"],
        ["deadline", "--start", "2026-09-28", "--working-days", "99999"],
        ["deadline", "--start", "28/09/2026", "--days", "15"],
        ["deadline", "--start", "2026-09-28T09:00", "--days", "15"],
    ],
)
def test_deadline_bad_input_is_a_piguard_error(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert isinstance(result.exception, PiguardError), result.output
    assert result.exception.code == "validation_error"
    assert result.exception.exit_code == 2
    assert result.stdout == ""


def test_non_integer_days_is_a_usage_error() -> None:
    result = runner.invoke(app, ["deadline", "--start", "2026-09-28", "--days", "fifteen"])
    assert result.exit_code == 2


def test_root_cli_renders_the_error_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from piguard.cli import main

    monkeypatch.setattr(sys, "argv", ["piguard", "calendar", "deadline", "--start", "2026-09-28"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert "validation_error" in out.err
    assert "--days" in out.err and "--working-days" in out.err
    assert "须且仅须" in out.err
    assert "Traceback" not in out.err


def test_load_then_not_estimated(tmp_path: Path) -> None:
    path = tmp_path / "2027.yaml"
    path.write_text(SCHEDULE_2027, encoding="utf-8")
    result = runner.invoke(app, ["load", str(path)])
    assert result.exit_code == 0, result.output
    assert "2027" in result.stdout and "已载入" in result.stdout
    after = runner.invoke(app, ["deadline", "--start", "2027-01-25", "--days", "15"])
    assert after.stdout.strip() == "2027-02-15"
    assert after.stderr == ""
    assert cal.get_calendar().is_covered(cal.date(2027, 3, 1))


def test_load_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("year: 2027\nholidays:\n  - {date: 2027-02-30, name: x}\n", encoding="utf-8")
    result = runner.invoke(app, ["load", str(path)])
    assert isinstance(result.exception, PiguardError)
    assert result.exception.fields[0].field == "holidays[0].date"
    assert not (cal.schedule_dir() / "2027.json").exists()


def test_show_lists_holidays_and_adjusted_working_days() -> None:
    result = runner.invoke(app, ["show", "--year", "2026"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for needle in (
        "2026-10-01",
        "2026-10-10",
        "2026-02-14",
        "2026-02-28",
        "调休上班",
        "国庆节",
        "Sat / 周六",
    ):
        assert needle in result.stdout
    assert "beyond" not in result.stdout


def test_show_beyond_the_data_says_so() -> None:
    result = runner.invoke(app, ["show", "--year", "2027"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "beyond the official data" in result.stdout and "2026-12-31" in result.stdout
    assert "不在官方节假日数据范围内" in result.stdout


def test_show_json() -> None:
    result = runner.invoke(app, ["show", "--year", "2025", "--format", "json"])
    body = json.loads(result.stdout)
    assert body["covered"] is True
    assert {"date": "2025-02-08", "name": "春节 Spring Festival"} in body["workdays"]
    assert len([h for h in body["holidays"] if h["date"].startswith("2025-10")]) == 8
