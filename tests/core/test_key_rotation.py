"""``piguard keys rotate`` on both databases (O24-10): interrupted and resumed (stopped between
batches, and killed with SIGKILL mid-run), a wrong or unknown old key refused with nothing changed,
old ``v1:`` values readable, look-ups by keyed hash still finding every row after rotation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, Table, func, select, text
from sqlalchemy.orm import Session
from tests.conftest import POSTGRES_URL  # type: ignore[import-not-found]
from tests.messaging.gw_setup import USER, ad, at_noon, build_registry, give_consent  # type: ignore[import-not-found]
from typer.testing import CliRunner

from piguard.audit.models import AuditEntry
from piguard.cli import app as cli_app
from piguard.core import crypto
from piguard.core.config import reset_settings
from piguard.core.crypto import rotation
from piguard.core.crypto.models import CryptoRotation, CryptoRotationColumn
from piguard.core.db import Base
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import ContentProvider, MessageRecord, OutboxMessage
from piguard.messaging.records import service as records

pytestmark = pytest.mark.obligation("O24-10", "CSL-40")

K2 = "k2-secret-" + "2" * 40
K3 = "k3-secret-" + "3" * 40
OTHER = [f"1390000{n:04d}" for n in range(40)]


def _env(mp: pytest.MonkeyPatch, **values: str) -> None:
    for k, v in values.items():
        mp.setenv(f"PIGUARD_{k.upper()}", v)
    reset_settings()


@pytest.fixture()
def seeded(session: Session) -> Iterator[Session]:
    """Records, outbox rows and content providers written under the original v1 key."""
    reg = build_registry(session)
    give_consent(session, reg, max_messages=10)
    for r in [USER, *OTHER]:
        if r != USER:
            give_consent(session, reg, recipient=r, max_messages=10)
    submit(session, [ad(r) for r in [USER, *OTHER]], now=at_noon())
    submit(session, [ad(USER)], now=at_noon())
    session.commit()
    yield session


def _values(session: Session) -> dict[str, dict[int, str]]:
    """Every encrypted column's raw values by row id."""
    out: dict[str, dict[int, str]] = {}
    for c in crypto.encrypted_columns():
        t = Base.metadata.tables[c.table]
        raw = select(t.c[c.key], t.c[c.column]).where(t.c[c.column].is_not(None))
        out[f"{c.table}.{c.column}"] = {int(i): v for i, v in session.execute(raw)}
    session.rollback()
    return out


def _clear(values: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
    return {col: {i: crypto.decrypt(v) for i, v in rows.items()} for col, rows in values.items()}


def _keys_used(values: dict[str, dict[int, str]]) -> set[str]:
    return {crypto.key_id_of(v) for rows in values.values() for v in rows.values()}


def _run(*argv: str) -> Any:
    return CliRunner().invoke(cli_app, ["keys", *argv])


def _lookups(session: Session) -> int:
    """A look-up by keyed hash: the user's records, found by the hash of their number."""
    found = records.records_search(session, records.RecordQuery(recipient=USER, channel="sms", limit=100))
    session.rollback()
    return len(found)


def test_rotation_stopped_between_batches_resumes_and_finishes(
    seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = seeded
    before = _values(session)
    clear = _clear(before)
    assert _keys_used(before) == {"v1"} and sum(len(v) for v in before.values()) > 80
    hits = _lookups(session)
    assert hits == 2
    _env(monkeypatch, field_keys=f"k2:{K2}")

    # old ciphertexts stay readable under the new configuration, new ones are written under k2
    assert _clear(_values(session)) == clear
    out = _run("rotate", "--batch-size", "7", "--max-batches", "4")
    assert out.exit_code == 0, out.output
    assert "paused" in out.output
    mid = _values(session)
    assert _keys_used(mid) == {"v1", "k2"}
    assert _clear(mid) == clear, "half-way, every value is readable"
    job = session.scalars(select(CryptoRotation)).one()
    assert job.status == "running" and 0 < job.rows_done <= 28 < sum(len(v) for v in before.values())
    session.rollback()

    out = _run("status", "--format", "json")
    assert out.exit_code == 0 and '"k2"' in out.output and '"running"' in out.output

    out = _run("rotate", "--batch-size", "7")
    assert out.exit_code == 0, out.output
    assert "resuming" in out.output and "done" in out.output
    after = _values(session)
    assert _keys_used(after) == {"k2"}
    assert _clear(after) == clear, "each value re-encrypted exactly once"
    assert all(after[c][i] != before[c][i] for c in before for i in before[c])
    job = session.scalars(select(CryptoRotation)).one()
    assert job.status == "done" and job.rows_done == sum(len(v) for v in before.values())
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("crypto.%"))))
    assert actions == {"crypto.rotation_started", "crypto.rotation_resumed", "crypto.rotation_finished"}
    session.rollback()

    # look-ups by keyed hash find the same rows; the gateway still finds the consents by hash
    assert _lookups(session) == hits
    [r] = submit(session, [ad(USER)], now=at_noon())
    assert r.outcome == "allow", r
    session.commit()
    newest = session.scalars(select(OutboxMessage.recipient_enc).order_by(OutboxMessage.id.desc())).first()
    assert newest and newest.startswith("k2:") and crypto.decrypt(newest) == "+8613812345678"

    # v1 retired: with PIGUARD_FIELD_KEY emptied (blind-index key kept) everything is still readable
    _env(monkeypatch, field_key="", blind_index_key="dev-field-key-change-me")
    assert "v1" not in crypto.keyring().keys
    now_clear = _clear(_values(session))
    assert all(now_clear[c][i] == v for c in clear for i, v in clear[c].items())
    assert _lookups(session) == hits + 1
    out = _run("rotate")
    assert out.exit_code == 0, out.output  # nothing left to do, but the check passes
    session.rollback()


def test_a_wrong_old_key_is_refused_and_nothing_changes(
    seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = seeded
    _env(monkeypatch, field_keys=f"k2:{K2}")
    assert _run("rotate").exit_code == 0
    before = _values(session)
    assert _keys_used(before) == {"k2"}

    # k2 configured with another secret, rotating to k3
    _env(monkeypatch, field_keys=f"k2:{K3[::-1]},k3:{K3}")
    out = _run("rotate")
    assert out.exit_code == 2, out.output
    assert "field_key_wrong" in out.output and "'k2'" in out.output and "Traceback" not in out.output
    assert K3[::-1] not in out.output and K2 not in out.output
    assert _values(session) == before
    assert session.scalar(select(func.count()).select_from(CryptoRotation)) == 1  # no new job
    session.rollback()

    # k2 not configured at all
    _env(monkeypatch, field_keys=f"k3:{K3}")
    out = _run("rotate")
    assert out.exit_code == 2 and "field_key_unknown" in out.output and "'k2'" in out.output
    assert _values(session) == before

    # a key id whose fingerprint was recorded is checked even where no value uses it any more
    _env(monkeypatch, field_keys=f"k2:{K2},k3:{K3}")
    out = _run("rotate")
    assert out.exit_code == 0, out.output
    assert _keys_used(_values(session)) == {"k3"}
    _env(monkeypatch, field_keys=f"k2:{K3},k3:{K3}")
    out = _run("rotate")
    assert out.exit_code == 2 and "field_key_wrong" in out.output and "'k2'" in out.output
    status = _run("status")
    assert "DIFFERS" in status.output

    # a changed blind-index key would break every look-up: refused
    _env(monkeypatch, field_keys=f"k2:{K2},k3:{K3}", blind_index_key="a-new-blind-index-key-0123456789abcdef")
    out = _run("rotate")
    assert out.exit_code == 2 and "blind_index_key_changed" in out.output
    session.rollback()


def test_a_value_a_key_does_not_open_stops_the_batch_and_rolls_it_back(
    seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row tampered with (or written with another secret) after the start: the batch is refused
    with the key id and the row's place, and nothing of that batch is written."""
    session = seeded
    _env(monkeypatch, field_keys=f"k2:{K2}")
    with session.begin():
        info, _ = rotation.start(session)
    forged = crypto.encrypt(
        "+8613999999999", key_id="v1", ring=crypto.keys.build(_settings_with(field_key="x" * 40))
    )
    last = session.scalar(select(func.max(MessageRecord.id)))
    session.execute(
        MessageRecord.__table__.update().where(MessageRecord.id == last).values(recipient_enc=forged)
    )  # type: ignore[attr-defined]
    session.commit()
    before = _values(session)
    with pytest.raises(Exception) as e, session.begin():
        for _ in range(50):
            rotation.step(session, info.ref, batch_size=1000)
    assert getattr(e.value, "code", None) == "field_key_wrong"
    assert f"msg_records.recipient_enc id {last}" in e.value.message_en  # type: ignore[attr-defined]
    session.rollback()
    after = _values(session)
    assert after["msg_records.recipient_enc"] == before["msg_records.recipient_enc"]


def _settings_with(**values: str) -> Any:
    from piguard.core.config import Settings

    return Settings(**values)  # type: ignore[arg-type]


def test_an_encrypted_text_column_of_any_domain_is_rotated(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A domain declares ``EncryptedText``: values are encrypted on the way in, the rotation finds
    the column by its type, look-ups go by a blind-index column."""
    t = Table(
        "test_crypto_people",
        Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("id_number", crypto.EncryptedText("id_card")),
        Column("id_number_hash", crypto.EncryptedText.impl, nullable=True),
    )
    try:
        t.create(db_engine)
        with db_engine.begin() as conn:
            for n in range(12):
                v = f"1101051949123100{n:02d}"
                conn.execute(
                    t.insert().values(id=n + 1, id_number=v, id_number_hash=crypto.blind_index("id_card", v))
                )
            raw = conn.execute(text("SELECT id_number FROM test_crypto_people")).scalars().all()
        assert all(r.startswith("v1:") and "110105" not in r for r in raw)
        _env(monkeypatch, field_keys=f"k2:{K2}")
        assert any(c.table == "test_crypto_people" for c in crypto.encrypted_columns())
        assert _run("rotate", "--batch-size", "5").exit_code == 0
        with db_engine.connect() as conn:
            raw = conn.execute(text("SELECT id_number FROM test_crypto_people")).scalars().all()
            assert all(r.startswith("k2:") for r in raw)
            row = conn.execute(
                select(t.c.id_number).where(
                    t.c.id_number_hash == crypto.blind_index("id_card", "110105194912310007")
                )
            ).one()
        assert row.id_number == "110105194912310007"
    finally:
        t.drop(db_engine, checkfirst=True)
        Base.metadata.remove(t)


def _subprocess_url(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


@pytest.mark.slow
def test_a_rotation_killed_mid_run_resumes_with_every_value_readable(
    seeded: Session, db_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    session = seeded
    before = _values(session)
    clear = _clear(before)
    env = {**os.environ, "PIGUARD_DATABASE_URL": _subprocess_url(db_engine), "PIGUARD_FIELD_KEYS": f"k2:{K2}"}
    env["PIGUARD_DATA_DIR"] = str(tmp_path / "var")
    proc = subprocess.Popen(
        [sys.executable, "-m", "piguard.cli", "keys", "rotate", "--batch-size", "3", "--pause", "0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        done = 0
        while proc.poll() is None:
            done = session.scalar(select(func.coalesce(func.sum(CryptoRotationColumn.rows), 0))) or 0
            session.rollback()
            if done >= 12:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode() if proc.stdout else ""
    job = session.scalars(select(CryptoRotation)).one()
    assert job.status == "running"
    session.rollback()
    mid = _values(session)
    _env(monkeypatch, field_keys=f"k2:{K2}")
    assert _keys_used(mid) == {"v1", "k2"} and _clear(mid) == clear
    out = _run("rotate", "--batch-size", "50")
    assert out.exit_code == 0 and "resuming" in out.output, out.output
    after = _values(session)
    assert _keys_used(after) == {"k2"} and _clear(after) == clear
    job = session.scalars(select(CryptoRotation)).one()
    assert job.status == "done" and job.rows_done == sum(len(v) for v in before.values())
    session.rollback()


def test_values_written_under_the_old_key_meanwhile_are_swept(
    seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process still on the former key writes after the rotation passed its rows: the final
    sweep re-encrypts them too."""
    session = seeded
    _env(monkeypatch, field_keys=f"k2:{K2}")
    with session.begin():
        info, _ = rotation.start(session)
    with session.begin():
        while session.scalar(select(func.count()).where(CryptoRotationColumn.done.is_(False))):
            rotation.step(session, info.ref, batch_size=1000)
    # every column went through; a straggler (old configuration) writes a v1 value
    late = crypto.encrypt("+8613700000000", key_id="v1")
    session.execute(
        OutboxMessage.__table__.insert().values(
            message_ref="late", channel="sms", sender="106900", recipient_enc=late, content="x"
        )
    )  # type: ignore[attr-defined]
    session.commit()
    with session.begin():
        res = rotation.step(session, info.ref)
        assert not res.finished
        while not (res := rotation.step(session, info.ref)).finished:
            pass
    v = session.scalar(select(OutboxMessage.recipient_enc).where(OutboxMessage.message_ref == "late")) or ""
    assert v.startswith("k2:") and crypto.decrypt(v) == "+8613700000000"
    assert session.scalars(select(CryptoRotation.sweeps)).one() == 1
    session.rollback()


def test_no_rotation_and_bad_batch_are_clear_errors(session: Session) -> None:
    from piguard.core.errors import PiguardError

    with pytest.raises(PiguardError) as e:
        rotation.step(session, "nope")
    assert e.value.code == "rotation_not_running"
    out = _run("rotate", "--batch-size", "0")
    assert out.exit_code == 2 and "batch-size" in out.output
    assert session.scalar(select(func.count()).select_from(ContentProvider)) == 0
