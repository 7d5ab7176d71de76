"""Canonical serialisation, the hash chain and the HMAC signatures (O24-13.6).

Pure functions, no database. The same bytes come out on SQLite and PostgreSQL because they are
computed from plain Python values that both backends store and give back unchanged:

* text as UTF-8, JSON with sorted keys, no whitespace, ``ensure_ascii=False``, no NaN/Infinity;
* times as ISO 8601 UTC with microseconds and a ``Z`` (``2024-05-01T08:00:00.123456Z``);
* ``hash = SHA-256(prev_hash || canonical(entry))`` with ``prev_hash`` as 64 hex characters
  (:data:`GENESIS` before the first entry).

Checkpoints and the head are signed with HMAC-SHA256 over ``(seq, hash, time, count)``, each with
its own domain tag so a head signature cannot be replayed as a checkpoint. Every entry also carries
``mac = HMAC(key, seq || hash)``: without the key, nobody can recompute the chain from an altered
entry onwards, and verify names the first entry whose hash was recomputed (not just the next
checkpoint).

:func:`head_line` is the one-line form of a signed checkpoint that an operator keeps outside the
database (``piguard audit checkpoint`` prints it; ``audit verify --expect-head LINE`` checks the
chain against it), so even deleting every audit table is detected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from piguard.regulations.markers import carries

#: ``prev_hash`` of the first entry.
GENESIS = "0" * 64
#: Version of the canonical form, hashed with every entry.
FORMAT_VERSION = 1

#: The fields of an entry covered by its hash (``seq`` included, so moving a row is detected).
HASHED_FIELDS = (
    "seq",
    "time",
    "actor_type",
    "actor_id",
    "client_ip",
    "terminal",
    "action",
    "subject_ref",
    "data_categories",
    "purpose",
    "outcome",
    "obligations",
    "detail",
)


def iso_utc(value: datetime) -> str:
    """``2024-05-01T08:00:00.123456Z``: the one text form of a time in hashes and signatures."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in the audit chain")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text (not escaped), no NaN or Infinity."""
    return _ENCODER.encode(value)


def canonical(entry: Mapping[Any, Any]) -> bytes:
    """The canonical bytes of an entry (the :data:`HASHED_FIELDS`, times in ISO UTC)."""
    doc: dict[str, Any] = {"v": FORMAT_VERSION}
    for name in HASHED_FIELDS:
        value = entry[name]
        if name == "time":
            value = iso_utc(value)
        elif name in ("data_categories", "obligations"):
            value = list(value or ())
        elif name == "detail":
            value = dict(value or {})
        doc[name] = value
    return canonical_json(doc).encode("utf-8")


@carries("O24-13.6")
def entry_hash(prev_hash: str, entry: Mapping[Any, Any]) -> str:
    """``SHA-256(prev_hash || canonical(entry))`` as hex."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical(entry))
    return digest.hexdigest()


def key_id(key: str) -> str:
    """A short public fingerprint of the HMAC key (tells a rotated key from a forged signature)."""
    return hashlib.sha256(b"piguard-audit-key-id|" + key.encode("utf-8")).hexdigest()[:16]


def _mac(key: str, tag: str, seq: int, hash_: str, time: datetime, count: int) -> str:
    message = f"piguard-audit-{tag}|v{FORMAT_VERSION}|{seq}|{hash_}|{iso_utc(time)}|{count}"
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


@carries("O24-13.6")
def sign_checkpoint(key: str, seq: int, hash_: str, time: datetime, count: int) -> str:
    return _mac(key, "checkpoint", seq, hash_, time, count)


@carries("O24-13.6")
def sign_head(key: str, seq: int, hash_: str, time: datetime, count: int) -> str:
    return _mac(key, "head", seq, hash_, time, count)


def signature_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected, given)


@carries("O24-13.6")
def sign_entry(key: str, seq: int, hash_: str) -> str:
    """The entry's MAC: binds its seq and hash (and through the hash, everything before it)."""
    message = f"piguard-audit-entry|v{FORMAT_VERSION}|{seq}|{hash_}"
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


HEAD_LINE_PREFIX = "piguard-audit-head"


def head_line(seq: int, hash_: str, time: datetime, signature: str) -> str:
    """``piguard-audit-head v1 seq=… hash=… time=… sig=…``: a signed checkpoint as one line."""
    return f"{HEAD_LINE_PREFIX} v{FORMAT_VERSION} seq={seq} hash={hash_} time={iso_utc(time)} sig={signature}"


def parse_head_line(line: str) -> tuple[int, str, datetime, str]:
    """``(seq, hash, time, signature)`` of a :func:`head_line`; ``ValueError`` when it is not one."""
    parts = line.strip().split()
    if len(parts) != 6 or parts[0] != HEAD_LINE_PREFIX or parts[1] != f"v{FORMAT_VERSION}":
        raise ValueError("not a piguard-audit-head line")
    fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
    if set(fields) != {"seq", "hash", "time", "sig"}:
        raise ValueError("a piguard-audit-head line has seq=, hash=, time= and sig=")
    seq = int(fields["seq"])
    hash_ = fields["hash"]
    if seq < 1 or len(hash_) != 64 or any(c not in "0123456789abcdef" for c in hash_):
        raise ValueError("bad seq or hash")
    time = datetime.fromisoformat(fields["time"].replace("Z", "+00:00"))
    if time.tzinfo is None:
        raise ValueError("the time must be UTC (…Z)")
    return seq, hash_, time.astimezone(UTC), fields["sig"]
