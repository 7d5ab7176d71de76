"""The CMPP server wired to the gateway: CMPP_CONNECT checked against the content providers' CMPP
accounts (O31-12), and every CMPP_SUBMIT decided by the SMPP bridge's ``decide_submission`` (the one
decision path: same gateway request, same reasons and obligation ids in the record, same
precedence of the answer, translated to a CMPP Result by ``cmpp.statuses``)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from piguard.core import crypto
from piguard.core.calendar import SHANGHAI
from piguard.core.db import unit_of_work, utcnow
from piguard.core.logging import get_logger
from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.config import CmppSettings
from piguard.messaging.cmpp.models import CmppAccount, CmppMessage
from piguard.messaging.cmpp.pdu import Cmd, CmppError, ConnectStatus
from piguard.messaging.cmpp.server import CmppServer, ConnectRefused, Login, SpSession, shanghai_now
from piguard.messaging.models import ContentProvider, MessageRecord
from piguard.messaging.smpp.bridge import decide_submission
from piguard.messaging.smpp.pdu import Status
from piguard.messaging.smpp.server import Account, Submission, SubmitOutcome
from piguard.regulations.markers import carries

log = get_logger("piguard.cmpp")


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
            on_accepted=keep_for_report,
        )
        self.clock = clock
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

    # ---------------------------------------------------------------- status reports
    async def _report_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.report_interval)
            if self._stopping.is_set():
                return
            try:
                await self.send_reports()
            except Exception:
                log.exception("cmpp.report_error")

    @carries("O31-11")
    async def send_reports(self) -> int:
        """CMPP_DELIVER status reports (Registered_Delivery 1) for the messages whose record reached
        a final delivery status, to a connected session of the SP that submitted them; marked sent
        once the SP answers Result 0 for every part. Returns the messages reported."""
        connected = sorted({s.account.system_id for s in self.server.sessions if s.account and s.version})
        if not connected:
            return 0
        due: list[_Due] = await self.server.run_sync(_due_reports, connected, self.settings.report_batch)
        done: list[int] = []
        for d in due:
            for session in self.server.connected(d.source_addr):
                if await self._deliver(session, d):
                    done.append(d.id)
                    break
        if done:
            await self.server.run_sync(_mark_sent, done)
        return len(done)

    async def _deliver(self, session: SpSession, d: _Due) -> bool:
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


@dataclass(frozen=True, slots=True)
class _Due:
    id: int
    source_addr: str
    msg_ids: tuple[str, ...]
    src_id: str
    dest: str
    stat: str
    submit_time: str
    done_time: str


#: record status -> CMPP Stat (spec 7.4.5.1: DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD)
_STAT = {"delivered": "DELIVRD", "failed": "UNDELIV"}


def keep_for_report(sub: Submission, record_ref: str, msg_ids: list[int], dest: str) -> None:
    """An allowed message whose SP asked for a status report: its Msg_Ids, kept to report to."""
    with unit_of_work() as session:
        session.add(
            CmppMessage(
                record_ref=record_ref,
                source_addr=sub.account.system_id,
                msg_ids=[f"{m:016x}" for m in msg_ids],
                src_id=sub.source_addr[:21],
                dest_enc=crypto.encrypt(dest),
                submitted_at=utcnow(),
            )
        )


def _yymmddhhmm(when: datetime | None) -> str:
    return (when or utcnow()).astimezone(SHANGHAI).strftime("%y%m%d%H%M")


def _due_reports(source_addrs: list[str], limit: int) -> list[_Due]:
    with unit_of_work() as session:
        rows = session.execute(
            select(CmppMessage, MessageRecord.status, MessageRecord.status_at)
            .join(MessageRecord, MessageRecord.ref == CmppMessage.record_ref)
            .where(
                CmppMessage.receipt_sent.is_(False),
                CmppMessage.source_addr.in_(source_addrs),
                MessageRecord.direction == "out",
                MessageRecord.status.in_(tuple(_STAT)),
            )
            .order_by(CmppMessage.id)
            .limit(limit)
        ).all()
        return [
            _Due(
                m.id,
                m.source_addr,
                tuple(m.msg_ids),
                m.src_id,
                crypto.decrypt(m.dest_enc, where="msg_cmpp_messages.dest_enc"),
                _STAT[status],
                _yymmddhhmm(m.submitted_at),
                _yymmddhhmm(status_at),
            )
            for m, status, status_at in rows
        ]


def _mark_sent(ids: list[int]) -> None:
    with unit_of_work() as session:
        session.execute(
            update(CmppMessage).where(CmppMessage.id.in_(ids)).values(receipt_sent=True),
            execution_options={"synchronize_session": False},
        )
