"""Routing per carrier (issue 13.5): segments and ported numbers decide the route, the outbox keeps
it, each link claims only its carriers' messages, and a link that is down holds only its own queue;
every message reaches the right SMS centre exactly once."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import OutboxMessage
from piguard.messaging.records import service as records
from piguard.messaging.routing import service as routing
from piguard.messaging.routing.links import LinkConfig, load_links
from piguard.messaging.routing.models import PortedNumber
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.config import SmppSettings

from .smpp_harness import (
    BUSINESS_PORT,
    NOTICE,
    LoopThread,
    SmsCentre,
    build,
    free_port,
    loop_thread,
    wait_for,
)

__all__ = ["loop_thread"]
pytestmark = pytest.mark.obligation("O31-10", "O31-11")

MOBILE, UNICOM, TELECOM = "+8613812345678", "+8618612345678", "+8618912345678"
PORTED = "+8613912345670"  # a China Mobile segment, ported to China Telecom


@pytest.mark.parametrize(
    ("number", "carrier", "prefix", "mvno"),
    [
        ("+8613812345678", "china_mobile", "138", False),
        ("+8613412345678", "china_mobile", "1341", False),
        ("+8613492345678", "china_telecom", "1349", False),  # the satellite block inside 134
        ("+8618612345678", "china_unicom", "186", False),
        ("+8619912345678", "china_telecom", "199", False),
        ("+8619212345678", "china_broadnet", "192", False),
        ("+8617051234567", "china_mobile", "1705", True),
        ("+8617081234567", "china_unicom", "1708", True),
        ("+8616212345678", "china_telecom", "162", True),
    ],
)
def test_the_segment_names_the_carrier(number: str, carrier: str, prefix: str, mvno: bool) -> None:
    assert routing.segment_of(number) == (carrier, prefix, mvno)


def test_no_segment_no_carrier() -> None:
    assert routing.segment_of("+8614012345678") is None  # not a segment of any carrier
    assert routing.segment_of("+12025550123") is None and routing.segment_of("a@example.cn") is None
    table = routing.segments()
    assert table.source and table.valid_from.year >= 2024


def test_ported_numbers_import_all_or_nothing_and_route_first(session: Session) -> None:
    text = "number,carrier,ported_on\n13912345670,china_telecom,2024-05-01\n# a comment\n+8615012345678,china_unicom,\n"
    assert routing.import_ported(session, text) == {"numbers": 2, "added": 2, "changed": 0, "replaced": 0}
    session.commit()
    r = routing.route_of(session, PORTED)
    assert (r.carrier, r.how, r.prefix) == ("china_telecom", "ported", "139")
    assert routing.route_of(session, MOBILE).how == "segment"
    # the numbers are kept by keyed hash only
    assert all(
        p.number_hash != PORTED and "1391234" not in p.number_hash
        for p in session.scalars(select(PortedNumber))
    )
    # a bad line: nothing written, the line named, never the number
    with pytest.raises(PiguardError) as err:
        routing.import_ported(
            session, "13912345670,china_mobile\n13700000000,mars_mobile\n12345,china_unicom\n"
        )
    body = json.dumps(err.value.to_dict(), ensure_ascii=False)
    assert err.value.code == "ported_import_invalid" and "line 2" in body and "line 3" in body
    assert "13700000000" not in body
    session.rollback()
    assert routing.route_of(session, PORTED).carrier == "china_telecom"
    # a full list replaces the table
    out = routing.import_ported(session, "13912345670,china_unicom\n", replace=True)
    session.commit()
    assert out["numbers"] == 1 and session.scalar(select(PortedNumber.carrier)) == "china_unicom"


def _queue(session: Session, numbers: list[str]) -> list[str]:
    res = submit(session, [GatewayRequest("sms", BUSINESS_PORT, n, NOTICE) for n in numbers])
    session.commit()
    assert all(r.outcome == "allow" for r in res), [r.reasons for r in res]
    return [r.ref or "" for r in res]


def test_the_outbox_keeps_each_messages_route_and_links_claim_only_theirs(session: Session) -> None:
    build(session)
    routing.import_ported(session, "13912345670,china_telecom\n")
    refs = _queue(session, [MOBILE, UNICOM, TELECOM, PORTED])
    routes = {
        ref: route for ref, route in session.execute(select(OutboxMessage.message_ref, OutboxMessage.route))
    }
    assert [routes[r] for r in refs] == ["china_mobile", "china_unicom", "china_telecom", "china_telecom"]
    token = records.claim_outbox(session, routes=("china_telecom",))
    session.commit()
    claimed = set(session.scalars(select(OutboxMessage.message_ref).where(OutboxMessage.claim == token)))
    assert claimed == {refs[2], refs[3]}
    assert records.claim_outbox(session, routes=(None,)) is None  # nothing without a carrier
    assert records.claim_outbox(session, routes=()) is None


def _links_file(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "links.yaml"
    p.write_text(body, encoding="utf-8")
    return p


def test_a_links_file_is_checked_and_every_problem_named(tmp_path: Path) -> None:
    good = _links_file(
        tmp_path,
        "links:\n"
        "  - {name: cmcc, carriers: [china_mobile], host: 10.0.0.1, port: 2775, system_id: pg, password_env: P1}\n"
        "  - {name: rest, carriers: [china_unicom, other], host: 10.0.0.2, system_id: pg, password_env: P1, window: 50}\n",
    )
    links = load_links(good, {"P1": "secret"})
    assert [(x.name, x.routes, x.window) for x in links] == [
        ("cmcc", ("china_mobile",), 10),
        ("rest", ("china_unicom", None), 50),
    ]
    bad = _links_file(
        tmp_path,
        "links:\n"
        "  - {name: a, carriers: [china_mobile, mars], host: h, port: 99999, system_id: pg, password_env: NOPE}\n"
        "  - {name: a, carriers: [china_mobile], protocol: cmpp, host: '', system_id: pg, password_env: P1, speed: 9}\n",
    )
    with pytest.raises(PiguardError) as err:
        load_links(bad, {"P1": "x"})
    fields = {f.field for f in err.value.fields}
    assert {"links[0].carriers", "links[0].port", "links[0].password_env", "links[1].name", "links[1].protocol",
            "links[1].host", "links[1]"} <= fields  # fmt: skip
    assert err.value.code == "links_file_invalid"
    for text in ("links: []\n", "{{{\n", "links:\n  - 5\n"):
        with pytest.raises(PiguardError):
            load_links(_links_file(tmp_path, text), {})
    with pytest.raises(PiguardError):
        load_links(tmp_path / "missing.yaml", {})


def test_each_message_reaches_its_carriers_centre_once_while_a_link_is_down(
    session: Session, loop_thread: LoopThread
) -> None:
    build(session)
    routing.import_ported(session, "13912345670,china_telecom\n")
    session.commit()
    centres = {c: SmsCentre(free_port()) for c in ("mobile", "unicom", "telecom")}
    # the China Unicom centre is down (nothing listens on its port) when piguard starts
    for name in ("mobile", "telecom"):
        loop_thread.run(centres[name].start())
    links = [
        LinkConfig(
            "cmcc",
            ("china_mobile",),
            "smpp",
            "127.0.0.1",
            centres["mobile"].port,
            "pg",
            "up-pass",
            window=16,
            max_rate=200,
        ),
        LinkConfig("cucc", ("china_unicom",), "smpp", "127.0.0.1", centres["unicom"].port, "pg", "up-pass"),
        LinkConfig(
            "ctcc", ("china_telecom", "other"), "smpp", "127.0.0.1", centres["telecom"].port, "pg", "up-pass"
        ),
    ]
    gw = SmppGateway(SmppSettings(dispatch_interval=0.1, workers=2), links=links)
    loop_thread.run(gw.start("127.0.0.1", 0))
    try:
        wait_for(lambda: gw.links[0].upstream.bound and gw.links[2].upstream.bound, 10)  # type: ignore[union-attr]
        assert not gw.links[1].upstream.bound  # type: ignore[union-attr]
        numbers = [MOBILE, UNICOM, TELECOM, PORTED, "+8613812340001", "+8618612340002"]
        _queue(session, numbers)
        gw.kick()
        wait_for(lambda: len(centres["mobile"].received) == 2 and len(centres["telecom"].received) == 2, 15)

        # the console and `sms links` see the link that is down, with its queue
        def states() -> dict[str, tuple[str, int]]:
            session.expire_all()
            return {r["link"]: (r["state"], r["queued"]) for r in routing.links_overview(session, utcnow())}

        wait_for(lambda: states().get("cucc") == ("down", 2), 10)
        assert states()["cmcc"][0] == "bound" and states()["ctcc"][0] == "bound"
        # each link's status row says the window and max_rate its process runs it with (the file's)
        limits = {r["link"]: (r["window"], r["max_rate"]) for r in routing.links_overview(session, utcnow())}
        assert limits == {"cmcc": (16, 200), "cucc": (10, 0), "ctcc": (10, 0)}
        # the Unicom messages wait in the outbox, not sent over another carrier's link
        held = session.scalars(
            select(OutboxMessage.status)
            .where(OutboxMessage.route == "china_unicom")
            .execution_options(populate_existing=True)
        ).all()
        assert sorted(held) == ["queued", "queued"]
        # the centre comes up on its port: the link binds and they go, once
        loop_thread.run(centres["unicom"].start())
        wait_for(lambda: len(centres["unicom"].received) == 2, 30)
        gw.kick()
        loop_thread.run(_settle())
        wait_for(lambda: states().get("cucc") == ("bound", 0), 10)
        got = {c: Counter(r.destination_addr.lstrip("+") for r in s.received) for c, s in centres.items()}
        assert got["mobile"] == Counter({"8613812345678": 1, "8613812340001": 1})
        assert got["unicom"] == Counter({"8618612345678": 1, "8618612340002": 1})
        assert got["telecom"] == Counter({"8618912345678": 1, "8613912345670": 1})  # the ported one too
    finally:
        loop_thread.run(gw.stop())
        for c in centres.values():
            if c.server is not None:
                loop_thread.run(c.stop())


async def _settle() -> None:
    import asyncio

    await asyncio.sleep(0.5)  # a duplicate, if any, would have arrived by now


def test_route_ported_and_links_commands(
    db_engine, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    build(session)
    runner = CliRunner()
    ported = tmp_path / "ported.csv"
    ported.write_text("13912345670,china_telecom\n", encoding="utf-8")
    res = runner.invoke(app, ["sms", "ported", "import", str(ported)])
    assert res.exit_code == 0, res.output
    out = json.loads(runner.invoke(app, ["sms", "route", "13912345670"]).stdout)
    assert (
        out["carrier"] == "china_telecom" and out["how"] == "ported" and "13912345670" not in json.dumps(out)
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("13912345670,nowhere\n", encoding="utf-8")
    res = runner.invoke(app, ["sms", "ported", "import", str(bad)])
    assert res.exit_code == 2 and "line 1" in res.output
    assert runner.invoke(app, ["sms", "route", "12345"]).exit_code == 2
    _queue(session, [MOBILE, UNICOM])
    monkeypatch.setenv("P1", "pw")
    links = _links_file(
        tmp_path,
        "links:\n  - {name: cmcc, carriers: [china_mobile], host: 10.0.0.1, system_id: pg, password_env: P1}\n",
    )
    res = runner.invoke(app, ["sms", "links", "--links", str(links)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows[0]["link"] == "cmcc" and rows[0]["queued"] == 1 and rows[0]["state"] == "not_started"
    assert {"link": None, "carriers": ["china_unicom"], "state": "no_link", "queued": 1, "sending": 0} in rows
