"""Submit a batch: prepare, load the context once, decide each message, confirm consents, record,
queue. State is read once per batch: the registry snapshot (a token query), the consents and
suppression fingerprints of the batch's recipients (one query each), the campaigns referenced.

Opt-out against send: the consent counters of allowed commercial messages are updated with one
guarded ``UPDATE … WHERE status = 'active' AND … RETURNING id`` in the transaction that records the
messages. An opt-out committed before it makes the guard fail and the message is refused; on
PostgreSQL the update waits for a concurrent opt-out holding the row and then re-reads it, on
SQLite writers are serialised. Either way the opt-out wins for every message decided after it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, or_, select, update
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core import crypto
from piguard.core.db import core_connection, in_values, utcnow
from piguard.core.errors import PiguardError
from piguard.core.frozen import fast_init
from piguard.core.gcpause import batch_gc
from piguard.core.reasons import Decision, Outcome, Reason
from piguard.identity.principal import Principal
from piguard.messaging import reasons as reason_catalogue
from piguard.messaging.gateway.decision import (
    COMMERCIAL,
    CampaignView,
    ConsentView,
    Evaluation,
    GatewayContext,
    GatewayRequest,
    Prepared,
    evaluate,
    prepare,
)
from piguard.messaging.gateway.similarity import bigrams
from piguard.messaging.models import Campaign, Consent, Suppression
from piguard.messaging.records import service as records
from piguard.messaging.registry.service import PortView, RegistrySnapshot, actor_of, snapshot
from piguard.messaging.review import default_reviewer
from piguard.messaging.settings import get_messaging_settings
from piguard.messaging.subscriptions.links import mail_unsubscribe_headers
from piguard.regulations.markers import carries

_CHUNK = 2000
_CONSENTS = cast(Table, Consent.__table__)
_SUPPRESSIONS = cast(Table, Suppression.__table__)


@fast_init
@dataclass(frozen=True, slots=True)
class GatewayResult:
    """One message's result: a decision (``outcome`` + ``reasons``) or a per-item input ``error``."""

    index: int
    client_ref: str | None
    ref: str | None = None
    outcome: str | None = None
    reasons: tuple[Reason, ...] = ()
    kind: str | None = None
    status: str | None = None
    content_provider: str | None = None
    emergency: bool = False
    error: PiguardError | None = None
    #: the same ``client_ref`` was submitted before (within the idempotency window): this is the
    #: first submission's result, and nothing new was written or sent
    duplicate: bool = False
    #: an allowed commercial e-mail: the headers its mail relay must add (RFC 8058 one-click
    #: unsubscribe, NPC-7), see :mod:`piguard.messaging.subscriptions.unsubscribe`
    mail_headers: dict[str, str] | None = None

    @property
    def obligations(self) -> tuple[str, ...]:
        return Decision(Outcome(self.outcome or "refuse"), self.reasons).obligations

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "client_ref": self.client_ref}
        if self.error is not None:
            out["error"] = self.error.to_dict()["error"]
            return out
        out.update(
            {
                "ref": self.ref,
                "outcome": self.outcome,
                "status": self.status,
                "kind": self.kind,
                "content_provider": self.content_provider,
                "emergency": self.emergency,
                "duplicate": self.duplicate,
                "obligations": list(self.obligations),
                "reasons": [r.to_dict() for r in self.reasons],
            }
        )
        if self.mail_headers is not None:
            out["mail_headers"] = self.mail_headers
        return out


def load_context(
    session: Session,
    prepared: Sequence[Prepared],
    *,
    now: datetime | None = None,
    registry: RegistrySnapshot | None = None,
) -> GatewayContext:
    """Read the state a batch needs, once."""
    settings = get_messaging_settings()
    reg = registry or snapshot(session)
    reviewer = default_reviewer()
    reg.prepare(reviewer)  # once per snapshot and reviewer: the providers' signatures, normalised
    ctx = GatewayContext(
        registry=reg,
        now=now or utcnow(),
        similarity_threshold=settings.sms_similarity_threshold,
        campaign_similarity_threshold=settings.sms_campaign_match_threshold,
        quiet_hours=settings.quiet_window(),
        reviewer=reviewer,
    )
    hashes = sorted({p.recipient_hash for p in prepared})
    # Core statements over the tables (the same rows, without the ORM's result machinery), after
    # the flush the ORM's execute would do first
    conn = core_connection(session)
    col, sup = _CONSENTS.c, _SUPPRESSIONS.c
    for i in range(0, len(hashes), _CHUNK):
        chunk = hashes[i : i + _CHUNK]
        for cid, h, cp, mt, mx, unit, until, ws, wc in conn.execute(
            select(
                col.id,
                col.recipient_hash,
                col.content_provider_id,
                col.message_type,
                col.max_messages,
                col.period_unit,
                col.valid_until,
                col.window_start,
                col.window_count,
            ).where(in_values(session, col.recipient_hash, chunk), col.status == "active")
        ):
            ctx.consents[(h, cp, mt)] = ConsentView(cid, mt, mx, unit, until, ws, wc)
        supp: dict[tuple[str, int], list[int]] = {}
        for h, cp, fp in conn.execute(
            select(sup.recipient_hash, sup.content_provider_id, sup.fingerprint).where(
                in_values(session, sup.recipient_hash, chunk)
            )
        ):
            supp.setdefault((h, cp), []).append(int(fp))
        ctx.suppressions.update({k: tuple(v) for k, v in supp.items()})
    camp_ids = {p.request.campaign_id for p in prepared if p.request.campaign_id is not None}
    if camp_ids:
        for c in session.scalars(select(Campaign).where(Campaign.id.in_(camp_ids))):
            ctx.campaigns[c.id] = CampaignView(
                c.id,
                c.content_provider_id,
                c.send_on,
                c.emergency,
                ends_on=c.ends_on,
                content_grams=bigrams(c.content),
                notice_estimated=bool(c.notice_estimated),
                notice_due=c.notice_due,
            )
    return ctx


_CHANGED = reason_catalogue.reason(
    "consent_changed",
    "The consent ended (opt-out) or reached its limit while the message was being decided.",
    "在决定发送时用户已退订或已达到同意的发送频次。",
)

#: Reason codes that explain an allowed message (never counted as refusal reasons); the catalogue's.
INFO_CODES = reason_catalogue.INFO_CODES


def _not_this_provider(port: PortView) -> Reason:
    return reason_catalogue.reason(
        "sender_not_this_provider",
        "The sender is a port of another content provider than the one the caller is bound as.",
        "发送号码是其他内容提供者的端口，与调用方绑定的内容提供者不符。",
        port=port.code,
    )


def _confirm_consents(
    session: Session, ctx: GatewayContext, usage: dict[int, int], units: dict[int, str]
) -> set[int]:
    """Apply the counters with the guard; returns the consent ids that failed it."""
    groups: dict[tuple[int, str], list[int]] = {}
    for cid, n in usage.items():
        groups.setdefault((n, units[cid]), []).append(cid)
    confirmed: set[int] = set()
    conn, c = core_connection(session), _CONSENTS.c
    for (n, unit), ids in groups.items():
        ws = ctx.window_start(unit)
        stmt = (
            update(_CONSENTS)
            .where(
                in_values(session, c.id, ids),
                c.status == "active",
                c.valid_until > ctx.now,
                or_(c.window_start.is_(None), c.window_start != ws, c.window_count + n <= c.max_messages),
            )
            .values(window_count=case((c.window_start == ws, c.window_count + n), else_=n), window_start=ws)
            .returning(c.id)
        )
        # a Core UPDATE (the ORM's bulk update with synchronize_session=False writes the same)
        confirmed.update(conn.execute(stmt).scalars())
    return set(usage) - confirmed


@carries("O31-13", "O31-10")
def _bound_check(ctx: GatewayContext, p: Prepared, ev: Evaluation) -> Evaluation:
    """A caller bound as a content provider may only send from that provider's ports (O31-13,
    O31-10): a port of another one is refused here, and so recorded, under the bound provider."""
    bound = p.request.content_provider_id
    if bound is None or ev.cp is None or ev.port is None or ev.cp.id == bound:
        return ev
    return replace(
        ev,
        decision=Decision.refuse(_not_this_provider(ev.port), *ev.decision.reasons),
        cp=ctx.registry.cps.get(bound),
        consent_id=None,
    )


def decide_batch(
    session: Session,
    prepared: Sequence[tuple[int, Prepared]],
    results: dict[int, GatewayResult],
    *,
    now: datetime,
    dry_run: bool = False,
) -> list[tuple[int, Prepared, Evaluation]]:
    """Decide prepared messages over one context and (unless ``dry_run``) confirm the consent
    counters of the allowed commercial ones with the opt-out guard; per-item errors go to
    ``results``. Shared by :func:`submit` and the release of held messages (``messaging.gateway.release``)."""
    ctx = load_context(session, [p for _, p in prepared], now=now)
    evals: list[tuple[int, Prepared, Evaluation]] = []
    for i, p in prepared:
        try:
            ev = evaluate(ctx, p)
        except PiguardError as err:
            results[i] = GatewayResult(i, p.request.client_ref, error=err)
            continue
        if p.request.content_provider_id is not None:
            ev = _bound_check(ctx, p, ev)
        if ev.consent_id is not None and ev.decision.outcome is _ALLOW:
            ctx.used[ev.consent_id] = ctx.used.get(ev.consent_id, 0) + 1
        evals.append((i, p, ev))

    if not dry_run and ctx.used:
        unit_of = {c.id: c.period_unit for c in ctx.consents.values()}
        units = {cid: unit_of[cid] for cid in ctx.used}
        failed = _confirm_consents(session, ctx, dict(ctx.used), units)
        if failed:
            evals = [
                (
                    i,
                    p,
                    replace(ev, decision=Decision.refuse(_CHANGED, *ev.decision.reasons))
                    if ev.consent_id in failed and ev.decision.allowed
                    else ev,
                )
                for i, p, ev in evals
            ]
    return evals


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """The audit entry :func:`emit` writes with the messages."""

    action: str
    obligations: tuple[str, ...]
    detail: dict[str, Any]
    subject_ref: str | None = None


@carries("O31-11")
def emit(
    session: Session,
    decided: Sequence[tuple[Prepared, Evaluation]],
    *,
    now: datetime,
    audit: AuditEntry,
    principal: Principal | None = None,
    batch_ref: str | None = None,
) -> list[tuple[str, str]]:
    """The one writer of outbound messages: a record for every decided message (refused and held
    ones too: the evidence), the outbox for the allowed ones, and one audit entry. Returns
    ``(ref, status)`` per message, in order."""
    rows: list[tuple[Any, ...]] = []
    outbox: list[records.OutboxRow] = []
    out: list[tuple[str, str]] = []
    # a batch's decisions share few distinct sets of reasons: their stored forms (codes, combined
    # obligations, per-reason obligations) are built once per set, and the rows share the lists
    # (serialised once by ``core.db.insert_tuples``)
    forms: dict[
        tuple[tuple[str, tuple[str, ...]], ...], tuple[list[str], list[str], list[dict[str, Any]]]
    ] = {}
    refs = records.new_refs(len(decided))
    record_values, stored = records.record_values, reason_catalogue.stored
    # the numbers encrypted at once (one system call for the batch's nonces)
    encrypted = crypto.encrypt_many([p.address for p, _ev in decided])
    for (p, ev), ref, recipient_enc in zip(decided, refs, encrypted, strict=True):
        d = ev.decision
        reasons = d.reasons
        key = tuple([(r.code, r.obligations) for r in reasons])
        form = forms.get(key)
        if form is None:
            form = forms[key] = ([r.code for r in reasons], list(d.obligations), stored(reasons))
        outcome = str(d.outcome)  # the value (a StrEnum's str, without the enum's descriptor)
        status = _STATUS[outcome]
        req = p.request
        review, cp, port = ev.review, ev.cp, ev.port
        has_pi = False
        if review is not None:
            for f in review.findings:
                if f.code == "pi_in_content":
                    has_pi = True
                    break
        row = record_values(
            ref,
            now,
            "out",
            req.channel,
            p.sender,
            p.recipient_hash,
            p.recipient_masked,
            recipient_enc,
            req.record_text if req.record_text is not None else req.text,
            has_pi,
            req.purpose or ev.kind,
            req.message_type,
            cp.id if cp else None,
            port.id if port else None,
            outcome,
            form[0],
            form[1],
            form[2],
            req.campaign_id,
            status,
            req.client_ref,
            batch_ref,
            None,
        )
        rows.append(row)
        if d.allowed:
            # the record's encrypted number (one AES-GCM encryption serves both rows)
            outbox.append(outbox_entry(p, ev, ref, now, recipient_enc))
        out.append((ref, status))
    records.write_record_values(session, rows)
    records.enqueue(session, outbox)
    record(
        session,
        action=audit.action,
        actor=actor_of(principal),
        subject_ref=audit.subject_ref,
        obligations=audit.obligations,
        client_ip=principal.client_ip if principal else None,
        detail=audit.detail,
    )
    return out


_STATUS = {"allow": "queued", "refuse": "refused", "hold": "held"}
_ALLOW = Outcome.ALLOW


def outbox_entry(
    p: Prepared, ev: Evaluation, ref: str, now: datetime, recipient_enc: str | None
) -> records.OutboxRow:
    """The outbox row of an allowed message (new, or released from a hold under its own ref)."""
    return records.outbox_row(
        ref,
        p.request.channel,
        p.sender,
        p.address,
        p.request.text,
        ev.emergency,
        now,
        recipient_enc,
        p.recipient_hash,
    )


def decide_one(session: Session, request: GatewayRequest, *, now: datetime) -> tuple[Prepared, Evaluation]:
    """Prepare and decide one message piguard sends itself (a consent request, an opt-out
    confirmation) with the same steps as every submitted message; a bad input raises."""
    p = prepare(request)
    results: dict[int, GatewayResult] = {}
    evals = decide_batch(session, [(0, p)], results, now=now)
    if 0 in results and results[0].error is not None:
        raise results[0].error
    return p, evals[0][2]


@carries("O31-11", "O31-18.1", "O31-18.2", "O31-20", "O31-17", "O31-13")
def submit(
    session: Session,
    requests: Sequence[GatewayRequest],
    *,
    principal: Principal | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[GatewayResult]:
    """Decide, record and queue a batch; per-item input errors do not sink the batch.

    ``dry_run``: decide only (``piguard sms check``): nothing is recorded or queued. The cyclic
    garbage collector is paused meanwhile (``core.gcpause``: a batch's objects die by reference
    counting; a collection walking them and the registry snapshot was ~10 % of the work).
    """
    with batch_gc:
        return _submit(session, requests, principal=principal, now=now, dry_run=dry_run)


def _submit(
    session: Session,
    requests: Sequence[GatewayRequest],
    *,
    principal: Principal | None,
    now: datetime | None,
    dry_run: bool,
) -> list[GatewayResult]:
    now = now or utcnow()
    prepared: list[tuple[int, Prepared]] = []
    results: dict[int, GatewayResult] = {}
    for i, req in enumerate(requests):
        try:
            prepared.append((i, prepare(req)))
        except PiguardError as err:
            results[i] = GatewayResult(i, _client_ref(req), error=err)
    repeats: dict[int, int] = {}  # index of a repeat within this batch -> index of its first
    if not dry_run:
        prepared = _without_resubmissions(session, prepared, results, repeats, now)
    evals = decide_batch(session, prepared, results, now=now, dry_run=dry_run)

    # keyed by the outcome (a StrEnum: ``counts["allow"]`` finds ``Outcome.ALLOW``)
    counts: Counter[str] = Counter([ev.decision.outcome for _i, _p, ev in evals])
    codes: Counter[str] = Counter()
    for _i, _p, ev in evals:
        d = ev.decision
        if d.outcome is not _ALLOW:
            codes.update([r.code for r in d.reasons if r.code not in INFO_CODES])
    if dry_run:
        written: list[tuple[str | None, str]] = [(None, "checked")] * len(evals)
    else:
        batch_ref = records.new_ref()
        errors = sum(1 for r in results.values() if r.error is not None)
        audit = AuditEntry(
            "sms.submit.batch",
            ("O31-11",),
            {
                "batch": batch_ref,
                "messages": len(requests),
                "allow": counts["allow"],
                "refuse": counts["refuse"],
                "hold": counts["hold"],
                "errors": errors,
                "refusal_codes": dict(codes.most_common(10)),
            },
        )
        written = list(
            emit(
                session,
                [(p, ev) for _i, p, ev in evals],
                now=now,
                audit=audit,
                principal=principal,
                batch_ref=batch_ref,
            )
        )
    for (i, p, ev), (ref, status) in zip(evals, written, strict=True):
        d = ev.decision
        results[i] = GatewayResult(
            i,
            p.request.client_ref,
            ref,
            str(d.outcome),
            d.reasons,
            ev.kind,
            status,
            ev.cp.code if ev.cp else None,
            ev.emergency,
            mail_headers=_mail_headers(p, ev) if p.request.channel == "email" else None,
        )
    for i, first in repeats.items():
        results[i] = replace(results[first], index=i, duplicate=True, client_ref=results[first].client_ref)
    return [results[i] for i in range(len(requests))]


def _mail_headers(p: Prepared, ev: Any) -> dict[str, str] | None:
    """The one-click unsubscribe headers of an allowed commercial e-mail (NPC-7), else ``None``."""
    if ev.kind != COMMERCIAL or ev.decision.outcome is not Outcome.ALLOW or ev.cp is None:
        return None
    return mail_unsubscribe_headers(
        recipient_hash=p.recipient_hash, content_provider_id=ev.cp.id, message_type=p.request.message_type
    )


@carries("O31-11")
def _without_resubmissions(
    session: Session,
    prepared: list[tuple[int, Prepared]],
    results: dict[int, GatewayResult],
    repeats: dict[int, int],
    now: datetime,
) -> list[tuple[int, Prepared]]:
    """Idempotency: a ``client_ref`` already submitted from the same sender code within
    ``PIGUARD_SMS_IDEMPOTENCY_HOURS`` gets the first submission's result back (``duplicate``) and
    is neither decided again (no second count against the consent's frequency) nor written nor
    queued; a ref repeated inside one batch is decided once."""
    hours = get_messaging_settings().sms_idempotency_hours
    keyed = [
        (i, p, (p.sender, p.request.client_ref))
        for i, p in prepared
        if p.request.client_ref and p.request.idempotent
    ]
    if not keyed or hours <= 0:
        return prepared
    earlier = records.outbound_by_client_ref(
        session, {k for _i, _p, k in keyed}, since=now - timedelta(hours=hours)
    )
    skip: set[int] = set()
    first_of: dict[tuple[str, str | None], int] = {}
    for i, p, key in keyed:
        row = earlier.get(key)
        if row is not None:
            results[i] = GatewayResult(
                i,
                p.request.client_ref,
                row["ref"],
                row["outcome"],
                tuple(
                    Reason(
                        r["code"],
                        tuple(r["obligations"]),
                        reason_catalogue.label(r["code"], "en"),
                        reason_catalogue.label(r["code"], "zh"),
                    )
                    for r in row["reasons"]
                ),
                row["kind"],
                row["status"],
                row["content_provider"],
                False,
                duplicate=True,
            )
            skip.add(i)
        elif key in first_of:
            repeats[i] = first_of[key]
            skip.add(i)
        else:
            first_of[key] = i
    return [(i, p) for i, p in prepared if i not in skip]


def _client_ref(req: object) -> str | None:
    ref = getattr(req, "client_ref", None)
    return ref if isinstance(ref, str) else None
