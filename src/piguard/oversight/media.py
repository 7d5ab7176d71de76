"""The storage-media register (O24-13.4): disks, tapes, USB sticks, optical discs, paper and backups
that hold personal information, who holds each one since when and where, and its destruction.

* :func:`register_medium` records a medium with its first holder and place (custody row one);
* :func:`transfer` hands it to another person or place (a custody row; refused once destroyed);
* destruction is two people's work, like the bulk destruction review (O24-13.3): one person
  proposes it with the method (:func:`propose_destruction`), a second person witnesses it
  (:func:`witness_destruction`): never the proposer, never for a medium already destroyed, never
  without a proposal. The witnessed destruction gets a certificate reference.

Register, transfer and proposal need ``oversight.manage``; witnessing needs ``approval.decide``.
Functions take a session and never commit; every step is audited (ids and categories only).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.db import utcnow
from piguard.core.errors import forbidden
from piguard.core.reasons import Decision, Reason
from piguard.core.refs import new_ref
from piguard.identity.access import decide_access
from piguard.identity.models import Staff
from piguard.identity.principal import Principal
from piguard.oversight.reviews_common import (
    aware,
    err,
    require_category,
    require_system,
    staff_named,
    text,
    who,
)
from piguard.oversight.reviews_models import (
    MEDIA_DESTROY_METHODS,
    MEDIA_KINDS,
    Medium,
    MediumCustody,
    MediumDestruction,
)
from piguard.regulations.markers import carries

OBLIGATION = "O24-13.4"
OBLIGATIONS = (OBLIGATION, "O24-13.6")
MANAGE_ACTION = "oversight.manage"
WITNESS_ACTION = "approval.decide"
READ_ACTION = "oversight.read"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _may(session: Session, principal: Principal, action: str, now: datetime) -> None:
    decision = decide_access(principal, action, context={"session": session, "now": now})
    if not decision.allowed:
        raise forbidden(decision.reasons)


def may_read(session: Session, principal: Principal) -> None:
    _may(session, principal, READ_ACTION, utcnow())


def _audit(session: Session, principal: Principal, action: str, m: Medium, **detail: Any) -> None:
    record(
        session,
        action=action,
        actor=principal.as_actor(),
        subject_ref=f"medium:{m.id}",
        data_categories=list(m.categories),
        obligations=OBLIGATIONS,
        client_ip=principal.client_ip,
        terminal=principal.terminal,
        detail={"medium": m.id, "kind": m.kind, **detail},
    )


def _choice(raw: object, field: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise err(
            "validation_error",
            f"Invalid {field}: one of {', '.join(allowed)}",
            f"{field} 无效：须为 {'、'.join(allowed)} 之一",
            OBLIGATION,
            status=422,
            field=field,
        )
    return str(raw)


def get_medium(session: Session, label: object) -> Medium:
    key = label.strip() if isinstance(label, str) else ""
    row = session.scalars(select(Medium).where(Medium.label == key)).one_or_none() if key else None
    if row is None:
        raise err(
            "medium_unknown",
            f"No storage medium {key[:64]!r} in the register; nothing was changed.",
            f"介质登记中没有 {key[:64]!r}，未作任何更改。",
            OBLIGATION,
            status=404,
        )
    return row


def list_media(session: Session) -> list[Medium]:
    return list(session.scalars(select(Medium).order_by(Medium.status, Medium.label)))


def _not_destroyed(m: Medium) -> None:
    if m.status == "destroyed":
        raise err(
            "medium_already_destroyed",
            f"Medium {m.label} was destroyed; nothing was changed.",
            f"介质 {m.label} 已销毁，未作任何更改。",
            OBLIGATION,
            detail={"medium": m.id},
        )


@carries(OBLIGATION)
def register_medium(
    session: Session,
    principal: Principal,
    *,
    label: str,
    kind: str,
    holder: str,
    location: str,
    description: str = "",
    categories: list[str] | tuple[str, ...] = (),
    system: str | None = None,
    encrypted: bool = False,
    now: datetime | None = None,
) -> Medium:
    """Register a medium with its first holder and place."""
    now = now or utcnow()
    _may(session, principal, MANAGE_ACTION, now)
    if not isinstance(label, str) or not _LABEL.match(label.strip()):
        raise err(
            "validation_error",
            "Invalid label: 1-64 letters, digits or ._-",
            "label 无效：1-64 位字母、数字或 ._-",
            OBLIGATION,
            status=422,
            field="label",
        )
    tag = label.strip()
    k = _choice(kind, "kind", MEDIA_KINDS)
    cats = sorted({require_category(c, OBLIGATION, "categories") for c in categories})
    sid = require_system(session, system, OBLIGATION) if system else None
    staff = staff_named(session, holder, OBLIGATION, "holder")
    place = text(location, "location", 200, OBLIGATION, required=True)
    desc = text(description, "description", 500, OBLIGATION)
    if session.scalars(select(Medium.id).where(Medium.label == tag)).first() is not None:
        raise err(
            "medium_exists",
            f"Medium {tag} is already registered.",
            f"介质 {tag} 已登记。",
            OBLIGATION,
        )
    m = Medium(
        label=tag,
        kind=k,
        description=desc,
        categories=cats,
        system_id=sid,
        encrypted=bool(encrypted),
        holder_id=staff.id,
        location=place,
        held_since=now,
        registered_by=who(principal),
        registered_at=now,
    )
    session.add(m)
    session.flush()
    session.add(
        MediumCustody(medium_id=m.id, from_id=None, to_id=staff.id, location=place, at=now, by=who(principal))
    )
    session.flush()
    _audit(session, principal, "oversight.medium.registered", m, holder_id=staff.id, encrypted=m.encrypted)
    return m


@carries(OBLIGATION)
def transfer(
    session: Session,
    principal: Principal,
    label: str,
    *,
    to: str,
    location: str,
    note: str = "",
    now: datetime | None = None,
) -> MediumCustody:
    """Hand a medium to ``to`` at ``location`` (custody record); refused once it was destroyed."""
    now = now or utcnow()
    _may(session, principal, MANAGE_ACTION, now)
    m = get_medium(session, label)
    _not_destroyed(m)
    staff = staff_named(session, to, OBLIGATION, "to")
    place = text(location, "location", 200, OBLIGATION, required=True)
    remark = text(note, "note", 1000, OBLIGATION)
    row = MediumCustody(
        medium_id=m.id,
        from_id=m.holder_id,
        to_id=staff.id,
        location=place,
        at=now,
        by=who(principal),
        note=remark or None,
    )
    session.add(row)
    previous = m.holder_id
    m.holder_id, m.location, m.held_since = staff.id, place, now
    session.flush()
    _audit(session, principal, "oversight.medium.transferred", m, from_id=previous, to_id=staff.id)
    return row


def _destruction(session: Session, m: Medium) -> MediumDestruction | None:
    return session.scalars(select(MediumDestruction).where(MediumDestruction.medium_id == m.id)).one_or_none()


@carries(OBLIGATION)
def propose_destruction(
    session: Session,
    principal: Principal,
    label: str,
    *,
    method: str,
    note: str = "",
    now: datetime | None = None,
) -> Decision:
    """The first person proposes to destroy a medium by ``method``; it is held for a witness."""
    now = now or utcnow()
    _may(session, principal, MANAGE_ACTION, now)
    m = get_medium(session, label)
    _not_destroyed(m)
    how = _choice(method, "method", MEDIA_DESTROY_METHODS)
    remark = text(note, "note", 1000, OBLIGATION)
    if _destruction(session, m) is not None:
        raise err(
            "medium_destruction_pending",
            f"The destruction of {m.label} is already proposed and waits for a witness.",
            f"介质 {m.label} 的销毁已提出，等待见证人确认。",
            OBLIGATION,
            detail={"medium": m.id},
        )
    session.add(
        MediumDestruction(
            medium_id=m.id, method=how, proposed_by=who(principal), proposed_at=now, note=remark or None
        )
    )
    m.status = "destruction_pending"
    session.flush()
    _audit(session, principal, "oversight.medium.destruction_proposed", m, method=how)
    return Decision.hold(
        Reason(
            "medium_destruction_needs_witness",
            (OBLIGATION,),
            f"Destruction of {m.label} by {how} proposed by {who(principal)}: a second person must witness it.",
            f"{who(principal)} 提出以 {how} 方式销毁介质 {m.label}：须由另一人见证确认。",
            {"medium": m.id, "method": how},
        )
    )


@carries(OBLIGATION)
def witness_destruction(
    session: Session, principal: Principal, label: str, *, note: str = "", now: datetime | None = None
) -> Decision:
    """A second person witnesses the destruction: never the proposer; the medium is then destroyed
    and a certificate reference issued."""
    now = now or utcnow()
    _may(session, principal, WITNESS_ACTION, now)
    m = get_medium(session, label)
    _not_destroyed(m)
    d = _destruction(session, m)
    if d is None:
        raise err(
            "medium_destruction_not_proposed",
            f"No destruction of {m.label} was proposed: a person proposes it with the method, a second "
            "person witnesses it.",
            f"介质 {m.label} 尚未提出销毁：须由一人提出（注明方式），另一人见证。",
            OBLIGATION,
            detail={"medium": m.id},
        )
    if d.proposed_by == who(principal):
        raise err(
            "medium_self_witness",
            "You proposed this destruction: a second person must witness it.",
            "此销毁由您本人提出：须由另一人见证。",
            OBLIGATION,
            status=403,
            detail={"medium": m.id},
        )
    remark = text(note, "note", 1000, OBLIGATION)
    d.witnessed_by, d.destroyed_at, d.certificate_ref = who(principal), now, f"MD-{new_ref()[:12].upper()}"
    if remark:
        d.note = f"{d.note}\n{remark}" if d.note else remark
    m.status = "destroyed"
    session.flush()
    _audit(
        session, principal, "oversight.medium.destroyed", m, method=d.method, certificate=d.certificate_ref
    )
    return Decision.allow(
        Reason(
            "medium_destroyed_with_witness",
            (OBLIGATION,),
            f"{m.label} destroyed by {d.method}, proposed by {d.proposed_by}, witnessed by {who(principal)}.",
            f"介质 {m.label} 已以 {d.method} 方式销毁：{d.proposed_by} 提出，{who(principal)} 见证。",
            {"medium": m.id, "certificate": d.certificate_ref},
        )
    )


def _names(session: Session, maybe: set[int | None]) -> dict[int, str]:
    ids = {i for i in maybe if i is not None}
    if not ids:
        return {}
    return {s.id: s.username for s in session.scalars(select(Staff).where(Staff.id.in_(ids)))}


def medium_to_dict(session: Session, m: Medium, *, with_history: bool = True) -> dict[str, Any]:
    d = _destruction(session, m)
    history = (
        list(
            session.scalars(
                select(MediumCustody)
                .where(MediumCustody.medium_id == m.id)
                .order_by(MediumCustody.at, MediumCustody.id)
            )
        )
        if with_history
        else []
    )
    names = _names(session, {m.holder_id, *(h.from_id for h in history), *(h.to_id for h in history)})
    return {
        "label": m.label,
        "kind": m.kind,
        "description": m.description,
        "categories": list(m.categories),
        "system": m.system_id,
        "encrypted": m.encrypted,
        "status": m.status,
        "holder": names.get(m.holder_id) if m.holder_id is not None else None,
        "location": m.location,
        "held_since": aware(m.held_since).isoformat(),
        "registered_by": m.registered_by,
        "custody": [
            {
                "from": names.get(h.from_id) if h.from_id else None,
                "to": names.get(h.to_id),
                "location": h.location,
                "at": aware(h.at).isoformat(),
                "by": h.by,
                "note": h.note,
            }
            for h in history
        ],
        "destruction": None
        if d is None
        else {
            "method": d.method,
            "proposed_by": d.proposed_by,
            "proposed_at": aware(d.proposed_at).isoformat(),
            "witnessed_by": d.witnessed_by,
            "destroyed_at": aware(d.destroyed_at).isoformat() if d.destroyed_at else None,
            "certificate_ref": d.certificate_ref,
            "note": d.note,
        },
    }
