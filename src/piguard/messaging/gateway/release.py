"""Held messages: re-decided and queued when the hold's condition ends.

The gateway holds commercial and public-welfare messages during configured quiet hours (O31-22) and
public-welfare messages before their campaign's send date (O31-17). A held message keeps its record
(``status = 'held'``, its ref, the number encrypted). :func:`release_held` (``piguard worker``, each
round) picks held records whose condition has ended — quiet hours over, send date reached — and runs
the whole decision again over the current state (registry, consents with the opt-out guard,
suppressions, suspensions): allowed, the record becomes ``queued`` under the same ref and goes to the
outbox (an SMPP client that got a message_id then receives its receipt); refused (the user opted out
meanwhile, the provider was suspended …), the record becomes ``refused`` with the new reasons; still
held, it waits. :func:`release_message` does the same for one message at an operator's request
(``POST /api/sms/messages/{ref}/release``). Both are audited.
"""

from __future__ import annotations

import importlib
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core import crypto
from piguard.core.calendar import SHANGHAI
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError, not_found
from piguard.core.reasons import obligations_of
from piguard.identity.principal import Principal
from piguard.messaging import reasons as reason_catalogue
from piguard.messaging.gateway.decision import (
    COMMERCIAL,
    EMERGENCY,
    PUBLIC_WELFARE,
    GatewayRequest,
    Prepared,
    in_quiet,
    prepare,
)
from piguard.messaging.gateway.submit import GatewayResult, decide_batch, outbox_entry
from piguard.messaging.models import Campaign, MessageRecord
from piguard.messaging.records import service as records
from piguard.messaging.registry.service import actor_of
from piguard.messaging.settings import get_messaging_settings
from piguard.regulations.markers import carries

_RELEASED = reason_catalogue.reason(
    "released_from_hold",
    "Held earlier; decided again when the hold ended.",
    "此前暂缓发送；暂缓条件结束后重新决定。",
)
_DECLARED = (COMMERCIAL, PUBLIC_WELFARE, EMERGENCY)

# Transports that gave a client a message id before the message left (SMPP's submit_sm_resp) are
# told when a held message is refused, so its receipt says REJECTD. Named as "module:function" (as
# the mounting lists name modules) so that the gateway imports no transport; each takes
# ``(session, refs, now)``.
ON_HELD_REFUSED: tuple[str, ...] = ("piguard.messaging.smpp.service:reject_refused_held",)


def _request(rec: MessageRecord) -> GatewayRequest:
    """The held message as it was submitted (the number and, when it held PI, the text decrypted)."""
    return GatewayRequest(
        channel=rec.channel,
        sender=rec.sender,
        recipient=crypto.decrypt(rec.recipient_enc),
        text=crypto.decrypt(rec.content_enc) if rec.content_enc else rec.content,
        kind=rec.kind if rec.kind in _DECLARED else None,
        message_type=rec.message_type,
        campaign_id=rec.campaign_id,
        client_ref=rec.client_ref,
        content_provider_id=rec.content_provider_id,
    )


def _redecide(session: Session, recs: list[MessageRecord], now: datetime) -> list[tuple[MessageRecord, str]]:
    """Decide the held records again; apply allowed/refused ones; returns (record, new outcome)."""
    prepared: list[tuple[int, Prepared]] = []
    results: dict[int, GatewayResult] = {}
    for i, rec in enumerate(recs):
        try:
            prepared.append((i, prepare(_request(rec))))
        except PiguardError:
            continue  # cannot happen for a record the gateway held; left held
    evals = decide_batch(session, prepared, results, now=now)
    out: list[tuple[MessageRecord, str]] = []
    outbox: list[records.OutboxRow] = []
    for i, p, ev in evals:
        rec, d = recs[i], ev.decision
        outcome = d.outcome.value
        if outcome == "hold":
            out.append((rec, outcome))
            continue
        reasons = (*d.reasons, _RELEASED)
        status = "queued" if d.allowed else "refused"
        moved = session.execute(
            update(MessageRecord)
            .where(MessageRecord.id == rec.id, MessageRecord.at == rec.at, MessageRecord.status == "held")
            .values(
                outcome=outcome,
                status=status,
                status_at=now,
                kind=ev.kind,
                reason_codes=[r.code for r in reasons],
                obligations=list(obligations_of(reasons)),
                reasons=reason_catalogue.stored(reasons),
            )
            .returning(MessageRecord.id),
            execution_options={"synchronize_session": False},
        ).first()
        if moved is None:
            continue  # released by someone else meanwhile
        if d.allowed:
            outbox.append(outbox_entry(p, ev, rec.ref, now, rec.recipient_enc))
        out.append((rec, outcome))
    records.enqueue(session, outbox)
    refused = [rec.ref for rec, outcome in out if outcome == "refuse"]
    if refused:
        for target in ON_HELD_REFUSED:
            module, _, attr = target.partition(":")
            getattr(importlib.import_module(module), attr)(session, refused, now)
    return out


def _held(session: Session) -> Any:
    stmt = select(MessageRecord).where(
        MessageRecord.direction == "out", MessageRecord.outcome == "hold", MessageRecord.status == "held"
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)  # two workers never release the same message
    return stmt


@carries("O31-22", "O31-17", "O31-18.1", "O31-11")
def release_held(
    session: Session,
    now: datetime | None = None,
    *,
    limit: int | None = None,
    principal: Principal | None = None,
) -> dict[str, int]:
    """Re-decide held messages whose hold condition has ended (quiet hours over, campaign send date
    reached), oldest first, at most ``limit`` (``PIGUARD_SMS_RELEASE_BATCH``) per call; returns the
    counts by new outcome (``allow`` queued, ``refuse``, ``hold`` still held). Audited when anything
    was released."""
    now = now or utcnow()
    settings = get_messaging_settings()
    limit = limit or settings.sms_release_batch
    stmt = _held(session)
    if in_quiet(now, settings.quiet_window()):
        stmt = stmt.where(~records.has_reason_code("quiet_hours"))
    today = now.astimezone(SHANGHAI).date().isoformat()
    waiting = select(Campaign.id).where(Campaign.send_on > today)
    not_started = records.has_reason_code("campaign_not_started")
    stmt = stmt.where(
        ~and_(not_started, MessageRecord.campaign_id.is_(None)),  # held before campaigns were recorded
        ~and_(not_started, MessageRecord.campaign_id.is_not(None), MessageRecord.campaign_id.in_(waiting)),
    )
    recs = list(session.scalars(stmt.order_by(MessageRecord.id).limit(max(1, limit))))
    counts: Counter[str] = Counter()
    if recs:
        counts.update(outcome for _rec, outcome in _redecide(session, recs, now))
    result = {
        "considered": len(recs),
        "allow": counts["allow"],
        "refuse": counts["refuse"],
        "hold": counts["hold"],
    }
    if counts["allow"] or counts["refuse"]:
        record(
            session,
            action="sms.held.released",
            actor=actor_of(principal),
            obligations=("O31-22", "O31-17", "O31-11"),
            detail=result,
        )
    return result


@carries("O31-22", "O31-17", "O31-18.1", "O31-11")
def release_message(
    session: Session, ref: str, *, principal: Principal | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """An operator asks for one held message to be decided again now (the hold's condition may have
    ended before the next worker round). The whole decision runs again: a message still inside its
    quiet hours or before its campaign's send date stays held. Audited. Returns the record."""
    now = now or utcnow()
    ref = str(ref)[:32]
    rec = session.scalar(_held(session).where(MessageRecord.ref == ref))
    if rec is None:
        exists = session.scalar(select(MessageRecord.status).where(MessageRecord.ref == ref))
        if exists is None:
            raise not_found("Message", "短信", ref)
        raise PiguardError(
            "not_held",
            f"Message {ref} is not held (status {exists}).",
            f"短信 {ref} 不处于暂缓状态（当前状态 {exists}）。",
            http_status=409,
        )
    [(_rec, outcome)] = _redecide(session, [rec], now) or [(rec, "hold")]
    session.expire(rec)
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == ref))
    assert rec is not None
    record(
        session,
        action="sms.message.released",
        actor=actor_of(principal),
        # By record id: a random hex ref can hold a digit run the audit's PI guard rightly refuses.
        subject_ref=f"message:{rec.id}",
        obligations=("O31-22", "O31-17", "O31-11"),
        client_ip=principal.client_ip if principal else None,
        outcome="held" if outcome == "hold" else "refused" if outcome == "refuse" else "ok",
        detail={"outcome": outcome, "reason_codes": list(rec.reason_codes or []), "ref": ref},
    )
    return records.record_to_dict(rec)
