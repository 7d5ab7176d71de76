"""The responsibility register (O24-13.1): who is in charge of personal-information protection as a
whole (个人信息保护负责人), of each system of the inventory, of each PI category and of each branch.

:func:`assign` and :func:`end` change it (an assignment ends, it is never deleted, so the history
stays); :func:`gaps` lists what has nobody in charge: no PI-protection lead, an inventory system or
a category the inventory holds without a responsible person, each with a reason naming O24-13.1;
:func:`export_doc` / :func:`import_doc` read and write the register as YAML beside the inventory
(an import is checked whole first: an unknown system, category or person changes nothing).

Access reviews (:mod:`piguard.oversight.access_reviews`) ask :func:`reviewers_for` who may decide
an access to a system. Functions take a session and never commit; every change is audited (staff
ids and scope ids only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core import yamlfiles
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.core.reasons import Decision, Reason
from piguard.core.refs import as_row_id
from piguard.identity.models import Staff
from piguard.oversight.reviews_common import (
    err,
    inventory_categories,
    require_category,
    require_system,
    staff_named,
    systems,
    text,
)
from piguard.oversight.reviews_models import SCOPE_KINDS, Responsibility
from piguard.regulations.markers import carries

OBLIGATION = "O24-13.1"
OBLIGATIONS = (OBLIGATION, "O24-13.6")
#: The default titles (the operator may name the position otherwise).
DEFAULT_TITLES = {
    "pi_protection": "个人信息保护负责人 / Person in charge of PI protection",
    "system": "系统负责人 / System owner",
    "category": "类别负责人 / Category owner",
    "branch": "分支机构负责人 / Branch lead",
}
#: The YAML document's keys, one per scope kind.
DOC_KEYS = {
    "pi_protection": "pi_protection",
    "system": "systems",
    "category": "categories",
    "branch": "branches",
}


def _kind(raw: object) -> str:
    if raw not in SCOPE_KINDS:
        raise err(
            "validation_error",
            f"Invalid kind: one of {', '.join(SCOPE_KINDS)}",
            f"kind 无效：须为 {'、'.join(SCOPE_KINDS)} 之一",
            OBLIGATION,
            status=422,
            field="kind",
        )
    return str(raw)


def _scope(session: Session, kind: str, scope: object) -> str:
    if kind == "pi_protection":
        return ""
    if kind == "system":
        return require_system(session, scope, OBLIGATION, "scope")
    if kind == "category":
        return require_category(scope, OBLIGATION, "scope")
    return text(scope, "scope", 128, OBLIGATION, required=True)


def current(session: Session, kind: str | None = None, scope: str | None = None) -> list[Responsibility]:
    stmt = select(Responsibility).where(Responsibility.until.is_(None))
    if kind is not None:
        stmt = stmt.where(Responsibility.scope_kind == kind)
    if scope is not None:
        stmt = stmt.where(Responsibility.scope_id == scope)
    return list(
        session.scalars(stmt.order_by(Responsibility.scope_kind, Responsibility.scope_id, Responsibility.id))
    )


@carries(OBLIGATION)
def assign(
    session: Session,
    *,
    kind: str,
    scope: object = "",
    username: str,
    title: str | None = None,
    actor: Actor,
) -> Responsibility:
    """Make ``username`` responsible for ``kind``/``scope`` (a system id, a category code, a branch
    name; nothing for the PI-protection lead). Already responsible: an error, nothing changed."""
    k = _kind(kind)
    sid = _scope(session, k, scope)
    staff = staff_named(session, username, OBLIGATION)
    shown = text(title, "title", 128, OBLIGATION) or DEFAULT_TITLES[k]
    if any(r.staff_id == staff.id for r in current(session, k, sid)):
        raise err(
            "responsibility_exists",
            f"{staff.username} is already responsible for {k} {sid!r}.",
            f"{staff.username} 已是 {k} {sid!r} 的负责人。",
            OBLIGATION,
            detail={"kind": k, "scope": sid},
        )
    row = Responsibility(
        scope_kind=k, scope_id=sid, staff_id=staff.id, title=shown, assigned_by=actor.id or actor.type
    )
    session.add(row)
    session.flush()
    record(
        session,
        action="oversight.responsibility.assigned",
        actor=actor,
        subject_ref=f"responsibility:{row.id}",
        obligations=OBLIGATIONS,
        detail={"kind": k, "scope": sid, "staff_id": staff.id},
    )
    return row


@carries(OBLIGATION)
def end(
    session: Session, responsibility_id: object, *, actor: Actor, now: datetime | None = None
) -> Responsibility:
    """End an assignment (kept in the history with its end time)."""
    rid = as_row_id(responsibility_id)
    row = session.get(Responsibility, rid) if rid is not None else None
    if row is None:
        raise err(
            "responsibility_unknown",
            f"No responsibility {str(responsibility_id)[:32]!r}; nothing was changed.",
            f"没有编号为 {str(responsibility_id)[:32]!r} 的责任登记，未作任何更改。",
            OBLIGATION,
            status=404,
        )
    if row.until is not None:
        raise err(
            "responsibility_ended",
            f"Responsibility {row.id} already ended.",
            f"责任登记 {row.id} 已结束。",
            OBLIGATION,
        )
    row.until, row.ended_by = now or utcnow(), actor.id or actor.type
    session.flush()
    record(
        session,
        action="oversight.responsibility.ended",
        actor=actor,
        subject_ref=f"responsibility:{row.id}",
        obligations=OBLIGATIONS,
        detail={"kind": row.scope_kind, "scope": row.scope_id, "staff_id": row.staff_id},
    )
    return row


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {s.id: s.username for s in session.scalars(select(Staff).where(Staff.id.in_(ids)))}


def to_dicts(session: Session, rows: list[Responsibility]) -> list[dict[str, Any]]:
    names = _usernames(session, {r.staff_id for r in rows})
    return [
        {
            "id": r.id,
            "kind": r.scope_kind,
            "scope": r.scope_id,
            "username": names.get(r.staff_id, ""),
            "title": r.title,
            "since": r.since.isoformat(),
            "until": r.until.isoformat() if r.until else None,
        }
        for r in rows
    ]


def reviewers_for(session: Session, system_id: str) -> list[int]:
    """Who may decide an access to ``system_id``: its owners, else the PI-protection lead(s)."""
    owners = [r.staff_id for r in current(session, "system", system_id)]
    return owners or [r.staff_id for r in current(session, "pi_protection")]


@dataclass(frozen=True)
class Gap:
    kind: str
    scope: str
    reason: Reason

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "scope": self.scope, "reason": self.reason.to_dict()}


@carries(OBLIGATION)
def gaps(session: Session) -> list[Gap]:
    """What has nobody in charge: no PI-protection lead; an inventory system without an owner; a PI
    category the inventory holds without a responsible person."""
    held = {(r.scope_kind, r.scope_id) for r in current(session)}
    out: list[Gap] = []
    if not any(k == "pi_protection" for k, _ in held):
        out.append(
            Gap(
                "pi_protection",
                "",
                Reason(
                    "no_pi_protection_lead",
                    (OBLIGATION,),
                    "Nobody is registered as the person in charge of personal-information protection.",
                    "未登记个人信息保护负责人。",
                ),
            )
        )
    for sid, system in systems(session).items():
        if ("system", sid) not in held:
            out.append(
                Gap(
                    "system",
                    sid,
                    Reason(
                        "system_without_owner",
                        (OBLIGATION,),
                        f"System {sid!r} ({system.name}) has no responsible person.",
                        f"系统 {sid!r}（{system.name}）未登记负责人。",
                        {"system": sid},
                    ),
                )
            )
    for cat in inventory_categories(session):
        if ("category", cat) not in held:
            out.append(
                Gap(
                    "category",
                    cat,
                    Reason(
                        "category_without_owner",
                        (OBLIGATION,),
                        f"PI category {cat!r} has no responsible person.",
                        f"个人信息类别 {cat!r} 未登记负责人。",
                        {"category": cat},
                    ),
                )
            )
    return out


@carries(OBLIGATION)
def standing(session: Session) -> Decision:
    """Allow when everything has somebody in charge; hold with one reason per gap otherwise."""
    found = gaps(session)
    if found:
        return Decision.hold(*(g.reason for g in found))
    return Decision.allow(
        Reason(
            "responsibilities_complete",
            (OBLIGATION,),
            "A PI-protection lead, every system and every category held have a responsible person.",
            "已登记个人信息保护负责人，各系统与各类别均有负责人。",
        )
    )


# ------------------------------------------------------------------------------ YAML import/export


def export_doc(session: Session) -> dict[str, Any]:
    """The current register: ``{pi_protection: [user], systems: {id: [user]}, categories: ..., branches: ...}``."""
    doc: dict[str, Any] = {"pi_protection": [], "systems": {}, "categories": {}, "branches": {}}
    for r in to_dicts(session, current(session)):
        key = DOC_KEYS[r["kind"]]
        if r["kind"] == "pi_protection":
            doc[key].append(r["username"])
        else:
            doc[key].setdefault(r["scope"], []).append(r["username"])
    return {"responsibilities": doc}


def export_yaml(session: Session) -> str:
    return yaml.safe_dump(export_doc(session), allow_unicode=True, sort_keys=False)


def _doc_pairs(doc: object) -> list[tuple[str, str, str]]:
    """(kind, scope, username) for every entry of a register document; bad shape: 422."""
    fields: list[FieldError] = []
    body = doc.get("responsibilities") if isinstance(doc, dict) else None
    if not isinstance(body, dict):
        raise validation_error(
            [FieldError("responsibilities", "the document needs a 'responsibilities' mapping")],
            "The register document needs a 'responsibilities' mapping.",
            "责任登记文档须包含 responsibilities 映射。",
        )
    pairs: list[tuple[str, str, str]] = []
    unknown = set(body) - set(DOC_KEYS.values())
    for key in sorted(unknown):
        fields.append(FieldError(f"responsibilities.{key}"[:64], "unknown key"))
    for kind, key in DOC_KEYS.items():
        raw = body.get(key)
        if raw is None:
            continue
        if kind == "pi_protection":
            if not isinstance(raw, list):
                fields.append(FieldError(key, "a list of usernames"))
                continue
            pairs += [(kind, "", str(u)) for u in raw]
            continue
        if not isinstance(raw, dict):
            fields.append(FieldError(key, "a mapping of id to a list of usernames"))
            continue
        for scope, users in raw.items():
            if not isinstance(users, list):
                users = [users]
            pairs += [(kind, str(scope), str(u)) for u in users]
    if fields:
        raise validation_error(fields, "The register document is not valid.", "责任登记文档无效。")
    return pairs


@carries(OBLIGATION)
def import_doc(session: Session, doc: object, *, actor: Actor) -> dict[str, int]:
    """Make the register what ``doc`` says: assignments it lists are added, current ones it does not
    list are ended. Checked whole first: any unknown system, category or person is an error listing
    each of them, and nothing is changed."""
    pairs = _doc_pairs(doc)
    errors: list[FieldError] = []
    wanted: set[tuple[str, str, int]] = set()
    for kind, scope, user in pairs:
        try:
            sid = _scope(session, kind, scope)
            staff = staff_named(session, user, OBLIGATION)
        except PiguardError as e:
            errors.extend(e.fields or [FieldError(DOC_KEYS[kind], e.message_en)])
            continue
        wanted.add((kind, sid, staff.id))
    if errors:
        raise PiguardError(
            "responsibility_import_invalid",
            "The register names unknown systems, categories or people; nothing was changed.",
            "责任登记中有未知的系统、类别或人员，未作任何更改。",
            obligations=(OBLIGATION,),
            fields=errors,
            http_status=422,
        )
    now = utcnow()
    have = {(r.scope_kind, r.scope_id, r.staff_id): r for r in current(session)}
    ended = 0
    for key, row in have.items():
        if key not in wanted:
            row.until, row.ended_by = now, actor.id or actor.type
            ended += 1
    added = 0
    for kind, sid, staff_id in sorted(wanted - set(have)):
        session.add(
            Responsibility(
                scope_kind=kind,
                scope_id=sid,
                staff_id=staff_id,
                title=DEFAULT_TITLES[kind],
                assigned_by=actor.id or actor.type,
                since=now,
            )
        )
        added += 1
    session.flush()
    record(
        session,
        action="oversight.responsibility.imported",
        actor=actor,
        obligations=OBLIGATIONS,
        detail={"added": added, "ended": ended, "kept": len(wanted) - added},
    )
    return {"added": added, "ended": ended, "kept": len(wanted) - added}


def import_yaml(session: Session, raw: str, *, actor: Actor) -> dict[str, int]:
    try:
        doc = yamlfiles.load(raw)
    except yaml.YAMLError:
        raise validation_error(
            [FieldError("yaml", "not valid YAML")], "The file is not valid YAML.", "文件不是有效的 YAML。"
        ) from None
    return import_doc(session, doc, actor=actor)
