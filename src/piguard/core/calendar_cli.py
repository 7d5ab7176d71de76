"""`piguard calendar …`: statutory deadlines on China's official working-day calendar.

``deadline`` prints the due date alone on stdout (scripts can use it); an estimation warning goes to
stderr in Chinese and English. Errors are raised as :class:`PiguardError` and rendered by the CLI root.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from piguard.core import calendar as cal
from piguard.core.errors import FieldError, validation_error

app = typer.Typer(
    help="China working-day calendar and statutory deadlines. / 中国法定工作日历与法定期限。",
    no_args_is_help=True,
)

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _warn(deadline: cal.Deadline) -> None:
    if deadline.estimated:
        typer.echo(f"警告：{deadline.warning_zh}", err=True)
        typer.echo(f"warning: {deadline.warning_en}", err=True)


@app.command()
def deadline(
    start: str = typer.Option(
        ...,
        "--start",
        help="Start: YYYY-MM-DD (Shanghai date) or ISO date-time with offset. / 起算日（不计入期间）",
    ),
    days: int | None = typer.Option(None, "--days", help="Calendar days (民法典 第201、203条). / 自然日"),
    working_days: int | None = typer.Option(None, "--working-days", help="Official working days. / 工作日"),
    fmt: OutputFormat = typer.Option(
        OutputFormat.text, "--format", help="text (the date) or json. / 输出格式（text 为日期）。"
    ),
) -> None:
    """Print the due date of a period counted from START (the start day is not counted). /
    计算自 START 起算的期限届满日（起算日不计入）。"""
    if (days is None) == (working_days is None):
        raise validation_error(
            [
                FieldError(
                    "days",
                    "give exactly one of --days or --working-days / --days 与 --working-days 须且仅须给出一个",
                )
            ],
            "Give exactly one of --days or --working-days.",
            "须且仅须给出 --days 或 --working-days 之一。",
        )
    when = cal.parse_when(start)
    if days is not None:
        result = cal.deadline_in_days(when, days)
    else:
        assert working_days is not None
        result = cal.deadline_in_working_days(when, working_days)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        typer.echo(result.due.isoformat())
    _warn(result)


@app.command()
def load(file: Path = typer.Argument(..., help="Schedule file (YAML or JSON). / 节假日安排文件")) -> None:
    """Validate an official holiday schedule and install it for later runs. / 校验并安装官方节假日安排。"""
    packaged = cal.WorkingDayCalendar().covered_years
    installed = cal.load_schedule(file)
    console = Console()
    for sched in installed:
        note = " (replaces the packaged data / 覆盖内置数据)" if sched.year in packaged else ""
        console.print(
            f"installed {sched.year}: {len(sched.holidays)} holiday days, {len(sched.workdays)} adjusted working "
            f"days{note} / 已载入 {sched.year} 年安排：放假 {len(sched.holidays)} 天，调休上班 {len(sched.workdays)} 天 "
            f"-> {cal.schedule_dir() / f'{sched.year}.json'}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def show(
    year: int | None = typer.Option(None, "--year", help="Year (default: this year in Shanghai). / 年份"),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json. / 输出格式。"),
) -> None:
    """List a year's holidays and adjusted working days. / 列出某年的节假日与调休工作日。"""
    if year is None:
        year = datetime.now(cal.SHANGHAI).year
    view = cal.get_calendar().year_view(year)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(view.to_dict(), ensure_ascii=False))
        return
    console = Console()
    if not view.covered:
        console.print(
            f"[yellow]note[/]: {year} is beyond the official data (covered until {view.covered_until}); deadlines "
            f"there are estimated with weekends as the only rest days. Load the State Council schedule with "
            f"`piguard calendar load FILE`.\n[yellow]注意[/]：{year} 年不在官方节假日数据范围内（覆盖至 "
            f"{view.covered_until}），期限按仅周末休息估算；请用 `piguard calendar load FILE` 载入国务院安排。",
            highlight=False,
        )
    table = Table(title=f"{year} official calendar / 法定节假日安排 ({view.source})")
    table.add_column("date / 日期")
    table.add_column("weekday / 星期")
    table.add_column("kind / 类型")
    table.add_column("name / 名称")
    rows = [(d, "holiday / 放假", n) for d, n in view.holidays] + [
        (d, "working day / 调休上班", n) for d, n in view.workdays
    ]
    if not rows:
        console.print(
            f"{year}: no holidays or adjusted working days known / 无节假日或调休数据", highlight=False
        )
        return
    for d, kind, name in sorted(rows):
        table.add_row(
            d.isoformat(), f"{_WEEKDAYS_EN[d.weekday()]} / 周{_WEEKDAYS_ZH[d.weekday()]}", kind, name
        )
    console.print(table)
