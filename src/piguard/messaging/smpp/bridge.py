"""The SMPP server and client wired to the gateway: bind authentication against the SMPP accounts,
the decision (``messaging.gateway.submit``) on each submit_sm, the outbox dispatcher towards the SMS
centre, delivery receipts (``records.deliver_report``, then deliver_sm receipts to the ESME) and MO
replies (``inbound.receive_reply``, then deliver_sm to the content provider's receivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from piguard.core import crypto
from piguard.core.db import unit_of_work, utcnow
from piguard.core.errors import PiguardError
from piguard.core.logging import get_logger
from piguard.identity.passwords import burn_time, verify_password
from piguard.identity.principal import Principal
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import ContentProvider, OutboxMessage
from piguard.messaging.records.service import Transport, deliver_report, drain_outbox_rounds
from piguard.messaging.smpp.client import SmppTransport, UpstreamClient
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.smpp.models import SmppAccount, SmppMessage, SmppUpstreamPart
from piguard.messaging.smpp.pdu import ESM_DELIVERY_RECEIPT, MESSAGE_STATES, ShortMessage, Status, Tag
from piguard.messaging.smpp.server import Account, BindRefused, SmppServer, Submission, SubmitOutcome
from piguard.messaging.smpp.statuses import error_status, refusal_status
from piguard.messaging.smpp.text import DC_UCS2, decode_text, format_receipt, parse_receipt, split_udh
from piguard.messaging.subscriptions.inbound import receive_reply
from piguard.regulations.markers import carries

log = get_logger("piguard.smpp")
FAILED_STATES = ("UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN")
#: ``err:`` of a failed receipt whose SMS centre gave no error code (never 000, which means none)
UNKNOWN_ERROR = "999"


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


def principal_for(system_id: str, peer: str | None = None, protocol: str = "smpp") -> Principal:
    return Principal(
        actor_type="system",
        actor_id=f"{protocol}:{system_id}",
        via="system",
        client_ip=(peer or "").rsplit(":", 1)[0] or None,
    )


# ------------------------------------------------------------------------------------ bind


@carries("O31-12")
def authenticate(system_id: str, password: str, bind_type: str) -> Account:
    """The account for a bind, or :class:`BindRefused`: ESME_RINVPASWD for an unknown system_id or
    a wrong password (indistinguishable, same time), ESME_RBINDFAIL for a disabled account or a bind
    type it may not use."""
    with unit_of_work() as session:
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


@carries("O31-10", "O31-13", "O31-11")
def decide_submission(
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
    with unit_of_work() as session:
        req = GatewayRequest(
            channel="sms",
            sender=sub.source_addr,
            recipient=_recipient(sub),
            text=sub.text,
            kind=sub.kind,
            message_type=sub.message_type,
            campaign_id=sub.campaign_id,
            client_ref=smpp_client_ref(sub.account.system_id, sub.client_ref, protocol),
            content_provider_id=sub.account.content_provider_id,
            # only a reference the ESME gave (TLV 0x1404) is a key: SMPP's own user_message_reference
            # is 16 bits and wraps within a day (docs/sms-smpp.md, "Resubmissions")
            idempotent=sub.client_ref is not None,
        )
        res = submit(session, [req], principal=principal_for(sub.account.system_id, sub.peer, protocol))[0]
        if res.error is not None:
            fields = [f.field for f in res.error.fields]
            return SubmitOutcome(
                error_status(fields), outcome="error", reason_codes=(res.error.code, *fields)
            )
        codes = tuple(r.code for r in res.reasons)
        accepted = res.outcome == "allow" or (res.outcome == "hold" and accept_held)
        if accepted and res.ref is not None and res.duplicate:
            # a resubmission: the first message_id, nothing new recorded, queued or sent
            return SubmitOutcome(Status.ESME_ROK, res.ref, res.ref, res.outcome, codes, res.obligations)
        if accepted and res.ref is not None and protocol != "smpp":
            return SubmitOutcome(Status.ESME_ROK, res.ref, res.ref, res.outcome, codes, res.obligations)
        if accepted and res.ref is not None:
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


def smpp_client_ref(system_id: str, ref: str | None, protocol: str = "smpp") -> str:
    """The gateway ``client_ref`` of an SMPP message: per system_id, with the ESME's own reference
    (TLV 0x1404) when it gave one (hashed when the whole would pass 64 characters)."""
    if ref is None:
        return f"{protocol}:{system_id}"[:64]
    key = f"{protocol}:{system_id}:{ref}"
    if len(key) > 64:
        key = f"{protocol}:" + hashlib.sha256(key.encode()).hexdigest()[: 63 - len(protocol)]
    return key


# ------------------------------------------------------------------------------------ the gateway


@dataclass(frozen=True, slots=True)
class _Receipt:
    system_id: str
    esme_ids: tuple[str, ...]
    source_addr: str  # the original recipient
    dest_addr: str  # the original sender (port)
    state: str
    submitted: datetime
    done: datetime
    record_ref: str
    error: str = ""  # err: of the receipt ("" → 000 for DELIVRD)


class SmppGateway:
    """Runs the SMPP server, the upstream client (when configured) and the outbox dispatcher in
    one asyncio loop. ``transport`` overrides the upstream client (e.g. the loopback transport)."""

    def __init__(
        self,
        settings: SmppSettings | None = None,
        *,
        decide: Callable[[Submission], SubmitOutcome] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings or SmppSettings()
        hold, accept_held = self.settings.hold_status, self.settings.accept_held
        self.server = SmppServer(
            authenticate=authenticate,
            decide=decide or (lambda sub: decide_submission(sub, hold_status=hold, accept_held=accept_held)),
            settings=self.settings,
            on_decided=self._on_decided,
            on_receiver_bound=self._flush_receipts,
        )
        self.upstream: UpstreamClient | None = None
        self.transport: Transport | None = transport
        if transport is None and self.settings.upstream_host:
            self.upstream = UpstreamClient(self.settings, on_deliver=self._on_upstream_deliver)
            self.transport = SmppTransport(self.upstream)
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        #: other protocols' gateways (CMPP/SMGP/SGIP, ``ismg.gateway.ReportingGateway.forward_mo``)
        #: an MO reply goes to when no SMPP receiver of its content provider took it
        self.mo_forwarders: list[Callable[[int, str, str, str], Awaitable[bool]]] = []

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        self.loop = asyncio.get_running_loop()
        addr = await self.server.start(host, port)
        if self.upstream is not None:
            await self.upstream.start()
        if self.transport is not None:
            self._dispatcher = asyncio.ensure_future(self._dispatch_loop())
        return addr

    async def stop(self) -> None:
        """Stop accepting, let the running decision and outbox round finish, unbind both sides."""
        self._stopping = True
        self.kick()
        if self._dispatcher is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._dispatcher), 15)
            except (TimeoutError, asyncio.CancelledError, Exception):
                self._dispatcher.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        await self.server.stop()
        if self.upstream is not None:
            await self.upstream.stop()

    def _on_decided(self, sub: Submission, out: SubmitOutcome) -> None:
        """After the submit_sm_resp: wake the dispatcher for an accepted message. The earlier parts
        of a concatenated message were answered ESME_ROK before the whole text could be decided;
        when the whole is refused or held, their ids get a REJECTD receipt (if the ESME asked)."""
        if out.status == Status.ESME_ROK:
            self.kick()
        elif sub.part_ids and _wants_receipt(sub.registered_delivery, True):
            now = utcnow()
            rc = _Receipt(
                sub.account.system_id,
                tuple(sub.part_ids),
                sub.destination_addr,
                sub.source_addr,
                "REJECTD",
                now,
                now,
                "",
            )
            self._spawn(self._send_receipts([rc]))

    def kick(self) -> None:
        """Wake the dispatcher (a message was queued)."""
        self._kick.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("smpp.handler_failed", error=type(exc).__name__, detail=str(exc)[:200])

    # ---------------------------------------------------------------- outbox -> SMS centre
    async def _dispatch_loop(self) -> None:
        assert self.transport is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.settings.dispatch_interval)
            self._kick.clear()
            if self._stopping:
                return
            if self.upstream is not None and not self.upstream.bound:
                continue
            try:
                while await self.server.run_sync(self._drain_once) > 0:
                    pass
            except Exception:
                log.exception("smpp.dispatch_error")

    def _drain_once(self) -> int:
        assert self.transport is not None
        with unit_of_work() as session:
            # a few rounds per call, so that a stop or a lost link is seen between calls
            return drain_outbox_rounds(
                session, self.transport, limit=self.settings.dispatch_batch, max_rounds=10
            )

    # ---------------------------------------------------------------- SMS centre -> piguard
    def _on_upstream_deliver(self, sm: ShortMessage) -> None:
        if sm.esm_class & ESM_DELIVERY_RECEIPT:
            self._spawn(self._handle_receipt(sm))
        else:
            self._spawn(self._handle_mo(sm))

    @carries("O31-11")
    async def _handle_receipt(self, sm: ShortMessage) -> None:
        rc = parse_receipt(sm)
        if rc is None:
            log.warning("smpp.receipt_unreadable")
            return
        link = self.upstream.link if self.upstream is not None else ""
        for _attempt in range(20):
            try:
                result = await self.server.run_sync(
                    self._apply_receipt, link, rc.message_id, rc.state, rc.error
                )
            except SQLAlchemyError as exc:  # one receipt that cannot be applied never stops the others
                log.warning("smpp.receipt_failed", error=type(exc).__name__)
                return
            if result != "retry":
                break
            await asyncio.sleep(0.25)  # the dispatcher has not committed the send yet
        else:
            log.warning("smpp.receipt_unmatched")
            return
        if isinstance(result, _Receipt):
            await self._send_receipts([result])

    def _apply_receipt(self, link: str, smsc_id: str, state: str, error: str = "") -> _Receipt | str | None:
        """Update the part; when every part is final, the record (delivered/failed). Returns the ESME
        receipt to send, "retry" when the send is not committed yet, or None.

        The part is the newest one sent on ``link`` with ``smsc_id`` within the receipt window: an
        SMS centre that restarts its id counter reuses ids, and the receipt is about the latest."""
        error = "".join(ch for ch in (error or "") if ch.isalnum())[:3]
        since = utcnow() - timedelta(hours=self.settings.upstream_receipt_window_hours)
        with unit_of_work() as session:
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
                    select(SmppUpstreamPart.state, SmppUpstreamPart.error).where(
                        SmppUpstreamPart.record_ref == ref
                    )
                ).all()
                states = [st for st, _ in rows]
                errors = [err for st, err in rows if st in FAILED_STATES]
                total = part.total
                failed = bool(errors)
                parts_done = failed or (len(states) >= total and all(s == "DELIVRD" for s in states))
            # a receipt that overtakes the dispatcher's own bookkeeping is applied at once: statuses
            # only move forward, so the dispatcher's later "sent" does not overwrite it
            if not parts_done:
                return None
            final = "failed" if failed else "delivered"
            try:
                deliver_report(session, ref, final, transport_ref=smsc_id if part is None else None)
            except PiguardError:
                log.warning("smpp.receipt_unknown_message")
                return None
            msg = session.scalar(select(SmppMessage).where(SmppMessage.record_ref == ref))
            if msg is None:
                return None  # not from an ESME (API, confirmation): the record is enough
            msg.final_state = "UNDELIV" if failed and state == "DELIVRD" else state if failed else "DELIVRD"
            # the SMS centre's own error code goes on to the content provider; a failure it gave no
            # code for is passed on as "unknown" rather than as err:000 (no error)
            msg.final_error = (
                (next((e for e in errors if e and e != "000"), "") or UNKNOWN_ERROR) if failed else ""
            )
            msg.done_at = utcnow()
            return _receipt_of(msg) if _wants_receipt(msg.registered_delivery, failed) else None

    async def _send_receipts(self, receipts: list[_Receipt]) -> None:
        for rc in receipts:
            ok = True
            for mid in rc.esme_ids:
                sm = ShortMessage(
                    source_addr=rc.source_addr,
                    destination_addr=rc.dest_addr,
                    esm_class=ESM_DELIVERY_RECEIPT,
                    short_message=format_receipt(
                        mid, rc.state, rc.submitted, rc.done, rc.error or _default_error(rc.state)
                    ),
                    tlvs={
                        Tag.RECEIPTED_MESSAGE_ID: mid.encode() + b"\x00",
                        Tag.MESSAGE_STATE: bytes([MESSAGE_STATES.get(rc.state, 7)]),
                    },
                )
                ok = await self.server.deliver(sm, system_id=rc.system_id) and ok
            if ok and rc.record_ref:
                await self.server.run_sync(_mark_receipt_sent, rc.record_ref)

    async def _flush_receipts(self, account: Account) -> None:
        """A receiver bound: send the receipts it missed."""
        pending = await self.server.run_sync(_pending_receipts, account.system_id)
        if pending:
            await self._send_receipts(pending)

    @carries("O31-20", "O31-18.1", "O31-11")
    async def _handle_mo(self, sm: ShortMessage) -> None:
        try:
            raw, seg = split_udh(sm)
            text = decode_text(raw, sm.data_coding, self.settings.default_alphabet)
        except Exception:
            log.warning("smpp.mo_unreadable")
            return
        if seg is not None:
            log.info("smpp.mo_part", total=seg.total)  # MO parts are handled one by one
        result = await self.server.run_sync(self._apply_mo, sm.source_addr, sm.destination_addr, text)
        if result is None:
            return
        cp_id, confirmation = result
        if confirmation:
            self.kick()
        if cp_id is not None:
            fwd = ShortMessage(
                source_addr=sm.source_addr,
                destination_addr=sm.destination_addr,
                source_addr_ton=sm.source_addr_ton,
                source_addr_npi=sm.source_addr_npi,
                dest_addr_ton=sm.dest_addr_ton,
                dest_addr_npi=sm.dest_addr_npi,
                data_coding=DC_UCS2,
                short_message=text.encode("utf-16-be")[:254],
            )
            if await self.server.deliver(fwd, content_provider_id=cp_id):
                return
            for forward in self.mo_forwarders:
                if await forward(cp_id, sm.source_addr, sm.destination_addr, text):
                    return
            log.info("smpp.mo_not_forwarded", content_provider_id=cp_id)

    def _apply_mo(self, source: str, dest: str, text: str) -> tuple[int | None, bool] | None:
        sender = source if source.startswith("+") or not source.startswith("86") else "+" + source
        try:
            with unit_of_work() as session:
                res = receive_reply(
                    session, channel="sms", sender=sender, to=dest, text=text, principal=principal_for("smsc")
                )
                cp_id = _cp_id(session, res.content_provider)
                return cp_id, res.confirmation_ref is not None
        except PiguardError as err:
            log.warning("smpp.mo_refused", code=err.code)
            return None


def _cp_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    return session.scalar(select(ContentProvider.id).where(ContentProvider.code == code))


def _wants_receipt(registered_delivery: int, failed: bool) -> bool:
    mode = registered_delivery & 0x03
    return mode == 1 or (mode == 2 and failed)


def _receipt_of(msg: SmppMessage) -> _Receipt:
    return _Receipt(
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


def _default_error(state: str) -> str:
    """``err:`` for a receipt without an SMS centre code: 000 for a delivery, else unknown."""
    return "000" if state == "DELIVRD" else UNKNOWN_ERROR


def _mark_receipt_sent(record_ref: str) -> None:
    with unit_of_work() as session:
        session.execute(
            update(SmppMessage).where(SmppMessage.record_ref == record_ref).values(receipt_sent=True)
        )


def _pending_receipts(system_id: str) -> list[_Receipt]:
    with unit_of_work() as session:
        rows = session.scalars(
            select(SmppMessage)
            .where(
                SmppMessage.system_id == system_id,
                SmppMessage.final_state.is_not(None),
                SmppMessage.receipt_sent.is_(False),
            )
            .order_by(SmppMessage.id)
            .limit(1000)
        )
        return [
            _receipt_of(m) for m in rows if _wants_receipt(m.registered_delivery, m.final_state != "DELIVRD")
        ]
