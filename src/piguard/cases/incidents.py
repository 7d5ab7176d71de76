"""Incidents: a leak, damage or loss of users' personal information, or the risk of one (section E).

An incident is a case (``cases.kind = 'incident'``) with its own detail (:mod:`incident_models`):

* remedy at once (O24-14.1, CSL-42.2, NPC-4): remedial actions with an owner, done or not, on the
  case's timeline; the time the incident was contained;
* what was affected: systems and categories from the inventory, people (keyed hash and masked form
  only), and discovery scans of what leaked (categories and counts, never the values found);
* severity: the dated parameters ``incident.serious_people_affected`` and
  ``incident.serious_people_affected_sensitive`` decide "serious" (O24-14.1: report without delay);
* the report to the telecom authority, generated from a Jinja template the operator can override
  (``PIGUARD_INCIDENT_TEMPLATES_DIR``), in Chinese and English, stored on the case;
* notices to the people affected through the gateway (CSL-42.2), sent as service notices (message
  kind ``notification``: the commercial-consent step does not apply to them), each recorded with
  the gateway's result, failures included;
* a suspension the authority orders (O24-14.2): the gateway's suspension switch of content
  providers and ports and the consent ledger's processing suspension, recorded with the order and
  lifted when the authority lifts it.

Service functions take a session and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.cases import service as cases
from piguard.cases.incident_models import (
    INCIDENT_KINDS,
    Incident,
    IncidentAction,
    IncidentNotice,
    IncidentOrder,
    IncidentPerson,
    IncidentScan,
)
from piguard.cases.models import Case
from piguard.consent import subjects
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, not_found, validation_error
from piguard.core.reasons import Reason
from piguard.core.refs import as_row_id
from piguard.core.text import clean_text
from piguard.discovery.categories import BY_CODE, CODES
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries
from piguard.regulations.parameters import parameter, value

#: The obligations of an incident: remedy at once, report serious ones without delay, notify users.
INCIDENT_OBLIGATIONS = ("O24-14.1", "CSL-42.2", "NPC-4")
REPORT_OBLIGATIONS = ("O24-14.1", "CSL-42.2")
SUSPENSION_OBLIGATION = "O24-14.2"
PEOPLE_PARAMETER = "incident.serious_people_affected"
SENSITIVE_PARAMETER = "incident.serious_people_affected_sensitive"
#: categories whose count in a scan estimates the number of people (one identifier per person)
IDENTIFYING = ("phone_mobile", "id_card", "passport", "email", "account", "bank_card")
LANGS = ("zh", "en")
KIND_LABELS = {
    "leak": ("泄露", "leak"),
    "damage": ("毁损", "damage"),
    "loss": ("丢失", "loss"),
    "risk": ("可能发生泄露、毁损或丢失", "risk of a leak, damage or loss"),
}
_TEXT_MAX = 20_000
_SCAN_MAX_BYTES = 200 * 1024 * 1024  # not a regulatory number: what one attached file may weigh
_NOTICE_MAX = 5000  # recipients per notify call; not a regulatory number


class IncidentSettings(BaseSettings):
    """``PIGUARD_INCIDENT_TEMPLATES_DIR``: a folder whose ``incident_report.zh.md.j2``,
    ``incident_report.en.md.j2`` or ``incident_notice.zh.txt.j2`` replace the packaged ones."""

    model_config = SettingsConfigDict(env_prefix="PIGUARD_INCIDENT_", extra="ignore")
    templates_dir: Path | None = None


def _bad(field_name: str, en: str, zh: str, obligations: Sequence[str] = ()) -> PiguardError:
    err = validation_error(
        [FieldError(field_name, f"{en} / {zh}")], f"Invalid incident: {en}", f"事件信息无效：{zh}"
    )
    err.obligations = tuple(obligations)
    return err


def _text(v: object, field_name: str, limit: int, *, required: bool = False) -> str:
    return clean_text(v, field_name, limit, required=required, bad=_bad)


# -- reading ------------------------------------------------------------------------------------


def get(session: Session, key: int | str) -> tuple[Case, Incident]:
    """The incident case by id or reference (a case of another kind is not an incident)."""
    try:
        case = cases.get(session, key)
    except PiguardError:
        raise not_found("Incident", "事件", str(key)) from None
    inc = session.get(Incident, case.id)
    if case.kind != "incident" or inc is None:
        raise not_found("Incident", "事件", str(key))
    return case, inc


def people(session: Session, case: Case) -> list[IncidentPerson]:
    return list(
        session.scalars(
            select(IncidentPerson).where(IncidentPerson.case_id == case.id).order_by(IncidentPerson.id)
        )
    )


def scans(session: Session, case: Case) -> list[IncidentScan]:
    return list(
        session.scalars(select(IncidentScan).where(IncidentScan.case_id == case.id).order_by(IncidentScan.id))
    )


def actions(session: Session, case: Case) -> list[IncidentAction]:
    return list(
        session.scalars(
            select(IncidentAction).where(IncidentAction.case_id == case.id).order_by(IncidentAction.id)
        )
    )


def notices(session: Session, case: Case) -> list[IncidentNotice]:
    return list(
        session.scalars(
            select(IncidentNotice).where(IncidentNotice.case_id == case.id).order_by(IncidentNotice.id)
        )
    )


def orders(session: Session, case: Case) -> list[IncidentOrder]:
    return list(
        session.scalars(
            select(IncidentOrder).where(IncidentOrder.case_id == case.id).order_by(IncidentOrder.id)
        )
    )


def queue(session: Session, *, include_done: bool = False) -> list[tuple[Case, Incident]]:
    """Incidents, open ones first, the most recently discovered first."""
    q = select(Case, Incident).join(Incident, Incident.case_id == Case.id)
    if not include_done:
        q = q.where(Case.status.in_(("open", "in_progress", "waiting")))
    return [(c, i) for c, i in session.execute(q.order_by(Incident.discovered_at.desc(), Case.id.desc()))]


# -- the inventory ------------------------------------------------------------------------------


def _inventory_systems(session: Session) -> dict[str, Any]:
    from piguard.inventory.models import InvSystem

    return {s.id: s for s in session.scalars(select(InvSystem))}


def _check_systems(session: Session, systems: Iterable[str]) -> list[str]:
    wanted = [s.strip() for s in systems if isinstance(s, str) and s.strip()]
    if not wanted:
        return []
    known = _inventory_systems(session)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none: import an inventory first / 尚无清单，请先导入"
        raise validation_error(
            [FieldError("systems", f"unknown system {s!r}; known: {listed}") for s in unknown],
            f"Unknown system(s) {', '.join(unknown)}: affected systems come from the inventory.",
            f"未知系统 {'、'.join(unknown)}：受影响系统须为个人信息清单中的系统。",
        )
    return list(dict.fromkeys(wanted))


def _check_categories(categories: Iterable[str]) -> list[str]:
    wanted = [c.strip() for c in categories if isinstance(c, str) and c.strip()]
    unknown = [c for c in wanted if c not in CODES]
    if unknown:
        raise validation_error(
            [FieldError("categories", f"unknown category {c!r}; known: {', '.join(CODES)}") for c in unknown],
            f"Unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}.",
            f"未知的个人信息类别 {'、'.join(unknown)}。",
        )
    return list(dict.fromkeys(wanted))


def categories_of_systems(session: Session, systems: Iterable[str]) -> list[str]:
    """Every category the inventory declares in these systems' fields."""
    known = _inventory_systems(session)
    found: dict[str, None] = {}
    for sid in systems:
        s = known.get(sid)
        if s is None:
            continue
        for t in s.tables:
            for f in t.fields:
                for c in f.categories:
                    found.setdefault(c, None)
    return [c for c in CODES if c in found]


def _people_count(v: object) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _bad("people", "a whole number of people, 0 or more", "须为不小于 0 的整数")
    return v


# -- opening ------------------------------------------------------------------------------------


@carries("O24-14.1", "CSL-42.2", "NPC-4", "O24-13.2")
def open_incident(
    session: Session,
    *,
    kind: str,
    discovered: object,
    actor: Actor,
    occurred: object = None,
    contained: object = None,
    systems: Iterable[str] = (),
    categories: Iterable[str] = (),
    people: int | None = None,
    title: str = "",
    text: str = "",
    authority: str = "",
    contact: dict[str, Any] | None = None,
    owner: str | None = None,
    source: str = "staff",
    now: datetime | None = None,
) -> Case:
    """Open an incident case. Systems must be the inventory's, categories the discovery vocabulary;
    without categories the systems' declared categories are taken. Bad input raises before
    anything is written."""
    now = now or utcnow()
    if kind not in INCIDENT_KINDS:
        raise _bad("kind", f"one of {', '.join(INCIDENT_KINDS)}", f"须为 {'、'.join(INCIDENT_KINDS)} 之一")
    found = cases.instant(discovered, "discovered")
    happened = cases.instant(occurred, "occurred") if occurred not in (None, "") else None
    stopped = cases.instant(contained, "contained") if contained not in (None, "") else None
    if happened is not None and happened > found:
        raise _bad("occurred", "later than its discovery", "晚于发现时间")
    if stopped is not None and happened is not None and stopped < happened:
        raise _bad("contained", "earlier than it occurred", "早于发生时间")
    sys_ids = _check_systems(session, systems)
    cats = _check_categories(categories) or categories_of_systems(session, sys_ids)
    count = _people_count(people)
    body = _text(text, "text", _TEXT_MAX)
    heading = _text(title, "title", 200) or f"{KIND_LABELS[kind][0]} / {KIND_LABELS[kind][1]}"
    who_to_call = _contact(contact)
    case = cases.open_case(
        session,
        kind="incident",
        received=found,
        actor=actor,
        text=body,
        title=heading,
        source=source,
        owner=owner,
        detail={"incident_kind": kind},
        now=now,
    )
    inc = Incident(
        case_id=case.id,
        kind=kind,
        occurred_at=happened,
        discovered_at=found,
        contained_at=stopped,
        systems=sys_ids,
        categories=cats,
        people_declared=count,
        authority=_text(authority, "authority", 200),
        contact=who_to_call,
        created_at=now,
    )
    session.add(inc)
    session.flush()
    assess(session, case, actor=actor, now=now)
    return case


def _contact(contact: dict[str, Any] | None) -> dict[str, Any]:
    if not contact:
        return {}
    if not isinstance(contact, dict):
        raise _bad("contact", "a mapping of name, phone, email", "须为姓名、电话、邮箱")
    out: dict[str, Any] = {}
    for k in ("name", "phone", "email"):
        if contact.get(k):
            out[k] = _text(contact[k], f"contact.{k}", 200)
    extra = set(contact) - {"name", "phone", "email"}
    if extra:
        raise _bad("contact", f"unknown keys {sorted(extra)}", "含未知字段")
    return out


# -- people affected ----------------------------------------------------------------------------


def _subject(raw: str) -> subjects.Subject:
    raw = raw.strip()
    if ":" not in raw:
        raw = f"email:{raw}" if "@" in raw else f"phone:{raw}"
    return subjects.parse(raw)


@carries("O24-14.1", "CSL-42.2")
def add_people(
    session: Session, case: Case, who: Iterable[str], *, actor: Actor, now: datetime | None = None
) -> tuple[list[IncidentPerson], int]:
    """Record people affected (keyed hash and masked form only). Returns the people and how many
    were new. A value that is not a phone number, e-mail, account or ID number is refused, unechoed."""
    now = now or utcnow()
    existing = {p.subject_hash: p for p in people(session, case)}
    out: list[IncidentPerson] = []
    added = 0
    for n, raw in enumerate(who, 1):
        if not isinstance(raw, str) or not raw.strip():
            continue
        try:
            s = _subject(raw)
        except PiguardError as err:
            err.message_en = f"Person {n}: {err.message_en}"
            err.message_zh = f"第 {n} 个用户：{err.message_zh}"
            raise
        p = existing.get(s.hash)
        if p is None:
            p = IncidentPerson(
                case_id=case.id,
                subject_hash=s.hash,
                subject_masked=s.masked,
                subject_kind=s.kind,
                added_at=now,
            )
            session.add(p)
            existing[s.hash] = p
            added += 1
        out.append(p)
    session.flush()
    if added:
        cases.add_event(
            session,
            case,
            "evidence",
            actor,
            summary=f"{added} people affected recorded",
            reasons=[
                _reason(
                    "people_recorded", f"{added} people affected recorded.", f"记录受影响用户 {added} 人。"
                )
            ],
            detail={"people_added": added, "people_recorded": len(existing)},
            at=now,
        )
    return out, added


def _reason(
    code: str, en: str, zh: str, obligations: Sequence[str] = INCIDENT_OBLIGATIONS, **detail: Any
) -> Reason:
    return Reason(code, tuple(obligations), en, zh, detail)


# -- discovery scan of what leaked --------------------------------------------------------------


def _unreadable(name: str, why_en: str, why_zh: str) -> PiguardError:
    return PiguardError(
        "incident_scan_unreadable",
        f"The file {name!r} cannot be scanned: {why_en}.",
        f"无法扫描文件 {name!r}：{why_zh}。",
        obligations=("O24-14.1",),
        fields=[FieldError("file", f"{why_en} / {why_zh}")],
        http_status=422,
    )


@carries("O24-14.1", "CSL-42.2")
def scan(
    session: Session,
    case: Case,
    *,
    actor: Actor,
    path: str | Path | None = None,
    text: str | None = None,
    data: bytes | None = None,
    name: str = "",
    now: datetime | None = None,
) -> IncidentScan:
    """Scan what leaked with the discovery engine: a file (``path``), uploaded bytes (``data`` with
    its ``name``) or pasted ``text``. Only the categories and how many of each were found are kept,
    with the SHA-256 of what was scanned; the values found never are. The categories found join the
    incident's affected categories."""
    from piguard.discovery import scanners
    from piguard.discovery.engine import detect

    now = now or utcnow()
    given = sum(x is not None for x in (path, text, data))
    if given != 1:
        raise _bad("file", "give exactly one of a file or a text", "须且仅须提供文件或文本之一")
    counts: dict[str, int] = {}
    errors: list[dict[str, Any]] = []
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise _bad("text", "must not be empty", "不能为空")
        raw = text.encode("utf-8")
        for f in detect(text):
            counts[f.category] = counts.get(f.category, 0) + 1
        kind, label = "text", _text(name, "name", 200) or "text"
    else:
        if path is not None:
            p = Path(path)
            label = p.name[:200] or str(path)[:200]
            if not p.exists():
                raise _unreadable(label, "it does not exist", "文件不存在")
            if not p.is_file():
                raise _unreadable(label, "it is not a file", "不是文件")
            try:
                if p.stat().st_size > _SCAN_MAX_BYTES:
                    raise _unreadable(
                        label, f"larger than {_SCAN_MAX_BYTES} bytes", f"超过 {_SCAN_MAX_BYTES} 字节"
                    )
                raw = p.read_bytes()
            except OSError as exc:
                raise _unreadable(label, f"{type(exc).__name__}", "无法读取（权限或磁盘错误）") from None
            report = scanners.scan_paths([p])
        else:
            label = Path(name or "upload").name[:200]
            if label in ("", ".", "..") or "\x00" in label:
                label = "upload"
            raw = data or b""
            if not raw:
                raise _unreadable(label, "it is empty", "文件为空")
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                tp = Path(tmp) / label
                tp.write_bytes(raw)
                report = scanners.scan_paths([tp])
        kind = "file"
        errors = [
            {"error": str(e.get("error", ""))[:200], **({"line": e["line"]} if "line" in e else {})}
            for e in report.errors
        ]
        counts = dict(report.summary())
        if errors and not counts:
            why = errors[0]["error"] or "unreadable"
            raise _unreadable(
                label, f"{why}", "无法读取（二进制或损坏的文件）" if "binary" in why else f"无法读取（{why}）"
            )
    row = IncidentScan(
        case_id=case.id,
        at=now,
        source_kind=kind,
        source_name=label,
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        counts=dict(sorted(counts.items())),
        errors=errors,
        actor=cases.actor_str(actor),
    )
    session.add(row)
    _, inc = get(session, case.id)
    merged = list(dict.fromkeys([*inc.categories, *[c for c in CODES if c in counts]]))
    inc.categories = merged
    session.flush()
    total = sum(counts.values())
    cases.add_event(
        session,
        case,
        "evidence",
        actor,
        summary=f"scan of {kind}: {total} items in {len(counts)} categories",
        reasons=[
            _reason(
                "leak_scanned",
                f"Discovery scan of what leaked: {total} items in {len(counts)} categories (values not kept).",
                f"对泄露内容进行发现扫描：{len(counts)} 类共 {total} 项（不保存具体值）。",
                ("O24-14.1", "CSL-42.2"),
                scan=0,
            )
        ],
        detail={"scan_id": row.id, "counts": row.counts, "sha256": row.sha256},
        at=now,
        audit=False,
    )
    record(
        session,
        action="incident.scan",
        actor=actor,
        subject_ref=f"case:{case.ref}",
        data_categories=tuple(sorted(counts)),
        purpose="security",
        obligations=("O24-14.1", "CSL-42.2"),
        detail={"scan_id": row.id, "kind": kind, "items": total, "errors": len(errors)},
    )
    assess(session, case, actor=actor, now=now)
    return row


# -- remedial actions ---------------------------------------------------------------------------


@carries("O24-14.1", "CSL-42.2", "NPC-4", "CRL-29")
def add_action(
    session: Session,
    case: Case,
    *,
    title: str,
    owner: str,
    actor: Actor,
    due: object = None,
    done: bool = False,
    contains: bool = False,
    now: datetime | None = None,
) -> IncidentAction:
    """A remedial action with its owner (and due date), on the timeline; ``done`` records it done."""
    now = now or utcnow()
    heading = _text(title, "title", 300, required=True)
    who = _text(owner, "owner", 128, required=True)
    due_day: date | None = None
    if due not in (None, ""):
        due_day = calendar.to_local_date(cases.instant(due, "due"), "due")
    row = IncidentAction(
        case_id=case.id,
        title=heading,
        owner=who,
        due_date=due_day,
        created_at=now,
        created_by=cases.actor_str(actor),
    )
    session.add(row)
    session.flush()
    cases.add_event(
        session,
        case,
        "step",
        actor,
        summary=f"remedial action #{row.id}: {heading[:200]}",
        reasons=[_reason("remedial_action", "Remedial action planned.", "已安排补救措施。", action=row.id)],
        detail={
            "action_id": row.id,
            "owner": who,
            "due": due_day.isoformat() if due_day else None,
            "done": False,
        },
        at=now,
    )
    if case.status == "open":
        cases.set_status(session, case, "in_progress", actor)
    if done:
        complete_action(session, case, row.id, actor=actor, contains=contains, now=now)
    return row


@carries("O24-14.1", "CSL-42.2", "NPC-4", "CRL-29")
def complete_action(
    session: Session,
    case: Case,
    action_id: int,
    *,
    actor: Actor,
    contains: bool = False,
    now: datetime | None = None,
) -> IncidentAction:
    """Record a remedial action done; ``contains``: doing it contained the incident."""
    now = now or utcnow()
    row = session.get(IncidentAction, action_id)
    if row is None or row.case_id != case.id:
        raise not_found("Remedial action", "补救措施", str(action_id))
    if row.done_at is not None:
        raise PiguardError(
            "incident_action_done",
            f"Remedial action #{row.id} is already done.",
            f"补救措施 #{row.id} 已完成。",
            http_status=409,
        )
    row.done_at, row.done_by, row.contains = now, cases.actor_str(actor), contains
    _, inc = get(session, case.id)
    if contains and inc.contained_at is None:
        inc.contained_at = now
    session.flush()
    cases.add_event(
        session,
        case,
        "step",
        actor,
        summary=f"remedial action #{row.id} done" + (" (contained)" if contains else ""),
        reasons=[_reason("remedial_action_done", "Remedial action done.", "补救措施已完成。", action=row.id)],
        detail={"action_id": row.id, "done": True, "contains": contains},
        at=now,
    )
    return row


# -- severity -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Severity:
    serious: bool
    people: int
    people_basis: str
    sensitive: tuple[str, ...]
    thresholds: dict[str, int]
    raised: bool
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def level(self) -> str:
        return "serious" if self.serious else "not_serious"

    @property
    def obligations(self) -> tuple[str, ...]:
        return REPORT_OBLIGATIONS if self.serious else ("O24-14.1",)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.level,
            "serious": self.serious,
            "report_without_delay": self.serious,
            "obligations": list(self.obligations),
            "people": self.people,
            "people_basis": self.people_basis,
            "sensitive_categories": list(self.sensitive),
            "thresholds": dict(self.thresholds),
            "raised": self.raised,
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _scan_estimate(rows: Iterable[IncidentScan]) -> int:
    best = 0
    for s in rows:
        for c in IDENTIFYING:
            best = max(best, int((s.counts or {}).get(c, 0)))
    return best


@carries("O24-14.1")
def severity_of(session: Session, case: Case, inc: Incident) -> Severity:
    """Whether the incident is serious, by the dated parameters in force on the day it was found:
    people affected (the operator's count, the people recorded, or the identifiers a scan found,
    whichever is largest) against ``incident.serious_people_affected``, and, where sensitive
    categories are affected, against ``incident.serious_people_affected_sensitive``; or because the
    operator judged it may cause serious consequences."""
    on = inc.discovered_at
    t_all, t_sens = value(PEOPLE_PARAMETER, on=on), value(SENSITIVE_PARAMETER, on=on)
    candidates = {
        "declared": inc.people_declared or 0,
        "recorded": len(people(session, case)),
        "scan": _scan_estimate(scans(session, case)),
    }
    basis = max(candidates, key=lambda k: candidates[k])
    n = candidates[basis]
    sensitive = tuple(c for c in inc.categories if c in BY_CODE and BY_CODE[c].sensitive)
    ref = parameter(PEOPLE_PARAMETER).reference
    reasons: list[Reason] = []
    by_count = n >= t_all
    by_sensitive = bool(sensitive) and n >= t_sens
    basis_en = {
        "declared": "as counted by the operator",
        "recorded": "recorded by hash",
        "scan": "identifiers found by the scan (an estimate)",
    }[basis]
    basis_zh = {"declared": "经营者统计", "recorded": "已按哈希登记", "scan": "扫描发现的标识数（估算）"}[
        basis
    ]
    if by_count:
        reasons.append(
            _reason(
                "serious_people",
                f"{n} people affected ({basis_en}), at least {t_all}: serious, report without delay ({ref.article_en}).",
                f"涉及 {n} 人（{basis_zh}），达到 {t_all} 人：严重，应立即报告（{ref.article_zh}）。",
                REPORT_OBLIGATIONS,
                people=n,
                parameter=PEOPLE_PARAMETER,
                threshold=t_all,
            )
        )
    if by_sensitive:
        reasons.append(
            _reason(
                "serious_sensitive",
                f"Sensitive categories ({', '.join(sensitive)}) of {n} people, at least {t_sens}: serious, report without delay.",
                f"涉及 {n} 人的敏感类别（{'、'.join(BY_CODE[c].zh for c in sensitive)}），达到 {t_sens} 人：严重，应立即报告。",
                REPORT_OBLIGATIONS,
                people=n,
                parameter=SENSITIVE_PARAMETER,
                threshold=t_sens,
                categories=list(sensitive),
            )
        )
    if inc.severity_raised:
        note = str((inc.severity_basis or {}).get("raised_note", ""))
        reasons.append(
            _reason(
                "serious_judged",
                "The operator judged that serious consequences have been or may be caused.",
                "经营者判断已经或可能造成严重后果。",
                REPORT_OBLIGATIONS,
                note=note,
            )
        )
    serious = by_count or by_sensitive or inc.severity_raised
    if not serious:
        reasons.append(
            _reason(
                "not_serious",
                f"{n} people affected ({basis_en}): below {t_all}"
                + (f" (and {t_sens} for sensitive categories)" if sensitive else "")
                + "; remedy at once, report if it becomes serious.",
                f"涉及 {n} 人（{basis_zh}），低于 {t_all} 人"
                + (f"（敏感类别 {t_sens} 人）" if sensitive else "")
                + "：应立即补救，如后果严重须报告。",
                ("O24-14.1", "NPC-4"),
                people=n,
                thresholds={PEOPLE_PARAMETER: t_all, SENSITIVE_PARAMETER: t_sens},
            )
        )
    return Severity(
        serious,
        n,
        basis,
        sensitive,
        {PEOPLE_PARAMETER: t_all, SENSITIVE_PARAMETER: t_sens},
        inc.severity_raised,
        tuple(reasons),
    )


@carries("O24-14.1")
def assess(
    session: Session,
    case: Case,
    *,
    actor: Actor,
    raise_serious: bool = False,
    note: str = "",
    people: int | None = None,
    now: datetime | None = None,
) -> Severity:
    """Re-assess the severity (after new people, scans, or the operator's judgement) and store it;
    a change goes on the timeline. ``raise_serious`` needs a note saying why; the parameters alone
    never make an incident less serious than the operator judged it."""
    now = now or utcnow()
    _, inc = get(session, case.id)
    if people is not None:
        inc.people_declared = _people_count(people)
    if raise_serious:
        why = _text(note, "note", 2000, required=True)
        inc.severity_raised = True
        inc.severity_basis = {**(inc.severity_basis or {}), "raised_note": why}
    sev = severity_of(session, case, inc)
    before = inc.severity
    inc.severity = sev.level
    inc.severity_basis = {
        **sev.to_dict(),
        **({"raised_note": inc.severity_basis.get("raised_note")} if inc.severity_raised else {}),
    }
    inc.assessed_at = now
    session.flush()
    if before != sev.level:
        cases.add_event(
            session,
            case,
            "note",
            actor,
            summary=f"severity {before or '-'} -> {sev.level}"
            + (": report without delay" if sev.serious else ""),
            reasons=sev.reasons,
            detail={"severity": sev.level, "people": sev.people, "people_basis": sev.people_basis},
            at=now,
        )
    return sev


# -- the report to the telecom authority --------------------------------------------------------


def _settings() -> IncidentSettings:
    return IncidentSettings()


def _environment(template_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    custom = template_dir or _settings().templates_dir
    if custom is not None:
        if not Path(custom).is_dir():
            raise _bad("template_dir", f"{custom} is not a folder", "模板目录不存在")
        loaders.append(jinja2.FileSystemLoader(str(custom)))
    loaders.append(jinja2.PackageLoader("piguard.cases", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,  # Markdown / SMS text; the console escapes it
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _local(ts: datetime | None) -> str:
    return ts.astimezone(calendar.SHANGHAI).strftime("%Y-%m-%d %H:%M") if ts else ""


def _operator(session: Session) -> dict[str, str]:
    from piguard.inventory.models import InvOperator

    op = session.get(InvOperator, 1)
    if op is None:
        return {"name": "", "address": "", "contact": "", "phone": ""}
    return {"name": op.name, "address": op.address, "contact": op.contact, "phone": op.phone}


def context(session: Session, case: Case, inc: Incident, lang: str) -> dict[str, Any]:
    """Everything the report template says, in ``lang`` (counts and labels, never a person)."""
    zh = lang == "zh"
    systems = _inventory_systems(session)
    sev = severity_of(session, case, inc)
    ns = notices(session, case)
    sent = sum(1 for n in ns if n.outcome == "allow")
    op = _operator(session)
    contact = dict(inc.contact or {})
    if not contact:
        contact = {k: v for k, v in (("name", op["contact"]), ("phone", op["phone"])) if v}
    cat_label = lambda c: (BY_CODE[c].zh if zh else BY_CODE[c].en) if c in BY_CODE else c  # noqa: E731
    return {
        "lang": lang,
        "ref": case.ref,
        "title": case.title,
        "description": case.text,
        "kind": KIND_LABELS[inc.kind][0 if zh else 1],
        "occurred": _local(inc.occurred_at),
        "discovered": _local(inc.discovered_at),
        "contained": _local(inc.contained_at),
        "generated": _local(utcnow()),
        "operator": op,
        "authority": inc.authority,
        "contact": contact,
        "systems": [{"id": s, "name": systems[s].name if s in systems else s} for s in inc.systems],
        "categories": [
            {"code": c, "label": cat_label(c), "sensitive": bool(BY_CODE.get(c) and BY_CODE[c].sensitive)}
            for c in inc.categories
        ],
        "people": sev.people,
        "people_basis": sev.people_basis,
        "scans": [
            {
                "at": _local(s.at),
                "name": s.source_name,
                "sha256": s.sha256[:16],
                "counts": [{"label": cat_label(k), "count": v} for k, v in (s.counts or {}).items()],
            }
            for s in scans(session, case)
        ],
        "actions": [
            {
                "title": a.title,
                "owner": a.owner,
                "done": a.done_at is not None,
                "done_at": _local(a.done_at),
                "due": a.due_date.isoformat() if a.due_date else "",
            }
            for a in actions(session, case)
        ],
        "notices": {"total": len(ns), "sent": sent, "failed": len(ns) - sent},
        "orders": [
            {
                "order_ref": o.order_ref,
                "authority": o.authority,
                "ordered": _local(o.ordered_at),
                "status": o.status,
                "lifted": _local(o.lifted_at),
            }
            for o in orders(session, case)
        ],
        "serious": sev.serious,
        "severity_reasons": [r.message_zh if zh else r.message_en for r in sev.reasons],
        "obligations": list(REPORT_OBLIGATIONS if sev.serious else ("O24-14.1",)),
    }


@carries("O24-14.1", "CSL-42.2")
def generate_report(
    session: Session,
    case: Case,
    *,
    actor: Actor,
    template_dir: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Generate the report to the telecom authority in zh and en from the templates and store it on
    the case; a serious incident's report opens with "report without delay" and the obligation ids."""
    now = now or utcnow()
    _, inc = get(session, case.id)
    env = _environment(template_dir)
    texts: dict[str, str] = {}
    for lang in LANGS:
        name = f"incident_report.{lang}.md.j2"
        try:
            texts[lang] = env.get_template(name).render(**context(session, case, inc, lang))
        except jinja2.TemplateError as exc:
            raise PiguardError(
                "incident_report_template_error",
                f"The report template {name} cannot be rendered: {type(exc).__name__}: {exc}",
                f"报告模板 {name} 无法生成：{type(exc).__name__}: {exc}",
                obligations=("O24-14.1",),
                http_status=422,
            ) from None
    sev = assess(session, case, actor=actor, now=now)
    inc.report_zh, inc.report_en, inc.report_generated_at = texts["zh"], texts["en"], now
    session.flush()
    cases.add_event(
        session,
        case,
        "report",
        actor,
        summary="report to the telecom authority generated"
        + (" (serious: report without delay)" if sev.serious else ""),
        reasons=[
            _reason(
                "report_generated",
                "Report to the telecom authority generated"
                + (": serious, report without delay." if sev.serious else "."),
                "已生成向电信管理机构的报告" + ("：情节严重，应立即报告。" if sev.serious else "。"),
                sev.obligations,
            )
        ],
        detail={"serious": sev.serious, "lengths": {k: len(v) for k, v in texts.items()}},
        at=now,
    )
    return report_dict(inc, sev)


def mark_report_sent(session: Session, case: Case, *, actor: Actor, sent: object = None) -> Incident:
    """Record when the report went to the authority (the operator sends it; piguard records it)."""
    _, inc = get(session, case.id)
    if inc.report_generated_at is None:
        raise PiguardError(
            "incident_report_missing",
            "Generate the report first (`piguard incidents report ID`).",
            "请先生成报告（`piguard incidents report ID`）。",
            obligations=("O24-14.1",),
            http_status=409,
        )
    at = cases.instant(sent, "sent") if sent not in (None, "") else utcnow()
    inc.report_sent_at = at
    cases.add_event(
        session,
        case,
        "report",
        actor,
        summary=f"report sent to the authority at {_local(at)}",
        reasons=[
            _reason(
                "report_sent",
                "Report sent to the telecom authority.",
                "报告已报送电信管理机构。",
                REPORT_OBLIGATIONS,
            )
        ],
        detail={"sent_at": at.isoformat()},
    )
    return inc


def report_dict(inc: Incident, sev: Severity | None = None) -> dict[str, Any]:
    return {
        "zh": inc.report_zh,
        "en": inc.report_en,
        "generated_at": inc.report_generated_at.isoformat() if inc.report_generated_at else None,
        "sent_at": inc.report_sent_at.isoformat() if inc.report_sent_at else None,
        "serious": (sev.serious if sev else inc.severity == "serious"),
        "report_without_delay": (sev.serious if sev else inc.severity == "serious"),
        "obligations": list(
            sev.obligations if sev else (REPORT_OBLIGATIONS if inc.severity == "serious" else ("O24-14.1",))
        ),
    }


# -- notices to the people affected -------------------------------------------------------------


@dataclass
class NoticeBatch:
    notices: list[IncidentNotice]
    skipped: int = 0
    #: person id -> masked form (what the answer shows instead of the address)
    masked: dict[int, str] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return sum(1 for n in self.notices if n.outcome == "allow")

    @property
    def failed(self) -> int:
        return len(self.notices) - self.sent

    def to_dict(self) -> dict[str, Any]:
        masked = self.masked
        return {
            "sent": self.sent,
            "failed": self.failed,
            "skipped_already_notified": self.skipped,
            "notices": [notice_dict(n, masked.get(n.person_id, "")) for n in self.notices],
        }


def notice_dict(n: IncidentNotice, masked: str) -> dict[str, Any]:
    return {
        "id": n.id,
        "at": n.at.isoformat(),
        "to": masked,
        "channel": n.channel,
        "sender": n.sender,
        "message_ref": n.message_ref,
        "outcome": n.outcome,
        "status": n.status,
        "failed": n.outcome != "allow",
        "reasons": list(n.reasons or []),
        "error": n.error,
    }


def default_notice_text(
    session: Session, case: Case, inc: Incident, sender: str, template_dir: Path | None = None
) -> str:
    """The packaged (or the operator's) notice text, signed with the sender's content provider."""
    from piguard.messaging import service as messaging

    signature = ""
    for port in messaging.list_ports(session):
        if sender.startswith(port.code):
            cp = next(
                (c for c in messaging.list_content_providers(session) if c.id == port.content_provider_id),
                None,
            )
            if cp is not None:
                sigs = [
                    s
                    for s in messaging.list_signatures(session, cp.code)
                    if getattr(s, "status", "") == "approved"
                ]
                signature = sigs[0].text if sigs and getattr(sigs[0], "text", None) else cp.name
            break
    ctx = context(session, case, inc, "zh")
    ctx["signature"] = signature
    try:
        return _environment(template_dir).get_template("incident_notice.zh.txt.j2").render(**ctx).strip()
    except jinja2.TemplateError as exc:
        raise PiguardError(
            "incident_notice_template_error",
            f"The notice template cannot be rendered: {type(exc).__name__}: {exc}",
            f"告知模板无法生成：{type(exc).__name__}: {exc}",
            obligations=("CSL-42.2",),
            http_status=422,
        ) from None


@carries("CSL-42.2", "O24-14.1", "CRL-29")
def notify(
    session: Session,
    case: Case,
    recipients: Iterable[str],
    *,
    sender: str,
    actor: Actor,
    text: str | None = None,
    principal: Principal | None = None,
    again: bool = False,
    template_dir: Path | None = None,
    now: datetime | None = None,
) -> NoticeBatch:
    """Notify people affected through the gateway, as service notices (kind ``notification``: the
    commercial-consent step does not apply; every other gateway rule does, a suspended sender
    included). Recipients are recorded as people affected; each notice is recorded with the
    gateway's result, failures included. People notified before are skipped unless ``again``."""
    from piguard.messaging import service as messaging

    now = now or utcnow()
    who = [r for r in recipients if isinstance(r, str) and r.strip()]
    if not who:
        raise _bad(
            "recipients",
            "no one to notify: give at least one person affected",
            "没有告知对象：至少提供一名受影响用户",
            ("CSL-42.2",),
        )
    if len(who) > _NOTICE_MAX:
        raise _bad("recipients", f"at most {_NOTICE_MAX} per call", f"每次最多 {_NOTICE_MAX} 人")
    sender = _text(sender, "sender", 40, required=True)
    _, inc = get(session, case.id)
    body = (
        _text(text, "text", 5000) if text else default_notice_text(session, case, inc, sender, template_dir)
    )
    persons, _ = add_people(session, case, who, actor=actor, now=now)
    assess(session, case, actor=actor, now=now)
    done_before = {
        n.person_id
        for n in session.scalars(
            select(IncidentNotice).where(IncidentNotice.case_id == case.id, IncidentNotice.outcome == "allow")
        )
    }
    attempts: dict[int, int] = {}
    for n in notices(session, case):
        attempts[n.person_id] = attempts.get(n.person_id, 0) + 1
    todo: list[tuple[IncidentPerson, str]] = []
    seen: set[int] = set()
    skipped = 0
    for p, raw in zip(persons, who, strict=True):
        if p.id in seen:
            continue
        seen.add(p.id)
        if p.id in done_before and not again:
            skipped += 1
            continue
        todo.append((p, raw.strip().partition(":")[2] if ":" in raw else raw.strip()))
    out: list[IncidentNotice] = []
    requests = []
    for p, address in todo:
        if p.subject_kind not in ("phone", "email"):
            out.append(
                IncidentNotice(
                    case_id=case.id,
                    person_id=p.id,
                    at=now,
                    channel="-",
                    sender=sender,
                    outcome="error",
                    error={
                        "code": "not_reachable",
                        "message": {
                            "en": "only a phone number or e-mail can be notified",
                            "zh": "仅能向手机号码或电子邮箱发送告知",
                        },
                    },
                )
            )
            continue
        channel = "sms" if p.subject_kind == "phone" else "email"
        requests.append(
            (
                p,
                channel,
                messaging.GatewayRequest(
                    channel=channel,
                    sender=sender,
                    recipient=address,
                    text=body,
                    kind="notification",
                    client_ref=f"inc:{case.ref}:{p.id}:{attempts.get(p.id, 0) + 1}"[:64],
                ),
            )
        )
    results = (
        messaging.submit(session, [r for _, _, r in requests], principal=principal, now=now)
        if requests
        else []
    )
    for (p, channel, _), res in zip(requests, results, strict=True):
        err = res.error.to_dict()["error"] if res.error is not None else None
        out.append(
            IncidentNotice(
                case_id=case.id,
                person_id=p.id,
                at=now,
                channel=channel,
                sender=sender,
                message_ref=res.ref,
                outcome=res.outcome or "error",
                status=res.status,
                reasons=[
                    {
                        "code": r.code,
                        "obligations": list(r.obligations),
                        "message": {"en": r.message_en, "zh": r.message_zh},
                    }
                    for r in res.reasons
                ],
                error=err,
            )
        )
    for n in out:
        session.add(n)
    session.flush()
    batch = NoticeBatch(out, skipped, {p.id: p.subject_masked for p in persons})
    from piguard.messaging.reasons import INFO_CODES

    codes = sorted(
        {r["code"] for n in out if n.outcome != "allow" for r in n.reasons if r.get("code") not in INFO_CODES}
    )
    cases.add_event(
        session,
        case,
        "notice",
        actor,
        summary=f"notices: {batch.sent} sent, {batch.failed} failed, {skipped} already notified",
        reasons=[
            _reason(
                "users_notified" if not batch.failed else "notices_failed",
                f"Notices to people affected: {batch.sent} sent, {batch.failed} failed.",
                f"向受影响用户发送告知：成功 {batch.sent} 条，失败 {batch.failed} 条。",
                ("CSL-42.2",),
                sent=batch.sent,
                failed=batch.failed,
            )
        ],
        detail={"sent": batch.sent, "failed": batch.failed, "skipped": skipped, "refusal_codes": codes},
        at=now,
        audit=False,
    )
    record(
        session,
        action="incident.notify",
        actor=actor,
        subject_ref=f"case:{case.ref}",
        data_categories=("phone_mobile",) if any(n.channel == "sms" for n in out) else (),
        purpose="security",
        obligations=("CSL-42.2",),
        detail={"sent": batch.sent, "failed": batch.failed, "skipped": skipped},
    )
    return batch


# -- suspension ordered by the authority (O24-14.2) ---------------------------------------------


def _order_ref(v: object, field_name: str = "order_ref") -> str:
    if not isinstance(v, str) or not v.strip():
        raise PiguardError(
            "incident_order_ref_missing",
            "A suspension needs the reference of the authority's order (O24-14.2).",
            "暂停须填写主管部门责令暂停的文号（O24-14.2）。",
            obligations=(SUSPENSION_OBLIGATION,),
            fields=[FieldError(field_name, "required / 必填")],
            http_status=422,
        )
    return _text(v, field_name, 128, required=True)


def _port_id(v: object) -> int:
    n = as_row_id(v)
    if n is not None:
        return n
    raise _bad("ports", "port ids are numbers", "端口编号须为数字", (SUSPENSION_OBLIGATION,))


@carries("O24-14.2")
def suspend(
    session: Session,
    case: Case,
    *,
    order_ref: str,
    actor: Actor,
    authority: str = "",
    ordered_at: object = None,
    content_providers: Iterable[str] = (),
    ports: Iterable[int | str] = (),
    purposes: Iterable[str] = (),
    note: str = "",
    principal: Principal | None = None,
    now: datetime | None = None,
) -> IncidentOrder:
    """Record the authority's order to suspend related activities and carry it out: the gateway's
    suspension switch of each content provider and port (the gateway then refuses their messages
    with O24-14.2) and the consent ledger's processing suspension of each purpose (``"*"``: all).
    Everything is checked before anything is switched."""
    from piguard.consent import service as consent
    from piguard.messaging import service as messaging
    from piguard.messaging.models import Port

    now = now or utcnow()
    ref = _order_ref(order_ref)
    when = cases.instant(ordered_at, "ordered_at") if ordered_at not in (None, "") else now
    cps = list(
        dict.fromkeys(c.strip().lower() for c in content_providers if isinstance(c, str) and c.strip())
    )
    port_ids = list(dict.fromkeys(_port_id(p) for p in ports))
    procs = list(dict.fromkeys(p.strip() for p in purposes if isinstance(p, str) and p.strip()))
    if not (cps or port_ids or procs):
        raise _bad(
            "scope",
            "name what is suspended: content providers, ports or purposes",
            "须指明暂停范围：内容提供者、端口或处理目的",
            (SUSPENSION_OBLIGATION,),
        )
    cp_rows = [messaging.get_content_provider(session, c) for c in cps]
    port_rows = []
    for pid in port_ids:
        row = session.get(Port, pid)
        if row is None:
            raise not_found("Port", "端口", str(pid))
        port_rows.append(row)
    if procs:
        known = set(consent.purposes(session))
        unknown = [p for p in procs if p != "*" and p not in known]
        if unknown:
            raise validation_error(
                [
                    FieldError("purposes", f"unknown purpose {p!r}; known: {', '.join(sorted(known))} or *")
                    for p in unknown
                ],
                f"Unknown purpose(s) {', '.join(unknown)}.",
                f"未知的处理目的 {'、'.join(unknown)}。",
            )
    why = f"O24-14.2 order {ref} (incident {case.ref}) / 主管部门责令暂停 {ref}（事件 {case.ref}）"[:500]
    effect: dict[str, Any] = {"content_providers": [], "ports": [], "consent_suspensions": []}
    for cp in cp_rows:
        before = {
            "suspended": cp.suspended,
            "reason": cp.suspended_reason,
            "obligations": list(cp.suspended_obligations or []),
        }
        prev: list[str] = list(cp.suspended_obligations or []) if cp.suspended else []
        obls = list(dict.fromkeys([*prev, SUSPENSION_OBLIGATION]))
        messaging.set_suspension(
            session,
            target_type="content_provider",
            key=cp.code,
            suspended=True,
            reason=why,
            obligations=obls,
            principal=principal,
        )
        effect["content_providers"].append({"code": cp.code, "before": before})
    for port in port_rows:
        before = {
            "suspended": port.suspended,
            "reason": port.suspended_reason,
            "obligations": list(port.suspended_obligations or []),
        }
        prev = list(port.suspended_obligations or []) if port.suspended else []
        obls = list(dict.fromkeys([*prev, SUSPENSION_OBLIGATION]))
        messaging.set_suspension(
            session,
            target_type="port",
            key=port.id,
            suspended=True,
            reason=why,
            obligations=obls,
            principal=principal,
        )
        effect["ports"].append({"id": port.id, "code": port.code, "before": before})
    for purpose in procs:
        sus = consent.suspend(
            session, purpose, order_ref=ref, note=f"incident {case.ref}", actor=actor, now=now
        )
        effect["consent_suspensions"].append({"purpose": purpose, "id": sus.id})
    order = IncidentOrder(
        case_id=case.id,
        order_ref=ref,
        authority=_text(authority, "authority", 200),
        ordered_at=when,
        scope={"content_providers": cps, "ports": port_ids, "purposes": procs},
        effect=effect,
        note=_text(note, "note", 2000),
        status="active",
        recorded_at=now,
        recorded_by=cases.actor_str(actor),
    )
    session.add(order)
    session.flush()
    cases.add_event(
        session,
        case,
        "stop",
        actor,
        summary=f"suspension ordered by the authority ({ref}): {len(cps)} content providers, {len(port_ids)} ports, {len(procs)} purposes",
        reasons=[
            _reason(
                "authority_suspension",
                f"The authority ordered related activities suspended (order {ref}); the gateway and the consent ledger enforce it.",
                f"主管部门责令暂停相关活动（{ref}）；网关与同意台账据此执行。",
                (SUSPENSION_OBLIGATION,),
                order=order.id,
            )
        ],
        detail={"order_id": order.id, "scope": order.scope},
        at=now,
    )
    return order


@carries("O24-14.2")
def lift(
    session: Session,
    case: Case,
    order_id: int,
    *,
    actor: Actor,
    lift_ref: str,
    principal: Principal | None = None,
    now: datetime | None = None,
) -> IncidentOrder:
    """The authority lifted its order: each switch goes back to what it was before the order
    (a content provider suspended for another reason stays suspended), unless another active order
    still covers it; the consent suspensions the order opened end."""
    from piguard.consent import service as consent
    from piguard.messaging import service as messaging

    now = now or utcnow()
    ref = _order_ref(lift_ref, "lift_ref")
    order = session.get(IncidentOrder, order_id)
    if order is None or order.case_id != case.id:
        raise not_found("Suspension order", "暂停指令", str(order_id))
    if order.status != "active":
        raise PiguardError(
            "incident_order_lifted",
            f"Order {order.order_ref} was already lifted.",
            f"指令 {order.order_ref} 已解除。",
            obligations=(SUSPENSION_OBLIGATION,),
            http_status=409,
        )
    others = [
        o
        for o in session.scalars(
            select(IncidentOrder).where(IncidentOrder.status == "active", IncidentOrder.id != order.id)
        )
    ]
    still_cp = {c for o in others for c in (o.scope or {}).get("content_providers", [])}
    still_port = {p for o in others for p in (o.scope or {}).get("ports", [])}
    kept: list[str] = []
    why = f"O24-14.2 order {order.order_ref} lifted ({ref}) / 暂停指令已解除（{ref}）"[:500]
    for item in order.effect.get("content_providers", []):
        code, before = item["code"], item["before"]
        if code in still_cp:
            kept.append(f"content_provider:{code}")
            continue
        if before.get("suspended"):
            messaging.set_suspension(
                session,
                target_type="content_provider",
                key=code,
                suspended=True,
                reason=before.get("reason") or why,
                obligations=before.get("obligations") or ["O31-23"],
                principal=principal,
            )
            kept.append(f"content_provider:{code}")
        else:
            messaging.set_suspension(
                session,
                target_type="content_provider",
                key=code,
                suspended=False,
                reason=why,
                obligations=[SUSPENSION_OBLIGATION],
                principal=principal,
            )
    for item in order.effect.get("ports", []):
        pid, before = item["id"], item["before"]
        if pid in still_port:
            kept.append(f"port:{pid}")
            continue
        if before.get("suspended"):
            messaging.set_suspension(
                session,
                target_type="port",
                key=pid,
                suspended=True,
                reason=before.get("reason") or why,
                obligations=before.get("obligations") or ["O31-23"],
                principal=principal,
            )
            kept.append(f"port:{pid}")
        else:
            messaging.set_suspension(
                session,
                target_type="port",
                key=pid,
                suspended=False,
                reason=why,
                obligations=[SUSPENSION_OBLIGATION],
                principal=principal,
            )
    for item in order.effect.get("consent_suspensions", []):
        try:
            consent.resume(session, int(item["id"]), actor=actor, now=now)
        except PiguardError:
            kept.append(f"purpose:{item['purpose']} (already ended)")
    order.status, order.lifted_at, order.lift_ref = "lifted", now, ref
    order.effect = {**order.effect, "kept_after_lift": kept}
    session.flush()
    cases.add_event(
        session,
        case,
        "stop",
        actor,
        summary=f"suspension {order.order_ref} lifted ({ref})"
        + (f"; still suspended: {', '.join(kept)}" if kept else ""),
        reasons=[
            _reason(
                "authority_suspension_lifted",
                f"The authority lifted order {order.order_ref} ({ref}).",
                f"主管部门解除暂停指令 {order.order_ref}（{ref}）。",
                (SUSPENSION_OBLIGATION,),
                order=order.id,
                kept=kept,
            )
        ],
        detail={"order_id": order.id, "lift_ref": ref, "kept": kept},
        at=now,
    )
    return order


# -- the whole incident -------------------------------------------------------------------------


def action_dict(a: IncidentAction) -> dict[str, Any]:
    return {
        "id": a.id,
        "title": a.title,
        "owner": a.owner,
        "due": a.due_date.isoformat() if a.due_date else None,
        "done": a.done_at is not None,
        "done_at": a.done_at.isoformat() if a.done_at else None,
        "contains": a.contains,
    }


def scan_dict(s: IncidentScan) -> dict[str, Any]:
    return {
        "id": s.id,
        "at": s.at.isoformat(),
        "source": s.source_kind,
        "name": s.source_name,
        "sha256": s.sha256,
        "size": s.size,
        "counts": dict(s.counts or {}),
        "errors": list(s.errors or []),
    }


def order_dict(o: IncidentOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "order_ref": o.order_ref,
        "authority": o.authority,
        "ordered_at": o.ordered_at.isoformat(),
        "status": o.status,
        "scope": dict(o.scope or {}),
        "effect": dict(o.effect or {}),
        "lifted_at": o.lifted_at.isoformat() if o.lifted_at else None,
        "lift_ref": o.lift_ref,
        "obligations": [SUSPENSION_OBLIGATION],
    }


def to_dict(session: Session, case: Case, inc: Incident, *, full: bool = True) -> dict[str, Any]:
    """The incident as the API and ``--format json`` give it: the case's keys, then its detail."""
    out = cases.to_dict(case, with_text=full)
    sev = severity_of(session, case, inc)
    ps = people(session, case)
    masked = {p.id: p.subject_masked for p in ps}
    ns = notices(session, case)
    out.update(
        {
            "incident_kind": inc.kind,
            "occurred_at": inc.occurred_at.isoformat() if inc.occurred_at else None,
            "discovered_at": inc.discovered_at.isoformat(),
            "contained_at": inc.contained_at.isoformat() if inc.contained_at else None,
            "systems": list(inc.systems or []),
            "categories": list(inc.categories or []),
            "sensitive_categories": list(sev.sensitive),
            "people_declared": inc.people_declared,
            "people_recorded": len(ps),
            "people": sev.people,
            "authority": inc.authority,
            "contact": dict(inc.contact or {}),
            "severity": sev.to_dict(),
            "report": report_dict(inc, sev),
            "notices": {
                "total": len(ns),
                "sent": sum(1 for n in ns if n.outcome == "allow"),
                "failed": sum(1 for n in ns if n.outcome != "allow"),
            },
            "suspensions": [order_dict(o) for o in orders(session, case)],
        }
    )
    if full:
        out["people_affected"] = [
            {"id": p.id, "masked": p.subject_masked, "kind": p.subject_kind} for p in ps
        ]
        out["actions"] = [action_dict(a) for a in actions(session, case)]
        out["scans"] = [scan_dict(s) for s in scans(session, case)]
        out["notice_list"] = [notice_dict(n, masked.get(n.person_id, "")) for n in ns]
        out["timeline"] = [cases.event_dict(e) for e in cases.events(session, case)]
    return out


__all__ = [
    "INCIDENT_OBLIGATIONS",
    "NoticeBatch",
    "Severity",
    "add_action",
    "add_people",
    "assess",
    "complete_action",
    "generate_report",
    "get",
    "lift",
    "mark_report_sent",
    "notify",
    "open_incident",
    "queue",
    "scan",
    "severity_of",
    "suspend",
    "to_dict",
]


def statistics(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Incidents discovered in ``[since, until)``, for the self-inspection and the evidence bundle
    (O24-16, O24-14.1): by kind and severity, how many are still open, how many were reported to the
    authority, and serious ones not reported. Counts only."""
    q = (
        select(Case, Incident)
        .join(Incident, Incident.case_id == Case.id)
        .where(Incident.discovered_at >= since, Incident.discovered_at < until)
    )
    out: dict[str, Any] = {
        "total": 0,
        "open": 0,
        "reported": 0,
        "serious": 0,
        "serious_not_reported": 0,
        "not_assessed": 0,
        "by_kind": {},
        "by_severity": {},
    }
    for case, inc in session.execute(q):
        out["total"] += 1
        out["by_kind"][inc.kind] = out["by_kind"].get(inc.kind, 0) + 1
        sev = inc.severity or "not_assessed"
        out["by_severity"][sev] = out["by_severity"].get(sev, 0) + 1
        if case.status in ("open", "in_progress", "waiting"):
            out["open"] += 1
        if inc.report_sent_at is not None:
            out["reported"] += 1
        if inc.severity is None:
            out["not_assessed"] += 1
        if inc.severity == "serious":
            out["serious"] += 1
            if inc.report_sent_at is None:
                out["serious_not_reported"] += 1
    return out
