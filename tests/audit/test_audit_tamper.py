"""Tampering with the stored log is caught by verify and by `piguard audit verify` (O24-13.6).

Each case writes a chain (periodic checkpoints every 4 entries, head signed), tampers with it the
way an intruder with database access but without the HMAC key could, then expects verify to name
the kind of tampering and the first bad seq.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit.chain import entry_hash
from piguard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from piguard.audit.service import Actor, record, verify
from piguard.cli import app as cli_app
from piguard.core.config import reset_settings

pytestmark = pytest.mark.obligation("O24-13.6")

ENTRY = AuditEntry.__table__
HEAD = AuditHead.__table__
CHECKPOINT = AuditCheckpoint.__table__
N = 10


def rows(conn: Connection) -> dict[int, dict[str, Any]]:
    return {int(r["seq"]): dict(r) for r in conn.execute(select(ENTRY).order_by(ENTRY.c.seq)).mappings()}


def alter_field(conn: Connection) -> None:
    conn.execute(update(ENTRY).where(ENTRY.c.seq == 5).values(purpose="marketing"))


def alter_detail(conn: Connection) -> None:
    conn.execute(update(ENTRY).where(ENTRY.c.seq == 5).values(detail={"i": 99}))


def alter_time(conn: Connection) -> None:
    r = rows(conn)[5]
    conn.execute(update(ENTRY).where(ENTRY.c.seq == 5).values(time=r["time"].replace(year=2020)))


def alter_actor_and_fix_own_hash(conn: Connection) -> None:
    r = rows(conn)[5]
    r["actor_id"] = "someone-else"
    conn.execute(
        update(ENTRY)
        .where(ENTRY.c.seq == 5)
        .values(actor_id="someone-else", hash=entry_hash(r["prev_hash"], r))
    )


def delete_middle(conn: Connection) -> None:
    conn.execute(delete(ENTRY).where(ENTRY.c.seq == 5))


def delete_first(conn: Connection) -> None:
    conn.execute(delete(ENTRY).where(ENTRY.c.seq == 1))


def swap(conn: Connection) -> None:
    r = rows(conn)
    for here, there in ((5, 6), (6, 5)):
        values = {k: v for k, v in r[there].items() if k != "seq"}
        conn.execute(update(ENTRY).where(ENTRY.c.seq == here).values(**values))


def truncate_after_last_checkpoint(conn: Connection) -> None:
    conn.execute(delete(ENTRY).where(ENTRY.c.seq > 9))


def truncate_and_drop_signatures(conn: Connection) -> None:
    conn.execute(delete(ENTRY).where(ENTRY.c.seq > 6))
    conn.execute(delete(HEAD))


def truncate_and_move_head(conn: Connection) -> None:
    conn.execute(delete(ENTRY).where(ENTRY.c.seq > 6))
    conn.execute(update(HEAD).values(seq=6, count=6, hash=rows(conn)[6]["hash"]))


def forge_append(conn: Connection) -> None:
    last = rows(conn)[N]
    forged = {**last, "seq": N + 1, "prev_hash": last["hash"], "action": "pi.export"}
    forged["hash"] = entry_hash(last["hash"], forged)
    conn.execute(insert(ENTRY).values(**forged))


def forge_checkpoint_signature(conn: Connection) -> None:
    conn.execute(update(CHECKPOINT).where(CHECKPOINT.c.seq == 4).values(signature="0" * 64))


def rewrite_chain_without_key(conn: Connection) -> None:
    r = rows(conn)
    prev = r[3]["prev_hash"]
    r[3]["purpose"] = "marketing"
    for seq in range(3, N + 1):
        r[seq]["prev_hash"] = prev
        prev = r[seq]["hash"] = entry_hash(prev, r[seq])
        conn.execute(update(ENTRY).where(ENTRY.c.seq == seq).values(**r[seq]))


def delete_head(conn: Connection) -> None:
    conn.execute(delete(HEAD))


CASES = [
    (alter_field, "altered", 5),
    (alter_detail, "altered", 5),
    (alter_time, "altered", 5),
    (alter_actor_and_fix_own_hash, "altered", 5),
    (delete_middle, "deleted", 5),
    (delete_first, "deleted", 1),
    (swap, "reordered", 5),
    (truncate_after_last_checkpoint, "truncated", 10),
    (truncate_and_drop_signatures, "truncated", 7),
    (truncate_and_move_head, "bad_signature", 6),
    (forge_append, "altered", 11),  # its MAC is not the key's
    (forge_checkpoint_signature, "bad_signature", 4),
    (rewrite_chain_without_key, "altered", 3),  # the first rewritten entry, named by its MAC
    (delete_head, "bad_signature", None),
]


@pytest.fixture()
def chain(
    session: Session, write_entries: Callable[..., None], checkpoint_every: Callable[[int], None]
) -> None:
    checkpoint_every(4)
    write_entries(N, per_commit=3)
    assert verify(session).ok


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["audit", *args])


@pytest.mark.parametrize(("tamper_with", "problem", "first_bad"), CASES, ids=[c[0].__name__ for c in CASES])
def test_tampering_is_detected_and_located(
    chain: None,
    session: Session,
    db_engine: Engine,
    tamper_with: Callable[[Connection], None],
    problem: str,
    first_bad: int | None,
) -> None:
    with db_engine.begin() as conn:
        tamper_with(conn)
    result = verify(session)
    session.rollback()
    assert not result.ok
    assert (result.problem, result.first_bad_seq) == (problem, first_bad), result.message_en
    assert result.message_en and result.message_zh and result.obligations == ("O24-13.6",)
    assert result.to_dict()["first_bad_seq"] == first_bad and result.to_dict()["problem"] == problem
    # the same through the CLI: exit 1, kind and seq named
    out = run_cli("verify")
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit), out.output  # not a crash
    text = re.sub(r"\s+", " ", out.output)
    assert "TAMPERED" in text and problem in text
    assert (f"at seq {first_bad}" if first_bad is not None else "at head") in text
    # the CLI recorded its verification: later writes neither reuse a seq nor launder the evidence
    after = verify(session)
    session.rollback()
    if tamper_with is delete_head:  # the chain goes on, but the reset fails verify until acknowledged
        assert not after.ok and after.problem == "head_reset" and after.first_bad_seq == N + 1
        assert after.head_resets == (N + 1,)
        ack = run_cli("acknowledge-reset", str(N + 1), "--reason", "restored the head row after a test")
        assert ack.exit_code == 0, ack.output
        acknowledged = verify(session)
        session.rollback()
        assert acknowledged.ok, acknowledged.message_en
        return
    else:
        assert not after.ok and after.first_bad_seq is not None and after.first_bad_seq <= N + 1
    out = run_cli("verify", "--format", "json")
    assert out.exit_code == (0 if after.ok else 1)
    assert (
        f'"first_bad_seq": {after.first_bad_seq if after.first_bad_seq is not None else "null"}' in out.output
    )


def test_cli_verify_reports_an_intact_log(chain: None) -> None:
    out = run_cli("verify")
    assert out.exit_code == 0, out.output
    text = re.sub(r"\s+", " ", out.output)
    assert f"{N} entries checked" in text and f"head / 链头: seq {N} hash " in text
    out = run_cli("verify")  # the first verify was itself recorded, and the chain is still intact
    assert out.exit_code == 0 and f"{N + 1} entries checked" in re.sub(r"\s+", " ", out.output)


def test_a_changed_key_is_reported_as_such(
    chain: None, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIGUARD_AUDIT_HMAC_KEY", "another-key")
    reset_settings()
    result = verify(session)
    assert (result.problem, result.first_bad_seq) == ("bad_signature", N)
    assert "another key" in result.message_en


def test_truncation_far_behind_the_head_points_at_the_first_missing_entry(
    chain: None, session: Session, db_engine: Engine
) -> None:
    with db_engine.begin() as conn:
        conn.execute(delete(ENTRY).where(ENTRY.c.seq > 2))
    result = verify(session)
    assert (result.problem, result.first_bad_seq, result.checked) == ("truncated", 3, 2)


def test_swapped_rows_far_apart_are_still_caught(chain: None, session: Session, db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        r = rows(conn)
        for here, there in ((2, 9), (9, 2)):
            conn.execute(
                update(ENTRY)
                .where(ENTRY.c.seq == here)
                .values(**{k: v for k, v in r[there].items() if k != "seq"})
            )
    result = verify(session)
    assert (result.problem, result.first_bad_seq) == ("reordered", 2)
    assert "content of entry 9" in result.message_en


def test_a_rotated_key_keeps_everything_it_signed_verifiable(
    chain: None, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9.2: the audit HMAC key rotates; old entries, checkpoints and the head stay verifiable
    while the retired key is kept in PIGUARD_AUDIT_HMAC_OLD_KEYS, and new ones use the new key."""
    old = os.environ.get("PIGUARD_AUDIT_HMAC_KEY", "dev-audit-hmac-key-change-me")
    monkeypatch.setenv("PIGUARD_AUDIT_HMAC_KEY", "the-new-audit-key-0123456789abcdef")
    monkeypatch.setenv("PIGUARD_AUDIT_HMAC_OLD_KEYS", old)
    reset_settings()
    assert verify(session).ok
    session.rollback()
    record(session, action="pi.read", actor=Actor("staff", "staff-1"))
    session.commit()  # the head is re-signed with the new key, with no head reset
    result = verify(session)
    assert result.ok and result.head_resets == () and result.checked == N + 1, result.message_en
    session.rollback()
    monkeypatch.setenv("PIGUARD_AUDIT_HMAC_OLD_KEYS", "")  # the old key thrown away too early
    reset_settings()
    result = verify(session)
    assert not result.ok and result.first_bad_seq == 1 and result.problem == "altered"
    monkeypatch.delenv("PIGUARD_AUDIT_HMAC_OLD_KEYS")
    reset_settings()
