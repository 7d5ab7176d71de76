"""Fault: the dispatcher killed with SIGKILL while it drains the outbox.

    uv run python bench/faults/dispatcher_kill.py [--backend sqlite|postgresql] [--messages 5000] [--kills 10]

Queues ``--messages`` notices through the real gateway, starts ``piguard sms smpp-serve`` bound to
the fault SMS centre (``common.FaultSmsc``), and kills it ``--kills`` times at spread-out moments
of the drain (each time after another slice of the messages reached the centre, plus a random
delay), restarting it each time; then lets the last one drain the rest (a killed dispatcher's
claim is taken again after ``PIGUARD_SMS_OUTBOX_LEASE_SECONDS`` = 5 here). Prints
``accepted N, lost 0, duplicated 0, sent-twice K (bound B)`` with B = window × kills: only the
messages in flight at a kill (submitted, answer not yet recorded) may go twice.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def run(
    backend: str, messages: int, kills: int, window: int = 10, seed: int = 14, timeout: float = 120
) -> dict[str, int]:
    rnd = random.Random(seed)
    smsc = common.FaultSmsc()
    try:
        with common.fresh_database(backend) as url:
            common.prepare(url)
            accepted = common.enqueue(0, messages)
            env = common.dispatcher_env(url, PIGUARD_SMPP_UPSTREAM_WINDOW=str(window))
            step = max(1, accepted // (kills + 1))
            done_kills = 0
            for k in range(kills):
                proc = common.start_dispatcher(env, smsc.port)
                target = min(accepted - 1, (k + 1) * step)
                common.wait_until(
                    lambda t=target, p=proc: smsc.delivered >= t or p.poll() is not None, timeout
                )
                time.sleep(rnd.random() * 0.05)
                common.kill9(proc)
                done_kills += 1
            proc = common.start_dispatcher(env, smsc.port)
            try:
                common.wait_until(
                    lambda: not ({"queued", "sending"} & {s for s, c in common.outbox_status().items() if c}),
                    timeout,
                    0.2,
                )
            finally:
                common.stop(proc)
            st = common.outbox_status()
            return common.figures(
                "dispatcher kill -9",
                backend,
                accepted,
                smsc,
                window * done_kills,
                f"; {done_kills} kills, window {window}; outbox {dict(st)}",
            )
    finally:
        smsc.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--window", type=int, default=10)
    a = ap.parse_args()
    f = run(a.backend, a.messages, a.kills, a.window)
    ok = f["lost"] == 0 and f["duplicated"] == 0 and f["sent_twice"] <= f["bound"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
