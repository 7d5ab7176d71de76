#!/usr/bin/env python3
"""Check a piguard audit extract offline (Python 3.8+, standard library only).

Usage, in the unpacked evidence bundle::

    python3 audit/verify_audit.py                 # checks audit/extract.jsonl against audit/proof.json
    python3 audit/verify_audit.py --expect-head "piguard-audit-head v1 seq=… hash=… time=… sig=…"

What it checks (exit 0 when all hold, 1 naming the first entry that fails, 2 when files are missing):

1. Every file listed in ``MANIFEST.json`` (next to ``audit/``) has the SHA-256 written there.
2. The entries run without a gap from ``first_seq`` to ``last_seq``.
3. Each entry's ``hash`` is SHA-256 of its ``prev_hash`` (64 hex characters) followed by the
   canonical JSON of the entry: the object ``{"v": 1, "seq": …, "time": …, "actor_type": …,
   "actor_id": …, "client_ip": …, "terminal": …, "action": …, "subject_ref": …,
   "data_categories": […], "purpose": …, "outcome": …, "obligations": […], "detail": {…}}`` with
   sorted keys, no whitespace, UTF-8 not escaped. So any changed field changes the hash.
4. Each entry's ``prev_hash`` is the previous entry's ``hash`` (the first one's is the proof's
   ``first_prev_hash``), so no entry was removed, inserted or moved.
5. The last entry is the signed head in the proof, and each checkpoint in the proof names the hash
   the entry at its seq has. With ``--expect-head``, the head line kept outside the database (from
   ``piguard audit checkpoint``) must name an entry of the extract with that hash.

The HMAC signatures of the head and checkpoints need the operator's key: the operator proves them
with ``piguard audit verify --expect-head LINE``. This script proves that the extract is one
unbroken piece of the chain ending at that signed head.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

FORMAT_VERSION = 1
GENESIS = "0" * 64
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


def canonical(entry: dict) -> bytes:  # type: ignore[type-arg]
    doc = {"v": FORMAT_VERSION}
    for name in HASHED_FIELDS:
        value = entry[name]
        if name in ("data_categories", "obligations"):
            value = list(value or ())
        elif name == "detail":
            value = dict(value or {})
        doc[name] = value
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def entry_hash(prev_hash: str, entry: dict) -> str:  # type: ignore[type-arg]
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical(entry))
    return digest.hexdigest()


class Failed(Exception):
    pass


def check_manifest(root: Path) -> int:
    manifest = root / "MANIFEST.json"
    if not manifest.is_file():
        return 0
    files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    for item in files:
        path = root / item["path"]
        if not path.is_file():
            raise Failed(f"{item['path']}: listed in MANIFEST.json but missing")
        if hashlib.sha256(path.read_bytes()).hexdigest() != item["sha256"]:
            raise Failed(f"{item['path']}: SHA-256 differs from MANIFEST.json (the file was changed)")
    return len(files)


def parse_head_line(line: str) -> tuple[int, str]:
    parts = line.strip().split()
    if len(parts) != 6 or parts[0] != "piguard-audit-head":
        raise Failed("--expect-head is not a piguard-audit-head line")
    fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
    return int(fields["seq"]), fields["hash"]


def verify(audit_dir: Path, expect_head: str | None = None) -> str:
    proof = json.loads((audit_dir / "proof.json").read_text(encoding="utf-8"))
    lines = (audit_dir / "extract.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    if not entries:
        if proof.get("head") is None:
            return "The extract is empty and the log had no entries."
        raise Failed("the extract holds no entries but the proof names a signed head")
    prev = proof["first_prev_hash"]
    expected_seq = proof["first_seq"]
    hashes = {}
    for e in entries:
        seq = e["seq"]
        if seq != expected_seq:
            raise Failed(f"entry seq {expected_seq}: missing (next entry found is seq {seq}) - deleted")
        if e["prev_hash"] != prev:
            raise Failed(
                f"entry seq {seq}: does not link to the entry before it - deleted, inserted or moved"
            )
        if entry_hash(e["prev_hash"], e) != e["hash"]:
            raise Failed(f"entry seq {seq}: its hash does not match its content - altered")
        hashes[seq] = e["hash"]
        prev = e["hash"]
        expected_seq += 1
    last = entries[-1]
    if last["seq"] != proof["last_seq"]:
        raise Failed(
            f"entry seq {proof['last_seq']}: the extract ends early at seq {last['seq']} - truncated"
        )
    head = proof["head"]
    if head["seq"] != last["seq"] or head["hash"] != last["hash"]:
        raise Failed(f"entry seq {last['seq']}: not the signed head of the proof (seq {head['seq']})")
    for cp in proof.get("checkpoints", []):
        if hashes.get(cp["seq"]) != cp["hash"]:
            raise Failed(f"entry seq {cp['seq']}: differs from the signed checkpoint at that seq")
    if expect_head:
        seq, hash_ = parse_head_line(expect_head)
        if seq not in hashes:
            raise Failed(
                f"the expected head seq {seq} is outside the extract ({proof['first_seq']}-{last['seq']})"
            )
        if hashes[seq] != hash_:
            raise Failed(f"entry seq {seq}: differs from the head line kept outside the database")
    return (
        f"OK: {len(entries)} entries, seq {proof['first_seq']}-{last['seq']}, every link and hash checks out; "
        f"ends at the signed head seq {head['seq']} ({len(proof.get('checkpoints', []))} checkpoint(s) match)."
    )


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description="Check a piguard audit extract offline.")
    ap.add_argument(
        "audit_dir", nargs="?", default=str(here), help="folder with extract.jsonl and proof.json"
    )
    ap.add_argument("--expect-head", help="a piguard-audit-head line kept outside the database")
    args = ap.parse_args(argv)
    audit_dir = Path(args.audit_dir)
    if not (audit_dir / "extract.jsonl").is_file() or not (audit_dir / "proof.json").is_file():
        print(f"FAILED: {audit_dir} holds no extract.jsonl and proof.json", file=sys.stderr)
        return 2
    try:
        n = check_manifest(audit_dir.parent)
        message = verify(audit_dir, args.expect_head)
    except Failed as exc:
        print(f"FAILED: {exc}")
        return 1
    except (ValueError, KeyError, TypeError) as exc:
        print(f"FAILED: the extract or proof is malformed ({type(exc).__name__}: {exc})")
        return 1
    print((f"Manifest: {n} files match. " if n else "") + message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
