"""Crash test for end users' requests: N requests in flight, the worker (a real subprocess) killed
with SIGKILL at random points K times and restarted; then every request must have completed exactly
once and the audit log must show each step exactly once.

    .venv/bin/python bench/rights_crash.py [--requests 200] [--kills 20] [--seed 1]

Prints its figures as JSON; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

WORKER = "from piguard.rights import jobs; jobs.run_once()"
KINDS = ["access", "correction", "deletion", "cancellation"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--max-wait",
        type=float,
        default=0.4,
        help="longest a worker runs on after its first step before the kill (s)",
    )
    args = ap.parse_args(argv)
    rnd = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="rights-crash-"))
    env = {
        **os.environ,
        "PIGUARD_DATA_DIR": str(work / "var"),
        "PIGUARD_DATABASE_URL": f"sqlite:///{work / 'piguard.db'}",
        "PIGUARD_RIGHTS_LEASE_SECONDS": "1",
        "PIGUARD_RIGHTS_RETRY_SECONDS": "1",
    }
    os.environ.update(env)
    from sqlalchemy import create_engine, func, select, text

    from piguard.audit.models import AuditEntry
    from piguard.audit.service import Actor
    from piguard.cases.models import Case, CaseEvent
    from piguard.core import db
    from piguard.core.config import reset_settings
    from piguard.models import metadata
    from piguard.rights import demo, service
    from piguard.rights.models import RightsRequest, RightsStep

    reset_settings()
    metadata.create_all(db.get_engine())
    target = f"sqlite:///{work / 'shop.db'}"
    phones = [f"1380000{i:04d}" for i in range(args.requests)]
    demo.make_customer_db(target, phones)
    t0 = time.monotonic()
    with db.unit_of_work() as s:
        demo.add_system(s, demo.system_doc(target))
    with db.unit_of_work() as s:
        for i, p in enumerate(phones):
            kind = KINDS[i % 4]
            service.open_request(
                s,
                kind=kind,
                subject=f"phone:{p}",
                actor=Actor("staff", "1"),
                changes={"nickname": f"n{i}"} if kind == "correction" else None,
            )
    opened = time.monotonic() - t0
    kills = 0
    t1 = time.monotonic()
    for _ in range(args.kills):
        with db.unit_of_work() as s:
            before = s.scalar(select(func.count()).select_from(RightsStep).where(RightsStep.status == "done"))
        proc = subprocess.Popen([sys.executable, "-c", WORKER], env=env)
        # kill at a random point once the worker is doing steps (not while it is still importing)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            with db.unit_of_work() as s:
                now_done = s.scalar(
                    select(func.count()).select_from(RightsStep).where(RightsStep.status == "done")
                )
            if now_done > before:
                break
            time.sleep(0.02)
        time.sleep(rnd.uniform(0.0, args.max_wait))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    killed_phase = time.monotonic() - t1
    time.sleep(1.2)  # let the killed workers' leases lapse
    rounds = 0
    while True:
        rounds += 1
        rc = subprocess.run([sys.executable, "-c", WORKER], env=env).returncode
        with db.unit_of_work() as s:
            left = s.scalar(select(func.count()).select_from(RightsStep).where(RightsStep.status != "done"))
        if rc == 0 and not left:
            break
        if rounds > 50:
            break
        time.sleep(1.1)
    total = time.monotonic() - t1
    with db.unit_of_work() as s:
        steps = list(s.scalars(select(RightsStep)))
        reqs = list(s.scalars(select(RightsRequest)))
        audited = Counter(
            int(e.detail.get("step"))
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "rights.step"))
        )
        replies = Counter(
            cid for (cid,) in s.execute(select(CaseEvent.case_id).where(CaseEvent.kind == "reply"))
        )
        answered = s.scalar(select(func.count()).select_from(Case).where(Case.status == "answered"))
    eng = create_engine(target)
    with eng.connect() as c:
        marks = c.execute(text("SELECT count(*) FROM piguard_rights_done")).scalar_one()
    eng.dispose()
    changing = sum(1 for st in steps if st.action in ("update", "delete", "deidentify"))
    figures = {
        "requests": len(reqs),
        "steps": len(steps),
        "kills": kills,
        "worker_restarts": args.kills + rounds,
        "open_seconds": round(opened, 2),
        "killed_phase_seconds": round(killed_phase, 2),
        "total_seconds": round(total, 2),
        "requests_done": sum(1 for r in reqs if r.status == "done"),
        "cases_answered": answered,
        "steps_done": sum(1 for st in steps if st.status == "done"),
        "steps_audited_once": sum(1 for st in steps if audited[st.id] == 1),
        "steps_audited_twice_or_more": sum(1 for st in steps if audited[st.id] > 1),
        "replies_once": sum(1 for r in reqs if replies[r.case_id] == 1),
        "target_marks": marks,
        "changing_steps": changing,
        "max_attempts": max((st.attempts for st in steps), default=0),
        "steps_taken_over_after_kill": sum(1 for st in steps if st.attempts > 1),
    }
    ok = (
        figures["requests_done"] == len(reqs)
        and figures["cases_answered"] == len(reqs)
        and figures["steps_audited_once"] == len(steps)
        and figures["replies_once"] == len(reqs)
        and marks == changing
    )
    figures["ok"] = ok
    print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
