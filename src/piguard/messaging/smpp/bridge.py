"""The SMPP server and client wired to the gateway: bind authentication against the SMPP accounts,
the decision on each submit_sm, the outbox dispatcher towards the SMS centre, delivery receipts
(then deliver_sm receipts to the ESME) and MO replies (then deliver_sm to the content provider's
receivers). What is read and written is :mod:`piguard.messaging.smpp.service`'s, each call in one
unit of work opened here; this module holds the event loop, the tasks and the PDUs, and no SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from piguard.core.db import unit_of_work, utcnow
from piguard.core.errors import PiguardError
from piguard.core.logging import get_logger
from piguard.messaging.records.service import Transport, drain_outbox_rounds
from piguard.messaging.smpp import service
from piguard.messaging.smpp.client import SmppTransport, UpstreamClient
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.smpp.pdu import ESM_DELIVERY_RECEIPT, MESSAGE_STATES, ShortMessage, Status, Tag
from piguard.messaging.smpp.server import Account, SmppServer, Submission, SubmitOutcome
from piguard.messaging.smpp.service import UNKNOWN_ERROR, Receipt, wants_receipt
from piguard.messaging.smpp.text import DC_UCS2, decode_text, format_receipt, parse_receipt, split_udh
from piguard.regulations.markers import carries

log = get_logger("piguard.smpp")


# ------------------------------------------------------------------------------------ bind


def authenticate(system_id: str, password: str, bind_type: str) -> Account:
    """The account for a bind (:func:`service.find_account`, O31-12), in its own unit of work."""
    with unit_of_work() as session:
        return service.find_account(session, system_id, password, bind_type)


# ------------------------------------------------------------------------------------ decide


def decide_submission(
    sub: Submission,
    *,
    hold_status: int = Status.PG_HELD,
    accept_held: bool = False,
    protocol: str = "smpp",
) -> SubmitOutcome:
    """The gateway's decision on one message from a content provider's link
    (:func:`service.decide`, O31-10, O31-13, O31-11), committed before the response goes back."""
    with unit_of_work() as session:
        return service.decide(
            session, sub, hold_status=hold_status, accept_held=accept_held, protocol=protocol
        )


smpp_client_ref = service.client_ref


# ------------------------------------------------------------------------------------ the gateway


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
        elif sub.part_ids and wants_receipt(sub.registered_delivery, True):
            now = utcnow()
            rc = Receipt(
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
        if isinstance(result, Receipt):
            await self._send_receipts([result])

    def _apply_receipt(self, link: str, smsc_id: str, state: str, error: str = "") -> Receipt | str | None:
        """:func:`service.apply_receipt` in its own unit of work (O31-11)."""
        with unit_of_work() as session:
            return service.apply_receipt(
                session, link, smsc_id, state, error, self.settings.upstream_receipt_window_hours
            )

    async def _send_receipts(self, receipts: list[Receipt]) -> None:
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
        try:
            with unit_of_work() as session:
                return service.apply_mo(session, source, dest, text)
        except PiguardError as err:
            log.warning("smpp.mo_refused", code=err.code)
            return None


def _default_error(state: str) -> str:
    """``err:`` for a receipt without an SMS centre code: 000 for a delivery, else unknown."""
    return "000" if state == "DELIVRD" else UNKNOWN_ERROR


def _mark_receipt_sent(record_ref: str) -> None:
    with unit_of_work() as session:
        service.mark_receipt_sent(session, record_ref)


def _pending_receipts(system_id: str) -> list[Receipt]:
    with unit_of_work() as session:
        return service.pending_receipts(session, system_id)
