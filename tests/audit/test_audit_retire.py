"""Verifying from a signed checkpoint and retiring the entries before it (O24-13.6), both databases.

``audit verify --from-checkpoint N`` starts at the signed checkpoint at seq N; ``audit retire
--before-checkpoint N --yes`` deletes the entries up to it after verifying the whole chain, and
plain ``verify`` then starts from that checkpoint by itself. Leading entries deleted without a
retirement, tampering in what is kept, and a forged base checkpoint are still caught.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit.models import AuditCheckpoint, AuditEntry
from piguard.audit.service import Actor, Problem, retire, verify
from piguard.cli import app as cli_app
from piguard.core.config import reset_settings
from piguard.core.errors import PiguardError

pytestmark = pytest.mark.obligation("O24-13.6")

ENTRY = AuditEntry.__table__
CHECKPOINT = AuditCheckpoint.__table__
ADMIN = Actor("staff", "dpo-1")


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["audit", *args], env={"COLUMNS": "200"})


@pytest.fixture()
def chain(
    session: Session, write_entries: Callable[..., None], checkpoint_every: Callable[[int], None]
) -> Session:
    checkpoint_every(4)
    write_entries(12, per_commit=3)  # checkpoints at 4, 8, 12
    return session


def _count(session: Session) -> int:
    n = session.scalar(select(func.count()).select_from(ENTRY)) or 0
    session.rollback()
    return n


def test_verify_from_a_checkpoint_reads_only_what_follows(
    chain: Session, tamper: Callable[..., None]
) -> None:
    session = chain
    full = verify(session)
    assert full.ok and full.checked == 12 and full.from_checkpoint is None
    part = verify(session, from_checkpoint=8)
    assert part.ok and part.checked == 4 and part.from_checkpoint == 8 and "seq 8" in part.message_en
    session.rollback()
    tamper("UPDATE audit_entry SET purpose = 'marketing' WHERE seq = 3")
    assert not verify(session).ok
    assert verify(session, from_checkpoint=4).ok, "what comes before the checkpoint is not read"
    session.rollback()
    tamper("UPDATE audit_entry SET purpose = 'marketing' WHERE seq = 10")
    bad = verify(session, from_checkpoint=8)
    assert not bad.ok and bad.problem is Problem.ALTERED and bad.first_bad_seq == 10
    session.rollback()


def test_a_checkpoint_that_does_not_exist_is_a_clear_error(chain: Session) -> None:
    with pytest.raises(PiguardError) as e:
        verify(chain, from_checkpoint=5)
    assert e.value.code == "audit_checkpoint_unknown" and "5" in e.value.message_en and e.value.message_zh
    chain.rollback()
    out = _cli("verify", "--from-checkpoint", "5")
    assert out.exit_code == 2 and "audit_checkpoint_unknown" in out.output and "Traceback" not in out.output
    with pytest.raises(PiguardError) as e:
        retire(chain, before_checkpoint=7, actor=ADMIN)
    assert e.value.code == "audit_checkpoint_unknown"
    chain.rollback()
    assert _count(chain) == 12


def test_retire_deletes_up_to_the_checkpoint_and_verify_stays_intact(
    chain: Session, write_entries: Callable[..., None]
) -> None:
    session = chain
    out = _cli("retire", "--before-checkpoint", "8")  # without --yes: only says what would go
    assert out.exit_code == 0 and "8 entries" in out.output and "--yes" in out.output, out.output
    assert _count(session) == 12

    out = _cli("retire", "--before-checkpoint", "8", "--yes")
    assert out.exit_code == 0, out.output
    assert "8 entries" in out.output and "piguard-audit-head v1 seq=8" in out.output
    first = session.scalar(select(func.min(ENTRY.c.seq)))
    retired = session.scalars(select(ENTRY.c.detail).where(ENTRY.c.action == "audit.retire")).one()
    assert first == 9 and retired["through_seq"] == 8 and retired["entries"] == 8
    assert session.scalars(select(CHECKPOINT.c.seq).order_by(CHECKPOINT.c.seq)).all() == [8, 12]
    session.rollback()

    result = verify(session)
    assert result.ok and result.from_checkpoint == 8, result.message_en
    session.rollback()
    out = _cli("verify")
    assert out.exit_code == 0 and "intact" in out.output and "seq / 起始签名检查点序号: 8" in out.output, (
        out.output
    )

    # the log goes on; a second retirement moves the start again
    write_entries(5)
    cp = session.scalar(select(func.max(CHECKPOINT.c.seq)))
    session.rollback()
    done = retire(session, before_checkpoint=int(cp), actor=ADMIN)
    session.commit()
    assert done.through_seq == cp and verify(session).ok and verify(session).from_checkpoint == cp
    session.rollback()
    with pytest.raises(PiguardError) as e:
        retire(session, before_checkpoint=8, actor=ADMIN)
    assert e.value.code in ("audit_nothing_to_retire", "audit_checkpoint_unknown")
    session.rollback()
    out = _cli("verify", "--from-checkpoint", "4")
    assert out.exit_code == 2 and ("audit_checkpoint_unknown" in out.output or "retired" in out.output)


def test_a_chain_that_does_not_verify_is_never_retired(chain: Session, tamper: Callable[..., None]) -> None:
    tamper("UPDATE audit_entry SET actor_id = 'someone-else' WHERE seq = 6")
    out = _cli("retire", "--before-checkpoint", "8", "--yes")
    assert out.exit_code == 1 and "audit_not_intact" in out.output and "6" in out.output, out.output
    assert _count(chain) == 12, "nothing deleted"
    out = _cli("retire", "--before-checkpoint", "12", "--yes")
    assert out.exit_code == 1 and _count(chain) == 12


def test_leading_entries_deleted_without_a_retirement_are_caught(
    chain: Session, tamper: Callable[..., None]
) -> None:
    """An intruder deletes entries up to a checkpoint, as a retirement would, but cannot sign the
    audit.retire entry that records one."""
    tamper("DELETE FROM audit_entry WHERE seq <= 8")
    tamper("DELETE FROM audit_checkpoint WHERE seq < 8")
    result = verify(chain)
    assert not result.ok and result.problem is Problem.DELETED and result.first_bad_seq == 1
    assert "audit.retire" in result.message_en
    chain.rollback()
    tamper("DELETE FROM audit_entry WHERE seq <= 9")  # and not even up to a checkpoint
    result = verify(chain)
    assert not result.ok and result.problem is Problem.DELETED
    chain.rollback()


def test_a_forged_base_checkpoint_is_caught(chain: Session) -> None:
    retire(chain, before_checkpoint=8, actor=ADMIN)
    chain.commit()
    chain.execute(update(CHECKPOINT).where(CHECKPOINT.c.seq == 8).values(hash="f" * 64))
    chain.commit()
    result = verify(chain)
    assert not result.ok and result.problem is Problem.BAD_SIGNATURE and result.first_bad_seq == 8
    chain.rollback()


def test_the_base_checkpoint_stays_verifiable_after_an_audit_key_rotation(
    chain: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    retire(chain, before_checkpoint=8, actor=ADMIN)
    chain.commit()
    monkeypatch.setenv("PIGUARD_AUDIT_HMAC_KEY", secrets.token_hex(32))
    monkeypatch.setenv("PIGUARD_AUDIT_HMAC_OLD_KEYS", "dev-audit-hmac-key-change-me")
    reset_settings()
    assert verify(chain).ok
    chain.rollback()
    monkeypatch.setenv("PIGUARD_AUDIT_HMAC_OLD_KEYS", "")
    reset_settings()
    result = verify(chain)
    assert not result.ok and result.problem is Problem.BAD_SIGNATURE
    chain.rollback()


def test_deleting_a_checkpoint_row_does_not_hide_a_truncation(chain: Session) -> None:
    """Retirement keeps the base checkpoint; removing it leaves the missing entries unexplained."""
    retire(chain, before_checkpoint=8, actor=ADMIN)
    chain.commit()
    chain.execute(delete(CHECKPOINT).where(CHECKPOINT.c.seq == 8))
    chain.commit()
    result = verify(chain)
    assert not result.ok and result.problem is Problem.DELETED
    chain.rollback()
