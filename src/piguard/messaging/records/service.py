"""Message records (O31-11), the outbox, delivery reports, search, monitoring counters, retention.

Records keep the sending and receiving times, the port code and the recipient's number (AES-GCM
encrypted, with a keyed hash and a masked form beside it), the content of port messages, the
decision and its reason codes and obligations. They are the evidence of every refusal, so the audit
log gets one aggregate entry per batch instead of one per message.

Retention (O31-11): records are kept at least ``sms_records.retention_months`` months and purged no
later than that plus ``PIGUARD_SMS_RETENTION_GRACE_DAYS``; subscription-status events are kept until
``sms_records.subscription_status_months_after_end`` months after the service relationship (the
consent) ends. On PostgreSQL a purge of records drops monthly partitions (``messaging.records.partitions``);
everything else, and everything on SQLite, is deleted in bounded batches (see ``months_before``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import (
    ARRAY,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    false,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from piguard.core import addresses, crypto
from piguard.core.calendar import SHANGHAI
from piguard.core.db import execute_many, insert_rows, insert_tuples, utcnow
from piguard.core.errors import FieldError, PiguardError, not_found, validation_error
from piguard.core.logging import redact
from piguard.core.reasons import Reason, obligations_of
from piguard.core.refs import new_ref as _new_ref
from piguard.core.refs import new_refs as _new_refs
from piguard.messaging import reasons as reason_catalogue
from piguard.messaging.models import (
    Consent,
    ConsentRequest,
    MessageRecord,
    OutboxMessage,
    SubscriptionEvent,
    Suppression,
)
from piguard.messaging.settings import get_messaging_settings
from piguard.messaging.subscriptions.links import mail_unsubscribe_headers
from piguard.regulations.markers import carries
from piguard.regulations.parameters import value

RECORDS = cast(Table, MessageRecord.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
EVENTS = cast(Table, SubscriptionEvent.__table__)
DELIVERY_STATUSES = ("sent", "delivered", "failed")
EMERGENCY_PRIORITY = 0
NORMAL_PRIORITY = 5


def new_ref() -> str:
    """A message or batch reference the PI redactor leaves intact (``core.refs``)."""
    return _new_ref()


def new_refs(n: int) -> list[str]:
    """``n`` message references at once (``core.refs.new_refs``)."""
    return _new_refs(n)


def _recorded_sender(channel: str, direction: str, sender: str, port_id: int | None) -> str:
    """An SMS sender is a port code, kept whole when it resolved to a registered port (O31-11: the
    record says which port sent it; a port with its extension often has 12 to 20 digits, which the
    PI redactor would take for a card number). One that resolved to no port and looks like a
    person's number (a refused submission from a mobile, say) is kept masked like a recipient,
    never in clear (O24-10)."""
    if port_id is not None:
        return sender
    if channel == "sms" and direction == "out" and redact(sender) != sender:
        return addresses.mask_address(sender)
    return sender


#: the columns of a record as :func:`record_values` gives them (the order of its tuple)
RECORD_COLUMNS = (
    "ref", "at", "direction", "channel", "sender", "recipient_hash", "recipient_masked",
    "recipient_enc", "content", "content_enc", "kind", "message_type", "content_provider_id",
    "port_id", "outcome", "reason_codes", "obligations", "reasons", "campaign_id", "status",
    "status_at", "client_ref", "batch_ref", "intent",
)  # fmt: skip


@carries("O31-11", "O24-10")
def record_values(
    ref: str,
    at: datetime,
    direction: str,
    channel: str,
    sender: str,
    recipient_hash: str,
    recipient_masked: str,
    recipient_enc: str,
    content: str,
    content_has_pi: bool,
    kind: str | None,
    message_type: str | None,
    content_provider_id: int | None,
    port_id: int | None,
    outcome: str,
    reason_codes: list[str],
    obligations: list[str],
    stored_reasons: list[dict[str, Any]],
    campaign_id: int | None,
    status: str,
    client_ref: str | None,
    batch_ref: str | None,
    intent: str | None,
) -> tuple[Any, ...]:
    """One row of ``msg_records`` as the values of :data:`RECORD_COLUMNS`: the number as the
    caller encrypted it (``crypto.encrypt``; a batch's writer encrypts its numbers at once), the
    content masked when it held PI (the clear text then only encrypted, as evidence); the lists are
    stored as they are, not copied. Arguments by position, in the columns' order (``status_at`` is
    ``at``): a batch's writer (``gateway.submit.emit``) calls it once a message, where two dozen
    keywords cost more than the rest of the row."""
    return (
        ref,
        at,
        direction,
        channel,
        sender if port_id is not None else _recorded_sender(channel, direction, sender, port_id),
        recipient_hash,
        recipient_masked,
        recipient_enc,
        redact(content) if content_has_pi else content,
        crypto.encrypt(content) if content_has_pi else None,
        kind,
        message_type,
        content_provider_id,
        port_id,
        outcome,
        reason_codes,
        obligations,
        stored_reasons,
        campaign_id,
        status,
        at,
        client_ref,
        batch_ref,
        intent,
    )


@carries("O31-11", "O24-10")
def record_row(
    *,
    ref: str,
    at: datetime,
    direction: str,
    channel: str,
    sender: str,
    address: str,
    recipient_hash: str,
    recipient_masked: str,
    content: str,
    content_has_pi: bool,
    outcome: str,
    status: str,
    reason_codes: Sequence[str] = (),
    obligations: Sequence[str] = (),
    kind: str | None = None,
    message_type: str | None = None,
    content_provider_id: int | None = None,
    port_id: int | None = None,
    client_ref: str | None = None,
    batch_ref: str | None = None,
    intent: str | None = None,
    reasons: Sequence[Reason] | None = None,
    campaign_id: int | None = None,
    stored_reasons: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One row of ``msg_records`` (:func:`record_values`) as a dict. ``reasons``: the decision's
    reasons, each stored with its own obligation ids (``reason_codes`` and the combined
    ``obligations`` follow from them when not given). ``stored_reasons``:
    ``reason_catalogue.stored(reasons)`` when the caller has it already."""
    if stored_reasons is not None:
        stored = stored_reasons
    else:
        stored = reason_catalogue.stored(reasons) if reasons is not None else []
    if reasons is not None and not reason_codes:
        reason_codes = [r.code for r in reasons]
    if reasons is not None and not obligations:
        obligations = list(obligations_of(reasons))
    values = record_values(
        ref,
        at,
        direction,
        channel,
        sender,
        recipient_hash,
        recipient_masked,
        crypto.encrypt(address),
        content,
        content_has_pi,
        kind,
        message_type,
        content_provider_id,
        port_id,
        outcome,
        reason_codes if type(reason_codes) is list else list(reason_codes),
        obligations if type(obligations) is list else list(obligations),
        stored,
        campaign_id,
        status,
        client_ref,
        batch_ref,
        intent,
    )
    return dict(zip(RECORD_COLUMNS, values, strict=True))


@carries("O31-11")
def outbound_by_client_ref(
    session: Session, keys: set[tuple[str, str | None]], *, since: datetime
) -> dict[tuple[str, str | None], dict[str, Any]]:
    """The first outbound record of each ``(sender, client_ref)`` since ``since``: what a
    resubmission answers with (``gateway.submit``'s idempotency)."""
    from piguard.messaging.models import ContentProvider

    refs = sorted({ref for _sender, ref in keys if ref})
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    for start in range(0, len(refs), 500):
        rows = session.execute(
            select(
                MessageRecord.sender,
                MessageRecord.client_ref,
                MessageRecord.ref,
                MessageRecord.outcome,
                MessageRecord.reasons,
                MessageRecord.reason_codes,
                MessageRecord.kind,
                MessageRecord.status,
                ContentProvider.code,
            )
            .outerjoin(ContentProvider, ContentProvider.id == MessageRecord.content_provider_id)
            .where(
                MessageRecord.client_ref.in_(refs[start : start + 500]),
                MessageRecord.direction == "out",
                MessageRecord.at >= since,
            )
            .order_by(MessageRecord.at, MessageRecord.id)
        ).all()
        for r in rows:
            key = (r.sender, r.client_ref)
            if key in keys and key not in out:
                out[key] = {
                    "ref": r.ref,
                    "outcome": r.outcome,
                    "reasons": reason_catalogue.record_reasons(r.reasons, r.reason_codes),
                    "kind": r.kind,
                    "status": r.status,
                    "content_provider": r.code,
                }
    return out


def write_records(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        insert_rows(session, RECORDS, rows)


def write_record_values(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Records given as :func:`record_values` tuples, in one ``executemany``."""
    if rows:
        insert_tuples(session, RECORDS, RECORD_COLUMNS, rows)


#: the columns of an outbox row as :func:`enqueue` writes it (:func:`outbox_row`'s values, then the route)
OUTBOX_COLUMNS = (
    "message_ref", "channel", "sender", "recipient_enc", "content", "priority", "status",
    "attempts", "created_at", "updated_at", "route",
)  # fmt: skip

#: an outbox row before :func:`enqueue`: its values but the route, and what the route is found from
#: (``(address, address hash)`` of an SMS, else ``None``)
OutboxRow = tuple[tuple[Any, ...], tuple[str, str] | None]


def outbox_row(
    ref: str,
    channel: str,
    sender: str,
    address: str,
    content: str,
    emergency: bool,
    at: datetime,
    recipient_enc: str | None = None,
    recipient_hash: str | None = None,
) -> OutboxRow:
    """``recipient_enc``: the address already encrypted for the message's record (the same value,
    so one AES-GCM encryption serves both rows). The carrier route is set by :func:`enqueue`."""
    return (
        (
            ref,
            channel,
            sender,
            recipient_enc or crypto.encrypt(address),
            content,
            EMERGENCY_PRIORITY if emergency else NORMAL_PRIORITY,
            "queued",
            0,
            at,
            at,
        ),
        (address, recipient_hash or crypto.address_hash(address)) if channel == "sms" else None,
    )


def enqueue(session: Session, rows: Sequence[OutboxRow]) -> None:
    """Insert outbox rows (:func:`outbox_row`), each with the carrier whose link is to carry it
    (``messaging.routing``: the ported-number table, else the number's segment; one query for the
    batch)."""
    if not rows:
        return
    from piguard.messaging.routing.service import routes_for

    route: list[str | None] = [None] * len(rows)
    sms = [(i, k) for i, (_v, k) in enumerate(rows) if k is not None]
    for (i, _), carrier in zip(sms, routes_for(session, [k for _, k in sms]), strict=True):
        route[i] = carrier
    insert_tuples(session, OUTBOX, OUTBOX_COLUMNS, [(*v, r) for (v, _k), r in zip(rows, route, strict=True)])


def subscription_event(
    session: Session,
    *,
    at: datetime,
    recipient_hash: str,
    recipient_masked: str,
    channel: str,
    content_provider_id: int,
    event: str,
    source: str,
    message_type: str | None = None,
    consent_id: int | None = None,
    request_id: int | None = None,
    ended: bool = False,
) -> None:
    """Record a subscription-status change (O31-11). ``ended``: the relationship ends with it."""
    session.execute(
        EVENTS.insert(),
        [
            {
                "at": at,
                "recipient_hash": recipient_hash,
                "recipient_masked": recipient_masked,
                "channel": channel,
                "content_provider_id": content_provider_id,
                "message_type": message_type,
                "event": event,
                "source": source,
                "consent_id": consent_id,
                "request_id": request_id,
                "relationship_ended_at": at if ended else None,
            }
        ],
    )


# ------------------------------------------------------------------------------------ transport


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What a transport receives: the clear address exists only here, in memory. ``claim`` is the
    dispatcher's claim token (a transport that records outcomes as they come back settles with it,
    :func:`settle_outbox`)."""

    ref: str
    channel: str
    sender: str
    recipient: str
    text: str
    emergency: bool
    claim: str = ""
    #: e-mail headers the message must carry (a commercial e-mail's one-click unsubscribe, NPC-7)
    headers: tuple[tuple[str, str], ...] = ()


#: outcomes of one attempt: the peer accepted it, refused it for good, or refused it for now
SEND_STATUSES = ("sent", "failed", "retry")


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """One message's outcome as a transport reports it. ``retry``: a transient refusal (throttling,
    timeout, lost link); the message is queued again after a back-off, within its validity.
    ``error`` names the cause (an SMPP status, ``timeout``, ``link_lost``), never any PI."""

    ref: str
    status: str
    transport_ref: str | None = None
    error: str = ""


class Transport(Protocol):
    """Hands messages to an SMS centre or mail relay. ``send`` returns, per message, the transport's
    id (accepted), None (refused by the peer for good) or a :class:`SendOutcome` (e.g. ``retry``).
    The SMPP client implements this. ``channels``: what it carries (an SMS centre ``("sms",)``, a
    mail relay ``("email",)``): it is only handed rows of those channels (:func:`transport_channels`)."""

    name: str

    def send(self, messages: Sequence[OutboundMessage]) -> Sequence[str | SendOutcome | None]: ...


class LoopbackTransport:
    """Accepts everything (demo, tests): the message counts as sent; delivery reports come later."""

    name = "loopback"
    channels = addresses.CHANNELS

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, messages: Sequence[OutboundMessage]) -> list[str | None]:
        self.sent.extend(messages)
        return [f"loop-{m.ref[:12]}" for m in messages]


def transport_channels(transport: object) -> tuple[str, ...]:
    """The channels a transport carries: its ``channels``, or SMS only (a transport that does not
    say is an SMS centre's; an e-mail address must never reach one as a destination number)."""
    return tuple(getattr(transport, "channels", None) or ("sms",))


#: Outbox and record statuses only move forward: queued < sending < sent < delivered | failed.
STATUS_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3}


def _before(status: str) -> list[str]:
    """The statuses a row may move from to reach ``status`` (strictly lower rank)."""
    rank = STATUS_RANK[status]
    return [s for s, r in STATUS_RANK.items() if r < rank]


@carries("O31-17", "O31-11")
def claim_outbox(
    session: Session,
    *,
    limit: int = 500,
    now: datetime | None = None,
    lease_seconds: int | None = None,
    routes: Sequence[str | None] | None = None,
    channels: Sequence[str] = ("sms",),
) -> str | None:
    """Claim up to ``limit`` queued rows (emergency lane first, O31-17), and rows whose earlier claim
    expired, for one dispatcher: ``sending`` with a fresh claim token and lease. Returns the token
    (None: nothing to send). The caller commits before handing the rows to a transport, so another
    dispatcher never takes them: on PostgreSQL the pick skips rows another dispatcher is claiming
    (``FOR UPDATE SKIP LOCKED``); on both backends the claiming ``UPDATE`` repeats the condition, so
    a row claimed meanwhile is left alone. ``routes``: only rows of these carriers (``None`` in it:
    rows with no carrier), for a link that carries only them (``messaging.routing``). ``channels``:
    only rows of these channels (an SMS centre's link never takes an e-mail)."""
    now = now or utcnow()
    lease = lease_seconds or get_messaging_settings().sms_outbox_lease_seconds
    claimable = or_(
        and_(
            OutboxMessage.status == "queued",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        ),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
    )
    if set(channels) != set(addresses.CHANNELS):
        claimable = and_(claimable, OutboxMessage.channel.in_(list(channels)))
    if routes is not None:
        named = [r for r in routes if r is not None]
        on_route = [OutboxMessage.route.in_(named)] if named else []
        if None in routes:
            on_route.append(OutboxMessage.route.is_(None))
        claimable = and_(claimable, or_(*on_route)) if on_route else and_(claimable, false())
    pick = (
        select(OutboxMessage.id)
        .where(claimable)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(max(1, limit))
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(session.scalars(pick))
    if not ids:
        return None
    token = new_ref()
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), claimable)
        .values(
            status="sending",
            claim=token,
            lease_until=now + timedelta(seconds=lease),
            attempts=OutboxMessage.attempts + 1,
            updated_at=now,
        )
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ).all()
    if not claimed:
        return None
    _remember_lease(token, now + timedelta(seconds=lease), now)
    return token


@carries("O31-17", "O31-11")
def drain_outbox(
    session: Session,
    transport: Transport,
    *,
    limit: int = 500,
    now: datetime | None = None,
    lease_seconds: int | None = None,
    routes: Sequence[str | None] | None = None,
) -> int:
    """Hand queued messages to ``transport``, emergency lane first (O31-17); returns how many were sent.

    Safe with several dispatchers: the rows are claimed (:func:`claim_outbox`) and **the claim is
    committed** before the transport is called (the one service function that commits: the claim
    must be visible to the other dispatchers before a message leaves). Results are then written with
    the claim token as a guard and never move a status backwards: a delivery report that arrived
    meanwhile (``delivered``/``failed``) is not overwritten by ``sent``. A dispatcher that dies
    between the claim and the result leaves rows ``sending`` until the lease runs out; the next
    dispatcher sends them again (at least once)."""
    channels = transport_channels(transport)
    token = claim_outbox(
        session, limit=limit, now=now, lease_seconds=lease_seconds, routes=routes, channels=channels
    )
    session.commit()
    if token is None:
        return 0
    return _send_claimed(session, transport, token)


@carries("O31-17", "O31-11")
def drain_outbox_rounds(
    session: Session,
    transport: Transport,
    *,
    limit: int = 500,
    max_rounds: int = 100,
    lease_seconds: int | None = None,
    routes: Sequence[str | None] | None = None,
) -> int:
    """:func:`drain_outbox` round after round until the outbox is empty (or ``max_rounds``): the
    results of one round and the claim of the next are committed together, one write transaction
    per round instead of two (on SQLite every write waits for the one lock). Same guarantees: a claim
    is committed before its rows go to the transport, results are guarded by the claim token."""
    channels = transport_channels(transport)
    token = claim_outbox(session, limit=limit, lease_seconds=lease_seconds, routes=routes, channels=channels)
    session.commit()
    sent = 0
    for n in range(max_rounds):
        if token is None:
            break
        ok = _send_claimed(session, transport, token)
        sent += ok
        # the next claim rides on this commit, unless this was the last round or the transport
        # accepted nothing (a link down: the next attempt waits for the caller's next call)
        token = (
            claim_outbox(session, limit=limit, lease_seconds=lease_seconds, routes=routes, channels=channels)
            if ok and n + 1 < max_rounds
            else None
        )
        session.commit()
    return sent


def _send_claimed(session: Session, transport: Transport, token: str) -> int:
    """Hand the rows claimed under ``token`` to the transport and write the results (uncommitted).

    A transport may already have settled some rows itself as their outcomes came back
    (:func:`settle_outbox`, committed by the transport); those no longer carry the claim and are
    left alone here."""
    rows = session.execute(
        select(
            OutboxMessage.message_ref,
            OutboxMessage.channel,
            OutboxMessage.sender,
            OutboxMessage.recipient_enc,
            OutboxMessage.content,
            OutboxMessage.priority,
        )
        # every row of a claim just made is ``sending``: said, so that the queue's index finds them
        # (the claim has no index of its own; without it every round read the whole outbox)
        .where(OutboxMessage.status == "sending", OutboxMessage.claim == token)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
    ).all()
    mail = _mail_headers(session, [ref for ref, ch, *_ in rows if ch == "email"])
    msgs = [
        OutboundMessage(
            ref, ch, snd, crypto.decrypt(enc), content, prio == EMERGENCY_PRIORITY, token, mail.get(ref, ())
        )
        for ref, ch, snd, enc, content, prio in rows
    ]
    # end the read transaction: a transport that settles as it goes writes from its own connection
    session.commit()
    results = transport.send(msgs) if msgs else []
    outcomes = [_as_outcome(m.ref, r) for m, r in zip(msgs, results, strict=True)]
    settle_outbox(session, token, outcomes)
    return sum(o.status == "sent" for o in outcomes)


@carries("NPC-7", "O31-20")
def _mail_headers(session: Session, refs: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """The one-click unsubscribe headers of the commercial e-mails among ``refs`` (from their records:
    the recipient's keyed hash, the content provider and the type the link names)."""
    if not refs:
        return {}
    rows = session.execute(
        select(
            MessageRecord.ref,
            MessageRecord.recipient_hash,
            MessageRecord.content_provider_id,
            MessageRecord.message_type,
        ).where(MessageRecord.ref.in_(refs), MessageRecord.kind == "commercial")
    ).all()
    return {
        ref: tuple(
            mail_unsubscribe_headers(recipient_hash=rh, content_provider_id=cp, message_type=mt).items()
        )
        for ref, rh, cp, mt in rows
        if cp is not None
    }


def _as_outcome(ref: str, result: str | SendOutcome | None) -> SendOutcome:
    if isinstance(result, SendOutcome):
        return result
    if result is None:
        return SendOutcome(ref, "failed", error="refused")
    return SendOutcome(ref, "sent", transport_ref=result)


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` attempts (exponential, capped, jittered)."""
    import random

    cfg = get_messaging_settings()
    base = min(cfg.sms_retry_max_seconds, cfg.sms_retry_base_seconds * 2 ** max(0, min(attempts - 1, 30)))
    return base * (1 + 0.25 * random.random())


@carries("O31-11")
def settle_outbox(
    session: Session,
    token: str,
    outcomes: Sequence[SendOutcome],
    *,
    now: datetime | None = None,
    lease_seconds: int | None = None,
) -> list[str]:
    """Write the outcomes of rows still claimed under ``token`` (uncommitted): ``sent`` and ``failed``
    as they are; ``retry`` back to ``queued`` with a back-off (``next_attempt_at``), or ``failed``
    ("expired") when the back-off would end past the message's validity
    (``PIGUARD_SMS_VALIDITY_HOURS``). Statuses never move backwards: a delivery report already
    applied stays. The lease of the claim's other rows is renewed (a live dispatcher working through
    a slow batch keeps its claim). Returns the refs settled."""
    now = now or utcnow()
    cfg = get_messaging_settings()
    lease = lease_seconds or cfg.sms_outbox_lease_seconds
    if not outcomes:
        return []
    by_ref = {o.ref: o for o in outcomes}
    conn = session.connection()
    name = conn.dialect.name
    claimed = _settle_statements(name)[0]
    rows = conn.execute(claimed, {"tok": token, "refs": _ref_list(name, list(by_ref))}).all()
    validity = timedelta(hours=cfg.sms_validity_hours)
    params: list[dict[str, Any]] = []
    final: list[tuple[str, str]] = []
    for row_id, ref, attempts, created in rows:
        o = by_ref[ref]
        status, error, next_at = o.status, o.error[:32] or None, None
        if status == "retry":
            next_at = now + timedelta(seconds=retry_delay(attempts or 1))
            if next_at > created + validity:
                status, error = "failed", "expired"
            else:
                status = "queued"
        params.append(
            {
                "b_id": row_id,
                "b_tok": token,
                "b_status": status,
                "b_tref": o.transport_ref[:64] if o.transport_ref else None,
                "b_next": next_at,
                "b_err": error,
                "b_now": now,
            }
        )
        if status != "queued":
            final.append((ref, status))
    if params:
        execute_many(session, _SETTLE, params)
        _set_record_status(session, final, now)
        # renewed once a third of the lease has passed, not on every window of outcomes: a claim
        # of 500 settled 10 at a time rewrote some 12,000 leases for 500 messages. The lease this
        # process gave the claim (or last renewed it to) is known here, so the statement runs only
        # when it would renew something (a claim of another process: every time, as before)
        renew_at = now + timedelta(seconds=lease * 2 / 3)
        until = _LEASES.get(token)
        if until is None or until < renew_at:
            conn.execute(
                _RENEW, {"tok": token, "b_renew": renew_at, "b_lease": now + timedelta(seconds=lease)}
            )
            _remember_lease(token, now + timedelta(seconds=lease), now)
    return [r[1] for r in rows]


#: the lease each claim made by this process runs to (:func:`claim_outbox`, renewed by
#: :func:`settle_outbox`): a settle whose claim needs no renewal skips the statement
_LEASES: dict[str, datetime] = {}


def _remember_lease(token: str, until: datetime, now: datetime) -> None:
    if len(_LEASES) >= 1024:  # claims whose lease ended are forgotten
        for tok in [t for t, u in _LEASES.items() if u < now]:
            del _LEASES[tok]
    _LEASES[token] = until


def _ref_list(dialect: str, refs: list[str]) -> Any:
    """The value of a list parameter of :func:`_settle_statements`' statements on ``dialect``."""
    return orjson.dumps(refs).decode() if dialect == "sqlite" else refs


def _in_list(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """``column IN (the list bound as name)``, one parameter whatever its length (``json_each`` on
    SQLite, ``= ANY`` on PostgreSQL, as ``core.db.in_values``): the statement compiles once, where an
    expanding ``IN`` is rendered again on every execution."""
    if dialect == "sqlite":
        each = func.json_each(bindparam(name, type_=String))
        return column.in_(select(literal_column("value")).select_from(each).scalar_subquery())
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


#: per dialect: settle_outbox's select of the rows still claimed, and per status the record update
_SETTLE_STATEMENTS: dict[str, tuple[Any, dict[str, Any]]] = {}


def _settle_statements(dialect: str) -> tuple[Any, dict[str, Any]]:
    """Built once per dialect: a dispatcher settles a window of outcomes at a time, and building
    (and, with an expanding ``IN``, rendering) the expressions cost more than running them."""
    got = _SETTLE_STATEMENTS.get(dialect)
    if got is None:
        claimed = select(OUTBOX.c.id, OUTBOX.c.message_ref, OUTBOX.c.attempts, OUTBOX.c.created_at).where(
            OUTBOX.c.claim == bindparam("tok"), _in_list(dialect, OUTBOX.c.message_ref, "refs")
        )
        by_status = {
            status: update(RECORDS)
            # the statuses before as plain equalities: a literal IN list is an expanding parameter
            .where(
                _in_list(dialect, RECORDS.c.ref, "refs"),
                or_(*(RECORDS.c.status == b for b in _before(status))),
            )
            .values(status=bindparam("b_st"), status_at=bindparam("b_at"))
            for status in STATUS_RANK
            if STATUS_RANK[status]
        }
        got = _SETTLE_STATEMENTS[dialect] = (claimed, by_status)
    return got


# settle_outbox's statements, built once
_SETTLE = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("b_id"), OUTBOX.c.claim == bindparam("b_tok"))
    .values(
        status=case((OUTBOX.c.status == "sending", bindparam("b_status")), else_=OUTBOX.c.status),
        transport_ref=func.coalesce(OUTBOX.c.transport_ref, bindparam("b_tref")),
        next_attempt_at=bindparam("b_next"),
        last_error=bindparam("b_err"),
        claim=None,
        lease_until=None,
        updated_at=bindparam("b_now"),
    )
)
_RENEW = (
    update(OUTBOX)
    .where(
        OUTBOX.c.claim == bindparam("tok"),
        OUTBOX.c.status == "sending",
        OUTBOX.c.lease_until < bindparam("b_renew"),
    )
    .values(lease_until=bindparam("b_lease"))
)


def _set_record_status(session: Session, pairs: Iterable[tuple[str, str]], at: datetime) -> None:
    """Records take a delivery status only forward (``sent`` never replaces ``delivered``/``failed``)."""
    by_status: dict[str, list[str]] = {}
    for ref, status in pairs:
        by_status.setdefault(status, []).append(ref)
    conn = session.connection()
    name = conn.dialect.name
    statements = _settle_statements(name)[1]
    for status, refs in by_status.items():
        conn.execute(statements[status], {"refs": _ref_list(name, refs), "b_st": status, "b_at": at})


@carries("O31-11")
def deliver_report(
    session: Session,
    message_ref: str,
    status: str,
    *,
    at: datetime | None = None,
    transport_ref: str | None = None,
    error: str | None = None,
) -> str:
    """A delivery report from the transport: the outbox row and the record take the new status when
    it is further on (queued < sending < sent < delivered | failed); a late ``sent`` after
    ``delivered``, or ``failed`` after ``delivered``, changes nothing. Returns the status the
    message has now. A final status that moved is owed to the content provider as a receipt when
    it turned them on (``messaging.callbacks``; ``error``: the SMS centre's code of a failure)."""
    if status not in DELIVERY_STATUSES:
        raise validation_error([FieldError("status", f"one of {', '.join(DELIVERY_STATUSES)}")])
    ref = str(message_ref)[:32]
    current = session.scalar(select(OutboxMessage.status).where(OutboxMessage.message_ref == ref))
    if current is None:
        raise not_found("Message", "短信", ref)
    when = at or utcnow()
    moved = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.message_ref == ref, OutboxMessage.status.in_(_before(status)))
        .values(status=status, updated_at=when)
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ).first()
    if transport_ref:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_ref == ref, OutboxMessage.transport_ref.is_(None))
            .values(transport_ref=transport_ref[:64]),
            execution_options={"synchronize_session": False},
        )
    _set_record_status(session, [(ref, status)], when)
    if moved is not None:
        if status in ("delivered", "failed"):
            from piguard.messaging.callbacks.service import record_receipt

            record_receipt(session, ref, status, when, error)
        return status
    return session.scalar(select(OutboxMessage.status).where(OutboxMessage.message_ref == ref)) or status


# ------------------------------------------------------------------------------------ search


@dataclass(frozen=True, slots=True)
class RecordQuery:
    content_provider_id: int | None = None
    recipient: str | None = None  # a clear address to look up (hashed, never stored)
    channel: str = "sms"
    outcome: str | None = None
    direction: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    reason_code: str | None = None
    limit: int = 100
    offset: int = 0


_REASON_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def has_reason_code(code: str) -> ColumnElement[bool]:
    """SQL condition: the record's reason codes include ``code``. Matched on the stored JSON text
    (``"code"`` with its quotes, ``_`` escaped), the same on SQLite and PostgreSQL."""
    if not isinstance(code, str) or not _REASON_CODE.match(code):
        raise bad_reason_code()
    pattern = '%"' + code.replace("_", "\\_") + '"%'
    return sa_cast(MessageRecord.reason_codes, String).like(pattern, escape="\\")


def bad_reason_code() -> PiguardError:
    return validation_error(
        [FieldError("reason_code", "a reason code (a-z, 0-9, _) / 原因代码（a-z、0-9、_）")],
        "Invalid reason_code",
        "reason_code 无效",
    )


def records_search(session: Session, q: RecordQuery) -> list[MessageRecord]:
    """Records by content provider, recipient (looked up by keyed hash), outcome, reason code, time;
    numbers masked. Every filter runs in SQL."""
    stmt = select(MessageRecord)
    if q.content_provider_id is not None:
        stmt = stmt.where(MessageRecord.content_provider_id == q.content_provider_id)
    if q.recipient:
        stmt = stmt.where(
            MessageRecord.recipient_hash
            == crypto.address_hash(addresses.normalize_address(q.channel, q.recipient))
        )
    if q.outcome:
        stmt = stmt.where(MessageRecord.outcome == q.outcome)
    if q.direction:
        stmt = stmt.where(MessageRecord.direction == q.direction)
    if q.since:
        stmt = stmt.where(MessageRecord.at >= q.since)
    if q.until:
        stmt = stmt.where(MessageRecord.at < q.until)
    if q.reason_code:
        stmt = stmt.where(has_reason_code(q.reason_code))
    limit = max(1, min(q.limit, 1000))
    return list(
        session.scalars(
            stmt.order_by(MessageRecord.at.desc(), MessageRecord.id.desc())
            .offset(max(0, q.offset))
            .limit(limit)
        )
    )


@carries("O24-13.3")
def recipient_clear(r: MessageRecord) -> str:
    """The record's address in clear, for a read the access decision allowed in clear text (the
    caller audits it, with its purpose); ``recipient_masked`` everywhere else."""
    return crypto.decrypt(r.recipient_enc)


def record_to_dict(r: MessageRecord) -> dict[str, Any]:
    return {
        "ref": r.ref,
        "at": r.at.isoformat(),
        "direction": r.direction,
        "channel": r.channel,
        "sender": r.sender,
        "recipient": r.recipient_masked,
        "content": r.content,
        "kind": r.kind,
        "message_type": r.message_type,
        "content_provider_id": r.content_provider_id,
        "outcome": r.outcome,
        "status": r.status,
        "status_at": r.status_at.isoformat() if r.status_at else None,
        # a delivered record's status never changes again: its status time is the delivery time
        "delivered_at": r.status_at.isoformat() if r.status == "delivered" and r.status_at else None,
        "reason_codes": list(r.reason_codes or []),
        "obligations": list(r.obligations or []),
        "reasons": reason_catalogue.record_reasons(r.reasons, r.reason_codes),
        "client_ref": r.client_ref,
        "intent": r.intent,
    }


@carries("O31-22", "O31-23")
def counters(
    session: Session,
    *,
    since: datetime,
    until: datetime | None = None,
    content_provider_id: int | None = None,
) -> list[dict[str, Any]]:
    """Per content provider in ``[since, until)``: outbound volume by outcome, refusals by reason code,
    inbound replies and opt-outs. For the early-warning monitor (O31-22, O31-23)."""
    until = until or utcnow()
    cond = [
        MessageRecord.at >= since,
        MessageRecord.at < until,
        MessageRecord.content_provider_id.is_not(None),
    ]
    if content_provider_id is not None:
        cond.append(MessageRecord.content_provider_id == content_provider_id)
    out: dict[int, dict[str, Any]] = {}

    def entry(cp: int) -> dict[str, Any]:
        return out.setdefault(
            cp,
            {
                "content_provider_id": cp,
                "volume": 0,
                "allow": 0,
                "refuse": 0,
                "hold": 0,
                "received": 0,
                "opt_outs": 0,
                "refusals_by_reason": {},
            },
        )

    for cp, direction, outcome, intent, n in session.execute(
        select(
            MessageRecord.content_provider_id,
            MessageRecord.direction,
            MessageRecord.outcome,
            MessageRecord.intent,
            func.count(),
        )
        .where(*cond)
        .group_by(
            MessageRecord.content_provider_id,
            MessageRecord.direction,
            MessageRecord.outcome,
            MessageRecord.intent,
        )
    ):
        e = entry(int(cp or 0))
        if direction == "out":
            e["volume"] += n
            e[outcome] = e.get(outcome, 0) + n
        else:
            e["received"] += n
            if intent == "opt_out":
                e["opt_outs"] += n
    for cp, codes in session.execute(
        select(MessageRecord.content_provider_id, MessageRecord.reason_codes).where(
            *cond, MessageRecord.outcome == "refuse"
        )
    ):
        by = entry(int(cp or 0))["refusals_by_reason"]
        for c in codes or []:
            by[c] = by.get(c, 0) + 1
    return [out[k] for k in sorted(out)]


# ------------------------------------------------------------------------------------ retention
#
# How months are counted (Asia/Shanghai, no daylight saving): a row written at ``t`` is "N months old"
# at ``now`` once ``t < months_before(now, N)``: the same China wall-clock instant N calendar months
# earlier, the day clamped to the month's end (on 31 July, 5 months before is 28/29 February, same
# time) - clamping only moves the instant earlier, so it never shortens a retention period.
#
# - ``older_than = months_before(now, retention_months)``: nothing at or after it is ever purged.
# - ``cutoff = older_than - grace``: everything before it is purged (bounded batches, both backends).
# - PostgreSQL, monthly partitions ``[1st 00:00+08:00, next 1st 00:00+08:00)``: a partition is dropped
#   when ``end <= older_than`` (every row it can hold is older than the retention period) and
#   ``start < cutoff`` (its oldest possible row is past the grace). With a grace of at least one month
#   (31 days) the second test implies the first, and a partition goes exactly when its oldest row
#   reaches retention + grace, its younger rows waiting with it (never beyond retention + grace).
#   Whatever is left before ``cutoff`` (rows in the DEFAULT partition; with a grace under 31 days,
#   the oldest days of a partly expired month) is deleted in bounded batches like on SQLite.


def months_before(at: datetime, months: int) -> datetime:
    """The same wall-clock instant ``months`` calendar months earlier in China (day clamped)."""
    local = at.astimezone(SHANGHAI)
    y, m = divmod(local.month - 1 - months, 12)
    year, month = local.year + y, m + 1
    day = local.day
    while True:
        try:
            return local.replace(year=year, month=month, day=day).astimezone(at.tzinfo)
        except ValueError:
            day -= 1


@dataclass(frozen=True, slots=True)
class RetentionResult:
    cutoff: datetime
    records: int
    outbox: int
    events: int
    consents: int
    requests: int
    older_than: datetime | None = None
    partitions_dropped: tuple[str, ...] = ()
    partitions_refused: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "older_than": self.older_than.isoformat() if self.older_than else None,
            "records": self.records,
            "partitions_dropped": list(self.partitions_dropped),
            "partitions_refused": list(self.partitions_refused),
            "outbox": self.outbox,
            "events": self.events,
            "consents": self.consents,
            "requests": self.requests,
        }


def retention_floor(now: datetime) -> datetime:
    """Nothing written at or after this instant is purged: exactly the retention period before ``now``."""
    return months_before(now, value("sms_records.retention_months", on=now))


def retention_cutoff(now: datetime) -> datetime:
    """Rows older than this are purged: the statutory minimum plus the configured grace."""
    return retention_floor(now) - timedelta(days=get_messaging_settings().sms_retention_grace_days)


def status_cutoff(now: datetime) -> datetime:
    months = value("sms_records.subscription_status_months_after_end", on=now)
    return months_before(now, months) - timedelta(days=get_messaging_settings().sms_retention_grace_days)


def _purge(session: Session, table: Any, id_col: Any, where: Any, batch: int, max_batches: int) -> int:
    """Delete rows matching ``where``, ``batch`` per statement, at most ``max_batches`` statements; what
    is left waits for the next round. ``where`` is repeated on the delete (partition pruning on
    PostgreSQL, and a row changed in between is not deleted by mistake)."""
    total = 0
    for _ in range(max_batches):
        ids = list(session.scalars(select(id_col).where(where).order_by(id_col).limit(batch)))
        if not ids:
            break
        session.execute(
            delete(table).where(id_col.in_(ids), where), execution_options={"synchronize_session": False}
        )
        total += len(ids)
        if len(ids) < batch:
            break
    return total


@carries("O31-11")
def drop_expired_partitions(session: Session, *, now: datetime) -> tuple[list[str], list[str]]:
    """PostgreSQL: drop the monthly partitions of ``msg_records`` that are past retention (see the
    notes above ``months_before``); returns (dropped, refused) partition names. Nothing elsewhere.
    Dropping a partition locks ``msg_records`` until the transaction ends: commit right after."""
    from piguard.messaging.records import partitions

    conn = session.connection()
    if not partitions.is_partitioned(conn):
        return [], []
    return partitions.drop_expired(conn, older_than=retention_floor(now), cutoff=retention_cutoff(now))


@carries("O31-11")
def purge_expired(
    session: Session, *, now: datetime | None = None, max_batches: int = 100, drop_partitions: bool = True
) -> RetentionResult:
    """Purge what is past retention (see the notes above ``months_before``): on PostgreSQL whole
    monthly partitions of ``msg_records`` are dropped (unless ``drop_partitions`` is False: the worker
    drops them in a transaction of their own first); records left before the cutoff (and, on SQLite,
    all of them) and outbox rows are deleted in bounded batches; subscription events, ended consents
    and resolved requests only when the relationship ended before the status cutoff. Suppression
    fingerprints stay (O31-18.2)."""
    now = now or utcnow()
    batch = get_messaging_settings().sms_purge_batch
    floor = retention_floor(now)
    cut = retention_cutoff(now)
    scut = status_cutoff(now)
    dropped, refused = drop_expired_partitions(session, now=now) if drop_partitions else ([], [])
    n_records = _purge(session, MessageRecord, MessageRecord.id, MessageRecord.at < cut, batch, max_batches)
    n_outbox = _purge(
        session, OutboxMessage, OutboxMessage.id, OutboxMessage.created_at < cut, batch, max_batches
    )
    # status events: kept while the relationship lasts; purged 'months after end' once it ended
    ended_consents = select(Consent.id).where(Consent.status == "ended", Consent.ended_at < scut)
    n_events = _purge(
        session,
        SubscriptionEvent,
        SubscriptionEvent.id,
        and_(
            SubscriptionEvent.at < scut,
            or_(
                SubscriptionEvent.relationship_ended_at < scut,
                SubscriptionEvent.consent_id.in_(ended_consents),
            ),
        ),
        batch,
        max_batches,
    )
    old_requests = select(ConsentRequest.id).where(
        ConsentRequest.status != "pending", ConsentRequest.resolved_at < scut
    )
    # Suppression fingerprints (a keyed hash and a SimHash, no clear PI) outlive the request: after a
    # refusal or no reply the same or similar content is never sent again (O31-18.2).
    for model in (Suppression, Consent):
        session.execute(
            update(model).where(model.request_id.in_(old_requests)).values(request_id=None),
            execution_options={"synchronize_session": False},
        )
    n_consents = _purge(
        session,
        Consent,
        Consent.id,
        and_(Consent.status == "ended", Consent.ended_at < scut),
        batch,
        max_batches,
    )
    n_requests = _purge(
        session, ConsentRequest, ConsentRequest.id, ConsentRequest.id.in_(old_requests), batch, max_batches
    )
    return RetentionResult(
        cut,
        n_records,
        n_outbox,
        n_events,
        n_consents,
        n_requests,
        older_than=floor,
        partitions_dropped=tuple(dropped),
        partitions_refused=tuple(refused),
    )
