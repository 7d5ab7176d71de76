"""The gateway CLI and the demo data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app
from piguard.messaging.demo import load_demo_messaging
from piguard.messaging.models import Consent, MessageRecord

from .gw_setup import AD, BUSINESS_PORT, COMMERCIAL_PORT, USER, build_registry, give_consent

pytestmark = pytest.mark.obligation("O31-10", "O31-18.1", "O31-20")


def test_send_check_and_inbound_commands(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    reg = build_registry(session)
    give_consent(session, reg)
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "sms",
            "check",
            "--sender",
            COMMERCIAL_PORT + "07",
            "--to",
            USER,
            "--text",
            AD,
            "--type",
            "promotions",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.splitlines()[0])["outcome"] == "allow"
    assert session.scalar(select(func.count()).select_from(MessageRecord)) == 0
    r = runner.invoke(
        app, ["sms", "send", "--sender", BUSINESS_PORT, "--to", USER, "--text", AD, "--type", "promotions"]
    )
    assert r.exit_code == 0 and "refuse" in r.output and "O31-19" in r.output
    r = runner.invoke(app, ["sms", "send", "--sender", BUSINESS_PORT, "--to", USER, "--text", ""])
    assert r.exit_code == 1 and "error" in r.output
    r = runner.invoke(
        app, ["sms", "inbound", "--from", USER, "--to", COMMERCIAL_PORT + "07", "--text", "退订"]
    )
    assert r.exit_code == 0 and json.loads(r.output)["intent"] == "opt_out"
    r = runner.invoke(app, ["sms", "registry", "list"])
    assert r.exit_code == 0 and "youpin" in r.output and "600037341" not in r.output


def test_demo_data_loads_once(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    load_demo_messaging(session)
    session.commit()
    load_demo_messaging(session)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Consent)) >= 2
    outcomes = set(session.scalars(select(MessageRecord.outcome)))
    assert {"allow", "refuse", "received"} <= outcomes
