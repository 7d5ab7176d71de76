"""The report to the competent authority of what the gateway stopped as prohibited content (CSL-47).

Cybersecurity Law Art. 47: a network operator that finds information whose publication or
transmission is prohibited stops transmitting it at once, takes measures such as deletion to keep it
from spreading, keeps the records and reports to the competent authority. The gateway's content
review does the first three at submit (``messaging.gateway.decision.step_review``: the message is
refused, never queued, and its record with the reasons stays in ``msg_records`` for
``sms_records.retention_months``, O31-11, O31-16). This module does the fourth for a period of China
dates, without any complaint (a complained message has its own report: ``complaints.draft_report``,
O31-28):

* :func:`stopped_messages` reads the refusals whose reasons hold ``prohibited_content`` through the
  messaging façade and groups them per content provider and per prohibited category (re-derived by
  the gateway's own review, in the content provider's review context, from the stored content): the
  count, the first and last time, the port ids and the SHA-256 digests of the content. Never the
  text, never a number.
* :func:`prohibited_content_draft_report` renders the report (zh, with an English summary, from the
  ``content_report.*.md.j2`` templates beside the incident report's) and keeps it as a case of kind
  ``content_report`` (one per period; drafting the same period again adds a new version to the
  timeline; a period already sent, i.e. closed, gets a supplementary report), audited.

Service functions take a session and do not commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.cases import complaints, service
from piguard.cases.incidents import _environment, _local, _operator
from piguard.cases.models import DONE_STATUSES, Case
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError
from piguard.core.logging import redact
from piguard.core.reasons import Reason
from piguard.messaging import service as messaging
from piguard.messaging.records.service import months_before
from piguard.messaging.review import category_label, review
from piguard.regulations.markers import carries
from piguard.regulations.parameters import parameter, value

KIND = "content_report"
#: The obligations the report answers to: report what was stopped (CSL-47), the content filter whose
#: refusals it reports (O31-16).
OBLIGATIONS = ("CSL-47", "O31-16")
#: The reason code the gateway's refusal carries (``messaging.reasons``).
PROHIBITED = "prohibited_content"
#: Not regulatory numbers: how many records are read per query, and how many distinct digests a
#: group lists in the report (the count of distinct digests is always given in full).
_PAGE = 1000
_DIGESTS_SHOWN = 50
UNCLASSIFIED = "unclassified"
_UNCLASSIFIED_LABELS = ("未能按现行规则重新认定类别", "category not re-derivable under the current rules")
LANGS = ("zh", "en")


def _period_error(field_name: str, en: str, zh: str) -> PiguardError:
    return PiguardError(
        "invalid_report_period",
        f"Invalid report period: {en}.",
        f"报告期间无效：{zh}。",
        obligations=OBLIGATIONS,
        fields=[FieldError(field_name, f"{en} / {zh}")],
        http_status=422,
    )


@dataclass(frozen=True, slots=True)
class Period:
    """China dates ``first`` to ``last`` inclusive: ``[since, until)`` in UTC."""

    first: date
    last: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=calendar.SHANGHAI).astimezone(UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=calendar.SHANGHAI).astimezone(
            UTC
        )

    def key(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}

    def label_zh(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    def label_en(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} to {self.last.isoformat()}"


def _day(raw: object, field_name: str) -> date:
    if isinstance(raw, datetime):
        raise _period_error(
            field_name, "a China date YYYY-MM-DD, not a time", "须为日期 YYYY-MM-DD，而非时间"
        )
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
        except ValueError:
            pass
    raise _period_error(
        field_name,
        f"{field_name} must be a China date YYYY-MM-DD, e.g. 2026-12-01",
        f"{field_name} 须为北京时间日期 YYYY-MM-DD，例如 2026-12-01",
    )


@carries("CSL-47")
def period(first: object = None, last: object = None, *, now: datetime | None = None) -> Period:
    """The period from ``first`` to ``last`` (China dates, inclusive). Neither: yesterday in China;
    only ``first``: that one day. ``first`` after ``last``, or a period that has not begun: a clear
    error in both languages."""
    now = now or utcnow()
    today = calendar.to_local_date(now)
    if first in (None, "") and last in (None, ""):
        day = today - timedelta(days=1)
        return Period(day, day)
    if first in (None, ""):
        raise _period_error("from", "give the first day (--from)", "须给出起始日期（--from）")
    start = _day(first, "from")
    end = start if last in (None, "") else _day(last, "to")
    if start > end:
        raise _period_error(
            "to",
            f"the period ends ({end.isoformat()}) before it begins ({start.isoformat()})",
            f"结束日期（{end.isoformat()}）早于起始日期（{start.isoformat()}）",
        )
    if start > today:
        raise _period_error(
            "from",
            f"{start.isoformat()} is after today in China ({today.isoformat()}): nothing to report yet",
            f"{start.isoformat()} 晚于北京时间今天（{today.isoformat()}），尚无可报告的内容",
        )
    if end > today:
        raise _period_error(
            "to",
            f"{end.isoformat()} is after today in China ({today.isoformat()}); end the period today at the latest",
            f"{end.isoformat()} 晚于北京时间今天（{today.isoformat()}）；结束日期最晚为今天",
        )
    return Period(start, end)


# -- what the gateway stopped -------------------------------------------------------------------


@dataclass(slots=True)
class Group:
    """The messages of one content provider stopped for one prohibited category."""

    category: str
    label_zh: str
    label_en: str
    obligations: list[str]
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    ports: set[int] = field(default_factory=set)
    digests: Counter[str] = field(default_factory=Counter)

    def add(self, at: datetime, port_id: int | None, digest: str) -> None:
        self.count += 1
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last
        if port_id is not None:
            self.ports.add(port_id)
        self.digests[digest] += 1

    def to_dict(self, port_codes: dict[int, str]) -> dict[str, Any]:
        shown = self.digests.most_common(_DIGESTS_SHOWN)
        return {
            "category": self.category,
            "label": {"zh": self.label_zh, "en": self.label_en},
            "obligations": self.obligations,
            "count": self.count,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "first_local": _local(self.first),
            "last_local": _local(self.last),
            "ports": [{"id": p, "code": port_codes.get(p)} for p in sorted(self.ports)],
            "distinct_contents": len(self.digests),
            "digests": [{"sha256": d, "count": n} for d, n in shown],
            "digests_not_shown": max(0, len(self.digests) - len(shown)),
        }


def _records(session: Session, p: Period) -> list[Any]:
    """The outbound refusals of the period whose reasons hold prohibited content (every page)."""
    seen: set[int] = set()
    out: list[Any] = []
    offset = 0
    while True:
        page = messaging.records_search(
            session,
            messaging.RecordQuery(
                direction="out",
                outcome="refuse",
                reason_code=PROHIBITED,
                since=p.since,
                until=p.until,
                limit=_PAGE,
                offset=offset,
            ),
        )
        for rec in page:
            if rec.id not in seen:
                seen.add(rec.id)
                out.append(rec)
        if len(page) < _PAGE:
            return out
        offset += _PAGE


def _measures(session: Session, cp_id: int, snap: Any, p: Period) -> dict[str, Any]:
    """What was done beyond the stop at the gateway: the content provider's suspension switch, now and
    as switched since the period began (from the suspension history)."""
    cp = snap.cps.get(cp_id)
    history = [
        {
            "action": s.action,
            "at": s.at.isoformat(),
            "at_local": _local(s.at),
            "obligations": list(s.obligations or []),
            "reason": redact(s.reason or "")[:200],
        }
        for s in reversed(messaging.list_suspensions(session, limit=1000))
        if s.target_type == "content_provider" and s.target_id == cp_id and s.at >= p.since
    ]
    return {
        "stopped_at_gateway": True,
        "suspended_now": bool(cp and cp.suspended),
        "suspended_obligations": list(cp.suspended_obligations) if cp and cp.suspended else [],
        "suspensions": history,
    }


def _decided_categories(rec: Any) -> list[tuple[str, str, str, list[str]]] | None:
    """The prohibited categories the gateway recorded when it stopped the message (CSL-47: the
    report says what was decided then, not what today's rules would say), or None for an older row."""
    out = []
    for r in rec.reasons or ():
        if r.get("code") == PROHIBITED and "category" in r:
            cat = str(r["category"])
            label = category_label(cat)
            zh, en = (label[0], label[1]) if label is not None else (cat, cat)
            out.append((cat, zh, en, [str(o) for o in r.get("obligations") or OBLIGATIONS]))
    return out or None


@carries("CSL-47", "O31-16")
def stopped_messages(session: Session, p: Period) -> dict[str, Any]:
    """What the gateway refused as prohibited in the period, per content provider and per category
    (counts, times, port ids, content digests and the measures taken; no text, no number)."""
    snap = messaging.snapshot(session)
    per_cp: dict[int, dict[str, Group]] = {}
    messages = 0
    per_cp_messages: Counter[int] = Counter()
    reviewed: dict[tuple[str, int | None], list[tuple[str, str, str, list[str]]]] = {}
    for rec in _records(session, p):
        content = complaints.stored_content(rec)
        digest = complaints.content_hash(content)
        key = (digest, rec.port_id)
        cats = _decided_categories(rec) or reviewed.get(key)
        if cats is None:  # a row written before the category was stored: reviewed again
            port = snap.ports.get(rec.port_id) if rec.port_id is not None else None
            ctx = snap.port_context(port, None) if port is not None and port.cp_id in snap.cps else None
            found = complaints.prohibited_findings(review(content, ctx))
            cats = [
                (
                    str(f.detail.get("category")),
                    complaints.category_label(f, "zh"),
                    complaints.category_label(f, "en"),
                    list(f.articles),
                )
                for f in found
            ] or [(UNCLASSIFIED, *_UNCLASSIFIED_LABELS, list(OBLIGATIONS))]
            reviewed[key] = cats
        messages += 1
        per_cp_messages[rec.content_provider_id or 0] += 1
        groups = per_cp.setdefault(rec.content_provider_id or 0, {})
        for cat, zh, en, obligations in cats:
            g = groups.get(cat)
            if g is None:
                g = groups[cat] = Group(cat, zh, en, obligations)
            g.add(rec.at, rec.port_id, digest)
    port_codes = {pid: pv.code for pid, pv in snap.ports.items()}
    providers = []
    for cp_id in sorted(per_cp):
        cp = snap.cps.get(cp_id)
        ordered = sorted(per_cp[cp_id].values(), key=lambda g: (-g.count, g.category))
        providers.append(
            {
                "content_provider_id": cp_id or None,
                "code": cp.code if cp else None,
                "name": cp.name if cp else None,
                "messages": per_cp_messages[cp_id],
                "categories": [g.to_dict(port_codes) for g in ordered],
                "measures": _measures(session, cp_id, snap, p),
            }
        )
    return {"messages": messages, "providers": providers}


# -- the report ---------------------------------------------------------------------------------


def _retention(p: Period, now: datetime) -> dict[str, Any]:
    months = value("sms_records.retention_months", on=now)
    ref = parameter("sms_records.retention_months").reference
    floor = months_before(now, months)
    return {
        "parameter": "sms_records.retention_months",
        "months": months,
        "article": {"zh": ref.article_zh, "en": ref.article_en},
        #: the records of the period's last day are kept at least until this China date
        "kept_until": calendar.to_local_date(months_before(p.until, -months)).isoformat(),
        #: part of the period already past retention: its records may have been purged
        "partly_purged": p.since < floor,
        "fully_purged": p.until <= floor,
        "oldest_kept": _local(floor),
    }


def _context(
    session: Session,
    p: Period,
    found: dict[str, Any],
    now: datetime,
    lang: str,
    case: Case | None,
    version: int,
) -> dict[str, Any]:
    zh = lang == "zh"
    return {
        "lang": lang,
        "ref": case.ref if case is not None else "",
        "version": version,
        "supplements": (case.detail or {}).get("supplements") if case is not None else None,
        "period": p.label_zh() if zh else p.label_en(),
        "partial": p.until > now,
        "generated": _local(now),
        "operator": _operator(session),
        "messages": found["messages"],
        "providers": found["providers"],
        "retention": _retention(p, now),
        "obligations": list(OBLIGATIONS),
    }


def render(
    session: Session,
    p: Period,
    found: dict[str, Any],
    *,
    now: datetime,
    case: Case | None = None,
    version: int = 1,
    template_dir: Path | None = None,
) -> dict[str, str]:
    """The report text in zh and en from the templates (``PIGUARD_INCIDENT_TEMPLATES_DIR`` may hold
    ``content_report.zh.md.j2`` / ``content_report.en.md.j2`` replacing the packaged ones)."""
    env = _environment(template_dir)
    texts: dict[str, str] = {}
    for lang in LANGS:
        name = f"content_report.{lang}.md.j2"
        try:
            texts[lang] = env.get_template(name).render(
                **_context(session, p, found, now, lang, case, version)
            )
        except jinja2.TemplateError as exc:
            raise PiguardError(
                "content_report_template_error",
                f"The report template {name} cannot be rendered: {type(exc).__name__}: {exc}",
                f"报告模板 {name} 无法生成：{type(exc).__name__}: {exc}",
                obligations=OBLIGATIONS,
                http_status=422,
            ) from None
    return texts


def find(session: Session, p: Period) -> Case | None:
    """The latest report case of the period (None when it was never drafted)."""
    rows = session.scalars(select(Case).where(Case.kind == KIND).order_by(Case.id.desc()))
    return next((c for c in rows if (c.detail or {}).get("period") == p.key()), None)


def latest(session: Session, *, limit: int = 50) -> list[Case]:
    """The report cases, newest first."""
    q = select(Case).where(Case.kind == KIND).order_by(Case.id.desc()).limit(max(1, min(limit, 1000)))
    return list(session.scalars(q))


def _reason(p: Period, found: dict[str, Any]) -> Reason:
    n = found["messages"]
    cps = len(found["providers"])
    if n:
        en = f"{n} message(s) of {cps} content provider(s) stopped as prohibited in {p.label_en()}: report drafted."
        zh = f"{p.label_zh()} 网关拦截含违法信息的短信息 {n} 条（涉及内容提供者 {cps} 个），已起草报告。"
    else:
        en = f"Nothing was stopped as prohibited in {p.label_en()}: report drafted saying so."
        zh = f"{p.label_zh()} 网关未拦截含违法信息的短信息，已起草报告如实说明。"
    return Reason(
        "content_report_drafted", OBLIGATIONS, en, zh, {**p.key(), "messages": n, "content_providers": cps}
    )


def _summary(found: dict[str, Any]) -> dict[str, Any]:
    by_category: Counter[str] = Counter()
    for cp in found["providers"]:
        for c in cp["categories"]:
            by_category[c["category"]] += c["count"]
    return {
        "messages": found["messages"],
        "content_providers": len(found["providers"]),
        "by_category": dict(sorted(by_category.items())),
    }


@carries("CSL-47", "O31-16")
def prohibited_content_draft_report(
    session: Session,
    *,
    first: object = None,
    last: object = None,
    actor: Actor,
    now: datetime | None = None,
    template_dir: Path | None = None,
) -> Case:
    """Draft the report of what the gateway stopped as prohibited in the period (see the module) and
    keep it on a ``content_report`` case: opened the first time, a new ``report`` event (audited)
    each time it is drafted again; once the case is closed (sent), a supplementary report opens a new
    case naming the one before. Bad input raises before anything is written."""
    now = now or utcnow()
    p = period(first, last, now=now)
    found = stopped_messages(session, p)
    why = _reason(p, found)
    case = find(session, p)
    before: Case | None = None
    if case is not None and case.status in DONE_STATUSES:
        before, case = case, None
    if case is None:
        title = f"违法信息拦截报告 {p.label_zh()}" + ("（补充）" if before is not None else "")
        case = service.open_case(
            session,
            kind=KIND,
            received=now,
            actor=actor,
            title=title,
            text=f"CSL-47 report of what the gateway stopped as prohibited content, {p.label_en()}.",
            source="system",
            detail={"period": p.key(), **({"supplements": before.ref} if before is not None else {})},
            now=now,
            extra_reasons=[why],
        )
    version = int((case.detail or {}).get("version", 0)) + 1
    texts = render(session, p, found, now=now, case=case, version=version, template_dir=template_dir)
    summary = _summary(found)
    case.detail = {
        **(case.detail or {}),
        "period": p.key(),
        "version": version,
        "report": texts["zh"],
        "report_en": texts["en"],
        "summary": summary,
        "providers": found["providers"],
        "generated_at": now.isoformat(),
        "partial": p.until > now,
    }
    service.add_event(
        session,
        case,
        "report",
        actor,
        summary=f"report to the authority drafted (version {version}): {summary['messages']} message(s) stopped",
        reasons=[why],
        detail={"version": version, **summary, "lengths": {k: len(v) for k, v in texts.items()}},
        at=now,
    )
    return case


def report_dict(case: Case, *, now: datetime | None = None) -> dict[str, Any]:
    """A report case as the API and ``--format json`` give it: the case, the period, the figures per
    content provider and category, and the report in zh and en."""
    d = dict(case.detail or {})
    return {
        "case": service.to_dict(case, now),
        "period": d.get("period"),
        "version": d.get("version"),
        "generated_at": d.get("generated_at"),
        "partial": d.get("partial", False),
        "obligations": list(OBLIGATIONS),
        "summary": d.get("summary"),
        "providers": d.get("providers", []),
        "supplements": d.get("supplements"),
        "report": {"zh": d.get("report"), "en": d.get("report_en")},
    }


__all__ = [
    "KIND",
    "OBLIGATIONS",
    "Period",
    "find",
    "latest",
    "period",
    "prohibited_content_draft_report",
    "render",
    "report_dict",
    "stopped_messages",
]
