"""The self-inspection (O24-16): a yearly or on-demand report generated from live evidence,
obligation by obligation, with findings tracked to closure.

:func:`inspect` joins the rules matrix (what piguard has built and tested for each obligation) with
what piguard measured in the database for the period — consents, complaint and request timeliness
against their statutory clocks, overdue cases, the last audit-chain verification and the signed
head, training coverage, agent contracts and assessments, bulk exports approved and rejected,
incidents, refusals by article — each figure read through its own domain's service. Every gap (a
matrix row not built) and every bad figure (a late complaint, lapsed training, an expired agent
still active …) becomes a finding with an owner and a due date. Findings are keyed by what they are
about, so running the inspection again finds the open finding and refreshes it rather than adding a
duplicate; closing one needs evidence text, and a finding closes once.

Functions take a session and never commit; every change is audited. No personal information is
read into the report: counts, case references, firm codes and obligation ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit import service as audit
from piguard.audit.service import Actor, record
from piguard.cases import incidents
from piguard.cases import service as cases
from piguard.cases.clocks import RULES
from piguard.cases.models import COMPLAINT_KINDS, REQUEST_KINDS
from piguard.consent import service as consent
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, invalid_field, not_found, validation_error
from piguard.core.refs import as_row_id
from piguard.core.text import clean_text
from piguard.oversight import access_reviews, agents, bulk, responsibilities, training
from piguard.oversight.inspection_models import (
    FINDING_STATUSES,
    SEVERITIES,
    InspectionFinding,
    InspectionRun,
)
from piguard.regulations.markers import carries
from piguard.regulations.matrix import build_matrix
from piguard.regulations.schemas import MatrixOut

OBLIGATIONS = ("O24-16", "O24-13.6")
FIRST_YEAR = 2013  # Order 24 took effect on 2013-09-01: no inspection period before it


class InspectionSettings(BaseSettings):
    """The operator's choices for findings (``PIGUARD_INSPECTION_*``); no regulatory number here."""

    model_config = SettingsConfigDict(env_prefix="PIGUARD_INSPECTION_", extra="ignore")

    #: Days a new finding is given before it is due (the owner may change the date).
    finding_days: int = Field(30, ge=1, le=366)
    #: Who owns a new finding until someone is named (a username or a role).
    owner: str = Field("compliance_officer", min_length=1, max_length=128)


@lru_cache(maxsize=1)
def get_settings() -> InspectionSettings:
    return InspectionSettings()


# ------------------------------------------------------------------------------------ period


@dataclass(frozen=True)
class Period:
    """A calendar year in China time, ending now when it is the current year."""

    year: int
    start: date
    end: date  # last day covered (inclusive)
    since: datetime  # UTC, inclusive
    until: datetime  # UTC, exclusive
    partial: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "partial_year": self.partial,
        }


def period(year: object, now: datetime | None = None) -> Period:
    """The inspection period of ``year`` (default: the current year in China). A year in the future
    or before Order 24 is an error naming the field."""
    now = now or utcnow()
    this_year = calendar.to_local_date(now).year
    if year is None:
        year = this_year
    if isinstance(year, str) and year.strip().isdigit() and len(year.strip()) == 4:
        year = int(year.strip())
    if isinstance(year, bool) or not isinstance(year, int):
        raise invalid_field("year", "a year such as 2026", "须为年份，例如 2026")
    if year > this_year:
        raise invalid_field(
            "year",
            f"{year} lies in the future (this year is {this_year}): nothing can be measured yet",
            f"{year} 年尚未到来（今年为 {this_year} 年），无从自查",
        )
    if year < FIRST_YEAR:
        raise invalid_field(
            "year",
            f"must be {FIRST_YEAR} or later (Order 24)",
            f"须为 {FIRST_YEAR} 年或以后（工信部令第24号）",
        )
    start = date(year, 1, 1)
    since = datetime.combine(start, time(0, 0), tzinfo=calendar.SHANGHAI).astimezone(UTC)
    next_year = datetime.combine(date(year + 1, 1, 1), time(0, 0), tzinfo=calendar.SHANGHAI).astimezone(UTC)
    partial = next_year > now
    until = min(next_year, now)
    end = calendar.to_local_date(until - timedelta(microseconds=1)) if partial else date(year, 12, 31)
    return Period(year, start, end, since, until, partial)


# ---------------------------------------------------------------------------------- measures

#: Which measured figures speak for which obligation (the report shows them on its row).
MEASURE_OBLIGATIONS: dict[str, tuple[str, ...]] = {
    "consents": ("O24-9.1", "O24-9.3", "CSL-41"),
    "complaints": ("O24-12", "O31-25", "O31-27"),
    "requests": ("O24-9.2", "O24-9.4", "CSL-43", "NPC-8"),
    "overdue": ("O24-12", "O31-27", "O24-9.2"),
    "audit": ("O24-13.6",),
    "training": ("O24-15",),
    "agents": ("O24-11",),
    "bulk": ("O24-13.3",),
    "incidents": ("O24-14.1", "CSL-42.2"),
    "refusals": (),
    "access_reviews": ("O24-13.5",),
    "responsibilities": ("O24-13.1",),
    "findings": ("O24-16",),
}


def _audit_figures(session: Session, p: Period) -> dict[str, Any]:
    st = audit.verification_status(session)
    return {
        "last_verified_at": st.at.isoformat() if st.at else None,
        "last_ok": st.ok,
        "checked": st.checked,
        "problem": st.problem,
        "first_bad_seq": st.first_bad_seq,
        "verified_in_period": bool(st.at and p.since <= st.at < p.until),
        "head_seq": st.head_seq,
        "head_time": st.head_time.isoformat() if st.head_time else None,
        "head_signature_ok": st.head_signature_ok,
    }


def _training_figures(session: Session, now: datetime) -> dict[str, Any]:
    rows = training.coverage(session, now=now)
    no_courses = not any(c.required for c in training.list_courses(session, active_only=True))
    current = sum(1 for r in rows if r["current"])
    return {
        "required_courses": 0
        if no_courses
        else len([c for c in training.list_courses(session, active_only=True) if c.required]),
        "staff": len(rows),
        "current": current,
        "lapsed": sum(1 for r in rows if r["lapsed"]),
        "missing": sum(1 for r in rows if r["missing"] and not r["lapsed"]),
        "coverage": round(current / len(rows), 4) if rows else None,
    }


def _agent_figures(session: Session, now: datetime) -> dict[str, Any]:
    firms = agents.list_firms(session)
    expired = [f for f in firms if f.contract_end <= now]
    out: dict[str, Any] = {
        "firms": len(firms),
        "current": sum(1 for f in firms if agents.firm_to_dict(f, now)["current"]),
        "expired": len(expired),
        "expired_still_active": sorted(f.code for f in expired if f.status == "active"),
        "never_assessed": sorted(f.code for f in firms if not f.assessments and f.status == "active"),
        "assessment_overdue": sorted(
            f.code
            for f in firms
            if f.assessments
            and f.status == "active"
            and f.assessments[-1].next_due is not None
            and f.assessments[-1].next_due < now
        ),
        "open_assessment_findings": sum(
            1 for f in firms for a in f.assessments for x in a.findings if not x.get("closed")
        ),
    }
    return out


def _responsibility_figures(session: Session) -> dict[str, Any]:
    found = responsibilities.gaps(session)
    by_kind: dict[str, int] = {}
    for g in found:
        by_kind[g.kind] = by_kind.get(g.kind, 0) + 1
    return {"gaps": len(found), "by_kind": by_kind, "scopes": [f"{g.kind}:{g.scope}" for g in found][:50]}


def measure(session: Session, p: Period, now: datetime | None = None) -> dict[str, Any]:
    """Everything the report states, read from each domain's service (counts only)."""
    now = now or utcnow()
    overdue = cases.overdue_now(session, now=now)
    return {
        "consents": consent.statistics(session, p.since, p.until),
        "complaints": cases.statistics(session, p.since, p.until, kinds=COMPLAINT_KINDS, now=now),
        "requests": cases.statistics(session, p.since, p.until, kinds=REQUEST_KINDS, now=now),
        "overdue": {
            "count": len(overdue),
            "cases": [
                {"ref": c.ref, "kind": c.kind, "due": c.due_date.isoformat() if c.due_date else None}
                for c in overdue[:50]
            ],
        },
        "audit": _audit_figures(session, p),
        "training": _training_figures(session, now),
        "agents": _agent_figures(session, now),
        "bulk": bulk.statistics(session, p.since, p.until, now),
        "incidents": incidents.statistics(session, p.since, p.until),
        "refusals": audit.refusals_by_obligation(session, p.since, p.until),
        "access_reviews": access_reviews.statistics(session, p.since, p.until, now=now),
        "responsibilities": _responsibility_figures(session),
    }


def has_data(figures: dict[str, Any]) -> bool:
    """Whether the database held anything to measure (an empty one still gets a report saying so).
    Audit entries alone do not count: running the inspection writes some."""
    return bool(
        figures["consents"]["subjects"]
        or figures["consents"]["events"]
        or figures["complaints"]["total"]["received"]
        or figures["requests"]["total"]["received"]
        or figures["incidents"]["total"]
        or figures["bulk"]["total"]
        or figures["agents"]["firms"]
        or figures["training"]["staff"]
    )


# ---------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Gap:
    key: str
    obligations: tuple[str, ...]
    severity: str
    en: str
    zh: str
    detail: dict[str, Any]


_KIND_NAMES = {
    "pi_complaint": ("个人信息投诉", "personal-information complaints"),
    "sms_complaint": ("短信息投诉", "SMS complaints"),
    "sms_report_transfer": ("举报中心转来的举报", "reports transferred by the reporting centre"),
    "access": ("查询请求", "access requests"),
    "correction": ("更正请求", "correction requests"),
    "deletion": ("删除请求", "deletion requests"),
    "cancellation": ("注销请求", "account-cancellation requests"),
}


def gaps(matrix: MatrixOut, figures: dict[str, Any]) -> list[Gap]:
    """Each matrix row not built and each bad figure, as a finding to raise."""
    out: list[Gap] = []
    for row in matrix.rows:
        if row.status == "built":
            continue
        missing_en = "; ".join(p.en for p in row.missing) or "no capability defined"
        missing_zh = "；".join(p.zh for p in row.missing) or "未定义能力"
        status_zh = "部分落实" if row.status == "partial" else "尚未落实"
        out.append(
            Gap(
                f"matrix:{row.id}",
                (row.id,),
                "medium" if row.status == "partial" else "high",
                f"{row.id} {row.title_en}: {row.status}; missing: {missing_en}",
                f"{row.id} {row.title_zh}：{status_zh}；缺少：{missing_zh}",
                {"status": row.status, "missing": [p.key for p in row.missing]},
            )
        )
    for group in ("complaints", "requests"):
        for kind, counts in sorted(figures[group]["by_kind"].items()):
            zh_name, en_name = _KIND_NAMES.get(kind, (kind, kind))
            obligations = RULES[kind].obligations if kind in RULES else ()
            if counts.get("late"):
                n = counts["late"]
                out.append(
                    Gap(
                        f"cases:{kind}:late",
                        obligations,
                        "high",
                        f"{n} {en_name} answered after their statutory period",
                        f"{n} 件{zh_name}超过法定期限才答复",
                        {"late": n, "received": counts.get("received", 0)},
                    )
                )
            if counts.get("overdue"):
                n = counts["overdue"]
                out.append(
                    Gap(
                        f"cases:{kind}:overdue",
                        obligations,
                        "high",
                        f"{n} {en_name} open past their statutory period",
                        f"{n} 件{zh_name}已超过法定期限仍未答复",
                        {"overdue": n, "received": counts.get("received", 0)},
                    )
                )
    a = figures["audit"]
    if a["head_seq"]:
        if a["last_verified_at"] is None:
            out.append(
                Gap(
                    "audit:never_verified",
                    ("O24-13.6",),
                    "high",
                    "The audit chain has never been verified (`piguard audit verify`)",
                    "审计链从未校验（`piguard audit verify`）",
                    {},
                )
            )
        elif a["last_ok"] is False:
            out.append(
                Gap(
                    "audit:verify_failed",
                    ("O24-13.6",),
                    "high",
                    f"The last audit-chain verification failed ({a['problem']} at seq {a['first_bad_seq']})",
                    f"最近一次审计链校验未通过（{a['problem']}，序号 {a['first_bad_seq']}）",
                    {"problem": a["problem"], "first_bad_seq": a["first_bad_seq"]},
                )
            )
        elif not a["verified_in_period"]:
            out.append(
                Gap(
                    "audit:not_verified_in_period",
                    ("O24-13.6",),
                    "medium",
                    "The audit chain was not verified during the inspection period",
                    "自查期间未校验审计链",
                    {"last_verified_at": a["last_verified_at"]},
                )
            )
        if a["head_signature_ok"] is False:
            out.append(
                Gap(
                    "audit:head_signature",
                    ("O24-13.6",),
                    "high",
                    "The signed head of the audit chain does not check out",
                    "审计链签名头部校验失败",
                    {"head_seq": a["head_seq"]},
                )
            )
    r = figures["access_reviews"]
    if r["standing"] != "allow":
        codes = set(r["reasons"])
        if "access_review_never_run" in codes or "access_review_due" in codes:
            out.append(
                Gap(
                    "access_reviews:due",
                    ("O24-13.5",),
                    "high",
                    "No access review has been run, or the next one is past due (`piguard access-reviews open`)",
                    "未进行访问权限复核，或下一次复核已逾期（`piguard access-reviews open`）",
                    {"reasons": sorted(codes)},
                )
            )
        if r["overdue"]:
            out.append(
                Gap(
                    "access_reviews:unreviewed",
                    ("O24-13.5",),
                    "medium",
                    f"{r['overdue']} accesses are still unreviewed after their campaign's due date",
                    f"{r['overdue']} 项访问权限在复核截止日后仍未复核",
                    {"overdue": r["overdue"]},
                )
            )
    resp = figures["responsibilities"]
    if resp["gaps"]:
        out.append(
            Gap(
                "responsibilities:gaps",
                ("O24-13.1",),
                "high" if resp["by_kind"].get("pi_protection") else "medium",
                f"{resp['gaps']} systems, categories or roles have nobody in charge "
                f"({', '.join(f'{k} {n}' for k, n in sorted(resp['by_kind'].items()))})",
                f"{resp['gaps']} 个系统、类别或职责未登记负责人",
                dict(resp["by_kind"]),
            )
        )
    t = figures["training"]
    if t["staff"] and not t["required_courses"]:
        out.append(
            Gap(
                "training:no_courses",
                ("O24-15",),
                "high",
                "No required personal-information protection course is registered",
                "未登记必修的个人信息保护培训课程",
                {},
            )
        )
    elif t["staff"] and t["current"] < t["staff"]:
        n = t["staff"] - t["current"]
        out.append(
            Gap(
                "training:not_current",
                ("O24-15",),
                "medium",
                f"{n} of {t['staff']} active accounts lack current required training",
                f"{t['staff']} 个在用账号中有 {n} 个必修培训已过期或未完成",
                {"not_current": n, "staff": t["staff"], "lapsed": t["lapsed"], "missing": t["missing"]},
            )
        )
    g = figures["agents"]
    if g["expired_still_active"]:
        out.append(
            Gap(
                "agents:expired_active",
                ("O24-11",),
                "high",
                f"Agent firms whose contract ended are still marked active: {', '.join(g['expired_still_active'])}",
                f"合同已到期的代理机构仍为在用状态：{'、'.join(g['expired_still_active'])}",
                {"firms": g["expired_still_active"]},
            )
        )
    if g["never_assessed"]:
        out.append(
            Gap(
                "agents:never_assessed",
                ("O24-11",),
                "medium",
                f"Agent firms never assessed: {', '.join(g['never_assessed'])}",
                f"从未接受监督评估的代理机构：{'、'.join(g['never_assessed'])}",
                {"firms": g["never_assessed"]},
            )
        )
    if g["assessment_overdue"]:
        out.append(
            Gap(
                "agents:assessment_overdue",
                ("O24-11",),
                "medium",
                f"Agent firms whose next assessment is overdue: {', '.join(g['assessment_overdue'])}",
                f"监督评估已逾期的代理机构：{'、'.join(g['assessment_overdue'])}",
                {"firms": g["assessment_overdue"]},
            )
        )
    i = figures["incidents"]
    if i["serious_not_reported"]:
        n = i["serious_not_reported"]
        out.append(
            Gap(
                "incidents:serious_not_reported",
                ("O24-14.1", "CSL-42.2"),
                "high",
                f"{n} serious incident(s) not yet reported to the telecom authority",
                f"{n} 起重大事件尚未向电信管理机构报告",
                {"serious_not_reported": n},
            )
        )
    if i["not_assessed"]:
        n = i["not_assessed"]
        out.append(
            Gap(
                "incidents:not_assessed",
                ("O24-14.1",),
                "medium",
                f"{n} incident(s) without a severity assessment",
                f"{n} 起事件尚未评估严重程度",
                {"not_assessed": n},
            )
        )
    return out


def _owner(raw: object) -> str:
    return clean_text(raw, "owner", 128, required=True, bad=invalid_field)


def _due(raw: object) -> date:
    if isinstance(raw, datetime):
        return calendar.to_local_date(raw)
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise invalid_field("due_date", "an ISO date, e.g. 2027-03-31", "须为 ISO 日期，例如 2027-03-31")


def _who(actor: Actor) -> str:
    return f"{actor.type}:{actor.id}"[:128] if actor.id else actor.type


@carries("O24-16")
def inspect(
    session: Session,
    *,
    year: object = None,
    actor: Actor,
    now: datetime | None = None,
    matrix: MatrixOut | None = None,
) -> InspectionRun:
    """Run the self-inspection for ``year`` (default: this year, to date): measure, raise or refresh
    findings, and store the run with its report. An open finding of the same key is kept (its
    figures and last-seen run updated), never duplicated."""
    now = now or utcnow()
    p = period(year, now)
    matrix = matrix or build_matrix()
    figures = measure(session, p, now)
    settings = get_settings()
    run = InspectionRun(
        year=p.year,
        period_start=p.start,
        period_end=p.end,
        generated_at=now,
        generated_by=_who(actor),
        report={},
    )
    session.add(run)
    session.flush()
    found = gaps(matrix, figures)
    seen: list[int] = []
    opened = kept = 0
    for gap in found:
        existing = session.scalars(
            select(InspectionFinding)
            .where(InspectionFinding.key == gap.key)
            .order_by(InspectionFinding.id.desc())
            .limit(1)
        ).first()
        if existing is not None and existing.status == "open":
            existing.detail = gap.detail
            existing.title_en, existing.title_zh = gap.en, gap.zh
            existing.last_run_id = run.id
            existing.last_seen_at = now
            seen.append(existing.id)
            kept += 1
            continue
        finding = InspectionFinding(
            key=gap.key,
            status="open",
            severity=gap.severity,
            obligations=list(gap.obligations),
            title_en=gap.en,
            title_zh=gap.zh,
            detail=gap.detail,
            owner=settings.owner,
            due_date=calendar.to_local_date(now) + timedelta(days=settings.finding_days),
            first_run_id=run.id,
            last_run_id=run.id,
            opened_at=now,
            last_seen_at=now,
            recurs=existing.id if existing is not None else None,
        )
        session.add(finding)
        session.flush()
        seen.append(finding.id)
        opened += 1
    run.report = {
        "period": p.to_dict(),
        "matrix_counts": matrix.counts.model_dump(),
        "matrix": [
            {
                "id": r.id,
                "title": {"zh": r.title_zh, "en": r.title_en},
                "status": r.status,
                "missing": [{"key": m.key, "zh": m.zh, "en": m.en} for m in r.missing],
            }
            for r in matrix.rows
        ],
        "figures": figures,
        "has_data": has_data(figures),
        "findings_seen": seen,
        "findings_opened": opened,
        "findings_kept": kept,
    }
    session.flush()
    record(
        session,
        action="oversight.inspection.run",
        actor=actor,
        subject_ref=f"inspection:{run.id}",
        obligations=OBLIGATIONS,
        detail={"run": run.id, "year": p.year, "findings": len(seen), "opened": opened, "kept": kept},
    )
    return run


def yearly_due(session: Session, now: datetime | None = None) -> int | None:
    """The year the scheduled job should inspect now, or None: last year, once it has ended, when
    no run covers it to its last day (O24-16: at least once a year)."""
    now = now or utcnow()
    year = calendar.to_local_date(now).year - 1
    if year < FIRST_YEAR:
        return None
    run = latest_run(session, year)
    if run is not None and run.period_end >= date(year, 12, 31):
        return None
    return year


@carries("O24-16")
def inspect_when_due(session: Session, *, now: datetime | None = None) -> InspectionRun | None:
    """The worker's yearly self-inspection: last year's full report, once, early in the new year."""
    year = yearly_due(session, now)
    if year is None:
        return None
    return inspect(session, year=year, actor=Actor.system("worker.inspection"), now=now)


def unknown_run(ref: object) -> PiguardError:
    return not_found("Self-inspection run", "自查记录", str(ref)[:32])


def get_run(session: Session, run_id: object) -> InspectionRun:
    rid = as_row_id(run_id)
    row = session.get(InspectionRun, rid) if rid is not None else None
    if row is None:
        raise unknown_run(run_id)
    return row


def latest_run(session: Session, year: object = None) -> InspectionRun | None:
    """The newest run (of ``year`` when given; a year in the future is an error)."""
    q = select(InspectionRun)
    if year is not None:
        q = q.where(InspectionRun.year == period(year).year)
    return session.scalars(q.order_by(InspectionRun.id.desc()).limit(1)).first()


def list_runs(session: Session, *, limit: int = 50) -> list[InspectionRun]:
    return list(session.scalars(select(InspectionRun).order_by(InspectionRun.id.desc()).limit(limit)))


def get_finding(session: Session, finding_id: object) -> InspectionFinding:
    fid = as_row_id(finding_id)
    row = session.get(InspectionFinding, fid) if fid is not None else None
    if row is None:
        raise PiguardError(
            "finding_unknown",
            f"Self-inspection finding {str(finding_id)[:32]!r} does not exist; nothing was changed.",
            f"自查问题 {str(finding_id)[:32]!r} 不存在，未作任何修改。",
            obligations=("O24-16",),
            http_status=404,
            exit_code=2,
        )
    return row


def list_findings(
    session: Session, *, status: str | None = None, run: InspectionRun | None = None
) -> list[InspectionFinding]:
    q = select(InspectionFinding)
    if status is not None:
        if status not in FINDING_STATUSES:
            raise validation_error(
                [FieldError("status", f"one of {', '.join(FINDING_STATUSES)} / 须为 open 或 closed")],
                "Unknown finding status.",
                "未知的问题状态。",
            )
        q = q.where(InspectionFinding.status == status)
    if run is not None:
        ids = list((run.report or {}).get("findings_seen", []))
        q = q.where(InspectionFinding.id.in_(ids or [-1]))
    return list(session.scalars(q.order_by(InspectionFinding.id)))


@carries("O24-16")
def close_finding(
    session: Session, finding_id: object, *, evidence: object, note: object = "", actor: Actor
) -> InspectionFinding:
    """Close an open finding: ``evidence`` (what shows the risk was removed) is required; a finding
    closes once. Nothing changes on an error."""
    finding = get_finding(session, finding_id)
    if finding.status == "closed":
        raise PiguardError(
            "finding_closed",
            f"Finding {finding.id} was already closed on {calendar.to_local_date(finding.closed_at).isoformat() if finding.closed_at else '?'}; "
            "nothing was changed.",
            f"问题 {finding.id} 已于 {calendar.to_local_date(finding.closed_at).isoformat() if finding.closed_at else '?'} 关闭，未作任何修改。",
            obligations=("O24-16",),
            http_status=409,
        )
    text = clean_text(evidence, "evidence", 2000, required=False, bad=invalid_field)
    if not text:
        raise PiguardError(
            "finding_evidence_required",
            "Closing a finding needs evidence text: what shows the risk was removed (a change, a "
            "record, a document reference).",
            "关闭问题须填写证据：说明风险已消除的依据（整改内容、记录或文件编号）。",
            obligations=("O24-16",),
            fields=[FieldError("evidence", "required / 必填")],
            http_status=422,
            exit_code=2,
        )
    finding.close_note = clean_text(note, "note", 2000, required=False, bad=invalid_field) or None
    finding.close_evidence = text
    finding.status = "closed"
    finding.closed_at = utcnow()
    finding.closed_by = _who(actor)
    session.flush()
    record(
        session,
        action="oversight.finding.closed",
        actor=actor,
        subject_ref=f"finding:{finding.id}",
        obligations=OBLIGATIONS,
        detail={"finding": finding.id, "key": finding.key},
    )
    return finding


@carries("O24-16")
def update_finding(
    session: Session,
    finding_id: object,
    *,
    owner: object = None,
    due_date: object = None,
    severity: object = None,
    actor: Actor,
) -> InspectionFinding:
    """Name a finding's owner, move its due date or change its severity (open findings only)."""
    finding = get_finding(session, finding_id)
    if finding.status == "closed":
        raise PiguardError(
            "finding_closed",
            f"Finding {finding.id} is closed; it can no longer be changed.",
            f"问题 {finding.id} 已关闭，不能再修改。",
            obligations=("O24-16",),
            http_status=409,
        )
    changed: dict[str, Any] = {}
    if owner is not None:
        finding.owner = _owner(owner)
        changed["owner"] = True
    if due_date is not None:
        finding.due_date = _due(due_date)
        changed["due_date"] = finding.due_date.isoformat()
    if severity is not None:
        if severity not in SEVERITIES:
            raise invalid_field(
                "severity", f"one of {', '.join(SEVERITIES)}", f"须为 {'、'.join(SEVERITIES)} 之一"
            )
        finding.severity = str(severity)
        changed["severity"] = finding.severity
    if not changed:
        raise validation_error(
            [FieldError("body", "nothing to change")], "Nothing to change.", "没有要修改的内容。"
        )
    session.flush()
    record(
        session,
        action="oversight.finding.updated",
        actor=actor,
        subject_ref=f"finding:{finding.id}",
        obligations=OBLIGATIONS,
        detail={"finding": finding.id, **changed},
    )
    return finding


def finding_dict(f: InspectionFinding, today: date | None = None) -> dict[str, Any]:
    today = today or calendar.to_local_date(utcnow())
    return {
        "id": f.id,
        "key": f.key,
        "status": f.status,
        "severity": f.severity,
        "obligations": list(f.obligations or []),
        "title": {"zh": f.title_zh, "en": f.title_en},
        "detail": dict(f.detail or {}),
        "owner": f.owner,
        "due_date": f.due_date.isoformat(),
        "overdue": f.status == "open" and f.due_date < today,
        "opened_at": f.opened_at.isoformat(),
        "last_seen_at": f.last_seen_at.isoformat(),
        "first_run": f.first_run_id,
        "last_run": f.last_run_id,
        "recurs": f.recurs,
        "closed_at": f.closed_at.isoformat() if f.closed_at else None,
        "closed_by": f.closed_by,
        "close_note": f.close_note,
        "close_evidence": f.close_evidence,
    }


def report(session: Session, run: InspectionRun) -> dict[str, Any]:
    """The run's report with its findings as they stand now (the JSON of the API, CLI and bundle)."""
    body = dict(run.report or {})
    seen = set(body.get("findings_seen", []))
    # the run's findings, then those still open that it no longer found (the gap is gone: close
    # them with the evidence)
    findings = [{**finding_dict(f), "seen": True} for f in list_findings(session, run=run)]
    findings += [
        {**finding_dict(f), "seen": False}
        for f in list_findings(session, status="open")
        if f.id not in seen and f.first_run_id <= run.id
    ]
    rows = []
    for row in body.get("matrix", []):
        measures = [k for k, ids in MEASURE_OBLIGATIONS.items() if row["id"] in ids]
        rows.append(
            {
                **row,
                "measures": measures,
                "findings": [f["id"] for f in findings if row["id"] in f["obligations"]],
            }
        )
    return {
        "run": run.id,
        "year": run.year,
        "period": body.get("period"),
        "generated_at": run.generated_at.isoformat(),
        "generated_by": run.generated_by,
        "has_data": body.get("has_data", False),
        "matrix_counts": body.get("matrix_counts"),
        "obligations": rows,
        "figures": body.get("figures", {}),
        "findings": findings,
        "findings_open": sum(1 for f in findings if f["status"] == "open"),
        "findings_opened": body.get("findings_opened", 0),
        "findings_kept": body.get("findings_kept", 0),
    }
