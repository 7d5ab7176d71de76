"""The whole fault suite on SQLite, and on PostgreSQL when ``PIGUARD_BENCH_POSTGRES_URL`` is set
(a fresh schema per run, dropped afterwards). Exit 0 when every figure holds.

    uv run python bench/faults/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import audit_tamper
import dispatcher_kill
import server_kill
import smsc_faults


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the messages and kills")
    a = ap.parse_args()
    q = 10 if a.quick else 1
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("PIGUARD_BENCH_POSTGRES_URL") else [])
    ok = True
    for b in backends:
        f = server_kill.run(b, 10_000 // q, max(1, 20 // q))
        ok &= f["lost"] == 0 and f["duplicated"] == 0 and f["sent_twice"] == 0 and f["not_duplicate"] == 0
        f = dispatcher_kill.run(b, 5000 // q, max(1, 10 // q))
        ok &= f["lost"] == 0 and f["duplicated"] == 0 and f["sent_twice"] <= f["bound"]
        f = smsc_faults.run(b, 1000 // q)
        ok &= f["lost"] == 0 and f["duplicated"] == 0 and f["failed"] == 0 and f["sent_twice"] <= f["bound"]
        f = audit_tamper.run(b)
        ok &= f["detected"] == f["kinds"]
    print("fault suite:", "all figures hold" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
