"""Bulk export, copy and destruction of personal information: request, second person's approval,
encrypted and watermarked packages, audited downloads, destruction certificates (O24-13.3).

The flow (every step a :class:`~piguard.core.reasons.Decision` or a :class:`PiguardError` whose
reasons carry obligation ids):

1. :func:`request`: a member of staff asks to export, copy or destroy personal information for a
   purpose of the inventory taxonomy (O24-9.3). An export's data (CSV) is scanned by the discovery
   engine: its PI summary (categories and cell counts, never a value) is kept for the approver. A
   request under both thresholds (dated parameters ``bulk.review_rows`` and
   ``bulk.review_categories``: the operator's thresholds, the law fixes none) needs no review and is
   answered so, nothing stored. The data is kept only encrypted (AES-GCM, a per-request key wrapped
   under a key-encryption key derived from ``PIGUARD_FIELD_KEY``; ``cryptography`` directly).
2. :func:`approve` / :func:`reject`: a second person decides (maker-checker): never the requester,
   never after the request expired (``bulk.request_expiry_days``).
3. :func:`download`: an approved export or copy, until ``bulk.export_expiry_days`` after approval,
   for one named recipient: the file starts with a visible line naming the recipient and the
   request, and its rows come in an order keyed to that recipient (an invisible marker:
   :func:`trace` tells from a leaked file whose copy it was). Every download is audited.
4. :func:`destroy`: an approved destruction is recorded as carried out and a certificate issued
   (what, how, when, who requested, who approved; :func:`certificate_html` zh/en, JSON).

Service functions take a session and do not commit: the caller owns the unit of work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.calendar import to_local_date
from piguard.core.db import utcnow
from piguard.core.errors import forbidden, not_found
from piguard.core.reasons import Decision, Reason
from piguard.core.refs import new_ref
from piguard.core.text import clean_text
from piguard.discovery.categories import BY_CODE
from piguard.identity.access import (
    AccessRequest,
    CheckResult,
    Hold,
    Satisfied,
    decide_access,
    register_access_check,
)
from piguard.identity.principal import Principal
from piguard.inventory.taxonomy import taxonomy
from piguard.oversight.bulk_models import DESTROY_METHODS, KINDS, BulkDownload, BulkRequest
from piguard.oversight.bulk_package import (
    KEY_VERSION,
    _bad,
    _csv,
    _err,
    _marker_key,
    _open,
    _order,
    _seal,
    _shred,
    parse_csv,
    pi_summary,
)
from piguard.regulations.markers import carries
from piguard.regulations.parameters import value

OBLIGATION = "O24-13.3"
PURPOSE_OBLIGATION = "O24-9.3"
#: Not regulatory numbers: limits that keep one request a sane size.
MAX_RECIPIENTS = 20
_TEXT_MAX = 2000
_NAME_MAX = 200
#: Which action (identity's permission table) each step needs.
REQUEST_ACTION = {"export": "pi.export", "copy": "pi.export", "destroy": "pi.delete"}
APPROVE_ACTION = "approval.decide"
READ_ACTION = "oversight.read"


# ------------------------------------------------------------------ small helpers


def who(principal: Principal) -> str:
    """How a person is named on a request: ``staff:alice`` (never their display name)."""
    return f"{principal.actor_type}:{principal.actor_id}"


def _aware(when: datetime) -> datetime:
    from datetime import UTC

    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _may(session: Session, principal: Principal, action: str, now: datetime) -> None:
    decision = decide_access(principal, action, context={"session": session, "now": now})
    if not decision.allowed:
        raise forbidden(decision.reasons)


def may_read(session: Session, principal: Principal) -> None:
    """Reading the queue, a request's PI summary or a certificate: ``oversight.read``."""
    _may(session, principal, READ_ACTION, utcnow())


def _text(raw: object, field: str, limit: int, *, required: bool = False) -> str:
    return clean_text(raw, field, limit, required=required, bad=_bad)


def _actor(principal: Principal) -> Actor:
    return principal.as_actor()


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    req: BulkRequest,
    *,
    outcome: str = "ok",
    obligations: tuple[str, ...] = (OBLIGATION, "O24-13.6"),
    detail: dict[str, Any] | None = None,
) -> None:
    record(
        session,
        action=action,
        actor=_actor(principal),
        subject_ref=req.ref,
        data_categories=list(req.categories),
        purpose=req.purpose,
        outcome=outcome,
        obligations=obligations,
        client_ip=principal.client_ip,
        terminal=principal.terminal,
        detail={"kind": req.kind, "rows": req.rows, **(detail or {})},
    )


# ------------------------------------------------------------------ thresholds and status


@dataclass(frozen=True)
class Thresholds:
    rows: int
    categories: int
    request_days: int
    package_days: int

    def to_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "categories": self.categories,
            "request_expiry_days": self.request_days,
            "export_expiry_days": self.package_days,
        }


@carries(OBLIGATION)
def thresholds(on: datetime | None = None) -> Thresholds:
    """The operator's thresholds and periods in force on ``on`` (dated parameters ``bulk.*``)."""
    return Thresholds(
        rows=value("bulk.review_rows", on=on),
        categories=value("bulk.review_categories", on=on),
        request_days=value("bulk.request_expiry_days", on=on),
        package_days=value("bulk.export_expiry_days", on=on),
    )


def status_of(req: BulkRequest, now: datetime | None = None) -> str:
    """The stored status, with a pending request past its expiry shown as ``expired``."""
    now = now or utcnow()
    if req.status == "pending" and _aware(req.expires_at) <= now:
        return "expired"
    return req.status


def package_open(req: BulkRequest, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        req.status == "approved"
        and req.kind in ("export", "copy")
        and req.package_expires_at is not None
        and _aware(req.package_expires_at) > now
        and req.wrapped_key is not None
    )


# ------------------------------------------------------------------ request


def _purpose(purpose: object) -> str:
    pid = _text(purpose, "purpose", 64, required=True)
    known = taxonomy()
    if pid not in known:
        raise _err(
            "bulk_unknown_purpose",
            f"Unknown purpose {pid!r}: name one of the inventory's purposes ({', '.join(sorted(known))}).",
            f"未知用途 {pid!r}：请选择个人信息清单中的用途（{'、'.join(sorted(known))}）。",
            status=422,
            obligations=(PURPOSE_OBLIGATION, OBLIGATION),
            field="purpose",
        )
    return pid


def _categories(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [c for c in (p.strip() for p in raw.split(",")) if c]
    if not isinstance(raw, list | tuple):
        raise _bad("categories", "must be a list of category codes", "须为类别代码列表")
    unknown = [c for c in raw if c not in BY_CODE]
    if unknown:
        raise _bad(
            "categories",
            f"unknown category {unknown[0]!r} (use the discovery codes: {', '.join(sorted(BY_CODE))})",
            f"未知类别 {unknown[0]!r}",
        )
    return sorted(set(raw))


def _recipients(raw: object, kind: str) -> list[str]:
    if raw is None:
        raw = []
    if isinstance(raw, str):
        raw = [r for r in (p.strip() for p in raw.split(";")) if r]
    if not isinstance(raw, list | tuple) or not all(isinstance(r, str) for r in raw):
        raise _bad("recipients", "must be a list of names", "须为接收方名称列表")
    names = [_text(r, "recipients", _NAME_MAX, required=True) for r in raw]
    if kind in ("export", "copy") and not names:
        raise _bad("recipients", "an export or copy names who receives it", "导出或复制须指明接收方")
    if kind == "destroy" and names:
        raise _bad("recipients", "a destruction has no recipients", "销毁不涉及接收方")
    if len(set(names)) != len(names):
        raise _bad("recipients", "each recipient once", "接收方不得重复")
    if len(names) > MAX_RECIPIENTS:
        raise _bad("recipients", f"at most {MAX_RECIPIENTS}", f"最多 {MAX_RECIPIENTS} 个")
    return names


@dataclass
class Requested:
    request: BulkRequest
    decision: Decision


@carries(OBLIGATION, PURPOSE_OBLIGATION)
def request(
    session: Session,
    principal: Principal,
    *,
    kind: str,
    purpose: str,
    justification: str = "",
    system: str = "",
    dataset: str = "",
    recipients: list[str] | str | None = None,
    data: str | None = None,
    rows: int | None = None,
    categories: list[str] | str | None = None,
    method: str | None = None,
    now: datetime | None = None,
) -> Requested:
    """Ask for a bulk export, copy or destruction. Returns the stored request and the decision
    (``hold``: awaiting a second person's approval, with the reasons the approver sees).

    Raises ``bulk_review_not_needed`` (nothing stored) when the operation is under both thresholds,
    ``bulk_unknown_purpose`` for a purpose outside the inventory taxonomy, ``validation_error`` for
    malformed input, ``forbidden`` when the requester's role may not do the operation at all.
    """
    now = now or utcnow()
    if kind not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}", f"须为 {'、'.join(KINDS)} 之一")
    _may(session, principal, REQUEST_ACTION[kind], now)
    pid = _purpose(purpose)
    justification = _text(justification, "justification", _TEXT_MAX, required=True)
    system = _text(system, "system", _NAME_MAX, required=True)
    dataset = _text(dataset, "dataset", _NAME_MAX, required=True)
    names = _recipients(recipients, kind)
    declared = _categories(categories)
    if kind == "destroy":
        m = _text(method, "method", 16, required=True)
        if m not in DESTROY_METHODS:
            raise _bad(
                "method", f"one of {', '.join(DESTROY_METHODS)}", f"须为 {'、'.join(DESTROY_METHODS)} 之一"
            )
        method = m
    elif method:
        raise _bad("method", "only a destruction names a method", "仅销毁需指明方式")
    summary: dict[str, Any] = {}
    payload: str | None = None
    if kind == "export" and not data:
        raise _bad(
            "data", "an export carries its data (CSV) so it can be scanned", "导出须附数据（CSV）以供扫描"
        )
    if data:
        if kind == "destroy":
            raise _bad("data", "a destruction carries no data", "销毁申请不附数据")
        header, table = parse_csv(data)
        summary = pi_summary(header, table)
        found = list(summary["categories"])
        declared = sorted(set(declared) | set(found))
        if rows is not None and rows != len(table):
            raise _bad(
                "rows",
                f"the data has {len(table)} rows, not {rows}",
                f"数据为 {len(table)} 行，而非 {rows} 行",
            )
        rows = len(table)
        payload = _csv(header, table)
    if rows is None or isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise _bad("rows", "a positive number of rows", "须为正整数行数")
    th = thresholds(now)
    detail = {
        "rows": rows,
        "categories": len(declared),
        "threshold_rows": th.rows,
        "threshold_categories": th.categories,
    }
    if rows < th.rows and len(declared) < th.categories:
        raise _err(
            "bulk_review_not_needed",
            f"No review needed: {rows} rows and {len(declared)} categories are under the operator's "
            f"thresholds ({th.rows} rows, {th.categories} categories, parameters bulk.review_rows and "
            "bulk.review_categories); carry it out under ordinary access control. Nothing was stored.",
            f"无需审批：{rows} 行、{len(declared)} 类个人信息均低于运营者阈值（{th.rows} 行、{th.categories} 类，"
            "参数 bulk.review_rows 与 bulk.review_categories）；按一般访问控制执行即可。未保存任何申请。",
            status=422,
            detail=detail,
        )
    reasons: list[Reason] = []
    if rows >= th.rows:
        reasons.append(
            Reason(
                "bulk_rows_threshold",
                (OBLIGATION,),
                f"{rows} rows reach the bulk threshold of {th.rows}: a second person must approve.",
                f"{rows} 行达到批量阈值 {th.rows} 行：须经第二人审批。",
                {"rows": rows, "threshold": th.rows},
            )
        )
    if len(declared) >= th.categories:
        reasons.append(
            Reason(
                "bulk_categories_threshold",
                (OBLIGATION,),
                f"{len(declared)} categories reach the threshold of {th.categories}: a second person must approve.",
                f"{len(declared)} 类个人信息达到阈值 {th.categories} 类：须经第二人审批。",
                {"categories": len(declared), "threshold": th.categories},
            )
        )
    pk = taxonomy()[pid]
    beyond = sorted(set(declared) - pk.allowed)
    if beyond:
        reasons.append(
            Reason(
                "bulk_categories_beyond_purpose",
                (PURPOSE_OBLIGATION, OBLIGATION),
                f"Purpose {pid!r} does not need these categories: "
                f"{', '.join(BY_CODE[c].en for c in beyond)}; the approver should ask why.",
                f"用途 {pk.zh} 不需要以下类别：{'、'.join(BY_CODE[c].zh for c in beyond)}；审批人应核实必要性。",
                {"purpose": pid, "categories": beyond},
            )
        )
    else:
        reasons.append(
            Reason(
                "bulk_purpose_named",
                (PURPOSE_OBLIGATION,),
                f"Purpose {pid!r} ({pk.en}) covers every category concerned.",
                f"用途 {pk.zh} 涵盖所涉全部类别。",
                {"purpose": pid},
            )
        )
    until = (now + timedelta(days=th.request_days)).isoformat(timespec="minutes")
    reasons.append(
        Reason(
            "bulk_awaiting_approval",
            (OBLIGATION,),
            f"Held for a second person's approval until {until} (UTC).",
            f"等待第二人审批，截至 {until}（UTC）。",
            {"expires_at": until, "days": th.request_days},
        )
    )
    decision = Decision.hold(*reasons)
    ref = new_ref()
    req = BulkRequest(
        ref=ref,
        kind=kind,
        status="pending",
        purpose=pid,
        justification=justification,
        system=system,
        dataset=dataset,
        recipients=names,
        method=method,
        rows=rows,
        categories=declared,
        pi_summary=summary,
        reasons=[r.to_dict() for r in decision.reasons],
        requested_by=who(principal),
        requested_at=now,
        expires_at=now + timedelta(days=th.request_days),
        obligations=list(decision.obligations),
    )
    if payload is not None:
        req.sealed, req.wrapped_key = _seal(payload.encode("utf-8"), ref)
        req.key_version = KEY_VERSION
        req.content_sha256 = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    session.add(req)
    session.flush()
    _audit(
        session,
        principal,
        "bulk.request",
        req,
        outcome="held",
        obligations=(OBLIGATION, PURPOSE_OBLIGATION, "O24-13.6"),
        detail={"recipients": len(names), "reasons": [r.code for r in decision.reasons]},
    )
    return Requested(req, decision)


# ------------------------------------------------------------------ decide


def get(session: Session, ref: str) -> BulkRequest:
    if not isinstance(ref, str) or not ref or len(ref) > 32:
        raise not_found("Bulk request", "批量操作申请", str(ref)[:40])
    req = session.scalars(select(BulkRequest).where(BulkRequest.ref == ref)).one_or_none()
    if req is None:
        raise not_found("Bulk request", "批量操作申请", ref)
    return req


def _decidable(req: BulkRequest, principal: Principal, now: datetime) -> None:
    state = status_of(req, now)
    if state == "expired":
        raise _err(
            "bulk_request_expired",
            f"Request {req.ref} expired at {_aware(req.expires_at).isoformat()} and can no longer be "
            "approved or rejected; a new request is needed.",
            f"申请 {req.ref} 已于 {_aware(req.expires_at).isoformat()} 过期，不能再审批；须重新申请。",
            detail={"expires_at": _aware(req.expires_at).isoformat()},
        )
    if state != "pending":
        raise _err(
            "bulk_already_decided",
            f"Request {req.ref} is already {state}.",
            f"申请 {req.ref} 已处理（{state}）。",
            detail={"status": state},
        )
    if req.requested_by == who(principal):
        raise _err(
            "bulk_self_approval",
            "You made this request: a second person must decide it (maker-checker).",
            "此申请由您本人提出：须由另一人审批（双人审批）。",
            status=403,
        )


@carries(OBLIGATION, "O24-13.2")
def approve(
    session: Session, principal: Principal, ref: str, *, note: str = "", now: datetime | None = None
) -> Decision:
    """The second person approves: never the requester, never after expiry. An approved export or
    copy can be downloaded until ``bulk.export_expiry_days`` from now."""
    now = now or utcnow()
    _may(session, principal, APPROVE_ACTION, now)
    req = get(session, ref)
    note = _text(note, "note", _TEXT_MAX)
    _decidable(req, principal, now)
    reasons = [
        Reason(
            "bulk_approved_by_second_person",
            (OBLIGATION,),
            f"Approved by {who(principal)}, not the requester {req.requested_by}.",
            f"由 {who(principal)} 审批通过（非申请人 {req.requested_by}）。",
            {"requested_by": req.requested_by, "approved_by": who(principal)},
        )
    ]
    req.status, req.decided_by, req.decided_at, req.decision_note = (
        "approved",
        who(principal),
        now,
        note or None,
    )
    if req.kind in ("export", "copy") and req.sealed is not None:
        days = thresholds(now).package_days
        req.package_expires_at = now + timedelta(days=days)
        reasons.append(
            Reason(
                "bulk_package_expires",
                (OBLIGATION,),
                f"The encrypted package can be downloaded until "
                f"{req.package_expires_at.isoformat(timespec='minutes')} (UTC).",
                f"加密数据包可下载至 {req.package_expires_at.isoformat(timespec='minutes')}（UTC）。",
                {"expires_at": req.package_expires_at.isoformat(), "days": days},
            )
        )
    decision = Decision.allow(*reasons)
    req.reasons = [*req.reasons, *(r.to_dict() for r in reasons)]
    _audit(session, principal, "bulk.approve", req, detail={"requested_by": req.requested_by})
    return decision


@carries(OBLIGATION, "O24-13.2")
def reject(
    session: Session, principal: Principal, ref: str, *, note: str = "", now: datetime | None = None
) -> Decision:
    """The second person refuses; the data of an export is erased at once."""
    now = now or utcnow()
    _may(session, principal, APPROVE_ACTION, now)
    req = get(session, ref)
    note = _text(note, "note", _TEXT_MAX, required=True)
    _decidable(req, principal, now)
    reason = Reason(
        "bulk_rejected",
        (OBLIGATION,),
        f"Rejected by {who(principal)}.",
        f"由 {who(principal)} 驳回。",
        {"rejected_by": who(principal)},
    )
    req.status, req.decided_by, req.decided_at, req.decision_note = "rejected", who(principal), now, note
    req.reasons = [*req.reasons, reason.to_dict()]
    _shred(req)
    _audit(session, principal, "bulk.reject", req, outcome="refused")
    return Decision.refuse(reason)


# ------------------------------------------------------------------ download and watermark


def visible_line(req: BulkRequest, recipient: str) -> str:
    expires = to_local_date(_aware(req.package_expires_at)).isoformat() if req.package_expires_at else ""
    return (
        f"# piguard {req.kind} {req.ref} · 接收方/recipient: {recipient} · 用途/purpose: {req.purpose} · "
        f"批准/approved by: {req.decided_by} · 有效期至/valid until: {expires} · "
        "仅限接收方按上述用途使用，不得转发 / for the recipient and purpose above only, do not forward"
    )


@dataclass
class Package:
    filename: str
    content: bytes
    rows: int
    sha256: str


@carries(OBLIGATION, "O24-13.6")
def download(
    session: Session, principal: Principal, ref: str, *, recipient: str, now: datetime | None = None
) -> Package:
    """The approved export or copy for one named recipient, watermarked for them, audited."""
    now = now or utcnow()
    _may(session, principal, REQUEST_ACTION["export"], now)
    req = get(session, ref)
    if req.kind not in ("export", "copy"):
        raise _err(
            "bulk_no_package",
            f"Request {req.ref} is a {req.kind}: there is no package to download.",
            f"申请 {req.ref} 为 {req.kind}：没有可下载的数据包。",
        )
    if req.status != "approved":
        raise _err(
            "bulk_not_approved",
            f"Request {req.ref} is {status_of(req, now)}, not approved: nothing can be downloaded.",
            f"申请 {req.ref} 状态为 {status_of(req, now)}，未获批准：不能下载。",
            status=403,
        )
    if req.package_expires_at is None:
        raise _err("bulk_no_package", f"Request {req.ref} carries no data.", f"申请 {req.ref} 不含数据。")
    if not package_open(req, now):
        expired = _aware(req.package_expires_at).isoformat() if req.package_expires_at else ""
        raise _err(
            "bulk_export_expired",
            f"The package of {req.ref} expired at {expired}: downloads are refused (request a new export).",
            f"{req.ref} 的数据包已于 {expired} 过期：拒绝下载（请重新申请导出）。",
            status=410,
            detail={"expired_at": expired},
        )
    name = _text(recipient, "recipient", _NAME_MAX, required=True)
    if name not in req.recipients:
        raise _err(
            "bulk_unknown_recipient",
            "This recipient is not named on the approved request.",
            "该接收方不在已批准申请所列的接收方中。",
            status=422,
            field="recipient",
        )
    index = req.recipients.index(name)
    header, rows = parse_csv(_open(req).decode("utf-8"))
    order = _order(_marker_key(req), name, len(rows))
    body = visible_line(req, name) + "\n" + _csv(header, [rows[i] for i in order])
    content = body.encode("utf-8")
    digest = hashlib.sha256(content).hexdigest()
    session.add(
        BulkDownload(
            request_id=req.id, recipient=index, by=who(principal), at=now, rows=len(rows), sha256=digest
        )
    )
    _audit(
        session,
        principal,
        "bulk.download",
        req,
        detail={"recipient_index": index, "sha256": digest},
    )
    return Package(f"piguard-{req.kind}-{req.ref}-r{index + 1}.csv", content, len(rows), digest)


@carries(OBLIGATION)
def trace(session: Session, principal: Principal, ref: str, leaked: str) -> dict[str, Any]:
    """Whose copy is this? Compares the leaked file's row order with each recipient's keyed order
    (works without the visible line, while the package key still exists)."""
    _may(session, principal, APPROVE_ACTION, utcnow())
    req = get(session, ref)
    _, original = parse_csv(_open(req).decode("utf-8"))
    lines = [ln for ln in leaked.splitlines() if not ln.startswith("# piguard ")]
    _, seen = parse_csv("\n".join(lines))
    position = {tuple(r): i for i, r in enumerate(original)}
    observed = [position[tuple(r)] for r in seen if tuple(r) in position]
    key = _marker_key(req)
    best: tuple[float, int] = (0.0, -1)
    for idx, name in enumerate(req.recipients):
        expected = _order(key, name, len(original))
        rank = {row: i for i, row in enumerate(expected)}
        ranks = [rank[o] for o in observed]
        agree = sum(1 for a, b in pairwise(ranks) if a < b)
        score = agree / max(len(ranks) - 1, 1)
        if score > best[0]:
            best = (score, idx)
    score, idx = best
    matched = idx >= 0 and score >= 0.9
    return {
        "ref": req.ref,
        "rows_matched": len(observed),
        "recipient_index": idx if matched else None,
        "recipient": req.recipients[idx] if matched else None,
        "score": round(score, 3),
    }


# ------------------------------------------------------------------ destruction and certificate


@carries(OBLIGATION)
def destroy(
    session: Session, principal: Principal, ref: str, *, note: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Record an approved destruction as carried out and issue its certificate."""
    now = now or utcnow()
    _may(session, principal, REQUEST_ACTION["destroy"], now)
    req = get(session, ref)
    if req.kind != "destroy":
        raise _err(
            "bulk_not_a_destruction",
            f"Request {req.ref} is a {req.kind}, not a destruction.",
            f"申请 {req.ref} 为 {req.kind}，不是销毁申请。",
        )
    if req.status == "destroyed":
        raise _err(
            "bulk_already_destroyed",
            f"Request {req.ref} was already carried out.",
            f"申请 {req.ref} 已执行。",
        )
    if req.status != "approved":
        raise _err(
            "bulk_not_approved",
            f"Request {req.ref} is {status_of(req, now)}, not approved: it cannot be carried out.",
            f"申请 {req.ref} 状态为 {status_of(req, now)}，未获批准：不得执行。",
            status=403,
        )
    req.status, req.destroyed_by, req.destroyed_at = "destroyed", who(principal), now
    req.certificate_ref = new_ref()
    if note:
        req.decision_note = "\n".join(filter(None, [req.decision_note, _text(note, "note", _TEXT_MAX)]))
    _audit(
        session,
        principal,
        "bulk.destroy",
        req,
        detail={"method": req.method, "certificate": req.certificate_ref},
    )
    return certificate(session, req.ref)


@carries(OBLIGATION)
def certificate(session: Session, ref: str) -> dict[str, Any]:
    """The destruction certificate (JSON): what, how, when, who requested, who approved, who did it."""
    req = get(session, ref)
    if req.kind != "destroy" or req.status not in ("approved", "destroyed") or req.decided_by is None:
        raise _err(
            "bulk_not_approved",
            f"Request {req.ref} was never approved as a destruction: there is no certificate.",
            f"申请 {req.ref} 从未作为销毁申请获得批准：没有销毁证明。",
        )
    if req.status != "destroyed" or req.destroyed_at is None:
        raise _err(
            "bulk_not_destroyed",
            f"Request {req.ref} is approved but not carried out yet: run `piguard bulk destroy {req.ref}`.",
            f"申请 {req.ref} 已批准但尚未执行：请运行 `piguard bulk destroy {req.ref}`。",
        )
    method_names = {
        "deletion": ("Deletion from the system", "从系统中删除"),
        "overwrite": ("Overwriting of the storage", "覆写存储介质"),
        "crypto_erase": ("Cryptographic erasure (keys destroyed)", "密钥销毁（加密擦除）"),
        "physical": ("Physical destruction of the media", "物理销毁介质"),
    }
    en, zh = method_names.get(req.method or "", (req.method or "", req.method or ""))
    return {
        "certificate": req.certificate_ref,
        "request": req.ref,
        "what": {
            "system": req.system,
            "dataset": req.dataset,
            "rows": req.rows,
            "categories": [
                {
                    "code": c,
                    "zh": BY_CODE[c].zh if c in BY_CODE else c,
                    "en": BY_CODE[c].en if c in BY_CODE else c,
                }
                for c in req.categories
            ],
        },
        "how": {"method": req.method, "en": en, "zh": zh},
        "when": _aware(req.destroyed_at).isoformat(),
        "purpose": req.purpose,
        "justification": req.justification,
        "requested_by": req.requested_by,
        "requested_at": _aware(req.requested_at).isoformat(),
        "approved_by": req.decided_by,
        "approved_at": _aware(req.decided_at).isoformat() if req.decided_at else None,
        "carried_out_by": req.destroyed_by,
        "obligations": [OBLIGATION, "O24-13.6"],
    }


# ------------------------------------------------------------------ the identity room's check


@register_access_check
@carries(OBLIGATION)
def bulk_review_check(access: AccessRequest) -> CheckResult:
    """Any ``pi.export`` / ``pi.delete`` decision that says how many rows it concerns
    (``context={"rows": n, "bulk_ref": ref}``) is held above the thresholds unless ``bulk_ref``
    names an approved, still open bulk request of the same kind of operation."""
    rows = access.context.get("rows")
    if access.action not in ("pi.export", "pi.delete") or not isinstance(rows, int):
        return None
    th = thresholds(access.now)
    if rows < th.rows and len(set(access.data_categories)) < th.categories:
        return None
    ref, session = access.context.get("bulk_ref"), access.session
    if isinstance(ref, str) and session is not None:
        req = session.scalars(select(BulkRequest).where(BulkRequest.ref == ref)).one_or_none()
        wanted = ("destroy",) if access.action == "pi.delete" else ("export", "copy")
        if req is not None and req.kind in wanted and req.status == "approved" and rows <= req.rows:
            return Satisfied(
                Reason(
                    "bulk_approved",
                    (OBLIGATION,),
                    f"Bulk request {ref} was approved by a second person ({req.decided_by}).",
                    f"批量操作申请 {ref} 已经第二人（{req.decided_by}）批准。",
                    {"bulk_ref": ref},
                )
            )
    return Hold(
        Reason(
            "bulk_review_required",
            (OBLIGATION,),
            f"{rows} rows reach the bulk threshold ({th.rows} rows or {th.categories} categories): "
            "request it with `piguard bulk request` for a second person's approval.",
            f"{rows} 行达到批量阈值（{th.rows} 行或 {th.categories} 类）：请通过 `piguard bulk request` 申请第二人审批。",
            {"rows": rows, "threshold_rows": th.rows, "threshold_categories": th.categories},
        )
    )


# ------------------------------------------------------------------ listing and expiry


def list_requests(session: Session, *, status: str | None = None, limit: int = 200) -> list[BulkRequest]:
    q = select(BulkRequest).order_by(BulkRequest.requested_at.desc(), BulkRequest.id.desc()).limit(limit)
    if status is not None and status not in ("pending", "approved", "rejected", "expired", "destroyed"):
        raise _bad("status", "one of pending, approved, rejected, expired, destroyed", "状态无效")
    found = list(session.scalars(q))
    if status is None:
        return found
    now = utcnow()
    return [r for r in found if status_of(r, now) == status]


def to_dict(req: BulkRequest, now: datetime | None = None) -> dict[str, Any]:
    """What the API, CLI and console show: never the data, only its PI summary."""
    now = now or utcnow()
    return {
        "ref": req.ref,
        "kind": req.kind,
        "status": status_of(req, now),
        "purpose": req.purpose,
        "justification": req.justification,
        "system": req.system,
        "dataset": req.dataset,
        "recipients": list(req.recipients),
        "method": req.method,
        "rows": req.rows,
        "categories": list(req.categories),
        "pi_summary": req.pi_summary,
        "reasons": req.reasons,
        "requested_by": req.requested_by,
        "requested_at": _aware(req.requested_at).isoformat(),
        "expires_at": _aware(req.expires_at).isoformat(),
        "decided_by": req.decided_by,
        "decided_at": _aware(req.decided_at).isoformat() if req.decided_at else None,
        "decision_note": req.decision_note,
        "package_expires_at": _aware(req.package_expires_at).isoformat() if req.package_expires_at else None,
        "package_open": package_open(req, now),
        "destroyed_at": _aware(req.destroyed_at).isoformat() if req.destroyed_at else None,
        "certificate": req.certificate_ref,
        "obligations": list(req.obligations),
    }


def downloads(session: Session, req: BulkRequest) -> list[BulkDownload]:
    return list(
        session.scalars(
            select(BulkDownload).where(BulkDownload.request_id == req.id).order_by(BulkDownload.id)
        )
    )


@carries(OBLIGATION)
def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Erase the keys of expired requests and packages (crypto-shredding); a job may run it."""
    now = now or utcnow()
    n = 0
    for req in session.scalars(select(BulkRequest).where(BulkRequest.wrapped_key.is_not(None))):
        expired_request = req.status == "pending" and _aware(req.expires_at) <= now
        expired_package = (
            req.status == "approved"
            and req.package_expires_at is not None
            and _aware(req.package_expires_at) <= now
        )
        if expired_request or expired_package:
            if expired_request:
                req.status = "expired"
            _shred(req)
            record(
                session,
                action="bulk.purge",
                actor=Actor.system("bulk.purge"),
                subject_ref=req.ref,
                data_categories=list(req.categories),
                obligations=(OBLIGATION, "O24-13.6"),
                detail={"kind": req.kind},
            )
            n += 1
    return n


def statistics(
    session: Session, since: datetime, until: datetime, now: datetime | None = None
) -> dict[str, Any]:
    """Bulk requests made in ``[since, until)`` by kind and status (a pending one past its expiry
    counts as expired), and their downloads, for the self-inspection (O24-16, O24-13.3)."""
    now = now or utcnow()
    by_status: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    total = 0
    rows = session.scalars(
        select(BulkRequest).where(BulkRequest.requested_at >= since, BulkRequest.requested_at < until)
    )
    for req in rows:
        st = status_of(req, now)
        total += 1
        by_status[st] = by_status.get(st, 0) + 1
        kind = by_kind.setdefault(req.kind, {})
        kind[st] = kind.get(st, 0) + 1
    downloads = session.scalar(
        select(func.count())
        .select_from(BulkDownload)
        .where(BulkDownload.at >= since, BulkDownload.at < until)
    )
    return {"total": total, "by_status": by_status, "by_kind": by_kind, "downloads": int(downloads or 0)}
