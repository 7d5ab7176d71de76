"""The SMGP server wired to the gateway: Login checked against the content providers' SMGP accounts
(O31-12), every Submit decided by the SMPP bridge's ``decide_submission`` (the one decision path:
same gateway request, same reasons and obligation ids in the record, translated to an SMGP Status by
``smgp.statuses``), status reports once a record is delivered or failed (O31-11), and MO replies
handed over by the SMPP gateway (a 退订 has ended the consent there, O31-20)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from piguard.core.db import unit_of_work
from piguard.messaging.ismg import accounts
from piguard.messaging.ismg.accounts import account_of
from piguard.messaging.ismg.auth import timestamp_skew
from piguard.messaging.ismg.gateway import SharedTableGateway, gateway_decider
from piguard.messaging.ismg.models import IsmgMessage
from piguard.messaging.ismg.reports import Due, report_row
from piguard.messaging.ismg.transport import Session, Submission, SubmitOutcome, shanghai_now
from piguard.messaging.models import ContentProvider
from piguard.messaging.smgp import pdu
from piguard.messaging.smgp.accounts import RULES
from piguard.messaging.smgp.config import SmgpSettings
from piguard.messaging.smgp.pdu import St
from piguard.messaging.smgp.server import Login, LoginRefused, SmgpServer, SmgpSession
from piguard.regulations.markers import carries

#: Login_Resp Status of a disabled account (SMGP 3.0's "SP帐号过有效期")
DISABLED = 76


def make_authenticator(
    settings: SmgpSettings, clock: Callable[[], datetime] = shanghai_now
) -> Callable[[pdu.Login], Login]:
    @carries("O31-12")
    def authenticate(req: pdu.Login) -> Login:
        """The account of a Login (O31-12), or :class:`LoginRefused`: Status 21 for an unknown ClientID, a
        wrong AuthenticatorClient or a TimeStamp outside the window (indistinguishable to the
        content provider; the log says which), 76 for a disabled account."""
        skew = timestamp_skew(req.timestamp, clock())
        if skew is None or skew > settings.timestamp_window:
            raise LoginRefused(St.AUTH, "timestamp")
        with unit_of_work() as session:
            acc = accounts.find_account(session, RULES, req.client_id)
            secret = acc.secret if acc is not None else "\x00" * 15
            expected = pdu.authenticator_client(req.client_id, secret, req.timestamp)
            if not hmac.compare_digest(expected, req.authenticator) or acc is None:
                raise LoginRefused(St.AUTH, "authenticator")
            cp = session.get(ContentProvider, acc.content_provider_id)
            if not acc.active or cp is None:
                raise LoginRefused(DISABLED, "disabled")
            return Login(account_of(acc, acc.login, cp), acc.secret)

    return authenticate


def _keep(sub: Submission, record_ref: str, msg_ids: list[str], dest: str) -> IsmgMessage:
    return report_row("smgp", sub.account.system_id, record_ref, msg_ids, sub.source_addr, dest)


class SmgpGateway(SharedTableGateway):
    """The SMGP server with the gateway's decision; allowed messages are queued in the outbox as for
    SMPP and CMPP. Pass it to ``SmppGateway.mo_forwarders`` (``forward_mo``) for MO replies."""

    name = "smgp"
    server: SmgpServer

    def __init__(
        self,
        settings: SmgpSettings | None = None,
        *,
        decide: Callable[[Submission], SubmitOutcome] | None = None,
        clock: Callable[[], datetime] = shanghai_now,
    ) -> None:
        super().__init__()
        self.settings = settings or SmgpSettings()
        self.server = SmgpServer(
            authenticate=make_authenticator(self.settings, clock),
            decide=decide or gateway_decider("smgp", self.settings.accept_held),
            settings=self.settings,
            clock=clock,
            on_accepted=_keep,
        )

    async def deliver_report(self, session: Session[Any], d: Due) -> bool:
        assert isinstance(session, SmgpSession)
        err = "000" if d.stat == "DELIVRD" else (d.error or "999")  # the SMS centre's own code
        for mid in d.msg_ids:
            rp = pdu.Report(bytes.fromhex(mid), d.stat, d.submit_time, d.done_time, err=err)
            if not await session.report(rp, d.src_id, d.dest):
                return False
        return True

    async def deliver_mo(self, session: Session[Any], source: str, dest: str, text: str) -> bool:
        assert isinstance(session, SmgpSession)
        return await session.mo(source, dest, text)
