"""The SGIP server wired to the gateway: Bind checked against the content providers' SGIP accounts
(O31-12), every Submit decided by the SMPP bridge's ``decide_submission`` (the one decision path,
translated to an SGIP Result by ``sgip.statuses``), Reports once a record is delivered or failed
(O31-11; ReportFlag 0 reports failures only), and MO replies handed over by the SMPP gateway as
Deliver (a 退订 has ended the consent there, O31-20)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piguard.core.db import unit_of_work
from piguard.identity.passwords import burn_time
from piguard.messaging.ismg import accounts
from piguard.messaging.ismg.accounts import account_of
from piguard.messaging.ismg.gateway import SharedTableGateway, gateway_decider
from piguard.messaging.ismg.models import IsmgMessage
from piguard.messaging.ismg.reports import Due, report_row
from piguard.messaging.ismg.transport import (
    Login,
    LoginRefused,
    Session,
    Submission,
    SubmitOutcome,
    shanghai_now,
)
from piguard.messaging.models import ContentProvider
from piguard.messaging.sgip import pdu
from piguard.messaging.sgip.accounts import RULES
from piguard.messaging.sgip.callback import CallbackLink
from piguard.messaging.sgip.config import SgipSettings
from piguard.messaging.sgip.pdu import Result
from piguard.messaging.sgip.server import SgipServer, SgipSession
from piguard.regulations.markers import carries


@carries("O31-12")
def authenticate(req: pdu.Bind) -> Login:
    """The account of a Bind (O31-12), or :class:`LoginRefused` with Result 1 (非法登录) for an unknown Login
    Name, a wrong Login Password or a disabled account (indistinguishable to the content provider;
    the log says which)."""
    with unit_of_work() as session:
        acc = accounts.find_account(session, RULES, req.login_name)
        if acc is None:
            burn_time(req.login_password)
            raise LoginRefused(Result.ILLEGAL_LOGIN, "unknown")
        if not hmac.compare_digest(acc.secret.encode(), req.login_password.encode()):
            raise LoginRefused(Result.ILLEGAL_LOGIN, "password")
        cp = session.get(ContentProvider, acc.content_provider_id)
        if not acc.active or cp is None:
            raise LoginRefused(Result.ILLEGAL_LOGIN, "disabled")
        return Login(account_of(acc, acc.login, cp), acc.secret)


def _keep(sub: Submission, record_ref: str, ids: list[str], user: str, report_flag: int) -> IsmgMessage:
    return report_row(
        "sgip", sub.account.system_id, record_ref, ids, sub.source_addr, user, failures_only=report_flag == 0
    )


class SgipGateway(SharedTableGateway):
    """The SGIP server with the gateway's decision; allowed messages are queued in the outbox as for
    SMPP. Pass ``forward_mo`` to ``SmppGateway.mo_forwarders`` for MO replies."""

    name = "sgip"
    server: SgipServer

    def __init__(
        self,
        settings: SgipSettings | None = None,
        *,
        decide: Callable[[Submission], SubmitOutcome] | None = None,
        clock: Callable[[], datetime] = shanghai_now,
    ) -> None:
        super().__init__()
        self.settings = settings or SgipSettings()
        self.server = SgipServer(
            authenticate=authenticate,
            decide=decide or gateway_decider("sgip", self.settings.accept_held),
            settings=self.settings,
            clock=clock,
            on_accepted=_keep,
        )

    def _link(self, cb: _Callback) -> CallbackLink:
        return CallbackLink(cb.host, cb.port, cb.login, cb.password, self.server.next_sequence)

    async def report_links(self) -> dict[str, Any]:
        """Accounts with a callback address: reported to over piguard's own link to the content
        provider's SGIP server (Login Type 2)."""
        callbacks: dict[str, _Callback] = await self.server.run_sync(_callbacks, None)
        return dict(callbacks)

    async def report_login(self, login: str, due: list[Due], link: Any) -> list[int]:
        if link is None:
            return await super().report_login(login, due, None)
        async with self._link(link) as conn:
            return [d.id for d in due if await _report(conn.report, d)]

    async def deliver_report(self, session: Session[Any], d: Due) -> bool:
        assert isinstance(session, SgipSession)
        return await _report(session.report, d)

    @carries("O31-20")
    async def forward_mo(self, content_provider_id: int, source: str, dest: str, text: str) -> bool:
        """An MO reply (O31-20) to the content provider's own SGIP server when one of its accounts has a callback
        address, else on a connected session (``ReportingGateway.forward_mo``)."""
        callbacks: dict[str, _Callback] = await self.server.run_sync(_callbacks, content_provider_id)
        for cb in callbacks.values():
            async with self._link(cb) as link:
                if await link.mo(source, dest, text):
                    return True
        return await super().forward_mo(content_provider_id, source, dest, text)

    async def deliver_mo(self, session: Session[Any], source: str, dest: str, text: str) -> bool:
        assert isinstance(session, SgipSession)
        return await session.mo(source, dest, text)


@dataclass(frozen=True, slots=True)
class _Callback:
    login: str
    password: str
    host: str
    port: int


def _callbacks(content_provider_id: int | None) -> dict[str, _Callback]:
    """Active SGIP accounts with a callback address (of one content provider, or all)."""
    with unit_of_work() as session:
        out = {}
        for acc in accounts.with_callback(session, RULES, content_provider_id):
            host, port = accounts.parse_host_port(acc.callback or "")
            out[acc.login] = _Callback(acc.login, acc.secret, host, port)
        return out


def error_code(error: str) -> int:
    """A failed Report's ErrorCode (one octet): the SMS centre's own code when it is a number that
    fits (its receipt's ``err:``, a carrier ISMG's report), else 32 (system failure)."""
    return int(error) if error.isdigit() and 0 < int(error) <= 255 else int(Result.SYSTEM_FAILURE)


async def _report(send: Callable[[pdu.Report], Awaitable[bool]], d: Due) -> bool:
    """The Report(s) of one message (one per part) through ``send``; ReportFlag 0 and delivered:
    nothing to send, done."""
    delivered = d.stat == "DELIVRD"
    if delivered and d.failures_only:
        return True
    state, err = (pdu.STATE_DELIVERED, 0) if delivered else (pdu.STATE_FAILED, error_code(d.error))
    for sid in d.msg_ids:
        if not await send(pdu.Report(pdu.sequence_from_hex(sid), d.dest, state, err)):
            return False
    return True
