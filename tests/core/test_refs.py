"""piguard's own references are never taken for PI (issue 14.8): the log redactor and the audit
log's guard rewrote hex batch references (``2b[redacted]aa38…``), so they no longer matched."""

from __future__ import annotations

import pytest

from piguard.audit.guard import clean_detail, looks_like_pi
from piguard.core.logging import redact
from piguard.core.refs import new_ref

pytestmark = pytest.mark.obligation("O24-13.6", "O31-11")


def test_references_are_never_redacted_or_refused() -> None:
    refs = [new_ref() for _ in range(20_000)]
    assert len(set(refs)) == len(refs) and all(len(r) == 26 for r in refs)
    for r in refs:
        assert redact(r) == r
        assert not looks_like_pi(r)
        assert clean_detail({"batch_ref": r}) == {"batch_ref": r}


def test_the_old_hex_form_was_mangled() -> None:
    # what happened before: a hex reference with a phone-like run was rewritten
    assert redact("2b13812345678aa38f00d") != "2b13812345678aa38f00d"


def test_as_row_id_takes_ascii_digits_within_bigint_only() -> None:
    from piguard.core.refs import as_row_id

    assert as_row_id("12") == 12 and as_row_id(" 7 ") == 7 and as_row_id(3) == 3
    for bad in ("²", "١٢", "", "  ", "-1", "1e3", "9" * 20, str(2**63), True, None, 2.0, -5):
        assert as_row_id(bad) is None, bad
    assert as_row_id(str(2**63 - 1)) == 2**63 - 1


def test_new_ref_is_rfc4648_base32_of_its_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import os

    from piguard.core import refs

    for raw in (bytes(16), b"\xff" * 16, bytes(range(16)), *(os.urandom(16) for _ in range(2000))):
        monkeypatch.setattr(refs.os, "urandom", lambda n, raw=raw: raw)
        assert refs.new_ref() == base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def test_a_batch_of_refs_is_base32_of_its_own_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``refs.new_refs(n)`` (the gateway's writer makes a batch's refs at once, through
    ``records.new_refs``): each ref is the RFC 4648 base32 of its own 16 of the random bytes, as
    ``new_ref`` makes one; none repeat."""
    import base64
    import os

    from piguard.core import refs
    from piguard.messaging.records import service as records

    raw = bytes(16) + b"\xff" * 16 + bytes(range(16)) + os.urandom(16 * 997)
    monkeypatch.setattr(refs.os, "urandom", lambda n: raw[:n])
    got = records.new_refs(1000)
    assert got == [
        base64.b32encode(raw[i : i + 16]).decode().rstrip("=").lower() for i in range(0, 16000, 16)
    ]
    monkeypatch.undo()
    assert records.new_refs(0) == [] and records.new_refs(-1) == []
    many = records.new_refs(20_000)
    assert len(set(many)) == 20_000 and all(len(r) == 26 for r in many)
    assert {len(records.new_refs(1)[0]), len(records.new_ref())} == {26}
