"""piguard's clients towards carriers' ISMGs (issue 13.1/13.2/13.5): three mock carrier ISMGs, one per
protocol (CMPP 3.0 for China Mobile, SMGP 3.0 for China Telecom, SGIP 1.2 for China Unicom), real TCP
on 127.0.0.1; every message reaches its carrier's ISMG exactly once (a ported number its new
carrier's), also while one link is killed and restarted; status reports come back and are applied;
bad input from an ISMG is logged, retried, never lost."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.core.errors import PiguardError
from piguard.core.logging import configure_logging
from piguard.messaging.cmpp import pdu as cmpp
from piguard.messaging.cmpp.client import CmppClient
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.ismg.client import ClientConfig, national, report_state
from piguard.messaging.ismg.text import FMT_ASCII, FMT_UCS2, encode_for_ismg
from piguard.messaging.ismg.transport import TokenBucket
from piguard.messaging.models import OutboxMessage
from piguard.messaging.routing import service as routing
from piguard.messaging.routing.links import LinkConfig, load_links
from piguard.messaging.sgip.client import SgipClient
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.config import SmppSettings

from .ismg_mocks import SECRET, MockCmppIsmg, MockIsmg, MockSgipSmg, MockSmgpIsmg, bad_length_header
from .smpp_harness import BUSINESS_PORT, NOTICE, LoopThread, build, free_port, loop_thread, wait_for
from .test_routing import _links_file

__all__ = ["loop_thread"]
pytestmark = pytest.mark.obligation("O31-10", "O31-11")

MOBILE, UNICOM, TELECOM = "+8613812345678", "+8618612345678", "+8618912345678"
PORTED = "+8613912345670"  # a China Mobile segment, ported to China Telecom
LONG = NOTICE + "快递单号SF1234568、SF1234569的包裹也已发出，请注意查收。包裹共三件，请逐件核对。"


def _queue(session: Session, numbers: list[str], text: str = NOTICE) -> list[str]:
    res = submit(session, [GatewayRequest("sms", BUSINESS_PORT, n, text) for n in numbers])
    session.commit()
    assert all(r.outcome == "allow" for r in res), [r.reasons for r in res]
    return [r.ref or "" for r in res]


def _statuses(session: Session, refs: list[str]) -> list[str]:
    session.expire_all()
    rows = dict(
        session.execute(
            select(OutboxMessage.message_ref, OutboxMessage.status).where(OutboxMessage.message_ref.in_(refs))
        ).all()
    )
    return [rows[r] for r in refs]


def _links(mocks: dict[str, MockIsmg]) -> list[LinkConfig]:
    return [
        LinkConfig("cmcc", ("china_mobile",), "cmpp3", "127.0.0.1", mocks["cmpp"].port, "901234", SECRET, 8),
        LinkConfig(
            "ctcc", ("china_telecom", "other"), "smgp", "127.0.0.1", mocks["smgp"].port, "pgsmgp01", SECRET, 8
        ),
        LinkConfig(
            "cucc",
            ("china_unicom",),
            "sgip",
            "127.0.0.1",
            mocks["sgip"].port,
            "pgsgip",
            SECRET,
            8,
            corp_id="12345",
            node_id=3_010_012_345,
            listen_host="127.0.0.1",
            listen_port=0,
        ),
    ]


@pytest.fixture()
def carriers(loop_thread: LoopThread) -> Iterator[dict[str, MockIsmg]]:
    mocks: dict[str, MockIsmg] = {
        "cmpp": MockCmppIsmg(free_port(), login="901234"),
        "smgp": MockSmgpIsmg(free_port(), login="pgsmgp01"),
        "sgip": MockSgipSmg(free_port(), login="pgsgip"),
    }
    for m in mocks.values():
        loop_thread.run(m.start())
    yield mocks
    for m in mocks.values():
        loop_thread.run(m.stop())


def _start(loop_thread: LoopThread, links: list[LinkConfig], mocks: dict[str, MockIsmg]) -> SmppGateway:
    gw = SmppGateway(SmppSettings(dispatch_interval=0.1, workers=2), links=links)
    loop_thread.run(gw.start("127.0.0.1", 0))
    for link in gw.links:
        if isinstance(link.upstream, SgipClient):
            assert link.upstream.listening is not None
            sg = mocks["sgip"]
            assert isinstance(sg, MockSgipSmg)
            sg.report_port = link.upstream.listening[1]
    return gw


def _got(mocks: dict[str, MockIsmg]) -> dict[str, Counter[str]]:
    return {name: Counter(g.dest for g in m.messages()) for name, m in mocks.items()}


def test_three_carriers_each_message_once_while_a_link_is_killed_and_restarted(
    session: Session, loop_thread: LoopThread, carriers: dict[str, MockIsmg], log_stream: io.StringIO
) -> None:
    build(session)
    routing.import_ported(session, "13912345670,china_telecom\n")
    session.commit()
    gw = _start(loop_thread, _links(carriers), carriers)
    try:
        wait_for(lambda: all(link.upstream is not None and link.upstream.bound for link in gw.links), 10)
        refs = _queue(session, [MOBILE, UNICOM, TELECOM, PORTED])
        refs += _queue(session, [TELECOM], LONG)  # two UCS2 parts, Pk_total 2 / TLVs
        gw.kick()
        wait_for(lambda: sum(len(m.messages()) for m in carriers.values()) == 5, 15)
        # the status reports come back (SGIP's over the SMG's own connection) and are applied
        wait_for(lambda: _statuses(session, refs) == ["delivered"] * 5, 15)
        telecom = carriers["smgp"].received
        long_parts = [g for g in telecom if g.total == 2]
        assert [g.number for g in long_parts] == [1, 2] and all(g.fmt == FMT_UCS2 for g in long_parts)
        assert (b"".join(g.content for g in long_parts)).decode("utf-16-be") == LONG

        # China Mobile's ISMG goes away: its messages wait, the others go on
        loop_thread.run(carriers["cmpp"].kill())
        wait_for(lambda: not gw.links[0].upstream.bound, 10)  # type: ignore[union-attr]
        later = _queue(session, ["+8613812340001", "+8618612340002", "+8618912340003"])
        gw.kick()
        wait_for(lambda: _statuses(session, later)[1:] == ["delivered", "delivered"], 15)
        assert _statuses(session, later)[0] == "queued"
        assert len(carriers["cmpp"].received) == 1  # nothing sent over another carrier's link

        # it comes back on its port: the link logs in again and the held message goes, once
        loop_thread.run(carriers["cmpp"].start())
        wait_for(lambda: _statuses(session, later) == ["delivered"] * 3, 30)
        loop_thread.run(asyncio.sleep(0.5))  # a duplicate, if any, would have arrived by now
        assert _got(carriers) == {
            "cmpp": Counter({"13812345678": 1, "13812340001": 1}),
            "smgp": Counter({"18912345678": 2, "13912345670": 1, "18912340003": 1}),  # the ported one too
            "sgip": Counter({"8618612345678": 1, "8618612340002": 1}),
        }
        assert carriers["cmpp"].logins == 2
        assert all(g.sender == BUSINESS_PORT for m in carriers.values() for g in m.received)
        logged = log_stream.getvalue()
        assert "cmpp3.upstream_down" in logged and "cmpp3.upstream_bound" in logged
        for pi in ("13812345678", "18612345678", "18912345678", "13912345670", "快递单号"):
            assert pi not in logged  # no number or text in any log line
    finally:
        loop_thread.run(gw.stop())


def test_an_mo_unsubscribe_from_a_carrier_ismg_reaches_the_gateway(
    session: Session, loop_thread: LoopThread, carriers: dict[str, MockIsmg]
) -> None:
    """An MO 退订 over CMPP (on the link) and over SGIP (the SMG's own connection) is applied as
    SMPP's is: ``smpp.service.apply_mo``."""
    from .smpp_harness import give_consent

    build(session)
    give_consent(session)
    gw = _start(loop_thread, _links(carriers), carriers)
    seen: list[tuple[str, str, str]] = []
    original = gw._apply_mo

    def spy(source: str, dest: str, text: str):  # type: ignore[no-untyped-def]
        seen.append((source, dest, text))
        return original(source, dest, text)

    gw._apply_mo = spy  # type: ignore[method-assign]
    try:
        wait_for(lambda: all(link.upstream is not None and link.upstream.bound for link in gw.links), 10)
        cm = carriers["cmpp"]
        assert isinstance(cm, MockCmppIsmg)
        loop_thread.run(cm.mo("13812345678", "10690001", "T"))
        sg = carriers["sgip"]
        assert isinstance(sg, MockSgipSmg)
        assert loop_thread.run(sg.mo("8618612345678", "10690001", "退订"))
        wait_for(lambda: len(seen) == 2, 10)
        assert sorted(seen) == [("8613812345678", "10690001", "T"), ("8618612345678", "10690001", "退订")]
        from .china_harness import consents_ended

        wait_for(lambda: consents_ended(session), 10)
    finally:
        loop_thread.run(gw.stop())


# ------------------------------------------------------------------------------------ bad input


@pytest.fixture()
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    configure_logging("INFO")


@contextlib.contextmanager
def _one_link(loop_thread: LoopThread, mock: MockIsmg, protocol: str = "cmpp3") -> Iterator[SmppGateway]:
    """The mock ISMG started, and a gateway whose one link (China Mobile's) goes to it."""
    loop_thread.run(mock.start())
    link = LinkConfig("cmcc", ("china_mobile",), protocol, "127.0.0.1", mock.port, mock.login, SECRET, 4)
    gw = SmppGateway(SmppSettings(dispatch_interval=0.1, workers=2, upstream_enquire_link=0.3), links=[link])
    loop_thread.run(gw.start("127.0.0.1", 0))
    try:
        yield gw
    finally:
        loop_thread.run(gw.stop())
        loop_thread.run(mock.stop())


def test_a_refused_login_is_logged_and_retried_and_the_messages_wait(
    session: Session, loop_thread: LoopThread, log_stream: io.StringIO
) -> None:
    build(session)
    mock = MockCmppIsmg(free_port(), login="901234", login_status=3)
    with _one_link(loop_thread, mock) as gw:
        up = gw.links[0].upstream
        assert isinstance(up, CmppClient)
        wait_for(lambda: up.refusals >= 1, 10)
        refs = _queue(session, [MOBILE])
        gw.kick()
        loop_thread.run(asyncio.sleep(0.3))
        assert not up.bound and _statuses(session, refs) == ["queued"] and mock.received == []
        mock.login_status = 0  # the carrier fixes the account
        wait_for(lambda: _statuses(session, refs) == ["delivered"], 20)
        assert len(mock.received) == 1
        out = log_stream.getvalue()
        assert "cmpp3.upstream_login_refused" in out and "status=3" in out.replace('"', "").replace(": ", "=")
        assert "13812345678" not in out and NOTICE not in out  # no PI in the log


def test_a_wrong_length_packet_drops_the_link_which_comes_back_and_nothing_is_lost(
    session: Session, loop_thread: LoopThread, log_stream: io.StringIO
) -> None:
    build(session)
    mock = MockSmgpIsmg(free_port(), login="pgsmgp01")
    with _one_link(loop_thread, mock, "smgp") as gw:
        wait_for(lambda: mock.logins == 1, 10)
        loop_thread.run(mock.inject(bad_length_header(12)))
        wait_for(lambda: mock.logins == 2, 15)  # the framing is lost: the link goes and comes back
        refs = _queue(session, [MOBILE, "+8613812340001"])
        gw.kick()
        wait_for(lambda: _statuses(session, refs) == ["delivered"] * 2, 15)
        assert Counter(g.dest for g in mock.messages()) == Counter({"13812345678": 1, "13812340001": 1})
        assert "smgp.upstream_bad_length" in log_stream.getvalue()


def test_an_unknown_command_is_logged_and_the_link_survives(
    session: Session, loop_thread: LoopThread, log_stream: io.StringIO
) -> None:
    build(session)
    mock = MockCmppIsmg(free_port(), login="901234")
    with _one_link(loop_thread, mock) as gw:
        wait_for(lambda: mock.logins == 1, 10)
        loop_thread.run(mock.inject(cmpp.frame(0x00000099, 77, b"\x01\x02")))
        loop_thread.run(mock.inject(cmpp.frame(cmpp.Cmd.DELIVER, 78, b"\x00" * 9)))  # fields do not read
        refs = _queue(session, [MOBILE])
        gw.kick()
        wait_for(lambda: _statuses(session, refs) == ["delivered"], 15)
        loop_thread.run(asyncio.sleep(0.5))  # a few ACTIVE_TESTs on the same connection
        assert mock.logins == 1 and len(mock.received) == 1
        out = log_stream.getvalue()
        assert "cmpp3.upstream_unknown_command" in out and "cmpp3.upstream_deliver_unreadable" in out


def test_an_ismg_that_cannot_prove_the_secret_is_not_logged_in_to(loop_thread: LoopThread) -> None:
    mock = MockCmppIsmg(free_port(), login="901234", secret="other-secret")
    loop_thread.run(mock.start())
    client = CmppClient(ClientConfig("127.0.0.1", mock.port, "901234", SECRET))
    loop_thread.run(client.start())
    try:
        wait_for(lambda: client.refusals >= 1, 10)
        assert not client.bound
    finally:
        loop_thread.run(client.stop())
        loop_thread.run(mock.stop())


# ------------------------------------------------------------------------------------ max_rate


class FakeClock:
    """Simulated seconds: ``sleep`` waits for the test's next :meth:`tick` (one second on)."""

    def __init__(self) -> None:
        self.t = 0.0
        self._tick: asyncio.Event | None = None

    def __call__(self) -> float:
        return self.t

    async def sleep(self, dt: float) -> None:
        if self._tick is None:
            self._tick = asyncio.Event()
        await self._tick.wait()

    async def tick(self) -> None:
        self.t += 1.0
        if self._tick is not None:
            self._tick.set()
        self._tick = None


def test_the_token_bucket_allows_max_rate_per_simulated_second() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, clock)
    assert sum(bucket.take() for _ in range(20)) == 5  # a second's burst
    for _tick in range(3):
        clock.t += 1.0
        assert sum(bucket.take() for _ in range(20)) == 5
    clock.t += 0.2
    assert sum(bucket.take() for _ in range(20)) == 1
    assert bucket.wait_time() == pytest.approx(0.2)
    assert sum(TokenBucket(0, clock).take() for _ in range(50)) == 50  # 0: no limit


def test_a_link_submits_at_most_max_rate_a_second(loop_thread: LoopThread) -> None:
    """12 messages, max_rate 4, window 8: 4 reach the ISMG in each simulated second."""
    mock = MockCmppIsmg(free_port(), login="901234", report=False)
    loop_thread.run(mock.start())
    clock = FakeClock()
    client = CmppClient(
        ClientConfig("127.0.0.1", mock.port, "901234", SECRET, window=8, max_rate=4),
        clock=clock,
        sleep=clock.sleep,
    )
    loop_thread.run(client.start())

    async def send_all() -> None:
        await asyncio.gather(
            *(
                client.submit_encoded("10690002", f"+86138123400{i:02d}", client.encode("hi"))
                for i in range(12)
            )
        )

    try:
        loop_thread.run(client.wait_bound(10))
        sending = asyncio.run_coroutine_threadsafe(send_all(), loop_thread.loop)
        per_tick = []
        for expected in (4, 8, 12):
            wait_for(lambda n=expected: len(mock.received) >= n, 10)  # type: ignore[misc]
            loop_thread.run(asyncio.sleep(0.3))  # nothing more within the same simulated second
            per_tick.append(len(mock.received))
            loop_thread.run(clock.tick())
        sending.result(10)
        assert per_tick == [4, 8, 12]
    finally:
        loop_thread.run(client.stop())
        loop_thread.run(mock.stop())


# ------------------------------------------------------------------------------------ pieces


def test_text_for_an_ismg_is_ascii_or_ucs2_split_with_a_udh() -> None:
    short = encode_for_ismg("hello", 1)
    assert short.data_coding == FMT_ASCII and short.parts == (b"hello",)
    enc = encode_for_ismg(LONG, 9)
    assert enc.data_coding == FMT_UCS2 and len(enc.parts) == 2
    assert all(p[:5] == bytes([5, 0, 3, 9, 2]) for p in enc.parts) and [p[5] for p in enc.parts] == [1, 2]
    assert national("+8613812345678") == "13812345678" and national("+12025550123") == "12025550123"
    assert report_state("DELIVRD") == ("DELIVRD", "")
    assert report_state("MK:0005") == ("UNDELIV", "005")


def test_the_links_file_takes_the_china_protocols_and_max_rate(tmp_path: Path) -> None:
    good = _links_file(
        tmp_path,
        "links:\n"
        "  - {name: cmcc, carriers: [china_mobile], protocol: cmpp3, host: h, system_id: '901234', password_env: P, max_rate: 200, service_id: MXX001}\n"
        "  - {name: ctcc, carriers: [china_telecom], protocol: smgp, host: h, system_id: pg000001, password_env: P}\n"
        "  - {name: cucc, carriers: [china_unicom], protocol: sgip, host: h, system_id: pg, password_env: P, corp_id: '12345', node_id: 3010012345, listen_port: 8802}\n"
        "  - {name: cbn, carriers: [china_broadnet], protocol: cmpp2, host: h, port: 7891, system_id: '901235', password_env: P}\n",
    )
    links = load_links(good, {"P": "pw"})
    assert [(x.protocol, x.port, x.max_rate) for x in links] == [
        ("cmpp3", 7890, 200), ("smgp", 8890, 0), ("sgip", 8801, 0), ("cmpp2", 7891, 0),
    ]  # fmt: skip
    assert links[0].service_id == "MXX001" and (links[2].corp_id, links[2].listen_port) == ("12345", 8802)
    bad = _links_file(
        tmp_path,
        "links:\n"
        "  - {name: a, carriers: [china_mobile], protocol: cmpp4, host: h, system_id: pg, password_env: P}\n"
        "  - {name: b, carriers: [china_unicom], protocol: cmpp3, host: h, system_id: '9012345', password_env: P, max_rate: -1, listen_port: 1}\n"
        "  - {name: c, carriers: [china_telecom], protocol: sgip, host: h, system_id: pg, password_env: P, corp_id: 12, max_rate: true}\n",
    )
    with pytest.raises(PiguardError) as err:
        load_links(bad, {"P": "pw"})
    fields = {f.field: f.message for f in err.value.fields}
    assert {"links[0].protocol", "links[1].system_id", "links[1].max_rate", "links[1].listen_port",
            "links[2].corp_id", "links[2].listen_port", "links[2].max_rate"} <= set(fields)  # fmt: skip
    assert "cmpp3" in fields["links[0].protocol"] and "6" in fields["links[1].system_id"]


@pytest.mark.obligation("O31-11")
def test_an_sgip_report_carries_the_centres_own_error_code() -> None:
    """The SMS centre's (or carrier ISMG's) code of a failure goes on in the SGIP Report's ErrorCode
    (one octet); a code that is not a number that fits, or none, is 32 (system failure)."""
    from piguard.messaging.sgip.bridge import error_code

    assert [error_code(e) for e in ("001", "005", "255", "")] == [1, 5, 255, 32]
    assert [error_code(e) for e in ("000", "999", "MK0")] == [32, 32, 32]


def test_sgip_reports_come_over_the_smgs_own_connection_with_their_state_and_error(
    session: Session, loop_thread: LoopThread, carriers: dict[str, MockIsmg]
) -> None:
    """SGIP's second connection: the SMG binds to piguard's listener (Login Type 2, the link's
    login); a wrong password is refused; a waiting Report (State 1) is not final; a failed one
    (State 2) fails the message with its ErrorCode kept for the content provider's report."""
    from piguard.messaging.sgip import pdu as sgip
    from piguard.messaging.sgip.callback import CallbackLink
    from piguard.messaging.smpp.models import SmppUpstreamPart

    build(session)
    sg = carriers["sgip"]
    assert isinstance(sg, MockSgipSmg)
    sg.report = False
    gw = _start(loop_thread, _links(carriers), carriers)
    try:
        wait_for(lambda: all(link.upstream is not None and link.upstream.bound for link in gw.links), 10)

        async def wrong_bind() -> bool:
            async with CallbackLink("127.0.0.1", sg.report_port, sg.login, "not-it", sg.seq) as cb:
                return cb.bound

        assert loop_thread.run(wrong_bind()) is False
        refs = _queue(session, [UNICOM])
        gw.kick()
        wait_for(lambda: len(sg.received) == 1 and _statuses(session, refs) == ["sent"], 10)
        seq = sgip.sequence_from_hex(sg.received[0].msg_id)
        loop_thread.run(sg._report(seq, "8618612345678", sgip.STATE_WAITING))
        loop_thread.run(asyncio.sleep(0.3))
        assert _statuses(session, refs) == ["sent"]
        loop_thread.run(sg._report(seq, "8618612345678", sgip.STATE_FAILED, 5))
        wait_for(lambda: _statuses(session, refs) == ["failed"], 10)
        session.expire_all()
        part = session.scalar(select(SmppUpstreamPart).where(SmppUpstreamPart.record_ref == refs[0]))
        assert part is not None and (part.state, part.error) == ("UNDELIV", "005")
        assert part.link == f"pgsgip@127.0.0.1:{sg.port}" and part.smsc_id == sg.received[0].msg_id
    finally:
        loop_thread.run(gw.stop())


def test_sms_links_shows_each_links_protocol_window_and_max_rate(
    db_engine, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from piguard.cli import app

    monkeypatch.setenv("P", "pw")
    links = _links_file(
        tmp_path,
        "links:\n  - {name: cmcc, carriers: [china_mobile], protocol: cmpp3, host: h, system_id: '901234', "
        "password_env: P, window: 12, max_rate: 300}\n",
    )
    res = CliRunner().invoke(app, ["sms", "links", "--links", str(links)])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.splitlines()[0])
    assert (row["link"], row["protocol"], row["address"], row["window"], row["max_rate"]) == (
        "cmcc", "cmpp3", "h:7890", 12, 300,
    )  # fmt: skip


def test_a_cmpp2_link_sends_long_messages_in_parts_and_reads_their_reports(
    session: Session, loop_thread: LoopThread
) -> None:
    """CMPP 2.0: 21-octet terminal ids and one-octet results; a long UCS2 message as Pk_total 2
    parts with TP_udhi 1, each part's report applied before the message is delivered."""
    build(session)
    mock = MockCmppIsmg(free_port(), login="901234")
    with _one_link(loop_thread, mock, "cmpp2") as gw:
        wait_for(lambda: mock.logins == 1, 10)
        assert mock.version == cmpp.V20
        refs = _queue(session, [MOBILE], LONG) + _queue(session, ["+8613812340001"], "piguard ok")
        gw.kick()
        wait_for(lambda: _statuses(session, refs) == ["delivered", "delivered"], 15)
        parts = [g for g in mock.received if g.dest == "13812345678"]
        assert [(g.total, g.number, g.fmt) for g in parts] == [(2, 1, FMT_UCS2), (2, 2, FMT_UCS2)]
        assert b"".join(g.content for g in parts).decode("utf-16-be") == LONG
        [short] = [g for g in mock.received if g.dest == "13812340001"]
        assert (short.fmt, short.content) == (FMT_ASCII, b"piguard ok")


class _Decider:
    """A decider that decides several at once (as the gateway's does), recording each batch."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.batches: list[int] = []
        self.single = 0
        self.fail_batches = fail_batches

    def __call__(self, sub):  # type: ignore[no-untyped-def]
        from piguard.messaging.ismg.transport import SubmitOutcome

        self.single += 1
        return SubmitOutcome(0, "r", "r", "allow")

    def many(self, subs):  # type: ignore[no-untyped-def]
        import time

        from piguard.messaging.ismg.transport import SubmitOutcome

        self.batches.append(len(subs))
        time.sleep(0.05)  # a decision takes time: what arrives meanwhile waits for the next batch
        if self.fail_batches:
            raise RuntimeError("the database went away")
        return [SubmitOutcome(0, "r", "r", "allow") for _ in subs]


@pytest.mark.parametrize("fail_batches", [False, True])
def test_submits_waiting_at_once_are_decided_together(loop_thread: LoopThread, fail_batches: bool) -> None:
    """piguard's CMPP client against piguard's CMPP server: 24 submits in flight are decided in
    batches (fewer calls than messages); a batch that fails is decided message by message."""
    from piguard.messaging.cmpp.config import CmppSettings
    from piguard.messaging.cmpp.server import CmppServer
    from piguard.messaging.ismg.transport import Account, Login

    def authenticate(req: cmpp.Connect) -> Login:
        return Login(Account(req.source_addr, 1, "cp", window=32), SECRET)

    decider = _Decider(fail_batches)
    server = CmppServer(authenticate=authenticate, decide=decider, settings=CmppSettings(workers=2))
    _h, port = loop_thread.run(server.start("127.0.0.1", 0))
    client = CmppClient(ClientConfig("127.0.0.1", port, "901234", SECRET, window=24))

    async def send_all() -> list[int]:
        res = await asyncio.gather(
            *(
                client.submit_encoded("10690002", f"+86138123400{i:02d}", client.encode("hi"))
                for i in range(24)
            )
        )
        return [r[0].status for r in res]

    try:
        loop_thread.run(client.start())
        loop_thread.run(client.wait_bound(10))
        assert loop_thread.run(send_all()) == [0] * 24
        assert sum(decider.batches) == 24 and len(decider.batches) < 24
        assert decider.single == (24 if fail_batches else 0)
    finally:
        loop_thread.run(client.stop())
        loop_thread.run(server.stop())
