"""``piguard sms smpp-serve`` as a real process and ``piguard sms smpp-account``; no PI in logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import smpplib.client
import smpplib.exceptions
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core import db
from piguard.models import metadata

from .smpp_harness import NOTICE, PASSWORD, SYSTEM_ID, USER, build

pytestmark = pytest.mark.timeout(60)


def test_account_commands(session: Session, db_engine: Engine) -> None:
    build(session)
    runner = CliRunner()
    res = runner.invoke(app, ["sms", "smpp-account", "add", "yp02", "-c", "youpin", "--bind-types", "trx"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["system_id"] == "yp02" and len(out["password"]) == 8 and out["bind_types"] == ["trx"]
    res = runner.invoke(app, ["sms", "smpp-account", "add", "yp03", "-c", "youpin", "--password", "short"])
    assert res.exit_code != 0 and "password" in res.output
    res = runner.invoke(app, ["sms", "smpp-account", "add", "yp04", "-c", "nobody", "--password", "abcdefgh"])
    assert res.exit_code != 0 and "not_found" in res.output
    res = runner.invoke(app, ["sms", "smpp-account", "list"])
    assert res.exit_code == 0 and "yp02" in res.stdout and SYSTEM_ID in res.stdout
    assert runner.invoke(app, ["sms", "smpp-account", "disable", "yp02"]).exit_code == 0


@pytest.mark.obligation("O31-10", "O31-11")
def test_smpp_serve_process(tmp_path: Path) -> None:
    """The command listens, decides with the real gateway, and stops on SIGTERM; its logs carry no
    recipient number."""
    path = tmp_path / "serve.db"
    engine = db.make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with Session(engine) as s:
        build(s)
    engine.dispose()
    env = {**os.environ, "PIGUARD_DATABASE_URL": f"sqlite:///{path}", "PIGUARD_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "piguard.cli",
            "sms",
            "smpp-serve",
            "--port",
            "0",
            "--loopback",
            "--max-seconds",
            "40",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["upstream"] == "loopback"
        client = smpplib.client.Client("127.0.0.1", info["port"], timeout=10, allow_unknown_opt_params=True)
        client.connect()
        with pytest.raises(smpplib.exceptions.PDUError):
            client.bind_transceiver(system_id=SYSTEM_ID, password="nope1234")
        client.disconnect()
        client = smpplib.client.Client("127.0.0.1", info["port"], timeout=10, allow_unknown_opt_params=True)
        client.connect()
        client.bind_transceiver(system_id=SYSTEM_ID, password=PASSWORD)
        client.send_message(
            source_addr="10690002",
            dest_addr_ton=1,
            destination_addr=USER,
            short_message=NOTICE.encode("utf-16-be"),
            data_coding=8,
        )
        resp = client.read_pdu()
        assert resp.command == "submit_sm_resp" and int(resp.status) == 0
        client.unbind()
        client.disconnect()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "smpp.bound" in err and "smpp.bind_refused" in err
    assert USER not in err and USER[-8:] not in err
