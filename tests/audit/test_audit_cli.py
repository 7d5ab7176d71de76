"""`piguard audit search` and `piguard audit checkpoint`, and bad input (O24-13.6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit.models import AuditCheckpoint, AuditEntry
from piguard.audit.service import Actor, record
from piguard.cli import app as cli_app
from piguard.core import db
from piguard.oversight.audit_cli import parse_time

pytestmark = pytest.mark.obligation("O24-13.6")


def run(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["audit", *args], env={"COLUMNS": "200"})


@pytest.fixture()
def entries(session: Session) -> None:
    record(
        session,
        action="auth.login_failed",
        actor=Actor("staff", "alice"),
        client_ip="10.0.0.9",
        terminal="desk-3",
        outcome="refused",
    )
    record(
        session,
        action="pi.read",
        actor=Actor("staff", "bob"),
        subject_ref="user-7",
        data_categories=["user.contact.phone"],
        purpose="customer_service",
    )
    record(session, action="pi.export", actor=Actor("staff", "bob"), subject_ref="user-8", outcome="held")
    session.commit()


def test_search_as_json_jsonl_and_table(entries: None, session: Session) -> None:
    out = run("search", "--actor", "bob", "--format", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["seq"] for r in rows] == [3, 2]
    assert rows[1]["subject_ref"] == "user-7" and rows[1]["data_categories"] == ["user.contact.phone"]
    assert len(rows[1]["hash"]) == 64 and rows[1]["time"].endswith("Z")

    out = run("search", "--action", "pi", "--subject", "user-7", "--format", "jsonl")
    lines = out.output.strip().splitlines()
    assert out.exit_code == 0 and [json.loads(line)["seq"] for line in lines] == [2]

    out = run("search", "--outcome", "refused", "--since", "2000-01-01", "--until", "2999-01-01T00:00+08:00")
    assert out.exit_code == 0, out.output
    assert "auth.login_failed" in out.output and "staff:alice" in out.output and "10.0.0.9" in out.output
    assert "pi.read" not in out.output

    out = run("search", "--action", "pi.", "--limit", "1", "--format", "table")
    assert "--cursor 3" in out.output  # hint for the next page
    out = run("search", "--action", "pi.", "--limit", "1", "--cursor", "3", "--format", "json")
    assert [r["seq"] for r in json.loads(out.output)] == [2]

    # each search was itself recorded
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.search")).all()
    assert len(logged) == 5
    assert logged[0].actor_type == "system" and logged[0].actor_id == "cli"
    assert logged[0].detail["filters"] == {"actor_id": "bob"} and logged[0].detail["returned"] == 2


def test_checkpoint_command(entries: None, session: Session) -> None:
    out = run("checkpoint")
    assert out.exit_code == 0, out.output
    assert "seq 3 count 3" in out.output and "signature " in out.output
    out = run("checkpoint", "--format", "json")
    info = json.loads(out.output)
    assert info["kind"] == "manual" and info["seq"] == 3 and len(info["signature"]) == 64
    assert len(session.scalars(select(AuditCheckpoint)).all()) == 2
    out = run("verify")
    assert out.exit_code == 0 and "checkpoints verified / 已校验检查点: 2" in out.output


def test_checkpoint_of_an_empty_log_is_a_clear_error(db_engine: Engine) -> None:
    out = run("checkpoint")
    assert out.exit_code == 2
    assert "audit_empty" in out.stderr and "审计日志为空" in out.stderr


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--since", "yesterday"], "--since"),
        (["--until", "2024-13-01"], "--until"),
        (["--since", "2024-02-01", "--until", "2024-01-01"], "until"),
        (["--limit", "0"], "limit"),
        (["--actor-type", "robot"], "actor_type"),
        (["--outcome", "maybe"], "outcome"),
    ],
)
def test_bad_search_input_is_a_piguard_error(db_engine: Engine, args: list[str], field: str) -> None:
    out = run("search", *args)
    assert out.exit_code == 2, out.output
    assert "validation_error" in out.stderr and f"  {field}: " in out.stderr
    assert "Traceback" not in out.output


def test_bad_format_is_a_usage_error(db_engine: Engine) -> None:
    out = run("search", "--format", "xml")
    assert out.exit_code == 2


def test_parse_time_reads_china_time() -> None:
    """A date typed by a person is that day in China (00:00 there is 16:00 UTC the day before)."""
    assert parse_time("2024-05-01", "--since").isoformat() == "2024-04-30T16:00:00+00:00"  # type: ignore[union-attr]
    assert parse_time("2024-05-01T08:00", "--since").isoformat() == "2024-05-01T00:00:00+00:00"  # type: ignore[union-attr]
    assert parse_time("2024-05-01T08:00:00+08:00", "--since") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_time("2024-05-01T00:00:00Z", "--since") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_time(None, "--since") is None


def test_the_installed_command_exits_2_with_a_bilingual_message(db_engine: Engine) -> None:
    env = {**os.environ, "PIGUARD_DATABASE_URL": db_engine.url.render_as_string(hide_password=False)}
    if db_engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough for the process exit code")
    proc = subprocess.run(
        [sys.executable, "-m", "piguard.cli", "audit", "search", "--since", "not-a-date"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "validation_error" in proc.stderr and "ISO 8601" in proc.stderr and "不是有效的日期" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "piguard.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_a_database_without_audit_tables_is_a_clear_error(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    db.set_engine(engine)
    try:
        out = run("verify")
    finally:
        db.set_engine(None)
        engine.dispose()
    assert out.exit_code == 2
    assert "database_unavailable" in out.stderr and "piguard db upgrade" in out.stderr
