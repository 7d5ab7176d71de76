"""Canonical form, hash chain and signatures: pure functions (O24-13.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from piguard.audit.chain import (
    GENESIS,
    canonical,
    entry_hash,
    iso_utc,
    key_id,
    sign_checkpoint,
    sign_head,
    signature_ok,
)

pytestmark = pytest.mark.obligation("O24-13.6")

T = datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)


def entry(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "seq": 1,
        "time": T,
        "actor_type": "staff",
        "actor_id": "s-1",
        "client_ip": "10.0.0.1",
        "terminal": None,
        "action": "pi.read",
        "subject_ref": "user-9",
        "data_categories": ["user.contact.phone"],
        "purpose": "customer_service",
        "outcome": "ok",
        "obligations": ["O24-13.6"],
        "detail": {"b": 1, "a": [1.5, "中文", None, True]},
    }
    base.update(kw)
    return base


def test_times_are_iso_utc_with_microseconds() -> None:
    assert iso_utc(T) == "2024-05-01T08:00:00.123456Z"
    beijing = T.astimezone(timezone(timedelta(hours=8)))
    assert iso_utc(beijing) == iso_utc(T)
    assert iso_utc(T.replace(microsecond=0)) == "2024-05-01T08:00:00.000000Z"
    with pytest.raises(ValueError):
        iso_utc(T.replace(tzinfo=None))


def test_canonical_is_sorted_compact_utf8_and_ignores_unhashed_fields() -> None:
    raw = canonical(entry())
    assert raw.startswith(b'{"action":"pi.read","actor_id":"s-1"')
    assert "中文".encode() in raw and b" " not in raw.replace(b"customer_service", b"")
    assert canonical(entry(detail={"a": [1.5, "中文", None, True], "b": 1})) == raw  # key order irrelevant
    assert canonical({**entry(), "hash": "x", "prev_hash": "y"}) == raw
    assert canonical(entry(data_categories=("user.contact.phone",))) == raw  # tuple == list


def test_hash_covers_every_field_the_seq_and_the_previous_hash() -> None:
    h = entry_hash(GENESIS, entry())
    assert len(h) == 64 and h == entry_hash(GENESIS, entry())
    for change in (
        {"seq": 2},
        {"outcome": "refused"},
        {"detail": {"b": 2, "a": []}},
        {"terminal": "t"},
        {"time": T + timedelta(microseconds=1)},
    ):
        assert entry_hash(GENESIS, entry(**change)) != h, change
    assert entry_hash("f" * 64, entry()) != h


def test_nan_cannot_enter_the_canonical_form() -> None:
    with pytest.raises(ValueError):
        canonical(entry(detail={"x": float("nan")}))


def test_signatures_depend_on_key_and_are_domain_separated() -> None:
    cp = sign_checkpoint("k1", 10, "a" * 64, T, 10)
    assert signature_ok(cp, sign_checkpoint("k1", 10, "a" * 64, T, 10))
    assert not signature_ok(cp, sign_checkpoint("k2", 10, "a" * 64, T, 10))
    assert not signature_ok(cp, sign_head("k1", 10, "a" * 64, T, 10))  # a head is not a checkpoint
    assert not signature_ok(cp, sign_checkpoint("k1", 11, "a" * 64, T, 11))
    assert not signature_ok(cp, None)
    assert key_id("k1") != key_id("k2") and len(key_id("k1")) == 16 and "k1" not in key_id("k1")
