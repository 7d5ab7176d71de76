"""Statutory clocks for cases: which dated parameter, which kind of day, which obligations.

A clock is computed from the parameter in force on the day the period starts and the official
working-day calendar (:mod:`piguard.core.calendar`). Counted past the packaged holiday data the due
date is an estimate (weekends as the only rest days), and the case says so until the operator loads
the State Council's schedule (``piguard calendar load``) and the worker re-counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from piguard.core import calendar
from piguard.core.errors import FieldError, validation_error
from piguard.core.reasons import Reason
from piguard.regulations.markers import carries
from piguard.regulations.parameters import parameter, value

DayKind = Literal["calendar_days", "working_days"]


@dataclass(frozen=True, slots=True)
class ClockRule:
    parameter: str | None
    days: DayKind
    obligations: tuple[str, ...]


#: kind -> the parameter that sets its period and the obligations the case answers to.
RULES: dict[str, ClockRule] = {
    "pi_complaint": ClockRule("complaint.reply_days", "calendar_days", ("O24-12",)),
    "sms_complaint": ClockRule("sms_complaint.feedback_working_days", "working_days", ("O31-27",)),
    "sms_report_transfer": ClockRule(
        "sms_complaint.feedback_working_days", "working_days", ("O31-25", "O31-27")
    ),
    "access": ClockRule("rights.request_reply_days", "calendar_days", ("O24-9.2",)),
    "correction": ClockRule("rights.request_reply_days", "calendar_days", ("O24-9.2",)),
    "deletion": ClockRule("rights.request_reply_days", "calendar_days", ("CSL-43", "NPC-8")),
    "cancellation": ClockRule("rights.request_reply_days", "calendar_days", ("O24-9.4",)),
    # Remedy at once and report without delay (O24-14.1): no period to count; the incident's own
    # steps carry their timing.
    "incident": ClockRule(None, "calendar_days", ("O24-14.1", "CSL-42.2")),
    # The report of what the gateway stopped (CSL-47): drafted for a period, no period to count.
    "content_report": ClockRule(None, "calendar_days", ("CSL-47", "O31-16")),
}

TRANSFER_PARAMETER = "sms_complaint.reporting_centre_transfer_working_days"


@dataclass(frozen=True, slots=True)
class Clock:
    """The period of one case: ``due`` is the last day (Asia/Shanghai), ``None`` where no period runs."""

    kind: str
    start: date
    due: date | None
    estimated: bool
    basis: str | None
    days: DayKind
    count: int | None
    obligations: tuple[str, ...]
    warning_en: str | None = None
    warning_zh: str | None = None
    #: For a reporting-centre transfer: the last day the centre had, and whether it was late.
    transfer_due: date | None = None
    transfer_late: bool = False
    reasons: tuple[Reason, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "due": self.due.isoformat() if self.due else None,
            "estimated": self.estimated,
            "basis": self.basis,
            "days": self.days,
            "count": self.count,
            "obligations": list(self.obligations),
            "warning": {"en": self.warning_en, "zh": self.warning_zh} if self.estimated else None,
            "transfer_due": self.transfer_due.isoformat() if self.transfer_due else None,
            "transfer_late": self.transfer_late,
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _count(
    rule: ClockRule, start: datetime, n: int, cal: calendar.WorkingDayCalendar | None
) -> calendar.Deadline:
    if rule.days == "working_days":
        return calendar.deadline_in_working_days(start, n, calendar=cal)
    return calendar.deadline_in_days(start, n, calendar=cal)


@carries("O24-12", "O31-25", "O31-27")
def clock_for(
    kind: str,
    received: datetime,
    *,
    transferred_at: datetime | None = None,
    cal: calendar.WorkingDayCalendar | None = None,
) -> Clock:
    """The clock of a case of ``kind`` received at ``received``.

    For a reporting-centre transfer (``sms_report_transfer``), ``received`` is when the centre
    received the report and ``transferred_at`` when the provider received the transfer: the
    provider's period starts at the transfer (O31-27 para. 3), and a transfer after the centre's own
    period (O31-27 para. 2) is flagged against the centre, not the provider.
    """
    rule = RULES.get(kind)
    if rule is None:
        raise validation_error(
            [FieldError("kind", f"one of {', '.join(RULES)} / 须为 {'、'.join(RULES)} 之一")],
            f"Unknown case kind {kind!r}.",
            f"未知的案件类型 {kind!r}。",
        )
    start = received
    transfer_due: date | None = None
    late = False
    reasons: list[Reason] = []
    if kind == "sms_report_transfer":
        if transferred_at is None:
            raise validation_error(
                [
                    FieldError(
                        "transferred_at", "required for a reporting-centre transfer / 转办案件须填写转交时间"
                    )
                ],
                "A reporting-centre transfer needs the date the centre transferred it.",
                "举报中心转办案件须填写转交时间。",
            )
        if transferred_at < received:
            raise validation_error(
                [FieldError("transferred_at", "earlier than the report's receipt / 早于举报受理时间")],
                "The transfer cannot precede the centre's receipt of the report.",
                "转交时间不能早于举报中心受理举报的时间。",
            )
        n_transfer = value(TRANSFER_PARAMETER, on=received)
        centre = _count(ClockRule(TRANSFER_PARAMETER, "working_days", ()), received, n_transfer, cal)
        transfer_due = centre.due
        late = calendar.to_local_date(transferred_at) > centre.due
        if late:
            reasons.append(
                Reason(
                    "transfer_late",
                    ("O31-27",),
                    f"The reporting centre transferred this report after its {n_transfer} working days "
                    f"(due {centre.due.isoformat()}); the provider's period still starts at the transfer.",
                    f"举报中心转交超过 {n_transfer} 个工作日（应于 {centre.due.isoformat()} 前转交）；"
                    "本单位的处理期限仍自收到转交之日起计算。",
                    {"transfer_due": centre.due.isoformat(), "working_days": n_transfer},
                )
            )
        start = transferred_at
    start_day = calendar.to_local_date(start, "received")
    if rule.parameter is None:
        return Clock(
            kind, start_day, None, False, None, rule.days, None, rule.obligations, reasons=tuple(reasons)
        )
    n = value(rule.parameter, on=start)
    deadline = _count(rule, start, n, cal)
    ref = parameter(rule.parameter).reference
    unit_en = "working days" if rule.days == "working_days" else "days"
    unit_zh = "个工作日" if rule.days == "working_days" else "日"
    reasons.insert(
        0,
        Reason(
            "case_clock",
            rule.obligations,
            f"Due by {deadline.due.isoformat()}: {n} {unit_en} from {start_day.isoformat()} ({ref.article_en}).",
            f"应于 {deadline.due.isoformat()} 前办结：自 {start_day.isoformat()} 起 {n}{unit_zh}（{ref.article_zh}）。",
            {"parameter": rule.parameter, "count": n, "days": rule.days, "estimated": deadline.estimated},
        ),
    )
    return Clock(
        kind,
        start_day,
        deadline.due,
        deadline.estimated,
        rule.parameter,
        rule.days,
        n,
        rule.obligations,
        deadline.warning_en,
        deadline.warning_zh,
        transfer_due,
        late,
        tuple(reasons),
    )
