"""``piguard sms smpp-serve --smgp-port 0 --sgip-port 0``: one real process holding piguard's SMPP
link to a test SMS centre and its SMGP and SGIP servers. An SMGP content provider's advert (consent
given) goes out through the centre; the user's 退订 comes back from the centre, ends the consent and
reaches the SMGP content provider as a Deliver; the next advert is refused; an SGIP content
provider is served beside it. Its logs carry no recipient number and no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from piguard.core import db
from piguard.messaging.ismg.accounts import create_account
from piguard.messaging.models import Consent
from piguard.messaging.sgip.accounts import RULES as SGIP
from piguard.messaging.smgp import pdu
from piguard.messaging.smgp.accounts import RULES as SMGP
from piguard.models import metadata

from . import test_sgip_server as sgip_t
from . import test_smgp_server as smgp_t
from .smpp_harness import (
    AD,
    BUSINESS_PORT,
    CP_CODE,
    NOTICE,
    PORT,
    USER,
    LoopThread,
    SmsCentre,
    build,
    free_port,
    give_consent,
    wait_for,
)
from .smpp_harness import loop_thread as loop_thread  # the fixture

pytestmark = pytest.mark.timeout(90)


@pytest.mark.obligation("O31-10", "O31-18.1", "O31-20")
def test_one_process_serves_smgp_and_sgip_beside_the_smpp_link(
    tmp_path: Path, loop_thread: LoopThread
) -> None:
    path = tmp_path / "serve.db"
    engine = db.make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with Session(engine) as s:
        build(s)
        same = {"content_provider": CP_CODE, "default_message_type": "promotions"}
        create_account(s, SMGP, login=smgp_t.CLIENT_ID, secret=smgp_t.SECRET, **same)  # type: ignore[arg-type]
        create_account(s, SGIP, login=sgip_t.LOGIN, secret=sgip_t.PASSWORD, **same)  # type: ignore[arg-type]
        s.commit()
        give_consent(s)
    smsc = SmsCentre(free_port())
    loop_thread.run(smsc.start())
    env = {
        **os.environ,
        "PIGUARD_DATABASE_URL": f"sqlite:///{path}",
        "PIGUARD_DATA_DIR": str(tmp_path),
        "PIGUARD_SMPP_UPSTREAM_PASSWORD": "up-pass",
        "PIGUARD_SMPP_DISPATCH_INTERVAL": "0.2",
        "PIGUARD_SMGP_REPORT_INTERVAL": "0.2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "piguard.cli", "sms", "smpp-serve", "--port", "0", "--upstream-host", "127.0.0.1",
         "--upstream-port", str(smsc.port), "--upstream-system-id", "piguard", "--smgp-port", "0",
         "--sgip-port", "0", "--max-seconds", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["upstream"] == f"127.0.0.1:{smsc.port}" and set(info) >= {"smgp", "sgip"}
        wait_for(lambda: smsc.binds, 10)
        sp = smgp_t.Sp(int(info["smgp"].rsplit(":", 1)[1]))
        assert sp.login().status == 0
        assert sp.submit(AD)[0].status == 0
        sent = wait_for(lambda: smsc.received, 15)
        assert [(r.destination_addr, r.source_addr) for r in sent] == [(USER, PORT + "07")]
        assert loop_thread.run(smsc.deliver(USER, PORT + "07", "退订".encode("utf-16-be"), data_coding=8))
        h, body = sp.read()
        d = pdu.decode_deliver(body)
        assert (
            h.command_id == pdu.Cmd.DELIVER and d.is_report == 0 and d.content.decode("utf-16-be") == "退订"
        )
        sp.answer(h, d.msg_id)
        with Session(engine) as s:
            wait_for(lambda: all(c.status == "ended" for c in s.query(Consent).populate_existing()), 10)
        assert sp.submit(AD)[0].status == 0x405
        sp.close()
        sg = sgip_t.Sp(int(info["sgip"].rsplit(":", 1)[1]))
        assert sg.bind() == 0
        assert sg.submit(NOTICE, src=BUSINESS_PORT)[0][1] == 0
        sg.close()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
        loop_thread.run(smsc.stop())
        engine.dispose()
    assert proc.returncode == 0, err
    assert "smgp.logged_in" in err and "sgip.bound" in err
    assert (
        USER not in err and USER[-8:] not in err and smgp_t.SECRET not in err and sgip_t.PASSWORD not in err
    )
