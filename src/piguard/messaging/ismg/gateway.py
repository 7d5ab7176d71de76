"""What a CMPP/SMGP/SGIP gateway does besides answering packets: the status-report loop (O31-11)
and MO replies handed over by the SMPP gateway's upstream link (O31-20). A protocol's gateway
subclasses :class:`ReportingGateway` with how it finds due reports, how it delivers one to a
session and how it delivers an MO."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from piguard.core.logging import get_logger
from piguard.messaging.ismg.reports import Due, ismg_due, ismg_mark_sent
from piguard.messaging.ismg.transport import BaseServer, Decider, Session
from piguard.messaging.smpp.bridge import GatewayDecider
from piguard.messaging.smpp.pdu import Status
from piguard.regulations.markers import carries

log = get_logger("piguard.ismg.gateway")


def gateway_decider(protocol: str, accept_held: bool) -> Decider:
    """The one decision path for a message from a ``protocol`` link (:class:`GatewayDecider`);
    a held message is accepted when ``accept_held``, else answered as piguard's "held"."""
    return GatewayDecider(protocol, accept_held, Status.PG_HELD)


class ReportingGateway:
    """``server`` is the protocol's :class:`BaseServer`; ``report_interval`` and ``report_batch``
    come from its settings."""

    server: BaseServer[Any]
    name: str = "ismg"

    def __init__(self) -> None:
        self._reporter: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        addr = await self.server.start(host, port)
        self._reporter = asyncio.ensure_future(self._report_loop())
        return addr

    async def stop(self) -> None:
        self._stopping.set()
        if self._reporter is not None:
            try:
                await asyncio.wait_for(self._reporter, 15)
            except (TimeoutError, asyncio.CancelledError, Exception):
                self._reporter.cancel()
        await self.server.stop()

    async def _report_loop(self) -> None:
        settings: Any = self.server.settings
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), settings.report_interval)
            if self._stopping.is_set():
                return
            try:
                await self.send_reports()
            except Exception:
                log.exception(f"{self.name}.report_error")

    @carries("O31-11")
    async def send_reports(self) -> int:
        """Status reports (O31-11) for the messages whose record reached a final delivery status, to the
        login that submitted them (a connected session, or the protocol's own link from
        :meth:`report_links`); marked sent once it acknowledged every part. Returns the messages
        reported."""
        links = await self.report_links()
        logins = sorted(set(self.server.connected_logins()) | set(links))
        if not logins:
            return 0
        settings: Any = self.server.settings
        due: list[Due] = await self.server.run_sync(self.due_reports, logins, settings.report_batch)
        done: list[int] = []
        for login in sorted({d.login for d in due}):
            done += await self.report_login(login, [d for d in due if d.login == login], links.get(login))
        if done:
            await self.server.run_sync(self.mark_sent, done)
        return len(done)

    async def report_links(self) -> dict[str, Any]:
        """Logins reported to over a link of the gateway's own (SGIP's SMG-to-SP), by login."""
        return {}

    async def report_login(self, login: str, due: list[Due], link: Any) -> list[int]:
        """Report ``due`` to one login (on a connected session); the ids reported."""
        done: list[int] = []
        for d in due:
            for session in self.server.connected(login):
                if await self.deliver_report(session, d):
                    done.append(d.id)
                    break
        return done

    def due_reports(self, logins: list[str], limit: int) -> list[Due]:  # pragma: no cover - abstract
        raise NotImplementedError

    def mark_sent(self, ids: list[int]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def deliver_report(self, session: Session[Any], due: Due) -> bool:  # pragma: no cover
        raise NotImplementedError

    @carries("O31-20")
    async def forward_mo(self, content_provider_id: int, source: str, dest: str, text: str) -> bool:
        """An MO reply (already applied: a 退订 has ended the consent, O31-20) for a content provider: sent
        to one of its connected sessions; True when one acknowledged it."""
        for s in list(self.server.sessions):
            acc = s.account
            if acc is None or not s.logged_in or s.closed or acc.content_provider_id != content_provider_id:
                continue
            if await self.deliver_mo(s, source, dest, text):
                return True
        return False

    async def deliver_mo(self, session: Session[Any], source: str, dest: str, text: str) -> bool:
        """The protocol's MO delivery; a protocol without one returns False."""
        return False


class SharedTableGateway(ReportingGateway):
    """A gateway whose reports are kept in ``msg_ismg_messages`` under its ``name`` (SMGP, SGIP)."""

    def due_reports(self, logins: list[str], limit: int) -> list[Due]:
        return ismg_due(self.name, logins, limit)

    def mark_sent(self, ids: list[int]) -> None:
        ismg_mark_sent(ids)
