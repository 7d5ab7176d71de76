"""The CMPP server wired to the gateway: CMPP_CONNECT checked against the content providers' CMPP
accounts (O31-12), and every CMPP_SUBMIT decided by the SMPP bridge's ``decide_submission`` (the one
decision path: same gateway request, same reasons and obligation ids in the record, same
precedence of the answer, translated to a CMPP Result by ``cmpp.statuses``)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from piguard.core.db import unit_of_work
from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.models import CmppAccount
from piguard.messaging.cmpp.pdu import ConnectStatus
from piguard.messaging.cmpp.server import CmppServer, ConnectRefused, Login, shanghai_now
from piguard.messaging.models import ContentProvider
from piguard.messaging.smpp.bridge import decide_submission
from piguard.messaging.smpp.pdu import Status
from piguard.messaging.smpp.server import Account, Submission, SubmitOutcome
from piguard.regulations.markers import carries


def timestamp_skew(timestamp: int, now: datetime) -> float | None:
    """Seconds between a CMPP Timestamp (MMDDHHMMSS, no year: the nearest year is taken) and
    ``now`` (Asia/Shanghai); None when it names no valid time."""
    s = f"{timestamp:010d}"
    if len(s) != 10:
        return None
    best: float | None = None
    for year in (now.year - 1, now.year, now.year + 1):
        try:
            t = datetime(
                year, int(s[0:2]), int(s[2:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), tzinfo=now.tzinfo
            )
        except ValueError:
            continue
        d = abs((t - now).total_seconds())
        best = d if best is None else min(best, d)
    return best


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
            account = Account(
                system_id=acc.source_addr,
                content_provider_id=cp.id,
                content_provider=cp.code,
                default_message_type=acc.default_message_type,
                max_rate=acc.max_rate,
                window=acc.window,
            )
            return Login(account, acc.secret)

    return authenticate


class CmppGateway:
    """The CMPP server with the gateway's decision; allowed messages are queued in the outbox as for
    SMPP (the SMPP gateway's dispatcher, or any worker draining the outbox, sends them on)."""

    def __init__(
        self,
        settings: CmppSettings | None = None,
        *,
        decide: Callable[[Submission], SubmitOutcome] | None = None,
        clock: Callable[[], datetime] = shanghai_now,
    ) -> None:
        self.settings = settings or CmppSettings()
        hold = int(Status.PG_HELD)
        accept_held = self.settings.accept_held
        self.server = CmppServer(
            authenticate=make_authenticator(self.settings, clock),
            decide=decide
            or (
                lambda sub: decide_submission(sub, hold_status=hold, accept_held=accept_held, protocol="cmpp")
            ),
            settings=self.settings,
            clock=clock,
        )

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        return await self.server.start(host, port)

    async def stop(self) -> None:
        await self.server.stop()
