"""Access reviews (O24-13.5): periodic recertification campaigns of who reaches the systems that
store personal information.

* :func:`open_campaign` (``oversight.manage``) snapshots every active account's roles against every
  system of the inventory: a member of staff reaches every system, an outsourced agent the systems
  its firm's contract names (O24-11; all of them when the firm is not in the register, so the review
  still sees it). Each (system, account, role) is one item, to be decided by the system's owners in
  the responsibility register (O24-13.1), else by the person in charge of PI protection. The
  campaign is due ``access_review.campaign_days`` after it opens, and the next one falls due
  ``access_review.period_months`` later (dated parameters: the operator's policy, the law says
  "periodic" and fixes no interval).
* :func:`decide` confirms or revokes one item. Never the person reviewed (maker-checker, like the
  bulk review), never someone who is not a reviewer of that system, never twice. A revocation takes
  effect at once: the role is removed in identity (the account is deactivated, its tokens and
  sessions ended, when it was its only role), so the next access decision refuses; the campaign's
  other open items for the same role are closed with it.
* :func:`overdue` lists access still unreviewed after its campaign's due date, each with a reason;
  :func:`standing` answers whether access reviews are up to date (a Decision).

Functions take a session and never commit; every step is audited (ids, roles and systems only).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.calendar import to_local_date
from piguard.core.db import utcnow
from piguard.core.errors import forbidden
from piguard.core.reasons import Decision, Reason
from piguard.core.refs import as_row_id, new_ref
from piguard.identity import service as identity
from piguard.identity.access import decide_access
from piguard.identity.models import Staff
from piguard.identity.principal import Principal
from piguard.oversight import agents, responsibilities
from piguard.oversight.reviews_common import aware, err, systems, text, who
from piguard.oversight.reviews_models import ReviewCampaign, ReviewItem
from piguard.regulations.markers import carries
from piguard.regulations.parameters import value

OBLIGATION = "O24-13.5"
OBLIGATIONS = (OBLIGATION, "O24-13.6")
MANAGE_ACTION = "oversight.manage"
READ_ACTION = "oversight.read"
DECISIONS = ("confirm", "revoke")


def _may(session: Session, principal: Principal, action: str, now: datetime) -> None:
    decision = decide_access(principal, action, context={"session": session, "now": now})
    if not decision.allowed:
        raise forbidden(decision.reasons)


def may_read(session: Session, principal: Principal) -> None:
    _may(session, principal, READ_ACTION, utcnow())


def _add_months(at: datetime, months: int) -> datetime:
    """``months`` calendar months after ``at``, counted in China (Asia/Shanghai), day clamped: 02:00
    on 31 Mar in Shanghai (18:00 UTC on 30 Mar) plus six months is 02:00 on 30 Sep there."""
    from piguard.messaging.records.service import months_before

    return months_before(at, -months)


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    subject: str,
    *,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    record(
        session,
        action=action,
        actor=principal.as_actor(),
        subject_ref=subject,
        outcome=outcome,
        obligations=OBLIGATIONS,
        client_ip=principal.client_ip,
        terminal=principal.terminal,
        detail=detail or {},
    )


# ------------------------------------------------------------------------------------ campaigns


def _reach(session: Session, staff: Staff, known: list[str]) -> list[str]:
    """The inventory systems an account reaches: all for staff; an agent's contract scope."""
    if staff.kind != "agent" or not staff.agent_org:
        return known
    firm = agents.find_firm(session, staff.agent_org)
    if firm is None:
        return known
    return [s for s in known if s in firm.scope_systems]


@carries(OBLIGATION)
def open_campaign(
    session: Session, principal: Principal, *, title: str = "", now: datetime | None = None
) -> ReviewCampaign:
    """Open a campaign: one item per (system, active account, role), reviewers from the register."""
    now = now or utcnow()
    _may(session, principal, MANAGE_ACTION, now)
    name = (
        text(title, "title", 200, OBLIGATION)
        or f"访问权限复核 / Access review {to_local_date(now).isoformat()}"
    )
    known = list(systems(session))
    if not known:
        raise err(
            "access_review_no_systems",
            "The inventory lists no system: there is nothing to review. Import the inventory first.",
            "个人信息清单中没有系统：无可复核的对象。请先导入清单。",
            OBLIGATION,
        )
    months = value("access_review.period_months", on=now)
    campaign = ReviewCampaign(
        ref=new_ref()[:16],
        title=name,
        opened_by=who(principal),
        opened_at=now,
        due_at=now + timedelta(days=value("access_review.campaign_days", on=now)),
        next_due_at=_add_months(now, months),
        period_months=months,
    )
    session.add(campaign)
    session.flush()
    reviewers = {s: responsibilities.reviewers_for(session, s) for s in known}
    count = 0
    for staff in identity.list_staff(session, include_inactive=False):
        for system_id in _reach(session, staff, known):
            for role in sorted(staff.roles):
                session.add(
                    ReviewItem(
                        campaign_id=campaign.id,
                        system_id=system_id,
                        staff_id=staff.id,
                        username=staff.username,
                        kind=staff.kind,
                        role=role,
                        reviewers=reviewers[system_id],
                    )
                )
                count += 1
    session.flush()
    _audit(
        session,
        principal,
        "oversight.access_review.opened",
        f"access_review:{campaign.ref}",
        detail={
            "items": count,
            "systems": known,
            "due_at": campaign.due_at.isoformat(),
            "period_months": months,
            "unowned_systems": sorted(s for s, r in reviewers.items() if not r),
        },
    )
    return campaign


def list_campaigns(session: Session) -> list[ReviewCampaign]:
    return list(session.scalars(select(ReviewCampaign).order_by(ReviewCampaign.opened_at.desc())))


def get_campaign(session: Session, ref: object) -> ReviewCampaign:
    key = ref.strip() if isinstance(ref, str) else ""
    row = (
        session.scalars(select(ReviewCampaign).where(ReviewCampaign.ref == key)).one_or_none()
        if key
        else None
    )
    if row is None:
        raise err(
            "access_review_unknown",
            f"No access-review campaign {key[:32]!r}.",
            f"没有访问权限复核活动 {key[:32]!r}。",
            OBLIGATION,
            status=404,
        )
    return row


def items_of(session: Session, campaign: ReviewCampaign) -> list[ReviewItem]:
    return list(
        session.scalars(
            select(ReviewItem)
            .where(ReviewItem.campaign_id == campaign.id)
            .order_by(ReviewItem.system_id, ReviewItem.username, ReviewItem.role)
        )
    )


def get_item(session: Session, item_id: object) -> ReviewItem:
    rid = as_row_id(item_id)
    row = session.get(ReviewItem, rid) if rid is not None else None
    if row is None:
        raise err(
            "access_review_item_unknown",
            f"No access-review item {str(item_id)[:32]!r}; nothing was changed.",
            f"没有访问权限复核条目 {str(item_id)[:32]!r}，未作任何更改。",
            OBLIGATION,
            status=404,
        )
    return row


def campaign_state(campaign: ReviewCampaign, items: list[ReviewItem], now: datetime | None = None) -> str:
    """``complete`` (nothing pending), ``open`` (pending, before due) or ``overdue``."""
    now = now or utcnow()
    if not any(i.status == "pending" for i in items):
        return "complete"
    return "overdue" if aware(campaign.due_at) <= now else "open"


# ------------------------------------------------------------------------------------- decisions


def _unreviewed_reason(item: ReviewItem, campaign: ReviewCampaign) -> Reason:
    due = aware(campaign.due_at).isoformat()
    return Reason(
        "access_unreviewed",
        (OBLIGATION,),
        f"{item.username}'s role {item.role!r} on system {item.system_id!r} was not reviewed by the "
        f"campaign's due date ({due}).",
        f"{item.username} 在系统 {item.system_id!r} 上的角色 {item.role!r} 未在复核截止时间（{due}）前复核。",
        {
            "item": item.id,
            "campaign": campaign.ref,
            "system": item.system_id,
            "role": item.role,
            "due_at": due,
        },
    )


def _decidable(item: ReviewItem, campaign: ReviewCampaign, principal: Principal) -> None:
    if item.status != "pending":
        raise err(
            "access_review_already_decided",
            f"Item {item.id} is already {item.status}"
            + (f" (with item {item.superseded_by})" if item.superseded_by else "")
            + "; nothing was changed.",
            f"条目 {item.id} 已处理（{item.status}），未作任何更改。",
            OBLIGATION,
            detail={"item": item.id, "status": item.status},
        )
    if principal.staff_id is not None and principal.staff_id == item.staff_id:
        raise err(
            "access_review_self",
            "This is your own access: the system's owner, not the person reviewed, decides it.",
            "这是您本人的访问权限：须由系统负责人而非被复核人决定。",
            OBLIGATION,
            status=403,
            detail={"item": item.id},
        )
    if principal.staff_id is None or principal.staff_id not in item.reviewers:
        raise err(
            "access_review_not_reviewer",
            f"Only the owners of system {item.system_id!r} in the responsibility register (else the "
            "person in charge of PI protection) may decide this access.",
            f"只有责任登记中系统 {item.system_id!r} 的负责人（无负责人时为个人信息保护负责人）可以决定此访问权限。",
            OBLIGATION,
            status=403,
            detail={"item": item.id, "system": item.system_id},
        )


@carries(OBLIGATION)
def decide(
    session: Session,
    principal: Principal,
    item_id: object,
    *,
    decision: str,
    note: str = "",
    now: datetime | None = None,
) -> Decision:
    """The system's owner confirms or revokes one access. A revocation needs a reason and takes
    effect at once in identity."""
    now = now or utcnow()
    if decision not in DECISIONS:
        raise err(
            "validation_error",
            "Invalid decision: confirm or revoke",
            "decision 无效：须为 confirm（确认）或 revoke（撤销）",
            OBLIGATION,
            status=422,
            field="decision",
        )
    item = get_item(session, item_id)
    campaign = session.get(ReviewCampaign, item.campaign_id)
    assert campaign is not None
    note_text = text(note, "note", 2000, OBLIGATION, required=decision == "revoke")
    _decidable(item, campaign, principal)
    late = aware(campaign.due_at) <= now
    if decision == "confirm":
        item.status = "confirmed"
        item.decided_by, item.decided_at, item.note = who(principal), now, note_text or None
        reason = Reason(
            "access_confirmed",
            (OBLIGATION,),
            f"{who(principal)} confirmed {item.username}'s role {item.role!r} on {item.system_id!r}.",
            f"{who(principal)} 确认了 {item.username} 在 {item.system_id!r} 上的角色 {item.role!r}。",
            {"item": item.id, "late": late},
        )
        session.flush()
        _audit(
            session,
            principal,
            "oversight.access_review.confirmed",
            f"access_review:{campaign.ref}",
            detail={"item": item.id, "staff_id": item.staff_id, "role": item.role, "system": item.system_id},
        )
        return Decision.allow(reason)
    staff = session.get(Staff, item.staff_id)
    removed = "none"
    if staff is not None and staff.active and item.role in staff.roles:
        left = staff.roles - {item.role}
        if left:
            identity.set_roles(session, staff, left, by=principal)
            removed = "role"
        else:
            identity.deactivate(session, staff, by=principal, reason="access review revocation")
            removed = "account"
    item.status = "revoked"
    item.decided_by, item.decided_at, item.note = who(principal), now, note_text
    closed = 0
    for other in session.scalars(
        select(ReviewItem).where(
            ReviewItem.campaign_id == campaign.id,
            ReviewItem.staff_id == item.staff_id,
            ReviewItem.status == "pending",
            ReviewItem.id != item.id,
        )
    ):
        if other.role == item.role or removed == "account":
            other.status, other.superseded_by = "revoked", item.id
            other.decided_by, other.decided_at = who(principal), now
            closed += 1
    session.flush()
    _audit(
        session,
        principal,
        "oversight.access_review.revoked",
        f"access_review:{campaign.ref}",
        outcome="refused",
        detail={
            "item": item.id,
            "staff_id": item.staff_id,
            "role": item.role,
            "system": item.system_id,
            "removed": removed,
            "items_closed": closed,
        },
    )
    return Decision.refuse(
        Reason(
            "access_revoked",
            (OBLIGATION,),
            f"{who(principal)} revoked {item.username}'s role {item.role!r}"
            + (" (the account's only role: it is deactivated)" if removed == "account" else "")
            + "; effective now.",
            f"{who(principal)} 撤销了 {item.username} 的角色 {item.role!r}"
            + ("（该账号唯一的角色：账号已停用）" if removed == "account" else "")
            + "，立即生效。",
            {"item": item.id, "removed": removed, "items_closed": closed},
        )
    )


# ------------------------------------------------------------------------------- flags and standing


def _overdue_rows(session: Session, now: datetime) -> list[tuple[ReviewItem, ReviewCampaign]]:
    rows = session.execute(
        select(ReviewItem, ReviewCampaign)
        .join(ReviewCampaign, ReviewCampaign.id == ReviewItem.campaign_id)
        .where(ReviewItem.status == "pending", ReviewCampaign.due_at <= now)
        .order_by(ReviewCampaign.due_at, ReviewItem.system_id, ReviewItem.username)
    )
    return [(i, c) for i, c in rows]


@carries(OBLIGATION)
def overdue(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Access still unreviewed after its campaign's due date, each with its reason."""
    rows = _overdue_rows(session, now or utcnow())
    return [
        {**item_to_dict(i), "campaign": c.ref, "reason": _unreviewed_reason(i, c).to_dict()} for i, c in rows
    ]


@carries(OBLIGATION)
def statistics(
    session: Session, since: datetime, until: datetime, *, now: datetime | None = None
) -> dict[str, Any]:
    """Counts for the self-inspection: campaigns opened in [since, until), their items by decision,
    access unreviewed past its due date now, and the standing's outcome with its reason codes."""
    now = now or utcnow()
    opened = [c for c in list_campaigns(session) if since <= aware(c.opened_at) < until]
    by_status: dict[str, int] = {}
    for c in opened:
        for item in items_of(session, c):
            by_status[item.status] = by_status.get(item.status, 0) + 1
    st = standing(session, now=now)
    return {
        "measured": True,
        "campaigns": len(opened),
        "items": sum(by_status.values()),
        "by_status": by_status,
        "overdue": len(_overdue_rows(session, now)),
        "standing": st.outcome.value,
        "reasons": [r.code for r in st.reasons],
    }


@carries(OBLIGATION)
def standing(session: Session, *, now: datetime | None = None) -> Decision:
    """Are access reviews up to date? Hold when no campaign was ever run, the next one is past due,
    or access is unreviewed after its due date; allow otherwise."""
    now = now or utcnow()
    campaigns = list_campaigns(session)
    reasons: list[Reason] = []
    if not campaigns:
        reasons.append(
            Reason(
                "access_review_never_run",
                (OBLIGATION,),
                "No access review has been run.",
                "尚未进行访问权限复核。",
            )
        )
    elif aware(campaigns[0].next_due_at) <= now:
        due = aware(campaigns[0].next_due_at).isoformat()
        reasons.append(
            Reason(
                "access_review_due",
                (OBLIGATION,),
                f"The next access review was due on {due} (every {campaigns[0].period_months} months).",
                f"下一次访问权限复核应于 {due} 前进行（每 {campaigns[0].period_months} 个月）。",
                {"due_at": due},
            )
        )
    reasons += [_unreviewed_reason(i, c) for i, c in _overdue_rows(session, now)]
    if reasons:
        return Decision.hold(*reasons)
    last = campaigns[0]
    return Decision.allow(
        Reason(
            "access_review_current",
            (OBLIGATION,),
            f"Access reviews are up to date; the next is due on {to_local_date(aware(last.next_due_at)).isoformat()}.",
            f"访问权限复核均已按期完成；下一次应于 {to_local_date(aware(last.next_due_at)).isoformat()} 前进行。",
            {"campaign": last.ref, "next_due_at": aware(last.next_due_at).isoformat()},
        )
    )


def my_queue(session: Session, principal: Principal) -> list[ReviewItem]:
    """Pending items ``principal`` may decide (not their own)."""
    if principal.staff_id is None:
        return []
    rows = session.scalars(
        select(ReviewItem)
        .where(ReviewItem.status == "pending", ReviewItem.staff_id != principal.staff_id)
        .order_by(ReviewItem.campaign_id, ReviewItem.system_id, ReviewItem.username)
    )
    return [i for i in rows if principal.staff_id in i.reviewers]


# ---------------------------------------------------------------------------------------- dicts


def item_to_dict(item: ReviewItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "system": item.system_id,
        "username": item.username,
        "kind": item.kind,
        "role": item.role,
        "reviewers": list(item.reviewers),
        "status": item.status,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "note": item.note,
        "superseded_by": item.superseded_by,
    }


def campaign_to_dict(
    session: Session, campaign: ReviewCampaign, *, with_items: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    items = items_of(session, campaign)
    counts = {s: sum(1 for i in items if i.status == s) for s in ("pending", "confirmed", "revoked")}
    out: dict[str, Any] = {
        "ref": campaign.ref,
        "title": campaign.title,
        "opened_by": campaign.opened_by,
        "opened_at": aware(campaign.opened_at).isoformat(),
        "due_at": aware(campaign.due_at).isoformat(),
        "next_due_at": aware(campaign.next_due_at).isoformat(),
        "period_months": campaign.period_months,
        "state": campaign_state(campaign, items, now),
        "counts": counts,
        "unowned_systems": sorted({i.system_id for i in items if not i.reviewers}),
    }
    if with_items:
        out["items"] = [item_to_dict(i) for i in items]
    return out
