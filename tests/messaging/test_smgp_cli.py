"""``piguard sms smgp-serve`` as a real process and ``piguard sms smgp-account``; no PI in logs."""

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
from piguard.messaging.ismg.accounts import create_account
from piguard.messaging.smgp import pdu
from piguard.messaging.smgp.accounts import RULES
from piguard.models import metadata

from .smpp_harness import BUSINESS_PORT, CP_CODE, NOTICE, USER, build
from .test_smgp_server import Sp

pytestmark = pytest.mark.timeout(60)


def test_account_commands(session: Session, db_engine: Engine) -> None:
    build(session)
    runner = CliRunner()
    res = runner.invoke(app, ["sms", "smgp-account", "add", "33002001", "-c", "youpin"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["client_id"] == "33002001" and len(out["secret"]) == 15
    res = runner.invoke(app, ["sms", "smgp-account", "add", "33002002", "-c", "youpin", "--secret", "x" * 16])
    assert res.exit_code != 0 and "secret" in res.output and "Traceback" not in res.output
    res = runner.invoke(
        app, ["sms", "smgp-account", "add", "330020031", "-c", "youpin", "--secret", "abcdefgh"]
    )
    assert res.exit_code != 0 and "client_id" in res.output
    res = runner.invoke(
        app, ["sms", "smgp-account", "add", "33002004", "-c", "nobody", "--secret", "abcdefgh"]
    )
    assert res.exit_code != 0 and "not_found" in res.output
    res = runner.invoke(
        app, ["sms", "smgp-account", "add", "33002001", "-c", "youpin", "--secret", "abcdefgh"]
    )
    assert res.exit_code != 0 and "conflict" in res.output
    res = runner.invoke(app, ["sms", "smgp-account", "list"])
    assert res.exit_code == 0 and "33002001" in res.stdout and out["secret"] not in res.stdout
    assert runner.invoke(app, ["sms", "smgp-account", "disable", "33002001"]).exit_code == 0
    res = runner.invoke(app, ["sms", "smgp-account", "enable", "nobody"])
    assert res.exit_code != 0 and "not_found" in res.output
    res = runner.invoke(app, ["sms", "smgp-serve", "--gateway-code", "1000000"])
    assert res.exit_code != 0 and "gateway_code" in res.output and "Traceback" not in res.output


@pytest.mark.obligation("O31-10", "O31-12")
def test_smgp_serve_process(tmp_path: Path) -> None:
    """The command listens, refuses a bad authenticator, decides with the real gateway, and stops
    on SIGTERM; its logs carry no recipient number and no secret."""
    path = tmp_path / "serve.db"
    engine = db.make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with Session(engine) as s:
        build(s)
        create_account(s, RULES, login="33001001", secret="Sh4red-Secret", content_provider=CP_CODE)
        s.commit()
    engine.dispose()
    env = {**os.environ, "PIGUARD_DATABASE_URL": f"sqlite:///{path}", "PIGUARD_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "piguard.cli", "sms", "smgp-serve", "--port", "0", "--gateway-code", "42",
         "--max-seconds", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["gateway_code"] == 42
        sp = Sp(info["port"])
        assert sp.login("33001001", "not-the-secret").status == pdu.St.AUTH
        sp.close()
        sp = Sp(info["port"])
        assert sp.login("33001001", "Sh4red-Secret").status == 0
        [resp] = sp.submit(NOTICE, src=BUSINESS_PORT)
        assert resp.status == 0 and pdu.split_msg_id(resp.msg_id).gateway == "000042"
        sp.send(pdu.Cmd.EXIT)
        assert sp.read()[0].command_id == pdu.Cmd.EXIT_RESP
        sp.close()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "smgp.logged_in" in err and "smgp.login_refused" in err
    assert USER not in err and USER[-8:] not in err and "Sh4red-Secret" not in err
