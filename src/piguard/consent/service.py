"""The consent ledger's service: record consents with evidence, list a person's consents from every
ledger, withdraw through one path, decide each use (:func:`may`) and each provision to a third
party (:func:`may_share`, CSL-42.1).

Functions take a session and never commit. Every change is audited (O24-13.6) and bumps the
ledger epoch (:func:`piguard.consent.engine.bump`) in the same transaction, which is what keeps
every worker's decision cache current.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.consent import engine
from piguard.consent.engine import ALL, decide
from piguard.consent.ledgers import LEDGERS, SMS_PURPOSE, Evidence, LedgerEntry
from piguard.consent.models import (
    CHANNELS,
    ConsentEvent,
    ConsentState,
    ConsentSubject,
    ConsentSuspension,
)
from piguard.consent.purposes import PurposeView, get_source
from piguard.consent.subjects import Subject, parse
from piguard.core.calendar import to_local_date
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, not_found, refused, validation_error
from piguard.core.logging import redact
from piguard.core.modules import import_if_present
from piguard.core.reasons import Decision, Reason
from piguard.discovery.deid import Method, parse_method
from piguard.discovery.kanon import KAnonymityReport
from piguard.regulations.markers import carries

MAX_TEXT = 20_000


@dataclass(frozen=True, slots=True)
class EvidenceIn:
    """What the caller says about how the user was asked (O24-9.1): the channel, the text shown and
    its version, and the client address or terminal it came from. ``at`` defaults to now."""

    channel: str
    text_shown: str
    text_version: str | None = None
    client_ip: str | None = None
    terminal: str | None = None
    at: datetime | None = None


def _bad(field: str, en: str, zh: str) -> PiguardError:
    return validation_error(
        [FieldError(field, f"{en} / {zh}")], f"Invalid {field}: {en}", f"{field} 无效：{zh}"
    )


def _check_evidence(ev: EvidenceIn) -> EvidenceIn:
    if not isinstance(ev.channel, str) or ev.channel not in CHANNELS:
        raise _bad("channel", f"one of {', '.join(CHANNELS)}", f"须为 {'、'.join(CHANNELS)} 之一")
    if not isinstance(ev.text_shown, str) or not ev.text_shown.strip():
        raise _bad("text_shown", "the text the user saw is required", "须提供向用户展示的文本")
    if len(ev.text_shown) > MAX_TEXT:
        raise _bad("text_shown", f"at most {MAX_TEXT} characters", f"最多 {MAX_TEXT} 个字符")
    if ev.text_version is not None and (not isinstance(ev.text_version, str) or len(ev.text_version) > 64):
        raise _bad("text_version", "at most 64 characters", "最多 64 个字符")
    if ev.client_ip:
        try:
            ipaddress.ip_address(ev.client_ip)
        except ValueError:
            raise _bad("client_ip", "not an IP address", "不是有效的 IP 地址") from None
    if ev.terminal is not None and (not isinstance(ev.terminal, str) or len(ev.terminal) > 128):
        raise _bad("terminal", "at most 128 characters", "最多 128 个字符")
    if not ev.client_ip and not (ev.terminal or "").strip():
        raise _bad("client_ip", "a client address or a terminal is required", "须提供客户端地址或终端")
    if ev.at is not None and ev.at.tzinfo is None:
        raise _bad("at", "an aware time (with a time zone)", "须为带时区的时间")
    return ev


def _actor_str(actor: Actor) -> str:
    return f"{actor.type}:{actor.id}" if actor.id else actor.type


def purposes(session: Session) -> dict[str, PurposeView]:
    return {p.id: p for p in get_source().purposes(session)}


def _purpose(session: Session, purpose: object) -> PurposeView:
    known = purposes(session)
    if not isinstance(purpose, str) or purpose not in known:
        shown = purpose[:64] if isinstance(purpose, str) else type(purpose).__name__
        decision = Decision.refuse(engine.reason_undeclared(shown, known))
        raise PiguardError(
            "unknown_purpose",
            f"{shown!r} is not a declared purpose; known: {', '.join(sorted(known))}.",
            f"“{shown}”不是已声明的目的；可用：{'、'.join(sorted(known))}。",
            obligations=("O24-9.1", *decision.obligations),
            fields=[FieldError("purpose", f"unknown; known: {', '.join(sorted(known))}")],
            reasons=decision.reasons,
            http_status=422,
            exit_code=2,
        )
    return known[purpose]


def _rules_version(session: Session, given: int | None) -> int | None:
    current = get_source().current_rules_version(session)
    if given is None:
        return current
    if (
        isinstance(given, bool)
        or not isinstance(given, int)
        or given < 1
        or (current is not None and given > current)
    ):
        raise _bad(
            "rules_version",
            f"a published rules version (current: {current})",
            f"须为已公布的规则版本（当前：{current}）",
        )
    return given


def subject_row(session: Session, s: Subject, *, create: bool) -> ConsentSubject | None:
    row = session.scalar(select(ConsentSubject).where(ConsentSubject.subject_hash == s.hash))
    if row is None and create:
        row = ConsentSubject(
            subject_hash=s.hash, subject_masked=s.masked, kind=s.kind, created_at=utcnow(), changed_epoch=0
        )
        session.add(row)
        session.flush()
    return row


def _event(
    session: Session,
    row: ConsentSubject,
    event: str,
    purpose: str | None,
    ev: EvidenceIn,
    actor: Actor,
    *,
    rules_version: int | None,
    valid_until: datetime | None,
    now: datetime,
) -> ConsentEvent:
    e = ConsentEvent(
        subject_id=row.id,
        at=ev.at or now,
        event=event,
        purpose_id=purpose,
        rules_version=rules_version,
        valid_until=valid_until,
        channel=ev.channel,
        client_ip=ev.client_ip or None,
        terminal=(ev.terminal or "").strip()[:128] or None,
        text_shown=redact(ev.text_shown.strip()),
        text_version=ev.text_version
        if ev.text_version is not None
        else (str(rules_version) if rules_version else None),
        actor=_actor_str(actor)[:160],
    )
    session.add(e)
    session.flush()
    return e


def _set_state(
    session: Session,
    row: ConsentSubject,
    purpose: str,
    status: str,
    e: ConsentEvent,
) -> None:
    st = session.get(ConsentState, (row.id, purpose))
    if st is None:
        st = ConsentState(subject_id=row.id, purpose_id=purpose)
        session.add(st)
    st.status, st.rules_version, st.since, st.valid_until, st.event_id = (
        status,
        e.rules_version,
        e.at,
        e.valid_until if status == "granted" else None,
        e.id,
    )


def _audit(
    session: Session,
    action: str,
    actor: Actor,
    row: ConsentSubject,
    purpose: str | None,
    ev: EvidenceIn,
    **detail: Any,
) -> None:
    record(
        session,
        action=action,
        actor=actor,
        subject_ref=f"consent_subject:{row.id}",
        purpose=purpose,
        obligations=("O24-9.1", "CSL-41.1", "O24-13.6"),
        client_ip=ev.client_ip or None,
        terminal=ev.terminal or None,
        detail={"channel": ev.channel, **detail},
    )


def _not_cancelled(row: ConsentSubject) -> None:
    if row.cancelled_at is not None:
        raise refused(
            Decision.refuse(engine.REASON_CANCELLED),
            "The account is cancelled: no new consent is recorded.",
            "账号已注销：不再记录新的同意。",
        )


@carries("O24-9.1", "CSL-41.1", "CRL-29", "NPC-2")
def grant(
    session: Session,
    subject: str | Subject,
    purpose: str,
    evidence: EvidenceIn,
    *,
    actor: Actor,
    rules_version: int | None = None,
    valid_until: datetime | None = None,
    now: datetime | None = None,
) -> ConsentEvent:
    """The user consents to ``purpose`` under ``rules_version`` (default: the current one)."""
    now = now or utcnow()
    s = parse(subject)
    p = _purpose(session, purpose)
    ev = _check_evidence(evidence)
    version = _rules_version(session, rules_version)
    if valid_until is not None and (valid_until.tzinfo is None or valid_until <= (ev.at or now)):
        raise _bad("valid_until", "an aware time after the consent", "须为同意之后的时间（含时区）")
    row = subject_row(session, s, create=True)
    assert row is not None
    _not_cancelled(row)
    e = _event(
        session, row, "grant", p.id, ev, actor, rules_version=version, valid_until=valid_until, now=now
    )
    _set_state(session, row, p.id, "granted", e)
    engine.bump(session, row)
    _audit(session, "consent.granted", actor, row, p.id, ev, rules_version=version, required=p.required)
    return e


@carries("O24-9.1", "O24-9.2", "CSL-41.1")
def refuse(
    session: Session,
    subject: str | Subject,
    purpose: str,
    evidence: EvidenceIn,
    *,
    actor: Actor,
    rules_version: int | None = None,
    now: datetime | None = None,
) -> ConsentEvent:
    """The user says no to ``purpose``. Refusing an optional purpose leaves the service (the
    required purposes) untouched; refusing a required one means the service cannot be provided."""
    now = now or utcnow()
    s = parse(subject)
    p = _purpose(session, purpose)
    ev = _check_evidence(evidence)
    version = _rules_version(session, rules_version)
    row = subject_row(session, s, create=True)
    assert row is not None
    e = _event(session, row, "refuse", p.id, ev, actor, rules_version=version, valid_until=None, now=now)
    _set_state(session, row, p.id, "refused", e)
    engine.bump(session, row)
    _audit(session, "consent.refused", actor, row, p.id, ev, rules_version=version, required=p.required)
    return e


@carries("O24-9.1", "O24-8", "CSL-41.1", "NPC-2")
def accept_rules(
    session: Session,
    subject: str | Subject,
    evidence: EvidenceIn,
    *,
    actor: Actor,
    rules_version: int | None = None,
    now: datetime | None = None,
) -> list[ConsentEvent]:
    """The user accepts the published rules (O24-8): consent to every *required* purpose they
    declare, in one step with one evidence. Optional purposes are asked one by one (:func:`grant`)."""
    now = now or utcnow()
    s = parse(subject)
    ev = _check_evidence(evidence)
    version = _rules_version(session, rules_version)
    row = subject_row(session, s, create=True)
    assert row is not None
    _not_cancelled(row)
    events = [
        _event(
            session, row, "accept_rules", None, ev, actor, rules_version=version, valid_until=None, now=now
        )
    ]
    for p in purposes(session).values():
        if p.required:
            e = _event(
                session, row, "grant", p.id, ev, actor, rules_version=version, valid_until=None, now=now
            )
            _set_state(session, row, p.id, "granted", e)
            events.append(e)
    row.rules_version, row.rules_accepted_at = version, ev.at or now
    engine.bump(session, row)
    _audit(session, "consent.rules_accepted", actor, row, None, ev, rules_version=version)
    return events


@carries("O24-9.1", "O31-20", "NPC-8")
def withdraw(
    session: Session,
    subject: str | Subject,
    target: str,
    evidence: EvidenceIn,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> list[LedgerEntry]:
    """Withdraw one consent, whichever ledger holds it: ``target`` is a purpose id (or
    ``purpose:<id>``) or an entry ref from :func:`list_for_subject` (``sms:17``). The next decision
    of every worker refuses it (see :mod:`piguard.consent.engine`). Returns the entries after."""
    now = now or utcnow()
    s = parse(subject)
    ev = _check_evidence(evidence)
    if not isinstance(target, str) or not target.strip():
        raise _bad("target", "a purpose id or an entry ref", "须为目的编号或记录编号")
    target = target.strip()
    ledger_name, sep, rest = target.partition(":")
    if sep and ledger_name in LEDGERS:
        ledger = LEDGERS[ledger_name]
        entries = ledger.withdraw(session, s.hash, target, Evidence(ev.channel, ev.at or now), now)
        row = subject_row(session, s, create=False)
        if row is not None:
            engine.bump(session, row)
        record(
            session,
            action="consent.withdrawn",
            actor=actor,
            subject_ref=f"consent_subject:{row.id}" if row is not None else target[:40],
            purpose=SMS_PURPOSE,
            obligations=("O24-9.1", "O31-20", "O24-13.6"),
            client_ip=ev.client_ip or None,
            terminal=ev.terminal or None,
            detail={"channel": ev.channel, "ledger": ledger_name, "ref": target[:40]},
        )
        return entries
    purpose = rest if sep and ledger_name == "purpose" else target
    p = _purpose(session, purpose)
    row = subject_row(session, s, create=False)
    st = session.get(ConsentState, (row.id, p.id)) if row is not None else None
    if row is None or st is None or st.status != "granted":
        raise PiguardError(
            "not_granted",
            f"There is no live consent to {p.id!r} to withdraw.",
            f"没有可撤回的对“{p.id}”的有效同意。",
            obligations=("O24-9.1",),
            http_status=409,
            exit_code=1,
        )
    e = _event(
        session, row, "withdraw", p.id, ev, actor, rules_version=st.rules_version, valid_until=None, now=now
    )
    _set_state(session, row, p.id, "withdrawn", e)
    engine.bump(session, row)
    _audit(session, "consent.withdrawn", actor, row, p.id, ev, ledger="purpose", required=p.required)
    return [entry for entry in _purpose_entries(session, row) if entry.purpose == p.id]


@carries("O24-9.4")
def cancel_account(
    session: Session,
    subject: str | Subject,
    evidence: EvidenceIn,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> int:
    """The user ended the service (O24-9.4): every consent ends, in every ledger; every later use is
    refused with ``account_cancelled``. Returns how many consents ended."""
    now = now or utcnow()
    s = parse(subject)
    ev = _check_evidence(evidence)
    row = subject_row(session, s, create=True)
    assert row is not None
    ended = 0
    for st in list(session.scalars(select(ConsentState).where(ConsentState.subject_id == row.id))):
        if st.status == "granted":
            e = _event(
                session,
                row,
                "withdraw",
                st.purpose_id,
                ev,
                actor,
                rules_version=st.rules_version,
                valid_until=None,
                now=now,
            )
            _set_state(session, row, st.purpose_id, "withdrawn", e)
            ended += 1
    for ledger in LEDGERS.values():
        for entry in ledger.entries(session, s.hash):
            if entry.active:
                ledger.withdraw(session, s.hash, entry.ref, Evidence(ev.channel, ev.at or now), now)
                ended += 1
    _event(session, row, "cancel", None, ev, actor, rules_version=None, valid_until=None, now=now)
    row.cancelled_at = ev.at or now
    engine.bump(session, row)
    _audit(session, "consent.account_cancelled", actor, row, None, ev, ended=ended)
    return ended


@carries("O24-9.1")
def expire_due(session: Session, *, now: datetime | None = None, limit: int = 1000) -> int:
    """Grants past their ``valid_until`` become ``expired`` events (the decision already refuses
    them from that instant; this writes the ledger's history). For the worker."""
    now = now or utcnow()
    due = list(
        session.scalars(
            select(ConsentState)
            .where(
                ConsentState.status == "granted",
                ConsentState.valid_until.is_not(None),
                ConsentState.valid_until <= now,
            )
            .limit(limit)
        )
    )
    system = Actor.system("consent.expiry")
    for st in due:
        row = session.get(ConsentSubject, st.subject_id)
        assert row is not None
        ev = EvidenceIn("import", "consent period ended / 同意期限届满", terminal="worker", at=st.valid_until)
        e = _event(
            session,
            row,
            "expire",
            st.purpose_id,
            ev,
            system,
            rules_version=st.rules_version,
            valid_until=None,
            now=now,
        )
        _set_state(session, row, st.purpose_id, "expired", e)
        engine.bump(session, row)
    return len(due)


@carries("O24-14.2")
def suspend(
    session: Session,
    purpose: str,
    *,
    order_ref: str,
    note: str = "",
    actor: Actor,
    now: datetime | None = None,
) -> ConsentSuspension:
    """The authority ordered processing suspended (O24-14.2): ``purpose`` or ``"*"`` for all."""
    now = now or utcnow()
    if purpose != ALL:
        purpose = _purpose(session, purpose).id
    if not isinstance(order_ref, str) or not order_ref.strip() or len(order_ref) > 128:
        raise _bad(
            "order_ref", "the order's reference, 1-128 characters", "须填写主管部门要求的文号（1-128 个字符）"
        )
    sus = ConsentSuspension(
        purpose_id=purpose,
        order_ref=order_ref.strip(),
        note=redact(note)[:2000],
        started_at=now,
        actor=_actor_str(actor),
    )
    session.add(sus)
    session.flush()
    engine.bump(session, None)
    record(
        session,
        action="consent.processing_suspended",
        actor=actor,
        subject_ref=f"consent_suspension:{sus.id}",
        purpose=None if purpose == ALL else purpose,
        obligations=("O24-14.2",),
        detail={"scope": purpose},
    )
    return sus


def resume(
    session: Session, suspension_id: int, *, actor: Actor, now: datetime | None = None
) -> ConsentSuspension:
    sus = session.get(ConsentSuspension, suspension_id)
    if sus is None or sus.ended_at is not None:
        raise not_found("Active suspension", "有效的暂停", str(suspension_id))
    sus.ended_at = now or utcnow()
    engine.bump(session, None)
    record(
        session,
        action="consent.processing_resumed",
        actor=actor,
        subject_ref=f"consent_suspension:{sus.id}",
        obligations=("O24-14.2",),
        detail={"scope": sus.purpose_id},
    )
    return sus


# ------------------------------------------------------------------------------------- reading


def _purpose_entries(session: Session, row: ConsentSubject) -> list[LedgerEntry]:
    src = purposes(session)
    out = []
    for st, e in session.execute(
        select(ConsentState, ConsentEvent)
        .join(ConsentEvent, ConsentEvent.id == ConsentState.event_id)
        .where(ConsentState.subject_id == row.id)
        .order_by(ConsentState.purpose_id)
    ):
        p = src.get(st.purpose_id)
        out.append(
            LedgerEntry(
                ledger="purpose",
                ref=f"purpose:{st.purpose_id}",
                purpose=st.purpose_id,
                scope=st.purpose_id,
                status=st.status,
                since=st.since,
                until=st.valid_until,
                rules_version=st.rules_version,
                evidence=Evidence(
                    channel=e.channel,
                    at=e.at,
                    client_ip=e.client_ip,
                    terminal=e.terminal,
                    text_shown=e.text_shown,
                    text_version=e.text_version,
                    source=e.actor,
                ),
                detail={
                    "required": p.required if p else None,
                    "declared": p is not None,
                    "obligations": ["O24-9.1", "CSL-41.1"],
                },
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class SubjectLedger:
    subject: Subject
    known: bool
    masked: str
    rules_version: int | None
    cancelled_at: datetime | None
    entries: list[LedgerEntry]

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": {"ref": self.subject.hash, "masked": self.masked, "kind": self.subject.kind},
            "known": self.known,
            "rules_version": self.rules_version,
            "cancelled_at": self.cancelled_at.isoformat() if self.cancelled_at else None,
            "entries": [e.to_dict() for e in self.entries],
        }


@carries("O24-9.1", "O31-18.1", "NPC-7")
def list_for_subject(session: Session, subject: str | Subject) -> SubjectLedger:
    """Every consent of one person, purpose consents and gateway subscriptions together, in one
    entry and evidence format (:class:`LedgerEntry`)."""
    s = parse(subject)
    row = subject_row(session, s, create=False)
    entries = _purpose_entries(session, row) if row is not None else []
    for ledger in LEDGERS.values():
        entries.extend(ledger.entries(session, s.hash))
    masked = row.subject_masked if row is not None else s.masked
    return SubjectLedger(
        s,
        row is not None or bool(entries),
        masked,
        row.rules_version if row else None,
        row.cancelled_at if row else None,
        entries,
    )


def history(session: Session, subject: str | Subject, *, limit: int = 500) -> list[dict[str, Any]]:
    """The purpose ledger's events for one person, newest first, each with its evidence."""
    s = parse(subject)
    row = subject_row(session, s, create=False)
    if row is None:
        return []
    return [
        {
            "id": e.id,
            "event": e.event,
            "purpose": e.purpose_id,
            "rules_version": e.rules_version,
            "valid_until": e.valid_until.isoformat() if e.valid_until else None,
            "actor": e.actor,
            "evidence": Evidence(
                e.channel, e.at, e.client_ip, e.terminal, e.text_shown, e.text_version, e.actor
            ).to_dict(),
        }
        for e in session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subject_id == row.id)
            .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
            .limit(max(1, min(limit, 5000)))
        )
    ]


def needing_renewal(session: Session, *, limit: int = 1000) -> list[tuple[int, str, int]]:
    """Granted consents whose purpose changed materially since the version they were given to:
    ``(consent_subject id, purpose, given version)``. Ask these users again."""
    src = get_source()
    current = src.current_rules_version(session)
    if current is None:
        return []
    out: list[tuple[int, str, int]] = []
    memo: dict[int, set[str]] = {}
    for sid, purpose, version in session.execute(
        select(ConsentState.subject_id, ConsentState.purpose_id, ConsentState.rules_version)
        .where(ConsentState.status == "granted", ConsentState.rules_version < current)
        .order_by(ConsentState.subject_id)
        .limit(max(1, min(limit, 100_000)))
    ):
        if version is None:
            continue
        changed = memo.get(version)
        if changed is None:
            changed = memo[version] = src.material_changes_since(session, version)
        if purpose in changed:
            out.append((sid, purpose, version))
    return out


def list_suspensions(session: Session, *, active_only: bool = True) -> list[ConsentSuspension]:
    stmt = select(ConsentSuspension).order_by(ConsentSuspension.id.desc()).limit(200)
    if active_only:
        stmt = stmt.where(ConsentSuspension.ended_at.is_(None))
    return list(session.scalars(stmt))


# ------------------------------------------------------------------------------------- the decision


@carries("O24-9.1", "O24-9.3", "O24-9.4", "O24-14.2", "CSL-41.1", "CSL-41.2", "CRL-29", "NPC-2")
def may(
    session: Session,
    actor: Actor | None,
    subject: str | Subject,
    categories: Iterable[str],
    purpose: str,
    *,
    now: datetime | None = None,
) -> Decision:
    """May ``actor`` use these ``categories`` of ``subject``'s information for ``purpose``?

    Refuses, each with its ids: purpose not declared (O24-9.3, CSL-41.1), processing suspended
    (O24-14.2), account cancelled (O24-9.4), a category the purpose does not need (O24-9.3,
    CSL-41.2), no consent (O24-9.1, CSL-41.1, CRL-29, NPC-2), consent expired, consent given to an
    older rules version that changed this purpose materially (renewal needed). A required purpose is
    covered by the user's acceptance of the rules (:func:`accept_rules`). The decision is not
    audited here: the caller that reads the information records it (:func:`audit_use`, or
    :func:`use` for both). ``actor`` is who asks; who may read at all is identity's decision."""
    _ = actor
    return decide(session, subject, categories, purpose, now=now)


def _subject_ref(session: Session, s: Subject) -> str:
    """What the audit log names a person by: their ledger row, never the identifier or its hash."""
    view = engine.cache_for(session).subjects.get(s.hash)
    sid = view.id if view is not None else None
    if sid is None:
        row = subject_row(session, s, create=False)
        sid = row.id if row is not None else None
    return f"consent_subject:{sid}" if sid is not None else "consent_subject:unknown"


@carries("O24-13.6", "O24-9.1")
def audit_use(
    session: Session,
    actor: Actor,
    subject: str | Subject,
    categories: Iterable[str],
    purpose: str,
    decision: Decision,
    *,
    action: str = "pi.read",
    subject_ref: str | None = None,
    client_ip: str | None = None,
    terminal: str | None = None,
) -> None:
    """Record a use that :func:`may` decided (the read, with its purpose, or the refused attempt)."""
    if subject_ref is None:
        subject_ref = _subject_ref(session, parse(subject))
    record(
        session,
        action=action,
        actor=actor,
        subject_ref=subject_ref,
        data_categories=sorted(set(categories)),
        purpose=purpose,
        outcome="ok" if decision.allowed else "refused",
        obligations=("O24-13.6", *decision.obligations),
        client_ip=client_ip,
        terminal=terminal,
        detail={"reasons": [r.code for r in decision.reasons]},
    )


def use(
    session: Session,
    actor: Actor,
    subject: str | Subject,
    categories: Iterable[str],
    purpose: str,
    *,
    action: str = "pi.read",
    subject_ref: str | None = None,
    client_ip: str | None = None,
    terminal: str | None = None,
    now: datetime | None = None,
) -> Decision:
    """:func:`may`, then :func:`audit_use`: what a reader of personal information calls."""
    cats = tuple(categories)
    decision = may(session, actor, subject, cats, purpose, now=now)
    audit_use(
        session,
        actor,
        subject,
        cats,
        purpose,
        decision,
        action=action,
        subject_ref=subject_ref,
        client_ip=client_ip,
        terminal=terminal,
    )
    return decision


# ------------------------------------------------------------------------------------- sharing (CSL-42.1)

#: de-identification methods of :mod:`piguard.discovery.deid` after which no specific person can be
#: identified and the value cannot be restored, and whether that also needs a passed k-anonymity
#: check (generalised values single a person out by their combination). A keyed pseudonym is
#: re-linked by whoever holds the key and a partial mask keeps part of the value: neither counts.
BEYOND_RESTORATION: dict[Method, bool] = {Method.REDACT: False, Method.GENERALISE: True}


def _share_categories(categories: object) -> frozenset[str]:
    if isinstance(categories, str) or not isinstance(categories, Iterable):
        raise _bad("categories", "a list of PI category codes", "须为个人信息类别代码列表")
    cats = engine.check_categories([str(c)[:64] for c in categories])
    if not cats:
        raise _bad(
            "categories",
            "name the categories of information to be provided",
            "须列明拟提供的个人信息类别",
        )
    return cats


def _party_id(third_party: object) -> str:
    if not isinstance(third_party, str) or not third_party.strip() or len(third_party.strip()) > 64:
        raise _bad(
            "third_party",
            "the id of a registered third party (1-64 characters)",
            "须为已登记第三方的编号（1-64 个字符）",
        )
    return third_party.strip()


def sharing_register(session: Session) -> list[Any]:
    """The inventory's sharing register (``piguard.inventory.service.sharing_register``), read
    lazily as the purposes are; empty when the inventory is not installed."""
    inv = import_if_present("piguard.inventory.service")
    if inv is None or not hasattr(inv, "sharing_register"):
        return []
    return list(inv.sharing_register(session))


def published_sharing_register(session: Session) -> tuple[int, list[Any]] | None:
    """The register as the rules in force publish it (version, recipients); None while no rules
    are published or the inventory is not installed."""
    inv = import_if_present("piguard.inventory.service")
    if inv is None or not hasattr(inv, "published_sharing_register"):
        return None
    got = inv.published_sharing_register(session)
    return None if got is None else (int(got[0]), list(got[1]))


def _deid_method(method: object) -> Method | None:
    if method is None or (isinstance(method, str) and not method.strip()):
        return None
    if not isinstance(method, str | Method):
        raise _bad("method", "a de-identification method name", "须为去标识化方法名称")
    return method if isinstance(method, Method) else parse_method(method.strip().lower()[:32])


def _deid_reasons(
    m: Method | None, k_anonymity: KAnonymityReport | None
) -> tuple[list[Reason], list[Reason]]:
    """(reasons, refusals) for the claim that the information is de-identified beyond restoration."""
    if m is None:
        return [], [engine.reason_deid_unproven()]
    if m not in BEYOND_RESTORATION:
        return [], [engine.reason_deid_reversible(m.value)]
    if k_anonymity is not None and not k_anonymity.satisfied:
        return [], list(k_anonymity.decision().reasons)
    if BEYOND_RESTORATION[m] and k_anonymity is None:
        return [], [engine.reason_k_anonymity_missing(m.value)]
    return [engine.reason_deidentified(m.value, k_anonymity.k if k_anonymity else None)], []


def _for_sharing(r: Reason) -> Reason:
    """A reason of the use decision, as a reason of the sharing decision too (CSL-42.1)."""
    if "CSL-42.1" in r.obligations:
        return r
    return dataclasses.replace(r, obligations=(*r.obligations, "CSL-42.1"))


@carries("CSL-42.1", "O24-9.1", "O24-9.3", "CSL-41.1", "O24-13.6")
def may_share(
    session: Session,
    subject: str | Subject | None,
    third_party: str,
    purpose: str,
    categories: Iterable[str],
    *,
    deidentified: bool = False,
    method: str | Method | None = None,
    k_anonymity: KAnonymityReport | None = None,
    actor: Actor | None = None,
    client_ip: str | None = None,
    terminal: str | None = None,
    now: datetime | None = None,
) -> Decision:
    """May these ``categories`` of ``subject``'s information be provided to ``third_party`` for
    ``purpose`` (CSL-42.1)? Written to the audit log, the subject by its ledger row.

    Refuses, each reason with its ids (CSL-42.1 in every one): the party is not in the sharing
    register (``third_party_unregistered``); the register does not provide these categories to it
    for this purpose (``sharing_not_declared``); the rules in force do not tell users so
    (``sharing_not_published``: declared in the inventory since the last publication); and, unless the information is de-identified
    beyond restoration, every refusal of :func:`may` for the purpose (no consent, withdrawn or
    expired consent, renewal needed, account cancelled, suspension, a category the purpose does not
    need). ``deidentified=True`` replaces the consent by evidence: ``method`` names the
    de-identification of :mod:`piguard.discovery.deid` that was applied, and only methods that
    cannot be restored count (:data:`BEYOND_RESTORATION`: ``redact``; ``generalise`` with a passed
    ``k_anonymity`` report); a keyed pseudonym or a partial mask is refused. ``subject`` may then
    be ``None`` (a de-identified data set). A recipient outside China is flagged
    (``cross_border_recipient``). Unknown purpose or category, no category, no subject: a clear
    error (:class:`PiguardError`)."""
    actor = actor or Actor.system("consent.share")
    cats = _share_categories(categories)
    known = engine.catalogue(session).purposes
    p = known[purpose] if isinstance(purpose, str) and purpose in known else _purpose(session, purpose)
    party = _party_id(third_party)
    if not isinstance(deidentified, bool):
        raise _bad("deidentified", "true or false", "须为 true 或 false")
    if method is not None and not deidentified:
        raise _bad(
            "method",
            "a de-identification method is given only with deidentified=true",
            "仅在声明已去标识化时提供去标识化方法",
        )
    if subject is None and not deidentified:
        raise _bad(
            "subject",
            "the person whose information is provided (only a de-identified data set has none)",
            "须指明被提供信息的用户（仅去标识化数据集可不指明）",
        )
    s = parse(subject) if subject is not None else None
    m = _deid_method(method)
    if k_anonymity is not None and not isinstance(k_anonymity, KAnonymityReport):
        raise _bad("k_anonymity", "the report of a k-anonymity check", "须为 k-匿名检查报告")
    reasons: list[Reason] = []
    refusals: list[Reason] = []
    register = sharing_register(session)
    recipient = next((r for r in register if r.id == party), None)
    if recipient is None:
        refusals.append(engine.reason_unregistered(party, [r.id for r in register]))
    else:
        sent = recipient.categories_for(p.id)
        if cats <= sent:
            reasons.append(engine.reason_sharing_declared(party, p.id, cats))
            published = published_sharing_register(session)
            if published is not None:
                version, told = published
                was = next((r for r in told if r.id == party), None)
                unpublished = cats - (was.categories_for(p.id) if was is not None else frozenset())
                if unpublished:
                    refusals.append(engine.reason_sharing_not_published(party, p.id, unpublished, version))
        else:
            refusals.append(engine.reason_sharing_not_declared(party, p.id, cats - sent, sent))
        if recipient.cross_border:
            reasons.append(engine.reason_cross_border(party))
    if deidentified:
        ok, bad = _deid_reasons(m, k_anonymity)
        reasons.extend(ok)
        refusals.extend(bad)
    else:
        assert s is not None
        use_decision = may(session, actor, s, cats, p.id, now=now)
        (reasons if use_decision.allowed else refusals).extend(_for_sharing(r) for r in use_decision.reasons)
    decision = Decision.combine(reasons, refusals, [])
    record(
        session,
        action="consent.share_decided",
        actor=actor,
        subject_ref=_subject_ref(session, s) if s is not None else "deidentified",
        data_categories=sorted(cats),
        purpose=p.id,
        outcome="ok" if decision.allowed else "refused",
        obligations=("O24-13.6", *decision.obligations),
        client_ip=client_ip,
        terminal=terminal,
        detail={
            # an unregistered id is the caller's text: recorded by a digest, never as given
            "third_party": party
            if recipient is not None
            else "unregistered:" + hashlib.sha256(party.encode()).hexdigest()[:12],
            "cross_border": bool(recipient is not None and recipient.cross_border),
            "deidentified": deidentified,
            "method": m.value if m is not None else None,
            "k": k_anonymity.k if deidentified and k_anonymity is not None else None,
            "reasons": [r.code for r in decision.reasons],
        },
    )
    return decision


@carries("O24-13.6")
def record_listing(
    session: Session, actor: Actor, ledger: SubjectLedger, *, client_ip: str | None = None, via: str = "api"
) -> None:
    """Looking at a person's consents is itself an operation on their information: audited."""
    row = subject_row(session, ledger.subject, create=False)
    record(
        session,
        action="consent.listed",
        actor=actor,
        subject_ref=f"consent_subject:{row.id}" if row is not None else "consent_subject:unknown",
        obligations=("O24-13.6",),
        client_ip=client_ip,
        detail={"entries": len(ledger.entries), "via": via},
    )


def recent_subjects(session: Session, *, limit: int = 20) -> list[ConsentSubject]:
    """The subjects whose consents changed last (masked; for the console's start page)."""
    return list(
        session.scalars(
            select(ConsentSubject)
            .order_by(ConsentSubject.changed_epoch.desc(), ConsentSubject.id.desc())
            .limit(max(1, min(limit, 200)))
        )
    )


def statistics(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Counts for the self-inspection (O24-16): current states by status, the ledger's events in
    ``[since, until)`` by kind, and the same events per month (China time). Counts only, no people."""
    states: dict[str, int] = {}
    for status, n in session.execute(select(ConsentState.status, func.count()).group_by(ConsentState.status)):
        states[str(status)] = int(n)
    events: dict[str, int] = {}
    months: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(ConsentEvent.at, ConsentEvent.event).where(ConsentEvent.at >= since, ConsentEvent.at < until)
    )
    for at, event in rows:
        events[event] = events.get(event, 0) + 1
        month = to_local_date(at).strftime("%Y-%m")
        bucket = months.setdefault(month, {})
        bucket[event] = bucket.get(event, 0) + 1
    subjects_n = int(session.scalar(select(func.count()).select_from(ConsentSubject)) or 0)
    return {
        "subjects": subjects_n,
        "states": states,
        "events": events,
        "by_month": [{"month": m, **months[m]} for m in sorted(months)],
    }
