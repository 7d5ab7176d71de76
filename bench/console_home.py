"""The console's home page with a large audit log (issue 9: under 50 ms at 1,000,000 entries).

Builds a real chained log of ``--entries`` entries (through the chain's own write path, in large
transactions) in a temporary SQLite file, loads the demo staff, then times ``GET /console`` for the
auditor in process (Starlette's test client, best and median of ``--runs``), beside the cost of the
full ``audit verify`` walk the page used to run on every load.

    uv run python bench/console_home.py [--entries 1000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fastapi.testclient import TestClient  # noqa: E402

from piguard.app import create_app  # noqa: E402
from piguard.audit import service as audit  # noqa: E402
from piguard.audit.service import _append  # noqa: E402
from piguard.core import db  # noqa: E402
from piguard.core.db import utcnow  # noqa: E402
from piguard.demo import DEMO_STAFF, load_demo  # noqa: E402
from piguard.models import metadata  # noqa: E402

TARGET_MS = 50.0


def _row(i: int) -> dict[str, Any]:
    return {
        "time": utcnow(),
        "actor_type": "staff",
        "actor_id": f"staff-{i % 7}",
        "client_ip": "10.0.0.7",
        "terminal": "desk-12",
        "action": "pi.read",
        "subject_ref": f"user:{i}",
        "data_categories": ["phone_mobile"],
        "purpose": "customer_service",
        "outcome": "ok",
        "obligations": ["O24-13.6"],
        "detail": {"fields": ["phone"]},
    }


def build(entries: int, per_tx: int = 20_000) -> float:
    start = time.perf_counter()
    done = 0
    while done < entries:
        n = min(per_tx, entries - done)
        with db.get_engine().begin() as conn:
            _append(conn, [_row(done + i) for i in range(n)])
        done += n
        print(f"\r  building the chain: {done:,}/{entries:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{tmp}/bench.db")
        metadata.create_all(engine)
        db.set_engine(engine)
        built = build(args.entries)
        with db.unit_of_work() as session:
            load_demo(session)
        client = TestClient(create_app())
        user, password = next((u, p) for u, p, roles, _ in DEMO_STAFF if "auditor" in roles)
        r = client.post("/api/auth/login", json={"username": user, "password": password})
        assert r.status_code == 200, r.text
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            r = client.get("/console")
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200 and 'id="audit-integrity"' in r.text
        t0 = time.perf_counter()
        with db.unit_of_work() as session:
            result = audit.verify(session)
        walk = time.perf_counter() - t0
    best, median = min(times), statistics.median(times)
    print(
        f"audit log: {args.entries:,} chained entries (built in {built:.1f} s); verify walk {walk:.2f} s, ok={result.ok}"
    )
    print(f"GET /console (auditor), {args.runs} runs: best {best:.1f} ms, median {median:.1f} ms")
    print(
        f"  target < {TARGET_MS:.0f} ms: {'met' if median < TARGET_MS else 'NOT met'} "
        f"(median {median / TARGET_MS:.2f} x target); the old page walked the chain: {walk * 1000 / median:,.0f} x slower"
    )


if __name__ == "__main__":
    main()
