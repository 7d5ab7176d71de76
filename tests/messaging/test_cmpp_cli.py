"""``piguard sms cmpp-serve`` as a real process and ``piguard sms cmpp-account``; no PI in logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core import db
from piguard.messaging.cmpp import pdu
from piguard.messaging.cmpp.accounts import create_account
from piguard.messaging.cmpp.pdu import V20
from piguard.models import metadata

from .smpp_harness import BUSINESS_PORT, CP_CODE, NOTICE, USER, build
from .test_cmpp_server import Sp

pytestmark = pytest.mark.timeout(60)


def test_account_commands(session: Session, db_engine: Engine) -> None:
    build(session)
    runner = CliRunner()
    res = runner.invoke(app, ["sms", "cmpp-account", "add", "902001", "-c", "youpin"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["source_addr"] == "902001" and len(out["secret"]) == 16
    res = runner.invoke(app, ["sms", "cmpp-account", "add", "902002", "-c", "youpin", "--secret", "short"])
    assert res.exit_code != 0 and "secret" in res.output and "Traceback" not in res.output
    res = runner.invoke(
        app, ["sms", "cmpp-account", "add", "9020031", "-c", "youpin", "--secret", "abcdefgh"]
    )
    assert res.exit_code != 0 and "source_addr" in res.output
    res = runner.invoke(app, ["sms", "cmpp-account", "add", "902004", "-c", "nobody", "--secret", "abcdefgh"])
    assert res.exit_code != 0 and "not_found" in res.output
    res = runner.invoke(app, ["sms", "cmpp-account", "list"])
    assert res.exit_code == 0 and "902001" in res.stdout and out["secret"] not in res.stdout
    assert runner.invoke(app, ["sms", "cmpp-account", "disable", "902001"]).exit_code == 0
    res = runner.invoke(app, ["sms", "cmpp-serve", "--version", "4"])
    assert res.exit_code != 0 and "version" in res.output and "Traceback" not in res.output


@pytest.mark.obligation("O31-10", "O31-12")
def test_cmpp_serve_process(tmp_path: Path) -> None:
    """The command listens, refuses a bad authenticator, decides with the real gateway, and stops
    on SIGTERM; its logs carry no recipient number."""
    path = tmp_path / "serve.db"
    engine = db.make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with Session(engine) as s:
        build(s)
        create_account(s, source_addr="901234", secret="Sh4redSecret", content_provider=CP_CODE)
        s.commit()
    engine.dispose()
    env = {**os.environ, "PIGUARD_DATABASE_URL": f"sqlite:///{path}", "PIGUARD_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "piguard.cli", "sms", "cmpp-serve", "--port", "0", "--version", "2",
         "--max-seconds", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["version"] == 2
        sp = Sp(info["port"], V20)
        assert sp.connect("901234", "not-the-secret").status == pdu.ConnectStatus.AUTH
        sp.close()
        sp = Sp(info["port"], V20)
        assert sp.connect("901234", "Sh4redSecret").status == 0
        assert sp.submit(NOTICE, src=BUSINESS_PORT).result == 0
        sp.send(pdu.Cmd.TERMINATE)
        assert sp.read()[0].command_id == pdu.Cmd.TERMINATE_RESP
        sp.close()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "cmpp.connected" in err and "cmpp.connect_refused" in err
    assert USER not in err and USER[-8:] not in err and "Sh4redSecret" not in err
