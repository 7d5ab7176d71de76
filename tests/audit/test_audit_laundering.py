"""The audit log cannot be laundered (issue 14.5, O24-13.6).

An intruder with database access but without the audit key rewrites the chain or cuts its tail,
removes the signed head and lets an ordinary write happen (the writer then resets the head), or
empties every audit table. Each must fail `audit verify`, naming the first altered entry.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit.chain import entry_hash, head_line
from piguard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from piguard.audit.service import Actor, acknowledge_reset, checkpoint, record, verify
from piguard.cli import app as cli_app
from piguard.core.errors import PiguardError
from piguard.identity import service as identity

pytestmark = pytest.mark.obligation("O24-13.6")

ENTRY, HEAD, CHECKPOINT = AuditEntry.__table__, AuditHead.__table__, AuditCheckpoint.__table__
STAFF = Actor("staff", "staff-1")
N = 10


@pytest.fixture()
def chain(
    session: Session, write_entries: Callable[..., None], checkpoint_every: Callable[[int], None]
) -> None:
    checkpoint_every(4)
    write_entries(N, per_commit=3)
    assert verify(session).ok
    session.rollback()


def _rewrite_from(conn: Connection, start: int) -> None:
    """Alter entry ``start`` and recompute every hash after it, as one without the key would."""
    r = {row["seq"]: dict(row) for row in conn.execute(select(ENTRY).order_by(ENTRY.c.seq)).mappings()}
    prev = r[start]["prev_hash"]
    r[start]["purpose"] = "marketing"
    for seq in range(start, max(r) + 1):
        r[seq]["prev_hash"] = prev
        prev = r[seq]["hash"] = entry_hash(prev, r[seq])
        conn.execute(update(ENTRY).where(ENTRY.c.seq == seq).values(**r[seq]))


def test_rewrite_then_head_removed_then_a_write_is_not_intact(
    chain: None, session: Session, db_engine: Engine
) -> None:
    with db_engine.begin() as conn:
        _rewrite_from(conn, 6)
        conn.execute(delete(CHECKPOINT).where(CHECKPOINT.c.seq >= 6))
        conn.execute(delete(HEAD))
    record(session, action="pi.read", actor=STAFF)  # an ordinary write resets the head
    session.commit()
    result = verify(session)
    assert not result.ok
    assert (result.problem, result.first_bad_seq) == ("altered", 6), result.message_en


def test_cut_tail_then_head_removed_then_a_write_fails_until_acknowledged(
    chain: None, session: Session, db_engine: Engine
) -> None:
    with db_engine.begin() as conn:
        conn.execute(delete(ENTRY).where(ENTRY.c.seq > 9))
        conn.execute(delete(CHECKPOINT).where(CHECKPOINT.c.seq > 9))
        conn.execute(delete(HEAD))
    record(session, action="pi.read", actor=STAFF)
    session.commit()
    result = verify(session)
    assert not result.ok and result.problem == "head_reset" and result.first_bad_seq == N
    assert "acknowledge-reset" in result.message_en and "确认" in result.message_zh
    out = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert out.exit_code == 1 and "head_reset" in out.output


def test_an_acknowledgement_must_name_a_reset(chain: None, session: Session) -> None:
    with pytest.raises(PiguardError) as err:
        acknowledge_reset(session, reset_seq=3, reason="nothing", actor=STAFF)
    assert err.value.code == "audit_not_a_reset" and "O24-13.6" in err.value.obligations
    out = CliRunner().invoke(cli_app, ["audit", "acknowledge-reset", "999", "--reason", "x"])
    assert out.exit_code == 2 and "Traceback" not in out.output


def test_a_forged_acknowledgement_is_an_altered_entry(
    chain: None, session: Session, db_engine: Engine
) -> None:
    with db_engine.begin() as conn:
        conn.execute(delete(HEAD))
    record(session, action="pi.read", actor=STAFF)
    session.commit()
    reset = verify(session).first_bad_seq
    session.rollback()
    assert reset is not None
    with db_engine.begin() as conn:  # an intruder appends an "acknowledgement" without the key
        last = dict(conn.execute(select(ENTRY).order_by(ENTRY.c.seq.desc()).limit(1)).mappings().one())
        forged = {
            **last,
            "seq": last["seq"] + 1,
            "prev_hash": last["hash"],
            "action": "audit.head_reset_acknowledged",
            "detail": {"reset_seq": reset, "reason": "nothing to see"},
        }
        forged["hash"] = entry_hash(last["hash"], forged)
        conn.execute(ENTRY.insert().values(**forged))
        conn.execute(update(HEAD).values(seq=forged["seq"], count=forged["seq"], hash=forged["hash"]))
    result = verify(session)
    assert not result.ok and result.first_bad_seq is not None and result.first_bad_seq <= last["seq"] + 1


def test_every_audit_table_emptied_is_detected(chain: None, session: Session, db_engine: Engine) -> None:
    identity.create_staff(session, username="alice", password="Correct-Horse-9!x", roles=["auditor"])
    session.commit()
    line = checkpoint(session).head_line
    session.commit()
    assert verify(session, expect_head=line).ok
    session.rollback()
    with db_engine.begin() as conn:
        for t in (ENTRY, CHECKPOINT, HEAD):
            conn.execute(delete(t))
    result = verify(session)  # staff rows exist, each created with an audit entry
    assert not result.ok and result.problem == "emptied", result.message_en
    session.rollback()
    result = verify(session, expect_head=line)  # the line kept outside vouches for what is gone
    assert not result.ok and result.problem == "truncated" and result.first_bad_seq == 1
    out = CliRunner().invoke(cli_app, ["audit", "verify", "--expect-head", line])
    assert out.exit_code == 1


def test_expect_head_catches_a_cut_tail_and_a_forged_line(
    chain: None, session: Session, db_engine: Engine
) -> None:
    info = checkpoint(session)
    session.commit()
    with db_engine.begin() as conn:  # cut the tail and everything that vouches for it
        conn.execute(delete(ENTRY).where(ENTRY.c.seq > 6))
        conn.execute(delete(CHECKPOINT).where(CHECKPOINT.c.seq > 6))
        conn.execute(delete(HEAD))
    result = verify(session, expect_head=info.head_line)
    assert not result.ok and result.problem in ("truncated", "bad_signature")
    session.rollback()
    forged = head_line(info.seq, info.hash, info.time, "0" * 64)
    result = verify(session, expect_head=forged)
    assert not result.ok and result.problem == "bad_signature"
    session.rollback()
    with pytest.raises(PiguardError) as err:
        verify(session, expect_head="not a line")
    assert err.value.code == "validation_error"
    out = CliRunner().invoke(cli_app, ["audit", "verify", "--expect-head", "garbage"])
    assert out.exit_code == 2 and "Traceback" not in out.output


def test_checkpoint_prints_the_line_to_keep(chain: None) -> None:
    out = CliRunner().invoke(cli_app, ["audit", "checkpoint"])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("piguard-audit-head v1 "))
    out = CliRunner().invoke(cli_app, ["audit", "verify", "--expect-head", line])
    assert out.exit_code == 0, out.output
