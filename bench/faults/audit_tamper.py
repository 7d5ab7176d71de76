"""Fault: the audit log tampered with directly in the database, then ordinary writes.

    uv run python bench/faults/audit_tamper.py [--backend sqlite|postgresql]

For each kind of tampering, a fresh database with some audited work (the registry set-up, messages
queued through the gateway), ``piguard audit verify`` first (must say intact, exit 0), then the
tampering with plain SQL, then another ordinary audited write, then ``piguard audit verify --expect-head LINE`` with the line
``piguard audit checkpoint`` printed before the tampering (what an operator keeps outside the
database): it must exit non-zero, and so must plain ``verify`` with ``PIGUARD_AUDIT_ANCHOR_FILE``
naming the file ``audit checkpoint`` appended that line to. ``verify`` with neither is run too and
reported (a log emptied of every row, head and checkpoints included, and written to again is a new
log to it: only what is kept outside tells). Kinds: an entry's detail altered; the tail cut; ``audit_head`` deleted (a
head reset); every row of the three audit tables deleted. Prints ``detected K of N``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TAMPERING = {
    "entry altered": [
        "UPDATE audit_entry SET outcome = 'refused' WHERE seq = (SELECT MIN(seq) + 1 FROM audit_entry)"
    ],
    "tail cut": ["DELETE FROM audit_entry WHERE seq > (SELECT MAX(seq) - 2 FROM audit_entry)"],
    "head deleted": ["DELETE FROM audit_head"],
    "log emptied": ["DELETE FROM audit_entry", "DELETE FROM audit_checkpoint", "DELETE FROM audit_head"],
}


def _piguard(url: str, *args: str, anchor: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIGUARD_DATABASE_URL": url, "PIGUARD_LOG_LEVEL": "ERROR", "COLUMNS": "400"}
    env.pop("PIGUARD_AUDIT_ANCHOR_FILE", None)
    if anchor is not None:
        env["PIGUARD_AUDIT_ANCHOR_FILE"] = str(anchor)
    return subprocess.run(
        [common.PIGUARD, "audit", *args],
        env=env,
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _verify(url: str, head_line: str | None = None, anchor: Path | None = None) -> int:
    args = ["--expect-head", head_line] if head_line else []
    return _piguard(url, "verify", *args, anchor=anchor).returncode


def run(backend: str, kinds: list[str] | None = None) -> dict[str, int]:
    from sqlalchemy import text

    from piguard.core.db import get_engine

    detected, plain, anchored, results = 0, 0, 0, {}
    chosen = {k: v for k, v in TAMPERING.items() if kinds is None or k in kinds}
    for name, statements in chosen.items():
        with common.fresh_database(backend) as url, tempfile.TemporaryDirectory() as tmp:
            anchor = Path(tmp) / "audit-anchor.txt"
            common.prepare(url)
            common.enqueue(0, 20, batch=10)
            before = _verify(url)
            # the line `audit checkpoint` asks the operator to keep outside the database; with
            # PIGUARD_AUDIT_ANCHOR_FILE set it is appended to the anchor file too
            head_line = _piguard(url, "checkpoint", anchor=anchor).stdout.strip().splitlines()[-1]
            with get_engine().begin() as conn:
                for sql in statements:
                    conn.execute(text(sql))
            common.enqueue(100, 5)
            after = _verify(url)
            after_anchor = _verify(url, anchor=anchor)
            after_expect = _verify(url, head_line)
            ok = before == 0 and after_expect != 0 and after_anchor != 0
            detected += ok
            plain += after != 0
            anchored += after_anchor != 0
            results[name] = after
            get_engine().dispose()
        print(
            f"  {name}: verify before {before}; after: verify {after}, with the anchor file "
            f"{after_anchor}, verify --expect-head {after_expect}"
            f" -> {'detected' if ok else 'NOT DETECTED'}",
            flush=True,
        )
    print(
        f"audit tampering [{backend}]: detected {detected} of {len(chosen)} with --expect-head and "
        f"with the anchor file ({anchored} by verify with PIGUARD_AUDIT_ANCHOR_FILE, {plain} by verify "
        "with neither)",
        flush=True,
    )
    return {"detected": detected, "kinds": len(chosen)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    a = ap.parse_args()
    f = run(a.backend)
    return 0 if f["detected"] == f["kinds"] else 1


if __name__ == "__main__":
    sys.exit(main())
