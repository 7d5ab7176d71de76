"""``piguard sms sgip-serve`` as a real process and ``piguard sms sgip-account``; no PI in logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core import db
from piguard.messaging.ismg.accounts import create_account
from piguard.messaging.ismg.models import IsmgAccount
from piguard.messaging.sgip import pdu
from piguard.messaging.sgip.accounts import RULES
from piguard.models import metadata

from .smpp_harness import BUSINESS_PORT, CP_CODE, NOTICE, USER, build
from .test_sgip_server import Sp

pytestmark = pytest.mark.timeout(60)


def test_account_commands(session: Session, db_engine: Engine) -> None:
    build(session)
    runner = CliRunner()
    res = runner.invoke(app, ["sms", "sgip-account", "add", "sp902001", "-c", "youpin", "--window", "8"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["login_name"] == "sp902001" and len(out["secret"]) == 16
    res = runner.invoke(app, ["sms", "sgip-account", "add", "sp902002", "-c", "youpin", "--secret", "short"])
    assert res.exit_code != 0 and "password" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["sms", "sgip-account", "add", "x" * 17, "-c", "youpin", "--secret", "abcdefgh"])
    assert res.exit_code != 0 and "login_name" in res.output
    res = runner.invoke(app, ["sms", "sgip-account", "add", "sp902003", "-c", "youpin", "--window", "0"])
    assert res.exit_code != 0 and "window" in res.output
    res = runner.invoke(app, ["sms", "sgip-account", "list"])
    assert res.exit_code == 0 and "sp902001" in res.stdout and out["secret"] not in res.stdout
    assert runner.invoke(app, ["sms", "sgip-account", "callback", "sp902001", "10.1.2.3:8801"]).exit_code == 0

    def stored() -> str | None:
        session.expire_all()
        return session.scalar(select(IsmgAccount.callback).where(IsmgAccount.login == "sp902001"))

    assert stored() == "10.1.2.3:8801"
    for bad in (["sp902001", "10.1.2.3"], ["sp902001", "h:70000"], ["sp902001"], ["nobody", "h:1"]):
        res = runner.invoke(app, ["sms", "sgip-account", "callback", *bad])
        assert res.exit_code != 0 and ("callback" in res.output or "not_found" in res.output), bad
        assert "Traceback" not in res.output
    assert runner.invoke(app, ["sms", "sgip-account", "callback", "sp902001", "--clear"]).exit_code == 0
    assert stored() is None
    assert runner.invoke(app, ["sms", "sgip-account", "disable", "sp902001"]).exit_code == 0
    res = runner.invoke(app, ["sms", "sgip-serve", "--node-id", "-1"])
    assert res.exit_code != 0 and "node_id" in res.output and "Traceback" not in res.output


@pytest.mark.obligation("O31-10", "O31-12")
def test_sgip_serve_process(tmp_path: Path) -> None:
    path = tmp_path / "serve.db"
    engine = db.make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with Session(engine) as s:
        build(s)
        create_account(s, RULES, login="sp901234", secret="Pa55-word", content_provider=CP_CODE)
        s.commit()
    engine.dispose()
    env = {**os.environ, "PIGUARD_DATABASE_URL": f"sqlite:///{path}", "PIGUARD_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "piguard.cli", "sms", "sgip-serve", "--port", "0", "--node-id", "3010000042",
         "--max-seconds", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["node_id"] == 3010000042
        sp = Sp(info["port"])
        assert sp.bind("sp901234", "not-the-password") == pdu.Result.ILLEGAL_LOGIN
        sp.close()
        sp = Sp(info["port"])
        assert sp.bind("sp901234", "Pa55-word") == 0
        assert sp.submit(NOTICE, src=BUSINESS_PORT)[0][1] == 0
        sp.send(pdu.Cmd.UNBIND)
        assert sp.read()[0].command_id == pdu.Cmd.UNBIND_RESP
        sp.close()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sgip.bound" in err and "sgip.bind_refused" in err
    assert USER not in err and USER[-8:] not in err and "Pa55-word" not in err
