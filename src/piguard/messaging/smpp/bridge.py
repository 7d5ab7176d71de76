"""The SMPP server and client wired to the gateway: bind authentication against the SMPP accounts,
the decision on each submit_sm, the outbox dispatcher towards the SMS centre, delivery receipts
(then deliver_sm receipts to the ESME) and MO replies (then deliver_sm to the content provider's
receivers). What is read and written is :mod:`piguard.messaging.smpp.service`'s, each call in one
unit of work opened here; this module holds the event loop, the tasks and the PDUs, and no SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from piguard.core.db import unit_of_work, utcnow
from piguard.core.errors import PiguardError
from piguard.core.logging import get_logger
from piguard.messaging.ismg.client import IsmgClient
from piguard.messaging.records.service import Transport, drain_outbox_rounds
from piguard.messaging.routing.links import LinkConfig
from piguard.messaging.routing.service import ALL_ROUTES, report_link
from piguard.messaging.routing.upstreams import make_upstream
from piguard.messaging.smpp import service
from piguard.messaging.smpp.client import Upstream, UpstreamClient, UpstreamTransport
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


def decide_submissions(
    subs: Sequence[Submission],
    *,
    hold_status: int = Status.PG_HELD,
    accept_held: bool = False,
    protocol: str = "smpp",
) -> list[SubmitOutcome]:
    """:func:`decide_submission` for the messages waiting at once (:func:`service.decide_many`),
    in one unit of work: one context load and one commit for all, as an HTTP batch."""
    with unit_of_work() as session:
        return service.decide_many(
            session, subs, hold_status=hold_status, accept_held=accept_held, protocol=protocol
        )


class GatewayDecider:
    """The one decision path as a server's decider: :func:`decide_submission` for a message from a
    ``protocol`` link (named in the record's actor and client_ref); a held message is accepted
    when ``accept_held``, else answered with ``hold_status``. :meth:`many` decides the messages
    waiting at once in one transaction (``BaseServer.decide_async``: every protocol's server,
    SMPP's included, batches the submits that arrive together)."""

    def __init__(self, protocol: str, accept_held: bool, hold_status: int = Status.PG_HELD) -> None:
        self.protocol = protocol
        self.accept_held = accept_held
        self.hold_status = hold_status

    def __call__(self, sub: Submission) -> SubmitOutcome:
        return decide_submission(
            sub, hold_status=self.hold_status, accept_held=self.accept_held, protocol=self.protocol
        )

    def many(self, subs: list[Submission]) -> list[SubmitOutcome]:
        return decide_submissions(
            subs, hold_status=self.hold_status, accept_held=self.accept_held, protocol=self.protocol
        )


smpp_client_ref = service.client_ref


# ------------------------------------------------------------------------------------ the gateway


@dataclass(eq=False)
class _Link:
    """One outbound link: its client, transport, the outbox routes it claims (None: every row) and
    its own dispatcher loop (a link that is down holds only its carriers' messages)."""

    name: str
    transport: Transport
    upstream: Upstream | None = None
    routes: tuple[str | None, ...] | None = None
    kick: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    carriers: tuple[str, ...] = (ALL_ROUTES,)
    sent_total: int = 0
    reported_at: float = 0.0
    reported_sent: int = 0
    reported_bound: bool | None = None


class SmppGateway:
    """Runs the SMPP server, the upstream client (when configured) and the outbox dispatcher in
    one asyncio loop. ``transport`` overrides the upstream client (e.g. the loopback transport).
    ``links`` (``messaging.routing.links``): one upstream client and dispatcher per carrier link,
    each claiming only its carriers' messages (issue 13.5); a link's client speaks its protocol
    (SMPP, CMPP 2.0/3.0, SMGP, SGIP: ``routing.upstreams``), and its status reports and MO messages
    are applied here as SMPP's are."""

    def __init__(
        self,
        settings: SmppSettings | None = None,
        *,
        decide: Callable[[Submission], SubmitOutcome] | None = None,
        transport: Transport | None = None,
        links: Sequence[LinkConfig] = (),
    ) -> None:
        self.settings = settings or SmppSettings()
        hold, accept_held = self.settings.hold_status, self.settings.accept_held
        self.server = SmppServer(
            authenticate=authenticate,
            decide=decide or GatewayDecider("smpp", accept_held, hold),
            settings=self.settings,
            on_decided=self._on_decided,
            on_receiver_bound=self._flush_receipts,
        )
        self.links: list[_Link] = []
        if transport is not None:
            self.links.append(_Link("transport", transport))
        elif links:
            for cfg in links:
                up = self._wire(make_upstream(cfg, self.settings))
                self.links.append(
                    _Link(cfg.name, UpstreamTransport(up), up, cfg.routes, carriers=cfg.carriers)
                )
        elif self.settings.upstream_host:
            up = self._wire(UpstreamClient(self.settings))
            self.links.append(_Link("upstream", UpstreamTransport(up), up))
        # the single-link names earlier callers and tests use
        self.upstream: Upstream | None = self.links[0].upstream if self.links else None
        self.transport: Transport | None = self.links[0].transport if self.links else None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        #: other protocols' gateways (CMPP/SMGP/SGIP, ``ismg.gateway.ReportingGateway.forward_mo``)
        #: an MO reply goes to when no SMPP receiver of its content provider took it
        self.mo_forwarders: list[Callable[[int, str, str, str], Awaitable[bool]]] = []

    def _wire(self, up: Upstream) -> Upstream:
        """Receipts and MO from a link's centre come back here, named by the link."""
        if isinstance(up, UpstreamClient):
            up.on_deliver = functools.partial(self._on_upstream_deliver, link=up.link)
        elif isinstance(up, IsmgClient):  # CMPP, SMGP, SGIP: reports and MO already read
            up.on_receipt = functools.partial(self._on_upstream_receipt, link=up.link)
            up.on_mo = self._on_upstream_mo
        return up

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        self.loop = asyncio.get_running_loop()
        addr = await self.server.start(host, port)
        for link in self.links:
            if link.upstream is not None:
                await link.upstream.start()
            link.task = asyncio.ensure_future(self._dispatch_loop(link))
        return addr

    async def stop(self) -> None:
        """Stop accepting, let the running decision and outbox round finish, unbind both sides."""
        self._stopping = True
        self.kick()
        for link in self.links:
            if link.task is None:
                continue
            try:
                await asyncio.wait_for(asyncio.shield(link.task), 15)
            except (TimeoutError, asyncio.CancelledError, Exception):
                link.task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        await self.server.stop()
        for link in self.links:
            if link.upstream is not None:
                await link.upstream.stop()

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
        """Wake the dispatchers (a message was queued)."""
        for link in self.links:
            link.kick.set()

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
    async def _dispatch_loop(self, link: _Link) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.kick.wait(), self.settings.dispatch_interval)
            link.kick.clear()
            if self._stopping:
                return
            await self._report(link)
            if link.upstream is not None and not link.upstream.bound:
                continue  # its messages wait in the outbox; the other links go on
            try:
                while (n := await self.server.run_sync(self._drain_once, link)) > 0:
                    link.sent_total += n
                    await self._report(link)
            except Exception:
                log.exception("smpp.dispatch_error", link=link.name)

    async def _report(self, link: _Link) -> None:
        """Tell the database how the link is (``sms links``, the console): when its state changed,
        else every :data:`REPORT_SECONDS`. A failed report is logged, never stops the link."""
        if link.upstream is None:
            return  # a test or loopback transport: no link to show
        bound, now = link.upstream.bound, time.monotonic()
        if bound == link.reported_bound and now - link.reported_at < REPORT_SECONDS:
            return
        elapsed = now - link.reported_at if link.reported_at else 0.0
        rate = (link.sent_total - link.reported_sent) / elapsed if elapsed > 0 else 0.0
        up = link.upstream
        try:
            await self.server.run_sync(
                _report_link,
                link.name,
                link.carriers,
                up.address,
                bound,
                link.sent_total,
                rate,
                up.protocol,
                up.window,
                up.max_rate,
            )
        except Exception as exc:
            log.warning("smpp.link_report_failed", link=link.name, error=type(exc).__name__)
            return
        link.reported_at, link.reported_sent, link.reported_bound = now, link.sent_total, bound

    def _drain_once(self, link: _Link | None = None) -> int:
        link = link or self.links[0]
        with unit_of_work() as session:
            # a few rounds per call, so that a stop or a lost link is seen between calls
            return drain_outbox_rounds(
                session, link.transport, limit=self.settings.dispatch_batch, max_rounds=10, routes=link.routes
            )

    # ---------------------------------------------------------------- SMS centre -> piguard
    def _on_upstream_deliver(self, sm: ShortMessage, link: str = "") -> None:
        if sm.esm_class & ESM_DELIVERY_RECEIPT:
            self._spawn(self._handle_receipt(sm, link))
        else:
            self._spawn(self._handle_mo(sm))

    def _on_upstream_receipt(self, message_id: str, state: str, error: str, link: str = "") -> None:
        self._spawn(self._receipt(link, message_id, state, error))

    def _on_upstream_mo(self, source: str, dest: str, text: str) -> None:
        self._spawn(self._mo(source, dest, text, ShortMessage(source_addr=source, destination_addr=dest)))

    @carries("O31-11")
    async def _handle_receipt(self, sm: ShortMessage, link: str = "") -> None:
        rc = parse_receipt(sm)
        if rc is None:
            log.warning("smpp.receipt_unreadable")
            return
        await self._receipt(link, rc.message_id, rc.state, rc.error)

    @carries("O31-11")
    async def _receipt(self, link: str, message_id: str, state: str, error: str) -> None:
        """A receipt or status report from a link's centre, matched by link + id (O31-11); the
        ESME's receipt follows when its message is final."""
        for _attempt in range(20):
            try:
                result = await self.server.run_sync(self._apply_receipt, link, message_id, state, error)
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
        await self._mo(sm.source_addr, sm.destination_addr, text, sm)

    @carries("O31-20", "O31-18.1")
    async def _mo(self, source: str, dest: str, text: str, sm: ShortMessage) -> None:
        """An MO message from any link (a 退订 ends the consent, O31-20), then forwarded to its
        content provider: an SMPP receiver, else another protocol's gateway."""
        result = await self.server.run_sync(self._apply_mo, source, dest, text)
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


#: seconds between a link's reports while its state stays the same
REPORT_SECONDS = 5.0


def _report_link(
    name: str,
    carriers: tuple[str, ...],
    address: str,
    bound: bool,
    sent_total: int,
    rate: float,
    protocol: str = "smpp",
    window: int | None = None,
    max_rate: int | None = None,
) -> None:
    with unit_of_work() as session:
        report_link(
            session, name=name, carriers=carriers, protocol=protocol, address=address, bound=bound,
            sent_total=sent_total, rate_per_s=rate, now=utcnow(), window=window, max_rate=max_rate,
        )  # fmt: skip


def _default_error(state: str) -> str:
    """``err:`` for a receipt without an SMS centre code: 000 for a delivery, else unknown."""
    return "000" if state == "DELIVRD" else UNKNOWN_ERROR


def _mark_receipt_sent(record_ref: str) -> None:
    with unit_of_work() as session:
        service.mark_receipt_sent(session, record_ref)


def _pending_receipts(system_id: str) -> list[Receipt]:
    with unit_of_work() as session:
        return service.pending_receipts(session, system_id)
