"""Fault: the API server killed with SIGKILL just after it answered 200, and clients resubmitting.

    uv run python bench/faults/server_kill.py [--backend sqlite|postgresql] [--messages 10000] [--kills 20]

Starts the real app under uvicorn, posts batches of 500 notices (each with a ``client_ref``) over
loopback and, ``--kills`` times spread over the run, kills the server 0-5 ms after a 200, restarts
it and **resubmits** the batch just answered (a client that lost the answer): every message of it
must come back ``duplicate: true``. Then ``piguard sms smpp-serve`` drains the outbox to the fault
SMS centre. Prints ``accepted N, lost 0, duplicated 0, sent-twice K (bound 0)``: every message a 200
accepted is stored once and reaches the centre once.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import httpx

    cmd = [sys.executable, "-m", "uvicorn", "piguard.app:create_app", "--factory", "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--log-level", "error", "--no-access-log"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=common.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not common.wait_until(up, 60, 0.1):
        common.kill9(proc)
        raise RuntimeError("the server did not start")
    return proc


def run(
    backend: str, messages: int, kills: int, batch: int = 500, seed: int = 14, timeout: float = 120
) -> dict[str, int]:
    import httpx
    import orjson
    from sqlalchemy import func, select

    from piguard.core.db import unit_of_work
    from piguard.identity import service as identity
    from piguard.messaging.models import OutboxMessage

    rnd = random.Random(seed)
    smsc = common.FaultSmsc()
    port = common.free_port()
    try:
        with common.fresh_database(backend) as url:
            common.prepare(url)
            with unit_of_work() as s:
                staff = identity.create_staff(
                    s, username="faults", password="faults-password-2026", roles=["operator"]
                )
                token, _ = identity.issue_token(s, staff, ["sms:submit"], timedelta(hours=2))
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            env = common.dispatcher_env(url)

            def body(first: int) -> bytes:
                return orjson.dumps(
                    {
                        "messages": [
                            {
                                "sender": common.PORT,
                                "recipient": common.recipient_for(k),
                                "text": common.text_for(k),
                                "kind": "notification",
                                "client_ref": f"fault-{k}",
                            }
                            for k in range(first, min(messages, first + batch))
                        ]
                    }
                )

            n_batches = -(-messages // batch)
            kill_at = set(rnd.sample(range(n_batches), min(kills, n_batches)))
            accepted: set[str] = set()
            not_duplicate = 0
            done_kills = 0
            proc = _start_server(env, port)
            try:
                for b in range(n_batches):
                    data = body(b * batch)
                    r = httpx.post(
                        f"http://127.0.0.1:{port}/api/sms/submit/batch",
                        content=data,
                        headers=headers,
                        timeout=60,
                    )
                    if b in kill_at:
                        time.sleep(rnd.random() * 0.005)
                        common.kill9(proc)
                        done_kills += 1
                    assert r.status_code == 200, r.text[:300]
                    accepted |= {
                        x["client_ref"]
                        for x in orjson.loads(r.content)["results"]
                        if x.get("outcome") == "allow"
                    }
                    if b in kill_at:
                        proc = _start_server(env, port)
                        again = httpx.post(
                            f"http://127.0.0.1:{port}/api/sms/submit/batch",
                            content=data,
                            headers=headers,
                            timeout=60,
                        )
                        assert again.status_code == 200, again.text[:300]
                        not_duplicate += sum(
                            1 for x in orjson.loads(again.content)["results"] if not x.get("duplicate")
                        )
            finally:
                common.stop(proc)
            disp = common.start_dispatcher(env, smsc.port)
            try:
                common.wait_until(
                    lambda: not ({"queued", "sending"} & {s for s, c in common.outbox_status().items() if c}),
                    timeout,
                    0.2,
                )
            finally:
                common.stop(disp)
            with unit_of_work() as s:
                rows = int(s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
            f = common.figures(
                "server kill -9 after a 200 + resubmission",
                backend,
                len(accepted),
                smsc,
                0,
                f"; {done_kills} kills, {not_duplicate} resubmitted messages not answered as duplicates; outbox rows {rows}",
            )
            f["not_duplicate"] = not_duplicate
            return f
    finally:
        smsc.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=20)
    a = ap.parse_args()
    f = run(a.backend, a.messages, a.kills)
    ok = f["lost"] == 0 and f["duplicated"] == 0 and f["sent_twice"] == 0 and f["not_duplicate"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
