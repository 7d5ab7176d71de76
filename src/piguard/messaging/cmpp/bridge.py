"""The CMPP server wired to the gateway: CMPP_CONNECT checked against the content providers' CMPP
accounts (O31-12), and every CMPP_SUBMIT decided by the SMPP bridge's ``decide_submission`` (the one
decision path: same gateway request, same reasons and obligation ids in the record, same
precedence of the answer, translated to a CMPP Result by ``cmpp.statuses``)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from piguard.core import crypto
from piguard.core.db import unit_of_work, utcnow
from piguard.core.logging import get_logger
from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.models import CmppAccount, CmppMessage
from piguard.messaging.cmpp.pdu import Cmd, CmppError, ConnectStatus
from piguard.messaging.cmpp.server import CmppServer, ConnectRefused, Login, SpSession, shanghai_now
from piguard.messaging.ismg.accounts import account_of
from piguard.messaging.ismg.auth import timestamp_skew
from piguard.messaging.ismg.gateway import ReportingGateway, gateway_decider
from piguard.messaging.ismg.reports import Due, due_reports, mark_sent
from piguard.messaging.ismg.text import encode_text
from piguard.messaging.ismg.transport import Session, Submission, SubmitOutcome
from piguard.messaging.models import ContentProvider
from piguard.regulations.markers import carries

__all__ = ["CmppGateway", "make_authenticator", "report_row", "timestamp_skew"]

log = get_logger("piguard.cmpp")


def make_authenticator(
    settings: CmppSettings, clock: Callable[[], datetime] = shanghai_now
) -> Callable[[pdu.Connect], Login]:
    @carries("O31-12")
    def authenticate(req: pdu.Connect) -> Login:
        """The account of a CMPP_CONNECT, or :class:`ConnectRefused`: Status 3 for an unknown
        Source_Addr, a wrong AuthenticatorSource or a Timestamp outside the window
        (indistinguishable to the SP; the log says which), 5 for a disabled account."""
        skew = timestamp_skew(req.timestamp, clock())
        if skew is None or skew > settings.timestamp_window:
            raise ConnectRefused(ConnectStatus.AUTH, "timestamp")
        with unit_of_work() as session:
            acc = session.scalar(select(CmppAccount).where(CmppAccount.source_addr == req.source_addr))
            secret = acc.secret if acc is not None else "\x00" * 16
            expected = pdu.authenticator_source(req.source_addr, secret, req.timestamp)
            if not hmac.compare_digest(expected, req.authenticator) or acc is None:
                raise ConnectRefused(ConnectStatus.AUTH, "authenticator")
            cp = session.get(ContentProvider, acc.content_provider_id)
            if not acc.active or cp is None:
                raise ConnectRefused(ConnectStatus.OTHER, "disabled")
            return Login(account_of(acc, acc.source_addr, cp), acc.secret)

    return authenticate


class CmppGateway(ReportingGateway):
    """The CMPP server with the gateway's decision; allowed messages are queued in the outbox as for
    SMPP (the SMPP gateway's dispatcher, or any worker draining the outbox, sends them on); status
    reports by the shared loop (``ismg.gateway``)."""

    name = "cmpp"
    server: CmppServer

    def __init__(
        self,
        settings: CmppSettings | None = None,
        *,
        decide: Callable[[Submission], SubmitOutcome] | None = None,
        clock: Callable[[], datetime] = shanghai_now,
    ) -> None:
        super().__init__()
        self.settings = settings or CmppSettings()
        self.server = CmppServer(
            authenticate=make_authenticator(self.settings, clock),
            decide=decide or gateway_decider("cmpp", self.settings.accept_held),
            settings=self.settings,
            clock=clock,
            on_accepted=report_row,
        )
        self.clock = clock

    def due_reports(self, logins: list[str], limit: int) -> list[Due]:
        return due_reports(CmppMessage, CmppMessage.source_addr, logins, limit)

    def mark_sent(self, ids: list[int]) -> None:
        mark_sent(CmppMessage, ids)

    async def deliver_report(self, session: Session[Any], d: Due) -> bool:
        assert isinstance(session, SpSession)
        return await self._deliver(session, d)

    async def deliver_mo(self, session: Session[Any], source: str, dest: str, text: str) -> bool:
        """An MO reply as CMPP_DELIVER (Registered_Delivery 0; Msg_Fmt 0 or 8) to one session."""
        assert isinstance(session, SpSession) and session.version is not None
        fmt, raw = encode_text(text, 140)
        d = pdu.Deliver(
            msg_id=self.server.msg_ids.next(), dest_id=dest, msg_fmt=fmt, src_terminal_id=source, content=raw
        )
        try:
            body = await session.request(Cmd.DELIVER, pdu.encode_deliver(d, session.version))
            return pdu.decode_msg_resp(body, session.version).result == 0
        except (TimeoutError, asyncio.CancelledError, ConnectionError, CmppError):
            return False

    async def _deliver(self, session: SpSession, d: Due) -> bool:
        assert session.version is not None
        version = session.version
        for mid in d.msg_ids:
            report = pdu.Report(
                msg_id=int(mid, 16),
                stat=d.stat,
                submit_time=d.submit_time,
                done_time=d.done_time,
                dest_terminal_id=d.dest,
                smsc_sequence=0,
            )
            body = pdu.encode_deliver(
                pdu.Deliver(
                    msg_id=self.server.msg_ids.next(),
                    dest_id=d.src_id,
                    src_terminal_id=d.dest,
                    registered_delivery=1,
                    content=pdu.encode_report(report, version),
                ),
                version,
            )
            try:
                resp = pdu.decode_msg_resp(await session.request(Cmd.DELIVER, body), version)
            except (TimeoutError, asyncio.CancelledError, ConnectionError, CmppError):
                return False
            if resp.result != 0:
                return False
        return True


def report_row(sub: Submission, record_ref: str, msg_ids: list[int], dest: str) -> CmppMessage:
    """An allowed message whose SP asked for a status report: the row keeping its Msg_Ids to report
    to (the server writes the rows of the messages accepted at once together:
    ``BaseServer.keep_async``)."""
    return CmppMessage(
        record_ref=record_ref,
        source_addr=sub.account.system_id,
        msg_ids=[f"{m:016x}" for m in msg_ids],
        src_id=sub.source_addr[:21],
        dest_enc=crypto.encrypt(dest),
        submitted_at=utcnow(),
    )
