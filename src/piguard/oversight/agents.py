"""The register of outsourced agent firms (O24-11): contract, scope, assessments, expiry.

An agent account (``staff.kind == "agent"``) names its firm in ``agent_org``; that is the firm's
``code`` here. The access check (:mod:`piguard.oversight.access`) denies an agent whose firm is not
registered, whose contract has not started or has ended, whose firm is suspended or terminated, or
who asks for a purpose, a category or a system outside the contract's scope. Functions take a
session and never commit; every change is audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.consent import service as consent
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, invalid_field, validation_error
from piguard.core.text import clean_text
from piguard.discovery.categories import CODES as CATEGORY_CODES
from piguard.oversight.models import ASSESSMENT_RESULTS, FIRM_STATUSES, AgentAssessment, AgentFirm
from piguard.regulations.markers import carries

OBLIGATIONS = ("O24-11", "O24-13.6")
_CODE = re.compile(r"^[\w.\- ]{1,64}$")
_SYSTEM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
SEVERITIES = ("low", "medium", "high")


def _aware(name: str, at: object) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise invalid_field(name, "an aware time (with a time zone)", "须为带时区的时间")
    return at


def _text(name: str, raw: object, limit: int) -> str:
    return clean_text(raw, name, limit, required=True, bad=invalid_field)


def _list(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if not isinstance(raw, Iterable):
        raise invalid_field("scope", "a list", "须为列表")
    return [str(p).strip() for p in raw if str(p).strip()]


def _check_scope(
    session: Session, categories: object, purposes: object, systems: object
) -> tuple[list[str], list[str], list[str]]:
    cats, purps, syss = _list(categories), _list(purposes), _list(systems)
    errors: list[FieldError] = []
    for c in cats:
        if c not in CATEGORY_CODES:
            errors.append(
                FieldError(
                    "scope_categories", f"unknown category {c[:32]!r}; known: {', '.join(CATEGORY_CODES)}"
                )
            )
    known = consent.purposes(session)
    for p in purps:
        if p not in known:
            errors.append(
                FieldError("scope_purposes", f"unknown purpose {p[:32]!r}; known: {', '.join(sorted(known))}")
            )
    for s in syss:
        if not _SYSTEM.match(s):
            errors.append(FieldError("scope_systems", f"not a system id: {s[:32]!r}"))
    if errors:
        raise validation_error(errors, "The agent's scope names unknown entries.", "代理商授权范围含未知项。")
    return sorted(set(cats)), sorted(set(purps)), sorted(set(syss))


def unknown_firm(code: str) -> PiguardError:
    return PiguardError(
        "agent_firm_unknown",
        f"Agent firm {code[:64]!r} is not in the register.",
        f"代理机构 {code[:64]!r} 未登记。",
        obligations=("O24-11",),
        http_status=404,
        exit_code=2,
    )


def find_firm(session: Session, code: str) -> AgentFirm | None:
    return session.scalars(select(AgentFirm).where(AgentFirm.code == code)).one_or_none()


def get_firm(session: Session, code: str) -> AgentFirm:
    firm = find_firm(session, code) if isinstance(code, str) else None
    if firm is None:
        raise unknown_firm(str(code))
    return firm


def list_firms(session: Session) -> list[AgentFirm]:
    return list(session.scalars(select(AgentFirm).order_by(AgentFirm.code)))


@carries("O24-11")
def register_firm(
    session: Session,
    *,
    code: str,
    name: str,
    contract_no: str,
    contract_start: datetime,
    contract_end: datetime,
    scope_categories: object = (),
    scope_purposes: object = (),
    scope_systems: object = (),
    actor: Actor,
) -> AgentFirm:
    """Register a firm with its contract and scope (categories, purposes, systems)."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise invalid_field("code", "1-64 letters, digits, spaces or ._-", "1-64 位字母、数字、空格或 ._-")
    start, end = _aware("contract_start", contract_start), _aware("contract_end", contract_end)
    if end <= start:
        raise invalid_field("contract_end", "must be after the contract start", "须晚于合同开始时间")
    if find_firm(session, code) is not None:
        raise PiguardError(
            "agent_firm_exists",
            f"Agent firm {code!r} is already registered.",
            f"代理机构 {code!r} 已登记。",
            obligations=("O24-11",),
            http_status=409,
        )
    cats, purps, syss = _check_scope(session, scope_categories, scope_purposes, scope_systems)
    firm = AgentFirm(
        code=code,
        name=_text("name", name, 200),
        contract_no=_text("contract_no", contract_no, 64),
        contract_start=start,
        contract_end=end,
        scope_categories=cats,
        scope_purposes=purps,
        scope_systems=syss,
        status="active",
    )
    session.add(firm)
    session.flush()
    record(
        session,
        action="oversight.agent.registered",
        actor=actor,
        subject_ref=f"agent_firm:{firm.id}",
        obligations=OBLIGATIONS,
        detail={
            "firm": firm.id,
            "contract_end": end.isoformat(),
            "purposes": purps,
            "categories": cats,
            "systems": syss,
        },
    )
    return firm


@carries("O24-11")
def update_firm(
    session: Session,
    code: str,
    *,
    contract_end: datetime | None = None,
    status: str | None = None,
    scope_categories: object = None,
    scope_purposes: object = None,
    scope_systems: object = None,
    actor: Actor,
) -> AgentFirm:
    """Change a firm's contract end, status or scope; takes effect on the next access decision."""
    firm = get_firm(session, code)
    changed: dict[str, Any] = {}
    if contract_end is not None:
        end = _aware("contract_end", contract_end)
        if end <= firm.contract_start:
            raise invalid_field("contract_end", "must be after the contract start", "须晚于合同开始时间")
        firm.contract_end = end
        changed["contract_end"] = end.isoformat()
    if status is not None:
        if status not in FIRM_STATUSES:
            raise invalid_field(
                "status", f"one of {', '.join(FIRM_STATUSES)}", f"须为 {'、'.join(FIRM_STATUSES)} 之一"
            )
        firm.status = status
        changed["status"] = status
    if scope_categories is not None or scope_purposes is not None or scope_systems is not None:
        cats, purps, syss = _check_scope(
            session,
            firm.scope_categories if scope_categories is None else scope_categories,
            firm.scope_purposes if scope_purposes is None else scope_purposes,
            firm.scope_systems if scope_systems is None else scope_systems,
        )
        firm.scope_categories, firm.scope_purposes, firm.scope_systems = cats, purps, syss
        changed.update(categories=cats, purposes=purps, systems=syss)
    if not changed:
        raise validation_error(
            [FieldError("body", "nothing to change")], "Nothing to change.", "没有要修改的内容。"
        )
    session.flush()
    record(
        session,
        action="oversight.agent.updated",
        actor=actor,
        subject_ref=f"agent_firm:{firm.id}",
        obligations=OBLIGATIONS,
        detail={"firm": firm.id, **changed},
    )
    return firm


@carries("O24-11")
def add_assessment(
    session: Session,
    code: str,
    *,
    assessor: str,
    result: str,
    findings: Iterable[object] = (),
    assessed_at: datetime | None = None,
    next_due: datetime | None = None,
    actor: Actor,
) -> AgentAssessment:
    """Record a supervision assessment of a firm with its findings. A failed assessment suspends the
    firm (O24-11: never entrust an agent that fails these rules)."""
    firm = get_firm(session, code)
    if result not in ASSESSMENT_RESULTS:
        raise invalid_field(
            "result", f"one of {', '.join(ASSESSMENT_RESULTS)}", f"须为 {'、'.join(ASSESSMENT_RESULTS)} 之一"
        )
    items: list[dict[str, Any]] = []
    for i, f in enumerate(findings):
        text = f.get("text") if isinstance(f, dict) else f
        sev = f.get("severity", "medium") if isinstance(f, dict) else "medium"
        if sev not in SEVERITIES:
            raise invalid_field(
                f"findings.{i}.severity",
                f"one of {', '.join(SEVERITIES)}",
                f"须为 {'、'.join(SEVERITIES)} 之一",
            )
        items.append({"text": _text(f"findings.{i}.text", text, 1000), "severity": sev, "closed": False})
    at = _aware("assessed_at", assessed_at) if assessed_at is not None else utcnow()
    due = _aware("next_due", next_due) if next_due is not None else None
    row = AgentAssessment(
        firm_id=firm.id,
        assessed_at=at,
        assessor=_text("assessor", assessor, 128),
        result=result,
        findings=items,
        next_due=due,
    )
    session.add(row)
    if result == "fail" and firm.status == "active":
        firm.status = "suspended"
    session.flush()
    record(
        session,
        action="oversight.agent.assessed",
        actor=actor,
        subject_ref=f"agent_firm:{firm.id}",
        obligations=OBLIGATIONS,
        detail={"firm": firm.id, "result": result, "findings": len(items), "status": firm.status},
    )
    return row


def firm_to_dict(firm: AgentFirm, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "code": firm.code,
        "name": firm.name,
        "contract_no": firm.contract_no,
        "contract_start": firm.contract_start.isoformat(),
        "contract_end": firm.contract_end.isoformat(),
        "status": firm.status,
        "current": firm.status == "active" and firm.contract_start <= now < firm.contract_end,
        "scope": {
            "categories": list(firm.scope_categories),
            "purposes": list(firm.scope_purposes),
            "systems": list(firm.scope_systems),
        },
        "assessments": [
            {
                "assessed_at": a.assessed_at.isoformat(),
                "assessor": a.assessor,
                "result": a.result,
                "findings": list(a.findings),
                "next_due": a.next_due.isoformat() if a.next_due else None,
            }
            for a in firm.assessments
        ],
    }
