"""What the SMPP link reads and writes, as functions that take a session (issue 10: the transport
holds no SQL). The bridge (``bridge.py``) and the upstream client (``client.py``) open one unit of
work around each call; nothing here knows of sockets, PDUs on the wire or the event loop.

* bind: :func:`find_account` (O31-12);
* submit_sm: :func:`decide` runs the gateway and keeps the SMPP side of an accepted message;
* towards the SMS centre: :func:`record_outcomes` (the part ids and the outbox's outcomes of what came
  back, one transaction per window of responses, O31-11);
* delivery receipts: :func:`apply_receipt`, :func:`pending_receipts`, :func:`mark_receipt_sent`;
* MO: :func:`apply_mo` (O31-20);
* held messages refused on release: :func:`reject_refused_held`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from piguard.core import crypto
from piguard.core.db import insert_rows, utcnow
from piguard.core.errors import PiguardError
from piguard.core.logging import get_logger
from piguard.identity.passwords import burn_time, verify_password
from piguard.identity.principal import Principal
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import GatewayResult, submit
from piguard.messaging.models import ContentProvider, OutboxMessage
from piguard.messaging.records.service import SendOutcome, deliver_report, settle_outbox
from piguard.messaging.smpp.models import SmppAccount, SmppMessage, SmppUpstreamPart
from piguard.messaging.smpp.pdu import Status
from piguard.messaging.smpp.server import Account, BindRefused, Submission, SubmitOutcome
from piguard.messaging.smpp.statuses import error_status, refusal_status
from piguard.messaging.subscriptions.inbound import receive_reply
from piguard.regulations.markers import carries

log = get_logger("piguard.smpp")
FAILED_STATES = ("UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN")
#: ``err:`` of a failed receipt whose SMS centre gave no error code (never 000, which means none)
UNKNOWN_ERROR = "999"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt owed to an ESME (one deliver_sm per id it was given)."""

    system_id: str
    esme_ids: tuple[str, ...]
    source_addr: str  # the original recipient
    dest_addr: str  # the original sender (port)
    state: str
    submitted: datetime
    done: datetime
    record_ref: str
    error: str = ""  # err: of the receipt ("" → 000 for DELIVRD)


def principal_for(system_id: str, peer: str | None = None, protocol: str = "smpp") -> Principal:
    return Principal(
        actor_type="system",
        actor_id=f"{protocol}:{system_id}",
        via="system",
        client_ip=(peer or "").rsplit(":", 1)[0] or None,
    )


# ------------------------------------------------------------------------------------ bind


@carries("O31-12")
def find_account(session: Session, system_id: str, password: str, bind_type: str) -> Account:
    """The account for a bind, or :class:`BindRefused`: ESME_RINVPASWD for an unknown system_id or
    a wrong password (indistinguishable, same time), ESME_RBINDFAIL for a disabled account or a bind
    type it may not use."""
    acc = session.scalar(select(SmppAccount).where(SmppAccount.system_id == system_id))
    if acc is None:
        burn_time(password)
        raise BindRefused(Status.ESME_RINVPASWD)
    if not verify_password(acc.password_hash, password):
        raise BindRefused(Status.ESME_RINVPASWD)
    if not acc.active or bind_type not in (acc.bind_types or ()):
        raise BindRefused(Status.ESME_RBINDFAIL)
    cp = session.get(ContentProvider, acc.content_provider_id)
    if cp is None:
        raise BindRefused(Status.ESME_RBINDFAIL)
    return Account(
        system_id=acc.system_id,
        content_provider_id=cp.id,
        content_provider=cp.code,
        bind_types=frozenset(acc.bind_types or ()),
        default_message_type=acc.default_message_type,
        max_rate=acc.max_rate,
        window=acc.window,
    )


# ------------------------------------------------------------------------------------ decide


def _recipient(sub: Submission) -> str:
    dest = sub.destination_addr.strip()
    if sub.dest_addr_ton == 1 and dest and not dest.startswith("+"):
        return "+" + dest
    return dest


def client_ref(system_id: str, ref: str | None, protocol: str = "smpp") -> str:
    """The gateway ``client_ref`` of an SMPP message: per system_id, with the ESME's own reference
    (TLV 0x1404) when it gave one (hashed when the whole would pass 64 characters)."""
    if ref is None:
        return f"{protocol}:{system_id}"[:64]
    key = f"{protocol}:{system_id}:{ref}"
    if len(key) > 64:
        key = f"{protocol}:" + hashlib.sha256(key.encode()).hexdigest()[: 63 - len(protocol)]
    return key


@carries("O31-10", "O31-13", "O31-11")
def decide(
    session: Session,
    sub: Submission,
    *,
    hold_status: int = Status.PG_HELD,
    accept_held: bool = False,
    protocol: str = "smpp",
) -> SubmitOutcome:
    """Run the gateway on one message from an ESME; map the result to a command_status.

    The bound content provider goes with the request: a port of another content provider is refused
    by the gateway itself (``sender_not_this_provider``, O31-13, O31-10; ESME_RINVSRCADR) and so
    recorded. A held message is accepted with its message_id when ``accept_held`` (it is delivered
    when the worker releases it), else answered ``hold_status``.

    ``protocol`` names the content provider's link ("smpp", "cmpp"): the actor and client_ref of the
    record say it; only an SMPP message gets the SMPP side row (its receipts go by deliver_sm)."""
    return decide_many(session, [sub], hold_status=hold_status, accept_held=accept_held, protocol=protocol)[0]


@carries("O31-10", "O31-13", "O31-11")
def decide_many(
    session: Session,
    subs: Sequence[Submission],
    *,
    hold_status: int = Status.PG_HELD,
    accept_held: bool = False,
    protocol: str = "smpp",
) -> list[SubmitOutcome]:
    """:func:`decide` for several messages in the caller's one transaction: one gateway batch per
    login and peer (each with its own principal), as an HTTP batch is decided; outcomes in order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, sub in enumerate(subs):
        groups.setdefault((sub.account.system_id, sub.peer), []).append(i)
    out: list[SubmitOutcome | None] = [None] * len(subs)
    for (system_id, peer), idx in groups.items():
        reqs = [_gateway_request(subs[i], protocol) for i in idx]
        results = submit(session, reqs, principal=principal_for(system_id, peer, protocol))
        for i, res in zip(idx, results, strict=True):
            out[i] = _outcome_of(session, subs[i], res, hold_status, accept_held, protocol)
    return [o for o in out if o is not None]


def _gateway_request(sub: Submission, protocol: str) -> GatewayRequest:
    return GatewayRequest(
        channel="sms",
        sender=sub.source_addr,
        recipient=_recipient(sub),
        text=sub.text,
        kind=sub.kind,
        message_type=sub.message_type,
        campaign_id=sub.campaign_id,
        client_ref=client_ref(sub.account.system_id, sub.client_ref, protocol),
        content_provider_id=sub.account.content_provider_id,
        # only a reference the ESME gave (TLV 0x1404) is a key: SMPP's own user_message_reference
        # is 16 bits and wraps within a day (docs/sms-smpp.md, "Resubmissions")
        idempotent=sub.client_ref is not None,
    )


def _outcome_of(
    session: Session, sub: Submission, res: GatewayResult, hold_status: int, accept_held: bool, protocol: str
) -> SubmitOutcome:
    if res.error is not None:
        fields = [f.field for f in res.error.fields]
        return SubmitOutcome(error_status(fields), outcome="error", reason_codes=(res.error.code, *fields))
    codes = tuple(r.code for r in res.reasons)
    accepted = res.outcome == "allow" or (res.outcome == "hold" and accept_held)
    if accepted and res.ref is not None:
        if protocol == "smpp" and not res.duplicate:
            # a resubmission keeps the first message_id: nothing new recorded, queued or sent
            session.add(
                SmppMessage(
                    record_ref=res.ref,
                    system_id=sub.account.system_id,
                    esme_ids=[*sub.part_ids, res.ref],
                    registered_delivery=sub.registered_delivery,
                    source_addr=sub.source_addr[:21],
                    dest_enc=crypto.encrypt(sub.destination_addr),
                    submitted_at=utcnow(),
                )
            )
        return SubmitOutcome(Status.ESME_ROK, res.ref, res.ref, res.outcome, codes, res.obligations)
    status = hold_status if res.outcome == "hold" else refusal_status(codes)
    return SubmitOutcome(status, "", res.ref, res.outcome, codes, res.obligations)


def reject_refused_held(session: Session, refs: list[str], now: datetime) -> None:
    """Held messages refused on release (``gateway.release.ON_HELD_REFUSED``): a message an SMPP
    client was given an id for gets the final state REJECTD, its receipt sent to the ESME when one of
    its receivers binds next."""
    session.execute(
        update(SmppMessage)
        .where(SmppMessage.record_ref.in_(refs), SmppMessage.final_state.is_(None))
        .values(final_state="REJECTD", done_at=now),
        execution_options={"synchronize_session": False},
    )


# ------------------------------------------------------------------------------------ upstream


@carries("O31-11")
def record_outcomes(
    session: Session,
    parts: Sequence[dict[str, object]],
    by_claim: dict[str, list[SendOutcome]],
) -> None:
    """What came back from the SMS centre for a window of submits: the part ids of the accepted
    parts (receipts are matched by them) and the outbox outcomes of each claim, in the caller's one
    transaction."""
    if parts:
        insert_rows(session, PARTS, list(parts))
    for token, outs in by_claim.items():
        settle_outbox(session, token, outs)


def record_parts(session: Session, parts: Sequence[dict[str, object]]) -> None:
    """Only the part ids (the outcomes are written by the dispatcher at the end of its batch)."""
    if parts:
        insert_rows(session, PARTS, list(parts))


#: Core's one executemany (``core.db.insert_rows``), not the ORM's bulk insert: a window of part ids
#: is written many times a second
PARTS = cast(Table, SmppUpstreamPart.__table__)


# ------------------------------------------------------------------------------------ receipts


@carries("O31-11")
def apply_receipt(
    session: Session, link: str, smsc_id: str, state: str, error: str, window_hours: float
) -> Receipt | str | None:
    """Update the part; when every part is final, the record (delivered/failed). Returns the ESME
    receipt to send, "retry" when the send is not committed yet, or None.

    The part is the newest one sent on ``link`` with ``smsc_id`` within the receipt window: an
    SMS centre that restarts its id counter reuses ids, and the receipt is about the latest."""
    error = "".join(ch for ch in (error or "") if ch.isalnum())[:3]
    since = utcnow() - timedelta(hours=window_hours)
    part = session.scalar(
        select(SmppUpstreamPart)
        .where(
            SmppUpstreamPart.link == link,
            SmppUpstreamPart.smsc_id == smsc_id,
            SmppUpstreamPart.at >= since,
        )
        .order_by(SmppUpstreamPart.at.desc(), SmppUpstreamPart.id.desc())
        .limit(1)
    )
    if part is None:
        # a message whose part rows could not be written: matched by the outbox's id of its
        # first part (never one that has parts, which are matched by link above)
        has_parts = select(SmppUpstreamPart.id).where(
            SmppUpstreamPart.record_ref == OutboxMessage.message_ref
        )
        row = session.scalar(
            select(OutboxMessage)
            .where(
                OutboxMessage.transport_ref == smsc_id,
                OutboxMessage.updated_at >= since,
                ~has_parts.exists(),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        if row is None:
            return "retry"  # the part rows of this send are not committed yet
        ref, parts_done, failed = row.message_ref, True, state in FAILED_STATES
        errors = [error] if failed else []
    else:
        ref = part.record_ref
        # receipts of the parts of one message arrive together: lock the message's parts so
        # the last one to commit sees every other part's state (PostgreSQL; SQLite serialises)
        parts = list(
            session.scalars(
                select(SmppUpstreamPart)
                .where(SmppUpstreamPart.record_ref == ref)
                .order_by(SmppUpstreamPart.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        for p in parts:
            if p.id == part.id:
                p.state = state
                p.error = error
        session.flush()
        # read again after our write: on SQLite the write lock is what serialises receipts
        rows = session.execute(
            select(SmppUpstreamPart.state, SmppUpstreamPart.error).where(SmppUpstreamPart.record_ref == ref)
        ).all()
        states = [st for st, _ in rows]
        errors = [err for st, err in rows if st in FAILED_STATES]
        failed = bool(errors)
        parts_done = failed or (len(states) >= part.total and all(s == "DELIVRD" for s in states))
    # a receipt that overtakes the dispatcher's own bookkeeping is applied at once: statuses
    # only move forward, so the dispatcher's later "sent" does not overwrite it
    if not parts_done:
        return None
    final = "failed" if failed else "delivered"
    try:
        code = next((e for e in errors if e and e != "000"), None) if failed else None
        deliver_report(session, ref, final, transport_ref=smsc_id if part is None else None, error=code)
    except PiguardError:
        log.warning("smpp.receipt_unknown_message")
        return None
    msg = session.scalar(select(SmppMessage).where(SmppMessage.record_ref == ref))
    if msg is None:
        return None  # not from an ESME (API, confirmation): the record is enough
    msg.final_state = "UNDELIV" if failed and state == "DELIVRD" else state if failed else "DELIVRD"
    # the SMS centre's own error code goes on to the content provider; a failure it gave no
    # code for is passed on as "unknown" rather than as err:000 (no error)
    msg.final_error = (next((e for e in errors if e and e != "000"), "") or UNKNOWN_ERROR) if failed else ""
    msg.done_at = utcnow()
    return receipt_of(msg) if wants_receipt(msg.registered_delivery, failed) else None


def wants_receipt(registered_delivery: int, failed: bool) -> bool:
    mode = registered_delivery & 0x03
    return mode == 1 or (mode == 2 and failed)


def receipt_of(msg: SmppMessage) -> Receipt:
    return Receipt(
        system_id=msg.system_id,
        esme_ids=tuple(msg.esme_ids or ()),
        source_addr=crypto.decrypt(msg.dest_enc),
        dest_addr=msg.source_addr,
        state=msg.final_state or "UNKNOWN",
        submitted=msg.submitted_at,
        done=msg.done_at or utcnow(),
        record_ref=msg.record_ref,
        error=msg.final_error or "",
    )


def mark_receipt_sent(session: Session, record_ref: str) -> None:
    session.execute(update(SmppMessage).where(SmppMessage.record_ref == record_ref).values(receipt_sent=True))


def pending_receipts(session: Session, system_id: str, limit: int = 1000) -> list[Receipt]:
    """The receipts an ESME's receivers missed while none was bound (oldest first)."""
    rows = session.scalars(
        select(SmppMessage)
        .where(
            SmppMessage.system_id == system_id,
            SmppMessage.final_state.is_not(None),
            SmppMessage.receipt_sent.is_(False),
        )
        .order_by(SmppMessage.id)
        .limit(limit)
    )
    return [receipt_of(m) for m in rows if wants_receipt(m.registered_delivery, m.final_state != "DELIVRD")]


# ------------------------------------------------------------------------------------ MO


@carries("O31-20", "O31-18.1")
def apply_mo(session: Session, source: str, dest: str, text: str) -> tuple[int | None, bool]:
    """A mobile-originated reply from the SMS centre: the opt-out, confirmation or other reply it is
    (``subscriptions.inbound.receive_reply``). Returns the content provider to forward it to (by id,
    None when the code resolves to none) and whether it confirmed a consent request (so the
    dispatcher is woken for the confirmation notice). Raises :class:`PiguardError` when refused."""
    sender = source if source.startswith("+") or not source.startswith("86") else "+" + source
    res = receive_reply(
        session, channel="sms", sender=sender, to=dest, text=text, principal=principal_for("smsc")
    )
    cp_id = None
    if res.content_provider is not None:
        cp_id = session.scalar(select(ContentProvider.id).where(ContentProvider.code == res.content_provider))
    return cp_id, res.confirmation_ref is not None
