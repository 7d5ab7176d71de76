"""The anchor outside the database (PIGUARD_AUDIT_ANCHOR_FILE, O24-13.6): a log emptied of every
row, head and checkpoints included, and written to again, is a new self-consistent log to the
database; the last signed head line kept in the anchor file tells, with no --expect-head."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit import anchor
from piguard.audit.chain import parse_head_line
from piguard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from piguard.audit.service import Actor, checkpoint, record, verify
from piguard.cli import app as cli_app
from piguard.core.config import reset_settings
from piguard.core.errors import PiguardError

pytestmark = pytest.mark.obligation("O24-13.6")

TABLES = (AuditEntry.__table__, AuditCheckpoint.__table__, AuditHead.__table__)
STAFF = Actor("staff", "staff-1")


@pytest.fixture()
def anchor_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "worm" / "audit-anchor.txt"
    monkeypatch.setenv("PIGUARD_AUDIT_ANCHOR_FILE", str(path))
    reset_settings()
    yield path
    reset_settings()


def _anchor_now(session: Session) -> str:
    line = checkpoint(session).head_line
    session.commit()
    anchor.append(line)
    return line


def test_no_anchor_configured_changes_nothing(session: Session, write_entries: Callable[..., None]) -> None:
    write_entries(3)
    assert anchor.anchor_path() is None and anchor.latest() is None
    result = verify(session)
    assert result.ok and result.anchor is None


def test_an_emptied_log_written_to_again_fails_against_the_anchor(
    anchor_file: Path, session: Session, write_entries: Callable[..., None], db_engine: Engine
) -> None:
    write_entries(6, per_commit=2)
    _anchor_now(session)
    write_entries(2)
    result = verify(session)
    assert result.ok and result.anchor == str(anchor_file), result.message_en
    session.rollback()
    with db_engine.begin() as conn:
        for t in TABLES:
            conn.execute(delete(t))
    record(session, action="pi.read", actor=STAFF)  # an ordinary write starts a "new" log
    session.commit()
    result = verify(session)
    assert not result.ok and result.problem in ("truncated", "rewritten"), result.message_en
    assert result.anchor == str(anchor_file)
    out = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert out.exit_code == 1 and "TAMPERED" in out.output


def test_a_rewritten_log_longer_than_the_anchor_is_caught_at_the_anchored_entry(
    anchor_file: Path, session: Session, write_entries: Callable[..., None], db_engine: Engine
) -> None:
    write_entries(3)
    line = _anchor_now(session)
    seq = parse_head_line(line)[0]
    with db_engine.begin() as conn:
        for t in TABLES:
            conn.execute(delete(t))
    write_entries(8)  # a new chain, past the anchored seq, with other hashes
    result = verify(session)
    assert not result.ok and result.problem == "rewritten", result.message_en
    assert result.first_bad_seq == seq


def test_checkpoint_cli_appends_the_line_and_verify_names_the_anchor(
    anchor_file: Path, session: Session, write_entries: Callable[..., None]
) -> None:
    write_entries(4)
    out = CliRunner().invoke(cli_app, ["audit", "checkpoint"])
    assert out.exit_code == 0, out.output
    lines = anchor_file.read_text("ascii").splitlines()
    assert len(lines) == 1 and lines[0] in out.output.replace("\n", "")
    CliRunner().invoke(cli_app, ["audit", "checkpoint"])
    assert len(anchor_file.read_text("ascii").splitlines()) == 2  # appended, never rewritten
    out = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert out.exit_code == 0 and str(anchor_file) in out.output.replace("\n", "")


def test_a_corrupt_anchor_is_a_clear_error_not_intact(
    anchor_file: Path, session: Session, write_entries: Callable[..., None]
) -> None:
    write_entries(2)
    anchor_file.parent.mkdir(parents=True)
    anchor_file.write_text("seq=1 this is not a signed line\n", "ascii")
    with pytest.raises(PiguardError) as err:
        verify(session)
    assert err.value.code == "audit_anchor_unusable" and "O24-13.6" in err.value.obligations
    out = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert out.exit_code == 2 and "Traceback" not in out.output and "anchor" in out.output


def test_the_worker_anchors_the_head_it_verified(
    anchor_file: Path, session: Session, write_entries: Callable[..., None]
) -> None:
    from piguard import worker

    write_entries(3)
    failed: list[str] = []
    out = worker._verify_audit_when_due(failed)
    assert out is not None and out["ok"] and out["anchored"] == str(anchor_file) and not failed
    line = anchor_file.read_text("ascii").splitlines()[-1]
    assert verify(session, expect_head=line).ok
